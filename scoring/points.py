"""The explainable points score: admin weights applied to a whole batch of leads at once.

Each criterion is evaluated as one boolean column over every lead (event criteria count
matching events per lead from the flattened events frame), so the cost grows with the
number of criteria, not with leads times criteria in Python. Every point that counts
comes back as a :class:`Factor` a rep can read. A batch of a few leads (a webhook's rescore)
skips the frames and is scored record by record with the same rules (:func:`score_few`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from scoring.features import (
    FIELD_KINDS,
    LeadFrames,
    LeadValues,
    as_utc,
    build_frames,
    crm_ids_of,
    paused_gc,
    wanted_columns,
)
from scoring.grid import sub_score
from scoring.weights import Criterion, Weights

_MAX_VALUE_CHARS = 40


@dataclass(frozen=True, slots=True)
class Factor:
    """One reason a lead got points, in words a rep understands.

    ``label`` is the reason without the points (``"industry is logistics"``);
    ``str(factor)`` adds them (``"industry is logistics: +10"``). ``group`` is the
    criterion's group: ``"fit"`` (who the lead is) or ``"engagement"`` (what it did); a cap
    that took points away has the capped group or ``"total"``; a learned model's
    contribution has ``"model"`` (its points are its effect on the final score, with sign);
    the blend's own pull (what blending moved beyond those) has ``"blend"``.
    """

    label: str
    points: int
    group: str

    def __str__(self) -> str:
        return f"{self.label}: {self.points:+d}"


@dataclass(frozen=True, slots=True)
class LeadScore:
    """A lead's score (0-100), its tier, the reasons, and the versions that made it.

    ``factors`` holds every criterion that fired with non-zero points (and any cap that
    took points away), largest effect first (by absolute points; ties keep the order of
    the weights file). When a model took part (see :func:`scoring.blend.score_leads_blended`)
    its biggest contributions follow the rules, with group ``"model"``.

    Attributes:
        crm_id: the lead's CRM id.
        score: the final score, 0-100 (the points score when no model took part).
        tier: A-D by the thresholds of the lead's profile.
        factors: the reasons, see above.
        weights_version: the version of the whole weights file.
        profile: the weights profile that scored the lead (None: the top-level weights).
        points_score: the admin points score alone.
        probability: the model's calibrated probability of conversion, None without model.
        model_version: the model version that took part, None when none did.
        model_note: why no model took part (e.g. too few labels), empty when one did.
        fit_score: the fit sub-score, 0-100 (see :mod:`scoring.grid`).
        engagement_score: the engagement sub-score, 0-100.
        grade: the fit letter and engagement number on the weights' grid, e.g. "A1".
    """

    crm_id: str
    score: int
    tier: str
    factors: tuple[Factor, ...]
    weights_version: str
    profile: str | None = None
    points_score: int | None = None
    probability: float | None = None
    model_version: str | None = None
    model_note: str = ""
    fit_score: int | None = None
    engagement_score: int | None = None
    grade: str | None = None


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
    records = leads if isinstance(leads, list) else list(leads)
    if len(records) <= FEW_LEADS:
        return score_few(records, weights, now=now)
    fields, with_events = needed_columns(weights)
    frames = build_frames(
        records,
        now=now,
        columns=fields,
        with_events=with_events or "days_since_last_activity" in fields,
    )
    return score_frame(frames, weights)


def needed_columns(weights: Weights) -> tuple[set[str], bool]:
    """The lead-frame columns the weights test, and whether they need the events."""
    criteria = [*weights.criteria]
    fields: set[str] = set()
    for profile in weights.profiles:
        criteria.extend(profile.criteria)
        assert profile.when.field is not None
        fields.add(profile.when.field)
    fields |= {criterion.field for criterion in criteria if criterion.field is not None}
    with_events = any(criterion.event is not None for criterion in criteria)
    return fields, with_events or "days_since_last_activity" in fields


def score_frame(frames: LeadFrames, weights: Weights) -> list[LeadScore]:
    """Score leads already read into frames (see :func:`scoring.features.build_frames`).

    Each lead is scored by the first profile whose condition it matches, or by the
    top-level weights when it matches none.

    Args:
        frames: the lead and events frames; windows are measured from ``frames.now``. The
            lead frame needs a column for every field the criteria test.
        weights: validated weights.

    Returns:
        One score per row of ``frames.leads``, in row order.
    """
    # Scoring allocates a factor list per lead while the caller's leads are alive; automatic
    # full collections would walk all of them again and again (see paused_gc).
    with paused_gc():
        return _score_frame(frames, weights)


def _score_frame(frames: LeadFrames, weights: Weights) -> list[LeadScore]:
    version = weights.version
    if not weights.profiles:
        return _score_profile(frames, weights, version=version, profile=None)
    n = len(frames.leads)
    assigned = np.full(n, len(weights.profiles), dtype=np.int64)
    columns = _Columns(frames)
    # Assigning the last profile first lets an earlier match overwrite a later one.
    for index in reversed(range(len(weights.profiles))):
        positions, _ = _evaluate(weights.profiles[index].when, columns)
        assigned[positions] = index
    results: list[LeadScore | None] = [None] * n
    for index, name in enumerate(weights.profile_names()):
        positions = np.flatnonzero(assigned == index)
        if not len(positions):
            continue
        profile = None if index == len(weights.profiles) else name
        scored = _score_profile(
            subset_frames(frames, positions),
            weights.for_profile(profile),
            version=version,
            profile=profile,
        )
        for position, result in zip(positions.tolist(), scored, strict=True):
            results[position] = result
    return [result for result in results if result is not None]


def subset_frames(frames: LeadFrames, positions: np.ndarray) -> LeadFrames:
    """The leads at ``positions`` (row positions, ascending) and their events."""
    events = frames.events
    owner = events["lead"].to_numpy()
    keep = np.isin(owner, positions)
    renumber = np.full(len(frames.leads), -1, dtype=np.int64)
    renumber[positions] = np.arange(len(positions), dtype=np.int64)
    chosen = events[keep].reset_index(drop=True)
    chosen["lead"] = renumber[owner[keep]]
    return LeadFrames(leads=frames.leads.iloc[positions], events=chosen, now=frames.now)


def _score_profile(
    frames: LeadFrames, weights: Weights, *, version: str, profile: str | None
) -> list[LeadScore]:
    n = len(frames.leads)
    gains = {"fit": np.zeros(n, dtype=np.int64), "engagement": np.zeros(n, dtype=np.int64)}
    losses = {"fit": np.zeros(n, dtype=np.int64), "engagement": np.zeros(n, dtype=np.int64)}
    with paused_gc():
        reasons: list[list[Factor]] = [[] for _ in range(n)]
    columns = _Columns(frames)
    half_life = weights.decay.half_life_days
    # Evaluating in order of effect means each lead's reasons come out already sorted.
    order = sorted(
        range(len(weights.criteria)), key=lambda i: (-abs(weights.criteria[i].points), i)
    )
    for index in order:
        criterion = weights.criteria[index]
        if criterion.points == 0:
            continue
        if criterion.event is not None and half_life is not None:
            positions, factors, points = _evaluate_decayed(criterion, columns, half_life)
        else:
            positions, factors = _evaluate(criterion, columns)
            points = np.full(len(positions), criterion.points, dtype=np.int64)
        if not len(positions):
            continue
        if criterion.points > 0:
            gains[criterion.group][positions] += points
        else:
            losses[criterion.group][positions] += points
        for position, factor in zip(positions.tolist(), factors.tolist(), strict=True):
            reasons[position].append(factor)
    gained, capped = _apply_caps(weights, gains, reasons)
    scores = np.clip(weights.base + gained + losses["fit"] + losses["engagement"], 0, 100)
    fit = np.clip(capped["fit"] + losses["fit"], 0, 100)
    engagement = np.clip(capped["engagement"] + losses["engagement"], 0, 100)
    grades = weights.grid.grades(fit, engagement)
    if half_life is not None or weights.caps.is_set():
        # Decay and caps change effects lead by lead; a stable sort keeps file order on ties.
        for lead_reasons in reasons:
            if len(lead_reasons) > 1:
                lead_reasons.sort(key=_effect)
    tiers = np.select(
        [scores >= weights.tiers.A, scores >= weights.tiers.B, scores >= weights.tiers.C],
        ["A", "B", "C"],
        default="D",
    )
    crm_ids: list[str] = frames.leads.index.tolist()
    with paused_gc():
        return [
            LeadScore(crm_id, score, tier, tuple(factors), version, profile, score, None, None,
                      "", fit_score, engagement_score, grade)
            for crm_id, score, tier, factors, fit_score, engagement_score, grade in zip(
                crm_ids, scores.tolist(), tiers.tolist(), reasons, fit.tolist(),
                engagement.tolist(), grades.tolist(), strict=True
            )
        ]


def _effect(factor: Factor) -> int:
    return -abs(factor.points)


def _apply_caps(
    weights: Weights, gains: dict[str, np.ndarray], reasons: list[list[Factor]]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Positive points per lead after the group and total caps, and each group's after its
    own cap; a cap that bites is a reason."""
    caps = weights.caps
    capped: dict[str, np.ndarray] = {}
    for group, cap in (("fit", caps.fit), ("engagement", caps.engagement)):
        capped[group] = gains[group] if cap is None else np.minimum(gains[group], cap)
        if cap is not None:
            _cap_reasons(gains[group] - capped[group], f"{group} points capped at {cap}", group,
                         reasons)
    total: np.ndarray = capped["fit"] + capped["engagement"]
    if caps.total is None:
        return total, capped
    limited: np.ndarray = np.minimum(total, caps.total)
    _cap_reasons(total - limited, f"points capped at {caps.total} in total", "total", reasons)
    return limited, capped


