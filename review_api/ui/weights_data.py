"""What the weights editor shows: a preview on the current leads, a backtest on closed
leads, the version history with diffs, and publishing or rolling back a version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from review_api.errors import ReviewError
from review_api.ui.weights_toml import weights_toml
from scoring.features import build_frames
from scoring.labels import outcome_of
from scoring.points import needed_columns, score_frame
from scoring.preview import Preview, diff_weights, preview
from scoring.weights import Criterion, Weights, default_weights_path, load_weights
from scoring.weights_registry import WeightsRegistry, WeightsVersion, weights_in_force

MOVERS = 10


class WeightsPageError(ReviewError):
    """An admin action on weights that cannot be done as asked."""

    code = "bad_request"


@dataclass(frozen=True, slots=True)
class Side:
    """One set of weights judged on closed leads."""

    roc_auc: float | None
    lift: tuple[tuple[int, float, float], ...]  # decile from the top, conversion, lift


@dataclass(frozen=True, slots=True)
class Backtest:
    """The points score of the weights before and after, judged on closed leads."""

    closed: int
    converted: int
    before: Side
    after: Side
    left_out: tuple[str, ...]  # criteria not judged: they read the outcome itself

    @property
    def enough(self) -> bool:
        """Whether both outcomes occur, so a ROC AUC means something."""
        return 0 < self.converted < self.closed


def _without_outcome(weights: Weights) -> tuple[Weights, list[str]]:
    """The weights without criteria on ``status``: on closed leads it is the outcome."""
    dropped: list[str] = []

    def keep(criteria: tuple[Criterion, ...]) -> tuple[Criterion, ...]:
        kept = tuple(c for c in criteria if c.field != "status")
        dropped.extend(c.name or f"status {c.condition}" for c in criteria if c.field == "status")
        return kept

    profiles = tuple(p.model_copy(update={"criteria": keep(p.criteria)})
                     for p in weights.profiles)
    return weights.model_copy(update={"criteria": keep(weights.criteria),
                                      "profiles": profiles}), dropped


def _side(scores: np.ndarray, outcomes: np.ndarray) -> Side:
    from sklearn.metrics import roc_auc_score

    both = len(np.unique(outcomes)) == 2
    auc = float(roc_auc_score(outcomes, scores)) if both else None
    base = float(outcomes.mean()) if len(outcomes) else 0.0
    order = np.argsort(-scores, kind="stable")
    lift = []
    for decile, part in enumerate(np.array_split(order, 10), start=1):
        if len(part):
            rate = float(outcomes[part].mean())
            lift.append((decile, rate, rate / base if base else 0.0))
    return Side(roc_auc=auc, lift=tuple(lift))


def backtest(leads: Sequence[Mapping[str, Any]], old: Weights, new: Weights, *,
             now: datetime) -> Backtest:
    """ROC AUC and lift by decile of the points score, old and new weights, on the leads
    whose status is an outcome (converted or won against disqualified or lost)."""
    closed = [lead for lead in leads if outcome_of(lead.get("status")) is not None]
    outcomes = np.array([outcome_of(lead.get("status")) for lead in closed], dtype=int)
    old_judged, dropped_old = _without_outcome(old)
    new_judged, dropped_new = _without_outcome(new)
    if not closed:
        empty = Side(None, ())
        return Backtest(0, 0, empty, empty, tuple(dict.fromkeys(dropped_old + dropped_new)))
    fields_old, events_old = needed_columns(old_judged)
    fields_new, events_new = needed_columns(new_judged)
    frames = build_frames(closed, now=now, columns=fields_old | fields_new,
                          with_events=events_old or events_new)
    before = np.array([r.score for r in score_frame(frames, old_judged)], dtype=float)
    after = np.array([r.score for r in score_frame(frames, new_judged)], dtype=float)
    return Backtest(closed=len(closed), converted=int(outcomes.sum()),
                    before=_side(before, outcomes), after=_side(after, outcomes),
                    left_out=tuple(dict.fromkeys(dropped_old + dropped_new)))


@dataclass(frozen=True, slots=True)
class Comparison:
    """Candidate weights against those in force: the diff, preview and backtest."""

    current: Weights
    candidate: Weights
    changes: list[str]
    preview: Preview
    backtest: Backtest


def compare(leads: Sequence[Mapping[str, Any]], current: Weights, candidate: Weights, *,
            now: datetime) -> Comparison:
    """Everything the editor shows about a candidate before it is published."""
    return Comparison(
        current=current, candidate=candidate,
        changes=diff_weights(current, candidate) if current.version != candidate.version else [],
        preview=preview(leads, current, candidate, now=now, movers=MOVERS),
        backtest=backtest(leads, current, candidate, now=now))


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """A published version and what changed from the one before it."""

    record: WeightsVersion
    changes: list[str]
    in_force: bool
    restored: bool  # a rollback entry: an older version put back


def history(data_dir: Path) -> list[HistoryRow]:
    """Every published version, newest first, each with its diff from the one before."""
    registry = WeightsRegistry(data_dir)
    versions = registry.versions()
    cache: dict[str, Weights] = {}

    def load(version: str) -> Weights:
        if version not in cache:
            cache[version] = registry.load(version)
        return cache[version]

    rows: list[HistoryRow] = []
    seen: set[str] = set()
    for index, record in enumerate(versions):
        if index == 0:
            # The first version replaced the shipped defaults: say how it differs from them.
            shipped = load_weights(default_weights_path())
            changes = (["the shipped defaults, published as they are"]
                       if shipped.version == record.version else
                       ["from the shipped defaults:",
                        *diff_weights(shipped, load(record.version))])
        else:
            previous = versions[index - 1].version
            changes = (["no change"] if previous == record.version
                       else diff_weights(load(previous), load(record.version)))
        rows.append(HistoryRow(record=record, changes=changes,
                               in_force=index == len(versions) - 1,
                               restored=record.version in seen))
        seen.add(record.version)
    return rows[::-1]


def diff_versions(data_dir: Path, a: str, b: str) -> list[str]:
    """What changed from published version ``a`` to ``b``, in words."""
    registry = WeightsRegistry(data_dir)
    old, new = registry.load(a), registry.load(b)
    return diff_weights(old, new) if a != b else ["the same version"]


def publish(data_dir: Path, weights: Weights, *, author: str, note: str) -> WeightsVersion:
    """Publish weights edited in the form (as a TOML file) with a note; content that was
    published before is put back in force as a new entry."""
    if not note.strip():
        raise WeightsPageError("say why in the note: it is kept with the version")
    registry = WeightsRegistry(data_dir)
    latest = registry.latest()
    if latest is not None and latest.version == weights.version:
        raise WeightsPageError(f"{weights.version} is already the version in force")
    if any(v.version == weights.version for v in registry.versions()):
        return registry.restore(weights.version, author=author, note=note)
    text = weights_toml(weights, comment=f"published from the weights editor by {author}")
    return registry.publish(text, author=author, note=note, source="the form")


def rollback(data_dir: Path, version: str, *, author: str, note: str) -> WeightsVersion:
    """Put ``version`` back in force (the default note says it was a rollback)."""
    registry = WeightsRegistry(data_dir)
    latest = registry.latest()
    if latest is not None and latest.version == version:
        raise WeightsPageError(f"{version} is already the version in force")
    return registry.restore(version, author=author,
                            note=note.strip() or f"rollback to {version}")


def in_force(data_dir: Path, override: Path | None) -> tuple[Weights, str]:
    """The weights the pipeline scores with now, and where they come from."""
    weights, _text, source = weights_in_force(data_dir, override)
    return weights, source
