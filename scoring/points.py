"""The explainable points score: admin weights applied to a whole batch of leads at once.

Each criterion is evaluated as one boolean column over every lead (event criteria count
matching events per lead from the flattened events frame), so the cost grows with the
number of criteria, not with leads times criteria in Python. Every point that counts
comes back as a :class:`Factor` a rep can read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from scoring.features import FIELD_KINDS, LeadFrames, build_frames, paused_gc
from scoring.weights import Criterion, Weights

_MAX_VALUE_CHARS = 40


@dataclass(frozen=True, slots=True)
class Factor:
    """One reason a lead got points, in words a rep understands.

    ``label`` is the reason without the points (``"industry is logistics"``);
    ``str(factor)`` adds them (``"industry is logistics: +10"``). ``group`` is the
    criterion's group: ``"fit"`` (who the lead is) or ``"engagement"`` (what it did).
    """

    label: str
    points: int
    group: str

    def __str__(self) -> str:
        return f"{self.label}: {self.points:+d}"


@dataclass(frozen=True, slots=True)
class LeadScore:
    """A lead's points score (0-100), its tier, the reasons, and the weights that made it.

    ``factors`` holds every criterion that fired with non-zero points, largest effect
    first (by absolute points; ties keep the order of the weights file).
    """

    crm_id: str
    score: int
    tier: str
    factors: tuple[Factor, ...]
    weights_version: str


def score_leads(
    leads: Iterable[Mapping[str, Any]], weights: Weights, *, now: datetime
) -> list[LeadScore]:
    """Score leads with the admin's weights.

    Args:
        leads: lead records as mappings (``Lead.model_dump()`` dicts or the same keys).
        weights: validated weights (see :func:`scoring.weights.load_weights`).
        now: the moment event windows (``within_days``) are measured from.

    Returns:
        One score per lead, in input order.

    Raises:
        LeadDataError: a lead value cannot be read (a missing value is fine).
    """
    fields = {criterion.field for criterion in weights.criteria if criterion.field is not None}
    with_events = any(criterion.event is not None for criterion in weights.criteria)
    frames = build_frames(
        leads,
        now=now,
        columns=fields,
        with_events=with_events or "days_since_last_activity" in fields,
    )
    return score_frame(frames, weights)


def score_frame(frames: LeadFrames, weights: Weights) -> list[LeadScore]:
    """Score leads already read into frames (see :func:`scoring.features.build_frames`).

    Args:
        frames: the lead and events frames; windows are measured from ``frames.now``. The
            lead frame needs a column for every field the criteria test.
        weights: validated weights.

    Returns:
        One score per row of ``frames.leads``, in row order.
    """
    n = len(frames.leads)
    total = np.full(n, weights.base, dtype=np.int64)
    with paused_gc():
        reasons: list[list[Factor]] = [[] for _ in range(n)]
    columns = _Columns(frames)
    # Evaluating in order of effect means each lead's reasons come out already sorted.
    order = sorted(
        range(len(weights.criteria)), key=lambda i: (-abs(weights.criteria[i].points), i)
    )
    for index in order:
        criterion = weights.criteria[index]
        positions, factors = _evaluate(criterion, columns)
        if criterion.points == 0 or not len(positions):
            continue
        total[positions] += criterion.points
        for position, factor in zip(positions.tolist(), factors.tolist(), strict=True):
            reasons[position].append(factor)
    scores = np.clip(total, 0, 100)
    tiers = np.select(
        [scores >= weights.tiers.A, scores >= weights.tiers.B, scores >= weights.tiers.C],
        ["A", "B", "C"],
        default="D",
    )
    version = weights.version
    crm_ids: list[str] = frames.leads.index.tolist()
    with paused_gc():
        return [
            LeadScore(crm_id, score, tier, tuple(factors), version)
            for crm_id, score, tier, factors in zip(
                crm_ids, scores.tolist(), tiers.tolist(), reasons, strict=True
            )
        ]


class _Columns:
    """Lead columns prepared for matching, computed once per field per scoring run."""

    def __init__(self, frames: LeadFrames) -> None:
        self.frames = frames
        self.n = len(frames.leads)
        self._folded: dict[str, np.ndarray] = {}

    def raw(self, field: str) -> np.ndarray:
        values: np.ndarray = self.frames.leads[field].to_numpy(dtype=object)
        return values

    def numbers(self, field: str) -> np.ndarray:
        values: np.ndarray = self.frames.leads[field].to_numpy(dtype=float, na_value=np.nan)
        return values

    def folded(self, field: str) -> np.ndarray:
        """Text stripped and lower-cased, None where missing."""
        if field not in self._folded:
            folded = np.empty(self.n, dtype=object)
            folded[:] = [
                value.strip().lower() if isinstance(value, str) else None
                for value in self.raw(field)
            ]
            self._folded[field] = folded
        return self._folded[field]

    def flags(self, field: str, wanted: bool) -> np.ndarray:
        matches = self.frames.leads[field] == wanted
        result: np.ndarray = matches.fillna(False).to_numpy(dtype=bool)
        return result


def _evaluate(criterion: Criterion, columns: _Columns) -> tuple[np.ndarray, np.ndarray]:
    """Rows where ``criterion`` fires, and the factor (with its reason) for each row."""
    if criterion.event is not None:
        return _evaluate_event(criterion, columns)
    assert criterion.field is not None
    field = criterion.field
    kind = FIELD_KINDS[field]
    if kind == "bool":
        wanted = bool(criterion.is_true)
        mask = columns.flags(field, wanted)
        positions = np.flatnonzero(mask)
        factor = Factor(_bool_label(criterion, wanted), criterion.points, criterion.group)
        return positions, _repeat(factor, len(positions))
    if kind == "number":
        values = columns.numbers(field)
        mask = _number_mask(criterion, values)
        positions = np.flatnonzero(mask)
        return positions, _factors_by_value(
            values[positions], lambda value: _number_label(criterion, value), criterion
        )
    mask = _text_mask(criterion, columns.folded(field))
    positions = np.flatnonzero(mask)
    return positions, _factors_by_value(
        columns.raw(field)[positions], lambda value: _text_label(criterion, value), criterion
    )


def _number_mask(criterion: Criterion, values: np.ndarray) -> np.ndarray:
    # NaN compares False everywhere, so a missing number never fires.
    with np.errstate(invalid="ignore"):
        if criterion.between is not None:
            low, high = criterion.between
            return (values >= low) & (values <= high)
        if criterion.at_least is not None:
            return values >= criterion.at_least
        if criterion.at_most is not None:
            return values <= criterion.at_most
        assert isinstance(criterion.equals, int | float)
        equal: np.ndarray = values == float(criterion.equals)
        return equal


def _text_mask(criterion: Criterion, folded: np.ndarray) -> np.ndarray:
    if criterion.contains is not None:
        # One pass with an alternation beats one pass per phrase.
        search = re.compile("|".join(re.escape(n.lower()) for n in criterion.contains)).search
        return np.fromiter(
            (value is not None and search(value) is not None for value in folded),
            dtype=bool,
            count=len(folded),
        )
    wanted = criterion.in_ if criterion.in_ is not None else (str(criterion.equals),)
    found: np.ndarray = (
        pd.Series(folded, dtype=object)
        .isin([value.strip().lower() for value in wanted])
        .to_numpy(dtype=bool)
    )
    return found


def _evaluate_event(criterion: Criterion, columns: _Columns) -> tuple[np.ndarray, np.ndarray]:
    assert criterion.event is not None
    events = columns.frames.events
    mask = (events["kind"] == criterion.event.strip().lower()).to_numpy(dtype=bool, copy=True)
    if criterion.within_days is not None:
        mask &= events["age_days"].to_numpy() <= criterion.within_days
    if criterion.detail_contains is not None and mask.any():
        chosen = np.flatnonzero(mask)
        needle = criterion.detail_contains.lower()
        details = events["detail"].to_numpy(dtype=object)[chosen]
        mask[chosen] = np.fromiter(
            (needle in detail.lower() for detail in details), dtype=bool, count=len(chosen)
        )
    counts = np.bincount(events["lead"].to_numpy()[mask], minlength=columns.n)
    positions = np.flatnonzero(counts >= (criterion.min_count or 1))
    return positions, _factors_by_value(
        counts[positions], lambda count: _event_label(criterion, int(count)), criterion
    )


def _repeat(factor: Factor, count: int) -> np.ndarray:
    factors = np.empty(count, dtype=object)
    factors[:] = [factor] * count
    return factors


def _factors_by_value(
    values: np.ndarray, label: Callable[[Any], str], criterion: Criterion
) -> np.ndarray:
    """One factor per distinct value, shared by every lead that has it."""
    if not len(values):
        return np.empty(0, dtype=object)
    codes, uniques = pd.factorize(values)
    distinct = np.empty(len(uniques), dtype=object)
    distinct[:] = [Factor(label(value), criterion.points, criterion.group) for value in uniques]
    chosen: np.ndarray = distinct[codes]
    return chosen


# -- reasons in words -----------------------------------------------------------------------

_FIELD_WORDS = {
    "title": "job title",
    "owner_id": "owner",
    "email_domain": "email domain",
    "lead_source": "lead source",
    "first_name": "first name",
    "last_name": "last name",
}

_EVENT_WORDS = {
    "page_view": "viewed pages",
    "email_open": "opened an email",
    "email_click": "clicked a link in an email",
    "form_submit": "submitted a form",
    "form_fill": "filled in a form",
    "webinar": "attended a webinar",
}


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _text(value: Any) -> str:
    text = " ".join(str(value).split())
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 1].rstrip() + "…"
    return text


def _number_phrase(field: str, value: float) -> str:
    shown = _number(value)
    if field == "employees":
        return f"{shown} employees"
    if field == "past_purchases":
        return f"{shown} past purchase" + ("" if value == 1 else "s")
    if field == "lifetime_value":
        return f"lifetime value {shown}"
    if field == "account_age_days":
        return f"created {shown} days ago"
    if field == "days_since_last_activity":
        return f"last active {shown} days ago"
    return f"{field.replace('_', ' ')} {shown}"


def _number_label(criterion: Criterion, value: float) -> str:
    assert criterion.field is not None
    phrase = _number_phrase(criterion.field, value)
    if criterion.name:
        return f"{criterion.name} ({phrase})"
    if criterion.field == "employees":
        phrase = f"company size {phrase}"
    if criterion.between is not None:
        low, high = criterion.between
        return f"{phrase} ({_number(low)}-{_number(high)})"
    if criterion.at_least is not None:
        return f"{phrase} (at least {_number(criterion.at_least)})"
    if criterion.at_most is not None:
        return f"{phrase} (at most {_number(criterion.at_most)})"
    return phrase


def _text_label(criterion: Criterion, value: Any) -> str:
    assert criterion.field is not None
    shown = _text(value)
    if criterion.name:
        # ``equals`` fires on one value only, so the name already says it all.
        return criterion.name if criterion.equals is not None else f"{criterion.name} ({shown})"
    words = _FIELD_WORDS.get(criterion.field, criterion.field.replace("_", " "))
    if criterion.contains is not None:
        folded = str(value).lower()
        needle = next((n for n in criterion.contains if n.lower() in folded), "")
        return f"{words} is {shown} (contains '{needle}')"
    return f"{words} is {shown}"


def _bool_label(criterion: Criterion, wanted: bool) -> str:
    assert criterion.field is not None
    if criterion.name:
        return criterion.name
    if criterion.field == "email_opt_out":
        return "opted out of email" if wanted else "has not opted out of email"
    return f"{criterion.field.replace('_', ' ')} is {'true' if wanted else 'false'}"


def _times(count: int) -> str:
    if count == 1:
        return "once"
    if count == 2:
        return "twice"
    return f"{count:,} times"


def _event_label(criterion: Criterion, count: int) -> str:
    assert criterion.event is not None
    if criterion.name:
        phrase = criterion.name
    else:
        kind = criterion.event.strip().lower()
        phrase = _EVENT_WORDS.get(kind, f"had '{kind}' events")
        if criterion.detail_contains:
            phrase += f" matching '{criterion.detail_contains}'"
    window = ""
    if criterion.within_days == 1:
        window = " in the last day"
    elif criterion.within_days is not None:
        window = f" in the last {criterion.within_days} days"
    return f"{phrase} {_times(count)}{window}"