def _cap_reasons(excess: np.ndarray, label: str, group: str, reasons: list[list[Factor]]) -> None:
    positions = np.flatnonzero(excess > 0)
    if not len(positions):
        return
    shared: dict[int, Factor] = {}
    for position, amount in zip(positions.tolist(), excess[positions].tolist(), strict=True):
        factor = shared.get(amount)
        if factor is None:
            factor = shared[amount] = Factor(label, -amount, group)
        reasons[position].append(factor)


class _Columns:
    """Lead columns prepared for matching, computed once per field per scoring run."""

    def __init__(self, frames: LeadFrames) -> None:
        self.frames = frames
        self.n = len(frames.leads)
        self._folded: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._details: tuple[np.ndarray, list[str]] | None = None

    def numbers(self, field: str) -> np.ndarray:
        values: np.ndarray = self.frames.leads[field].to_numpy(dtype=float, na_value=np.nan)
        return values

    def folded(self, field: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each lead's code (-1 where missing), the distinct values, and those stripped and
        lower-cased: text columns repeat a few values, so each is folded once."""
        if field not in self._folded:
            codes, uniques = pd.factorize(self.frames.leads[field])
            distinct = np.empty(len(uniques), dtype=object)
            distinct[:] = list(uniques)
            folded = np.empty(len(uniques), dtype=object)
            folded[:] = [str(value).strip().lower() for value in distinct]
            self._folded[field] = (np.asarray(codes, dtype=np.int64), distinct, folded)
        return self._folded[field]

    def details(self) -> tuple[np.ndarray, list[str]]:
        """Each event's detail as a code into the distinct details, lower-cased."""
        if self._details is None:
            detail = self.frames.events["detail"]
            if isinstance(detail.dtype, pd.CategoricalDtype):
                codes, uniques = detail.cat.codes.to_numpy(), detail.cat.categories
            else:
                codes, uniques = pd.factorize(detail.to_numpy(dtype=object))
            self._details = (
                np.asarray(codes, dtype=np.int64),
                [str(value).lower() for value in uniques],
            )
        return self._details

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
    codes, distinct, folded = columns.folded(field)
    # A missing value (code -1) picks the False appended at the end.
    mask = np.append(_text_mask(criterion, folded), False)[codes]
    positions = np.flatnonzero(mask)
    chosen = codes[positions]
    factors = np.empty(len(distinct), dtype=object)
    for code in np.unique(chosen).tolist():
        factors[code] = Factor(_text_label(criterion, distinct[code]), criterion.points,
                               criterion.group)
    picked: np.ndarray = factors[chosen]
    return positions, picked


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
            (search(value) is not None for value in folded), dtype=bool, count=len(folded)
        )
    wanted = criterion.in_ if criterion.in_ is not None else (str(criterion.equals),)
    found: np.ndarray = (
        pd.Series(folded, dtype=object)
        .isin([value.strip().lower() for value in wanted])
        .to_numpy(dtype=bool)
    )
    return found


