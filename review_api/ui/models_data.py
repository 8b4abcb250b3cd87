"""What the models page shows: every version's figures, and the champion and a challenger
compared on the challenger's holdout (ROC curve, calibration, lift)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scoring.errors import ScoringError
from scoring.registry import ModelRegistry, ModelVersion


@dataclass(frozen=True, slots=True)
class Curves:
    """One model's figures on a holdout."""

    version: str
    roc_auc: float | None
    roc: list[tuple[float, float]]
    calibration: list[tuple[float, float]]  # (mean predicted, observed) per bin
    lift: list[float]


@dataclass(slots=True)
class ModelsView:
    """Versions, the champion, the challenger and their curves."""

    versions: list[ModelVersion]
    champion: str | None
    challenger: str | None
    curves: list[Curves] = field(default_factory=list)
    compared_on: str = ""
    note: str = ""


def _stored(record: ModelVersion) -> Curves:
    metrics = record.metrics
    return Curves(version=record.version, roc_auc=metrics.get("roc_auc"), roc=[],
                  calibration=[(float(row[1]), float(row[2]))
                               for row in metrics.get("calibration", [])],
                  lift=[float(row[2]) for row in metrics.get("lift", [])])


def _on_holdout(registry: ModelRegistry, version: str, frame: Any, target: np.ndarray) -> Curves:
    from sklearn.metrics import roc_curve

    from scoring.metrics import evaluate

    probability = registry.load(version).model.predict_proba(frame)[:, 1]
    figures = evaluate(target, probability)
    fpr, tpr, _ = roc_curve(target, probability)
    step = max(1, len(fpr) // 200)  # enough points for a smooth line, few enough to send
    roc = [(float(x), float(y)) for x, y in zip(fpr[::step], tpr[::step], strict=True)]
    roc.append((1.0, 1.0))
    return Curves(version=version, roc_auc=figures.roc_auc, roc=roc,
                  calibration=[(row[1], row[2]) for row in figures.calibration],
                  lift=[row[2] for row in figures.lift])


def models_view(data_dir: Path, challenger: str | None = None) -> ModelsView:
    """The registry's versions, newest first, and the champion against a challenger (the
    one asked for, else the newest version that is not the champion)."""
    registry = ModelRegistry(data_dir)
    versions = registry.versions()[::-1]
    champion = registry.champion()
    known = {v.version for v in versions}
    if challenger not in known:
        challenger = next((v.version for v in versions if v.version != champion), None)
    view = ModelsView(versions=versions, champion=champion, challenger=challenger)
    chosen = [v for v in (champion, challenger) if v is not None]
    if not chosen:
        return view
    holdout = registry.holdout(challenger) if challenger else registry.holdout(chosen[0])
    if holdout is not None and len(np.unique(holdout[1])) == 2:
        frame, target = holdout
        try:
            view.curves = [_on_holdout(registry, v, frame, target) for v in chosen]
            view.compared_on = (f"the holdout of {challenger or chosen[0]}: {len(target)} "
                                f"leads, {int(target.sum())} converted")
            return view
        except (ScoringError, ValueError, KeyError, OSError) as exc:
            view.note = f"the models could not be scored on the same holdout ({exc})"
    else:
        view.note = "no holdout with both outcomes to compare on"
    records = {v.version: v for v in versions}
    view.curves = [_stored(records[v]) for v in chosen]
    view.compared_on = "each version's own holdout (figures saved when it was trained)"
    return view
