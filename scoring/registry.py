"""File-based registries: model versions (saved with skops, never pickle) and weights versions.

Layout under a root folder::

    models/<version>/model.skops   the fitted LeadModel
    models/<version>/meta.json     metrics, training data summary, exclusions, weights version
    models/<version>/holdout.json  the recent holdout a challenger is judged on
    models/registry.json           the champion and the promotion history
    weights/<version>.toml         every published weights file, byte for byte
    weights/index.json             who published which version, when, and why
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from skops import io as skops_io  # type: ignore[import-untyped]

from scoring.blend import ScoringModel
from scoring.model import LeadModel
from scoring.train import TrainingResult, evaluate

# The weights registry lives apart (no scikit-learn); kept importable from here.
from scoring.weights_registry import (
    RegistryError,
    WeightsRegistry,
    WeightsVersion,
    weights_in_force,
)

_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "scoring.model.", "builtins.")
_TRUSTED_NAMES = frozenset({"functools.partial"})  # scikit-learn keeps partials of its own code


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One saved model version and what is known about it."""

    version: str
    created_at: str
    metrics: dict[str, Any]
    summary: dict[str, Any]
    excluded: list[dict[str, str]]
    split: str
    weights_version: str | None
    labels: int
    source: str
    note: str


@dataclass(frozen=True, slots=True)
class Promotion:
    """The outcome of a promotion: whether it happened, and the figures that decided it."""

    promoted: bool
    version: str
    previous: str | None
    reason: str
    challenger_auc: float | None = None
    champion_auc: float | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class ModelRegistry:
    """Model versions on disk, with a champion and a history to roll back through.

    Args:
        root: the data folder; versions live in ``root/models``.
    """

    def __init__(self, root: Path) -> None:
        self.folder = Path(root) / "models"

    def _state(self) -> dict[str, Any]:
        path = self.folder / "registry.json"
        if not path.exists():
            return {"champion": None, "history": []}
        state: dict[str, Any] = json.loads(path.read_text("utf-8"))
        return state

    def _write_state(self, state: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / "registry.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2), "utf-8")
        temporary.replace(path)

    def save(
        self,
        result: TrainingResult,
        *,
        labels: int,
        weights_version: str | None = None,
        source: str = "",
        note: str = "",
    ) -> ModelVersion:
        """Save a trained model as a new version (not yet the champion).

        Args:
            result: what :func:`scoring.train.train` returned.
            labels: how many labelled leads it learned from (train and holdout).
            weights_version: the weights version in use when it was trained.
            source: where the labels came from (``store`` or a CSV path).
            note: free text.

        Returns:
            The new version's record.
        """
        created = _now()
        payload = skops_io.dumps(result.model)
        version = f"m-{created:%Y%m%d-%H%M%S}-{hashlib.sha256(payload).hexdigest()[:6]}"
        folder = self.folder / version
        folder.mkdir(parents=True, exist_ok=False)
        (folder / "model.skops").write_bytes(payload)
        record = ModelVersion(
            version=version,
            created_at=created.isoformat(timespec="seconds"),
            metrics=result.metrics.as_dict(),
            summary=_plain(result.summary),
            excluded=[
                {"field": e.field, "rule": e.rule, "reason": e.reason} for e in result.excluded
            ],
            split=result.split,
            weights_version=weights_version,
            labels=labels,
            source=source,
            note=note,
        )
        (folder / "meta.json").write_text(json.dumps(_record_dict(record), indent=2), "utf-8")
        if result.holdout is not None and result.holdout_target is not None:
            holdout = result.holdout.reset_index(drop=True).copy()
            holdout["__target__"] = result.holdout_target
            (folder / "holdout.json").write_text(holdout.to_json(orient="table"), "utf-8")
        return record

    def versions(self) -> list[ModelVersion]:
        """Every saved version, oldest first."""
        if not self.folder.exists():
            return []
        found = []
        for meta in sorted(self.folder.glob("*/meta.json")):
            found.append(ModelVersion(**json.loads(meta.read_text("utf-8"))))
        return found

    def get(self, version: str) -> ModelVersion:
        """One version's record.

        Raises:
            RegistryError: no such version.
        """
        meta = self.folder / version / "meta.json"
        if not meta.exists():
            raise RegistryError(f"no model version '{version}' in {self.folder}")
        return ModelVersion(**json.loads(meta.read_text("utf-8")))

    def load(self, version: str) -> ScoringModel:
        """Load a version with skops, trusting only scikit-learn, numpy and our model types.

        Raises:
            RegistryError: no such version, or the file holds types we do not trust.
        """
        record = self.get(version)
        path = self.folder / version / "model.skops"
        untrusted = skops_io.get_untrusted_types(file=path)
        unknown = [
            name for name in untrusted
            if not name.startswith(_TRUSTED_PREFIXES) and name not in _TRUSTED_NAMES
        ]
        if unknown:
            raise RegistryError(f"model {version} holds types that are not trusted: {unknown}")
        model = skops_io.load(path, trusted=untrusted)
        if not isinstance(model, LeadModel):
            raise RegistryError(f"model {version} is not a LeadModel")
        return ScoringModel(model=model, version=version, labels=record.labels)

    def champion(self) -> str | None:
        """The champion's version, None when none was promoted."""
        champion: str | None = self._state()["champion"]
        return champion

    def load_champion(self) -> ScoringModel | None:
        """The champion model, ready for :func:`scoring.blend.score_leads_blended`."""
        version = self.champion()
        return None if version is None else self.load(version)

    def champion_for_leads(
        self, lead_fields: Collection[str]
    ) -> tuple[ScoringModel | None, str]:
        """The champion if it can score leads with these fields, else None and why not.

        Never raises: a champion that cannot be loaded or reads fields the leads lack
        leaves the score to the points alone, and the sentence says so.
        """
        version = self.champion()
        if version is None:
            return None, ""
        try:
            lacking = self.missing_fields(version, lead_fields)
            if lacking:
                shown = ", ".join(repr(name) for name in lacking[:3])
                return None, (f"champion model {version} reads fields the leads lack "
                              f"({shown}): the score is the points score alone")
            return self.load(version), ""
        except (RegistryError, OSError, ValueError) as exc:
            return None, (f"champion model {version} cannot be loaded ({exc}): the score is "
                          "the points score alone")

    def holdout(self, version: str) -> tuple[pd.DataFrame, np.ndarray] | None:
        """The recent holdout a version was evaluated on (fields and outcomes)."""
        path = self.folder / version / "holdout.json"
        if not path.exists():
            return None
        frame = pd.read_json(StringIO(path.read_text("utf-8")), orient="table")
        target = frame.pop("__target__").to_numpy(dtype=int)
        return frame, target

    def missing_fields(self, version: str, lead_fields: Collection[str]) -> list[str]:
        """The fields a version reads that the leads to be scored lack."""
        fields = self.get(version).summary.get("fields") or []
        return [str(name) for name in fields if name not in set(lead_fields)]

    def promote(
        self, version: str, *, force: bool = False, lead_fields: Collection[str] | None = None
    ) -> Promotion:
        """Make ``version`` the champion if it beats the current one on its recent holdout.

        Both models are scored on the challenger's holdout (the most recent labelled leads
        when a date was known); the challenger wins on a higher ROC AUC, or an equal one and
        a lower Brier score.

        Args:
            version: the challenger.
            force: promote without the comparison (e.g. the champion's fields are gone),
                and although the leads lack some of its fields.
            lead_fields: the fields the leads to be scored carry; a version that reads
                others is refused (unless forced), since it could not score them.

        Returns:
            What happened and the figures that decided it.

        Raises:
            RegistryError: no such version.
        """
        self.get(version)
        state = self._state()
        current: str | None = state["champion"]
        if current == version:
            return Promotion(False, version, current, "it is already the champion")
        if lead_fields is not None and not force:
            if lacking := self.missing_fields(version, lead_fields):
                shown = ", ".join(repr(name) for name in lacking[:5])
                more = f" and {len(lacking) - 5} more" if len(lacking) > 5 else ""
                return Promotion(False, version, current,
                                 f"it reads fields the store's leads lack ({shown}{more}); "
                                 "train it from the store's labels instead")
        challenger_auc = champion_auc = None
        if current is not None and not force:
            holdout = self.holdout(version)
            if holdout is None:
                return Promotion(False, version, current, "it has no holdout to compare on; "
                                 "use force to promote anyway")
            frame, target = holdout
            challenger = evaluate(target, self.load(version).model.predict_proba(frame)[:, 1])
            try:
                champion_p = self.load(current).model.predict_proba(frame)[:, 1]
            except ValueError as exc:
                return Promotion(False, version, current,
                                 f"the champion cannot score this holdout ({exc}); use force")
            champion = evaluate(target, champion_p)
            challenger_auc, champion_auc = challenger.roc_auc, champion.roc_auc
            better = challenger.roc_auc > champion.roc_auc or (
                challenger.roc_auc == champion.roc_auc and challenger.brier < champion.brier
            )
            if not better:
                return Promotion(
                    False, version, current,
                    f"it does not beat champion {current} on the same recent holdout "
                    f"(ROC AUC {challenger.roc_auc:.3f} vs {champion.roc_auc:.3f})",
                    challenger_auc, champion_auc,
                )
        state["champion"] = version
        state["history"].append(
            {"champion": version, "previous": current, "at": _now().isoformat(timespec="seconds"),
             "action": "promote"}
        )
        self._write_state(state)
        reason = "promoted" if current is None or force else (
            f"beats {current} on the same recent holdout "
            f"(ROC AUC {challenger_auc:.3f} vs {champion_auc:.3f})"
        )
        return Promotion(True, version, current, reason, challenger_auc, champion_auc)

    def rollback(self) -> str | None:
        """Give the champion role back to the previous champion; returns the new champion.

        Raises:
            RegistryError: there is no champion.
        """
        state = self._state()
        current = state["champion"]
        if current is None:
            raise RegistryError("there is no champion to roll back")
        previous: str | None = None
        for entry in reversed(state["history"]):
            if entry["champion"] == current and entry["action"] == "promote":
                previous = entry["previous"]
                break
        state["champion"] = previous
        state["history"].append(
            {"champion": previous, "previous": current,
             "at": _now().isoformat(timespec="seconds"), "action": "rollback"}
        )
        self._write_state(state)
        return previous


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _record_dict(record: ModelVersion) -> dict[str, Any]:
    return {name: getattr(record, name) for name in ModelVersion.__slots__}


__all__ = ["ModelRegistry", "ModelVersion", "Promotion", "RegistryError", "WeightsRegistry",
           "WeightsVersion", "weights_in_force"]