def _evaluate_event(criterion: Criterion, columns: _Columns) -> tuple[np.ndarray, np.ndarray]:
    counts, _ = _event_counts(criterion, columns, with_latest=False)
    positions = np.flatnonzero(counts >= (criterion.min_count or 1))
    return positions, _factors_by_value(
        counts[positions], lambda count: _event_label(criterion, int(count)), criterion
    )


def _event_counts(
    criterion: Criterion, columns: _Columns, *, with_latest: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Matching events per lead, and (if asked) the age in days of each lead's latest one."""
    assert criterion.event is not None
    events = columns.frames.events
    mask = (events["kind"] == criterion.event.strip().lower()).to_numpy(dtype=bool, copy=True)
    if criterion.within_days is not None:
        mask &= events["age_days"].to_numpy() <= criterion.within_days
    if criterion.detail_contains is not None and mask.any():
        codes, details = columns.details()
        needle = criterion.detail_contains.lower()
        mentions = np.fromiter(
            (needle in detail for detail in details), dtype=bool, count=len(details)
        )
        mask &= np.append(mentions, False)[codes]
    owners = events["lead"].to_numpy()[mask]
    counts = np.bincount(owners, minlength=columns.n)
    if not with_latest:
        return counts, None
    latest = np.full(columns.n, np.inf)
    np.minimum.at(latest, owners, events["age_days"].to_numpy()[mask])
    return counts, latest


def _evaluate_decayed(
    criterion: Criterion, columns: _Columns, half_life: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like an event criterion, with points halved every ``half_life`` days since the latest
    matching event; leads whose points decay to zero are left out."""
    counts, latest = _event_counts(criterion, columns, with_latest=True)
    assert latest is not None
    positions = np.flatnonzero(counts >= (criterion.min_count or 1))
    days = np.maximum(latest[positions], 0.0)
    points = np.rint(criterion.points * np.exp2(-days / half_life)).astype(np.int64)
    keep = points != 0
    positions, days, points = positions[keep], days[keep], points[keep]
    if not len(positions):
        return positions, np.empty(0, dtype=object), points
    whole_days = np.floor(days).astype(np.int64)
    keys = np.stack([counts[positions], whole_days, points], axis=1)
    uniques, codes = np.unique(keys, axis=0, return_inverse=True)
    distinct = np.empty(len(uniques), dtype=object)
    distinct[:] = [
        Factor(
            f"{_event_label(criterion, int(count))}, latest {_days_ago(int(day))}",
            int(value),
            criterion.group,
        )
        for count, day, value in uniques.tolist()
    ]
    chosen: np.ndarray = distinct[codes.reshape(-1)]
    return positions, chosen, points


def _days_ago(days: int) -> str:
    if days == 0:
        return "today"
    if days == 1:
        return "1 day ago"
    return f"{days} days ago"


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


# -- a few leads, straight from their records -------------------------------------------------
#
# A webhook rescores one lead at a time. Building pandas frames for one row costs several
# milliseconds of fixed overhead, far more than the rules themselves, so small batches are
# scored here in plain Python with the same rules, the same words and the same results as
# the frame path (tests/scoring/test_points_few.py holds the two side by side).

FEW_LEADS = 8
"""Batches of at most this many leads are scored by the per-record path."""

def score_few(
    records: Sequence[Mapping[str, Any]], weights: Weights, *, now: datetime
) -> list[LeadScore]:
    """Score a small batch lead by lead, without building frames (same results).

    Args:
        records: lead records as mappings (see :func:`scoring.features.build_frames`).
        weights: validated weights.
        now: the moment event windows are measured from.

    Returns:
        One score per lead, in input order, equal to :func:`score_leads`'s.

    Raises:
        LeadDataError: a lead value cannot be read (as with the frame path; with several
            bad values the one named may differ).
    """
    moment = as_utc(now)
    fields, with_events = needed_columns(weights)
    crm_ids = crm_ids_of(records)
    wanted = wanted_columns(fields, with_events=with_events)
    leads = [
        LeadValues(record, crm_id, wanted, moment, with_events)
        for record, crm_id in zip(records, crm_ids, strict=True)
    ]
    profiles = {name: weights.for_profile(name) for name in weights.profile_names()[:-1]}
    results = []
    for lead in leads:
        profile = next(
            (p.name for p in weights.profiles if _fires_one(p.when, lead)[0] is not None), None
        )
        chosen = weights if profile is None else profiles[profile]
        results.append(_score_one(lead, chosen, version=weights.version, profile=profile))
    return results


def _fires_one(criterion: Criterion, lead: LeadValues) -> tuple[Factor | None, int]:
    """The factor a criterion gives one lead (None when it does not fire), and its points."""
    if criterion.event is not None:
        return _fires_event(criterion, lead, half_life=None)
    assert criterion.field is not None
    value = lead.values[criterion.field]
    kind = FIELD_KINDS[criterion.field]
    if kind == "bool":
        wanted = bool(criterion.is_true)
        if value is None or value != wanted:
            return None, 0
        return Factor(_bool_label(criterion, wanted), criterion.points, criterion.group), 0
    if kind == "number":
        if not _number_fires(criterion, value):
            return None, 0
        return Factor(_number_label(criterion, value), criterion.points, criterion.group), 0
    if value is None:
        return None, 0
    folded = value.strip().lower()
    if criterion.contains is not None:
        fired = any(needle.lower() in folded for needle in criterion.contains)
    else:
        wanted_text = criterion.in_ if criterion.in_ is not None else (str(criterion.equals),)
        fired = folded in {item.strip().lower() for item in wanted_text}
    if not fired:
        return None, 0
    return Factor(_text_label(criterion, value), criterion.points, criterion.group), 0


def _number_fires(criterion: Criterion, value: float) -> bool:
    if math.isnan(value):
        return False
    if criterion.between is not None:
        low, high = criterion.between
        return low <= value <= high
    if criterion.at_least is not None:
        return value >= criterion.at_least
    if criterion.at_most is not None:
        return value <= criterion.at_most
    assert isinstance(criterion.equals, int | float)
    return value == float(criterion.equals)


def _fires_event(
    criterion: Criterion, lead: LeadValues, *, half_life: float | None
) -> tuple[Factor | None, int]:
    assert criterion.event is not None
    wanted = criterion.event.strip().lower()
    needle = criterion.detail_contains.lower() if criterion.detail_contains is not None else None
    count = 0
    latest = math.inf
    for kind, detail, age in lead.events:
        if kind != wanted:
            continue
        if criterion.within_days is not None and not age <= criterion.within_days:
            continue
        if needle is not None and needle not in detail.lower():
            continue
        count += 1
        latest = min(latest, age)
    if count < (criterion.min_count or 1):
        return None, 0
    label = _event_label(criterion, count)
    if half_life is None:
        return Factor(label, criterion.points, criterion.group), criterion.points
    days = max(latest, 0.0)
    points = int(np.rint(criterion.points * np.exp2(-np.array([days]) / half_life))[0])
    if points == 0:
        return None, 0
    label = f"{label}, latest {_days_ago(math.floor(days))}"
    return Factor(label, points, criterion.group), points


def _score_one(
    lead: LeadValues, weights: Weights, *, version: str, profile: str | None
) -> LeadScore:
    gains = {"fit": 0, "engagement": 0}
    losses = {"fit": 0, "engagement": 0}
    reasons: list[Factor] = []
    half_life = weights.decay.half_life_days
    order = sorted(
        range(len(weights.criteria)), key=lambda i: (-abs(weights.criteria[i].points), i)
    )
    for index in order:
        criterion = weights.criteria[index]
        if criterion.points == 0:
            continue
        if criterion.event is not None and half_life is not None:
            factor, points = _fires_event(criterion, lead, half_life=half_life)
        else:
            factor, _ = _fires_one(criterion, lead)
            points = criterion.points
        if factor is None:
            continue
        if criterion.points > 0:
            gains[criterion.group] += points
        else:
            losses[criterion.group] += points
        reasons.append(factor)
    caps = weights.caps
    capped = {}
    for group, cap in (("fit", caps.fit), ("engagement", caps.engagement)):
        capped[group] = gains[group] if cap is None else min(gains[group], cap)
        if gains[group] > capped[group]:
            reasons.append(
                Factor(f"{group} points capped at {cap}", capped[group] - gains[group], group)
            )
    gained = capped["fit"] + capped["engagement"]
    if caps.total is not None and gained > caps.total:
        reasons.append(Factor(f"points capped at {caps.total} in total",
                              caps.total - gained, "total"))
        gained = caps.total
    score = min(100, max(0, weights.base + gained + losses["fit"] + losses["engagement"]))
    if half_life is not None or caps.is_set():
        reasons.sort(key=_effect)
    fit = sub_score(capped["fit"] + losses["fit"])
    engagement = sub_score(capped["engagement"] + losses["engagement"])
    return LeadScore(lead.crm_id, score, weights.tier_for(score), tuple(reasons), version,
                     profile, score, None, None, "", fit, engagement,
                     weights.grid.grade(fit, engagement))
