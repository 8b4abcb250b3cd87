"""What changing the weights does: a plain-words diff, and a preview on real leads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from scoring.features import build_frames
from scoring.points import Factor, LeadScore, needed_columns, score_frame
from scoring.weights import TIERS, Criterion, Weights


def _criterion_words(criterion: Criterion) -> str:
    if criterion.name:
        return f"'{criterion.name}'"
    if criterion.event is not None:
        return f"the {criterion.event} event rule"
    return f"the {criterion.field} {criterion.condition} rule"


def _criterion_key(criterion: Criterion) -> str:
    return criterion.name or criterion.model_dump_json(exclude={"points", "name"})


def _condition_text(criterion: Criterion) -> str:
    dumped = criterion.model_dump(by_alias=True, exclude_none=True,
                                  exclude={"name", "points", "group"})
    return ", ".join(f"{key} = {value}" for key, value in dumped.items())


def diff_weights(old: Weights, new: Weights) -> list[str]:
    """What changed from ``old`` to ``new``, one plain sentence per change.

    Args:
        old: the weights before.
        new: the weights after.

    Returns:
        The changes; an empty list when both have the same version.
    """
    if old.version == new.version:
        return []
    lines: list[str] = []
    if old.name != new.name:
        lines.append(f"renamed from '{old.name}' to '{new.name}'")
    if old.base != new.base:
        lines.append(f"every lead now starts at {new.base} points instead of {old.base}")
    for tier in TIERS[:-1]:
        before, after = getattr(old.tiers, tier), getattr(new.tiers, tier)
        if before != after:
            lines.append(f"tier {tier} now starts at {after} instead of {before}")
    if old.tiers.approval_required != new.tiers.approval_required:
        shown = ", ".join(new.tiers.approval_required) or "no tier"
        lines.append(f"tier changes needing a rep's approval: now {shown}")
    for group in ("fit", "engagement", "total"):
        before, after = getattr(old.caps, group), getattr(new.caps, group)
        if before != after:
            what = "all points" if group == "total" else f"{group} points"
            if after is None:
                lines.append(f"{what} are no longer capped (was {before})")
            else:
                lines.append(f"{what} are now capped at {after}" +
                             (f" (was {before})" if before is not None else ""))
    if old.decay.half_life_days != new.decay.half_life_days:
        if new.decay.half_life_days is None:
            lines.append("engagement points no longer fade with time")
        else:
            lines.append(f"engagement points now halve every {new.decay.half_life_days:g} days"
                         " since the latest matching event")
    for key in ("fit_A", "fit_B", "engagement_1", "engagement_2"):
        before, after = getattr(old.grid, key), getattr(new.grid, key)
        if before != after:
            group, band = key.split("_")
            what = "fit letter" if group == "fit" else "engagement number"
            lines.append(f"{what} {band} now starts at {group} sub-score {after} "
                         f"instead of {before}")
    lines.extend(_criteria_diff(old.criteria, new.criteria, where=""))
    old_profiles = {profile.name: profile for profile in old.profiles}
    new_profiles = {profile.name: profile for profile in new.profiles}
    for name in new_profiles.keys() - old_profiles.keys():
        when = _condition_text(new_profiles[name].when)
        lines.append(f"added profile '{name}' for leads where {when}")
    for name in old_profiles.keys() - new_profiles.keys():
        lines.append(f"removed profile '{name}'")
    for name in sorted(old_profiles.keys() & new_profiles.keys()):
        before_p, after_p = old_profiles[name], new_profiles[name]
        if before_p.when != after_p.when:
            lines.append(f"profile '{name}' now applies where {_condition_text(after_p.when)}")
        lines.extend(_criteria_diff(before_p.criteria, after_p.criteria,
                                    where=f" in profile '{name}'"))
    if not lines:
        lines.append("only details changed (e.g. the order of rules)")
    return lines


def _criteria_diff(
    old: tuple[Criterion, ...], new: tuple[Criterion, ...], *, where: str
) -> list[str]:
    lines = []
    before = {_criterion_key(c): c for c in old}
    after = {_criterion_key(c): c for c in new}
    for key, criterion in after.items():
        if key not in before:
            lines.append(f"added {_criterion_words(criterion)}{where} "
                         f"({_condition_text(criterion)}): {criterion.points:+d}")
            continue
        previous = before[key]
        if previous.points != criterion.points:
            lines.append(f"{_criterion_words(criterion)}{where} now gives "
                         f"{criterion.points:+d} instead of {previous.points:+d}")
        if _condition_text(previous) != _condition_text(criterion):
            lines.append(f"{_criterion_words(criterion)}{where} now matches "
                         f"{_condition_text(criterion)} (was {_condition_text(previous)})")
        if previous.group != criterion.group:
            lines.append(f"{_criterion_words(criterion)}{where} moved to the {criterion.group} "
                         "group")
    for key, criterion in before.items():
        if key not in after:
            lines.append(f"removed {_criterion_words(criterion)}{where} "
                         f"({criterion.points:+d})")
    return lines


@dataclass(frozen=True, slots=True)
class Mover:
    """A lead whose score moves most, with the reasons before and after."""

    crm_id: str
    old_score: int
    new_score: int
    old_tier: str
    new_tier: str
    gained: tuple[Factor, ...]
    lost: tuple[Factor, ...]


@dataclass(frozen=True, slots=True)
class Preview:
    """The effect of new weights on a set of leads, before they are published."""

    leads: int
    histogram_edges: tuple[int, ...]
    before: tuple[int, ...]
    after: tuple[int, ...]
    tiers_before: dict[str, int]
    tiers_after: dict[str, int]
    tier_changes: int
    tier_moves: dict[str, int]
    movers: tuple[Mover, ...]


def preview(
    leads: Iterable[Mapping[str, Any]],
    old: Weights,
    new: Weights,
    *,
    now: datetime,
    movers: int = 20,
) -> Preview:
    """Score the same leads with the old and the new weights and compare.

    Args:
        leads: lead mappings (e.g. the latest snapshots in the store).
        old: the weights in use.
        new: the candidate weights.
        now: the moment event windows are measured from.
        movers: how many of the biggest movers to list.

    Returns:
        Score distributions (ten-point bins), tier counts, how many leads change tier (and
        between which tiers), and the biggest movers with the reasons that changed.
    """
    old_fields, old_events = needed_columns(old)
    new_fields, new_events = needed_columns(new)
    frames = build_frames(leads, now=now, columns=old_fields | new_fields,
                          with_events=old_events or new_events)
    before, after = score_frame(frames, old), score_frame(frames, new)
    edges = tuple(range(0, 101, 10))
    old_scores = np.array([r.score for r in before], dtype=np.int64)
    new_scores = np.array([r.score for r in after], dtype=np.int64)
    bins = np.array(edges[:-1] + (101,))
    hist_before = tuple(np.histogram(old_scores, bins=bins)[0].tolist())
    hist_after = tuple(np.histogram(new_scores, bins=bins)[0].tolist())
    moves: dict[str, int] = {}
    for b, a in zip(before, after, strict=True):
        if b.tier != a.tier:
            key = f"{b.tier} -> {a.tier}"
            moves[key] = moves.get(key, 0) + 1
    order = np.argsort(-np.abs(new_scores - old_scores), kind="stable")[:movers]
    listed = []
    for position in order.tolist():
        b, a = before[position], after[position]
        if b.score == a.score:
            break
        listed.append(_mover(b, a))
    return Preview(
        leads=len(before),
        histogram_edges=edges,
        before=hist_before,
        after=hist_after,
        tiers_before=_tier_counts(before),
        tiers_after=_tier_counts(after),
        tier_changes=sum(moves.values()),
        tier_moves=dict(sorted(moves.items())),
        movers=tuple(listed),
    )


def _tier_counts(scores: list[LeadScore]) -> dict[str, int]:
    counts = dict.fromkeys(TIERS, 0)
    for result in scores:
        counts[result.tier] += 1
    return counts


def _mover(before: LeadScore, after: LeadScore) -> Mover:
    old = {(f.label, f.points) for f in before.factors}
    new = {(f.label, f.points) for f in after.factors}
    return Mover(
        crm_id=before.crm_id,
        old_score=before.score,
        new_score=after.score,
        old_tier=before.tier,
        new_tier=after.tier,
        gained=tuple(f for f in after.factors if (f.label, f.points) not in old),
        lost=tuple(f for f in before.factors if (f.label, f.points) not in new),
    )
