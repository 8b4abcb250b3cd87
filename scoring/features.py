"""Leads to feature frames: one row per lead, one row per engagement event.

Leads arrive as plain mappings (``Lead.model_dump()`` dicts or anything with the same keys).
The leads are read once in Python to pull out their columns and flatten their events into a
long frame; every aggregate after that is computed with numpy/pandas over whole columns.
Nothing here knows which CRM a lead came from.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

from scoring.errors import LeadDataError

FieldKind = Literal["number", "text", "bool"]

TEXT_FIELDS: tuple[str, ...] = (
    "email",
    "email_domain",
    "first_name",
    "last_name",
    "title",
    "company",
    "industry",
    "country",
    "lead_source",
    "status",
    "owner_id",
    "notes",
)
"""Text columns; ``email_domain`` is derived from ``email``. Empty text counts as missing."""

NUMBER_FIELDS: tuple[str, ...] = (
    "employees",
    "past_purchases",
    "lifetime_value",
    "account_age_days",
    "days_since_last_activity",
)
"""Numeric columns (float, NaN when missing); the last two are derived from dates and events."""

BOOL_FIELDS: tuple[str, ...] = ("email_opt_out",)
"""True/false columns (pandas nullable boolean)."""

FIELD_KINDS: dict[str, FieldKind] = {
    **dict.fromkeys(TEXT_FIELDS, "text"),
    **dict.fromkeys(NUMBER_FIELDS, "number"),
    **dict.fromkeys(BOOL_FIELDS, "bool"),
}
"""Every lead field a scoring criterion may test, with its kind."""

STANDARD_EVENT_KINDS: tuple[str, ...] = (
    "page_view",
    "email_open",
    "email_click",
    "form_submit",
    "webinar",
)
"""Event kinds that get their own count column; any other kind is counted in ``events_other``."""

_DIRECT_TEXT = tuple(name for name in TEXT_FIELDS if name != "email_domain")
_DIRECT_NUMBERS = ("employees", "past_purchases", "lifetime_value")
_SECONDS_PER_DAY = 86_400.0
_PRICING = "pricing"

FUTURE_GRACE_DAYS = 1 / 24
"""Events dated more than this after ``now`` are future-dated (a bad date, e.g. 2999): they
are left out of every count, window and decay. The grace absorbs clock skew with the CRM."""

EVENT_COLUMNS: tuple[str, ...] = ("lead", "kind", "detail", "at", "age_days")
"""Columns of the events frame: ``lead`` is the row position of the lead in the lead frame."""

_PLAIN: tuple[str, ...] = (
    "email",
    *(name for name in _DIRECT_TEXT if name != "email"),
    *_DIRECT_NUMBERS,
    "email_opt_out",
    "created_at",
    "modified_at",
)


def event_column_name(kind: str) -> str:
    """The lead-frame column that counts events of ``kind`` (``events_other`` if not standard)."""
    if kind in STANDARD_EVENT_KINDS:
        return "events_" + re.sub(r"[^a-z0-9]+", "_", kind)
    return "events_other"


ENGAGEMENT_COLUMNS: tuple[str, ...] = (
    "events_total",
    *(event_column_name(kind) for kind in STANDARD_EVENT_KINDS),
    "events_other",
    "events_last_14d",
    "pricing_views_14d",
    "events_last_30d",
    "pricing_views_30d",
)
"""Derived per-lead event counts (all windows end at ``now``)."""

LEAD_COLUMNS: tuple[str, ...] = (
    "email",
    "email_domain",
    *_PLAIN[1:],
    "account_age_days",
    "days_since_last_activity",
    *ENGAGEMENT_COLUMNS,
)
"""Every lead-frame column, in frame order."""

_NEEDS_EVENTS = frozenset({"days_since_last_activity", *ENGAGEMENT_COLUMNS})


@dataclass(frozen=True, slots=True)
class LeadFrames:
    """Leads as a wide frame (one row per lead) and their events as a long frame.

    Attributes:
        leads: one row per lead, indexed by ``crm_id``, in input order.
        events: one row per event with columns ``lead`` (row position in ``leads``),
            ``kind`` (lower case, categorical), ``detail`` (text, categorical; empty when
            missing), ``at`` (UTC) and
            ``age_days`` (days before ``now``; slightly negative for an event up to
            :data:`FUTURE_GRACE_DAYS` after it; events dated later are left out).
        now: the moment every age and window was measured from (UTC).
    """

    leads: pd.DataFrame
    events: pd.DataFrame
    now: datetime


def build_frames(
    leads: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    columns: Collection[str] | None = None,
    with_events: bool = True,
) -> LeadFrames:
    """Read leads once into a lead frame and a flattened events frame.

    Args:
        leads: lead records as mappings with the keys of ``connectors.base.Lead``;
            ``events`` is a list of ``{kind, detail, at}`` mappings (or objects with those
            attributes), ``at`` a datetime (naive is taken as UTC) or ISO 8601 text.
            Missing keys and ``None`` values are treated as missing.
        now: the moment ages and windows are measured from; a naive value is taken as UTC.
        columns: the lead-frame columns to build (see :data:`LEAD_COLUMNS`); None for all.
            Scoring asks only for the fields its criteria test.
        with_events: read the events; when False the events frame is empty and no column
            that counts events may be asked for.

    Returns:
        The lead frame, the events frame and ``now`` in UTC.

    Raises:
        LeadDataError: a lead has no ``crm_id``, a duplicate one, a number that is not a
            number, or an event without a kind or a readable date.
        ValueError: ``columns`` names an unknown column, or one that needs the events
            while ``with_events`` is False.
    """
    now = as_utc(now)
    wanted = wanted_columns(columns, with_events=with_events)
    with paused_gc():
        records: Sequence[Mapping[str, Any]] = leads if isinstance(leads, list) else list(leads)
        crm_ids = crm_ids_of(records)
        events = _events_frame(records if with_events else [], crm_ids, now=now)
        frame = _plain_columns(records, crm_ids, wanted)
    frame = _add_engagement(frame, events, now=now, wanted=wanted)
    return LeadFrames(
        leads=frame[[name for name in LEAD_COLUMNS if name in wanted]], events=events, now=now
    )


def wanted_columns(columns: Collection[str] | None, *, with_events: bool) -> set[str]:
    """The lead-frame columns to build (all for None); unknown ones are an error."""
    if columns is None:
        wanted = set(LEAD_COLUMNS)
        return wanted if with_events else wanted - _NEEDS_EVENTS
    wanted = set(columns)
    unknown = sorted(wanted - set(LEAD_COLUMNS))
    if unknown:
        raise ValueError(f"unknown lead-frame columns {unknown}; known: {list(LEAD_COLUMNS)}")
    if not with_events and wanted & _NEEDS_EVENTS:
        raise ValueError(f"columns {sorted(wanted & _NEEDS_EVENTS)} need with_events=True")
    return wanted


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects.

    Reading a batch allocates millions of objects while the caller's leads (millions more)
    are alive; each automatic full collection walks all of them, which costs more than the
    work itself. Nothing built here forms cycles, so pausing frees nothing late.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def lead_frame(leads: Iterable[Mapping[str, Any]], *, now: datetime) -> pd.DataFrame:
    """One row per lead, indexed by ``crm_id``, with typed plain and derived columns.

    Plain columns: the text fields (pandas ``str``, NaN when empty), ``employees``,
    ``past_purchases`` and ``lifetime_value`` (float, NaN when missing), ``email_opt_out``
    (nullable boolean), ``created_at`` and ``modified_at`` (UTC). Derived columns:
    ``email_domain``, ``account_age_days``, ``days_since_last_activity`` (NaN without
    events), ``events_total``, ``events_<kind>`` for each standard kind and
    ``events_other``, ``events_last_14d``, ``events_last_30d``, ``pricing_views_14d`` and
    ``pricing_views_30d`` (page views whose detail mentions "pricing").

    Args:
        leads: lead records as mappings (see :func:`build_frames`).
        now: the moment ages and windows are measured from.

    Returns:
        The lead frame.

    Raises:
        LeadDataError: a lead value cannot be read (see :func:`build_frames`).
    """
    return build_frames(leads, now=now).leads


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive value is taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def crm_ids_of(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each lead's ``crm_id`` as text; a lead without one, or a repeated one, is an error."""
    crm_ids: list[Any] = [record.get("crm_id") for record in records]
    for position, crm_id in enumerate(crm_ids):
        if crm_id is None or crm_id == "":
            raise LeadDataError(f"#{position}", "has no crm_id")
    ids = [str(crm_id) for crm_id in crm_ids]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        for crm_id in ids:
            if crm_id in seen:
                raise LeadDataError(crm_id, "appears twice in one batch; send each lead once")
            seen.add(crm_id)
    return ids


def _text_column(values: list[Any]) -> pd.Series:
    # Empty text is how a CRM says "not filled in": treat it as missing.
    return pd.Series([value if value != "" else None for value in values], dtype="str")


def _number_column(values: list[Any], name: str, crm_ids: list[str]) -> np.ndarray:
    try:
        return np.array([np.nan if value is None else value for value in values], dtype=float)
    except (TypeError, ValueError):
        pass
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    bad = numbers.isna() & pd.Series([value is not None for value in values])
    position = int(np.flatnonzero(bad.to_numpy())[0])
    raise LeadDataError(crm_ids[position], f"{name} should be a number, got {values[position]!r}")


def _bool_column(values: list[Any], name: str, crm_ids: list[str]) -> pd.Series:
    for position, value in enumerate(values):
        if value is not None and not isinstance(value, bool | np.bool_):
            raise LeadDataError(crm_ids[position], f"{name} should be true or false, got {value!r}")
    return pd.Series(values, dtype="boolean")


def _time_column(values: list[Any], name: str, crm_ids: list[str]) -> pd.Series:
    try:
        return pd.Series(pd.to_datetime(values, utc=True, format="ISO8601"))
    except (TypeError, ValueError):
        pass
    for position, value in enumerate(values):
        try:
            pd.to_datetime([value], utc=True, format="ISO8601")
        except (TypeError, ValueError):
            raise LeadDataError(
                crm_ids[position], f"{name} should be a date and time, got {value!r}"
            ) from None
    raise LeadDataError(crm_ids[0], f"{name} holds dates that cannot be read together")


def _plain_columns(
    records: Sequence[Mapping[str, Any]], crm_ids: list[str], wanted: set[str]
) -> pd.DataFrame:
    needed = set(wanted)
    if "email_domain" in wanted:
        needed.add("email")
    if "account_age_days" in wanted:
        needed.add("created_at")
    names = tuple(name for name in _PLAIN if name in needed)
    # One pass over the leads, then a transpose: far cheaper than one pass per column.
    rows = [tuple(map(record.get, names)) for record in records] if names else []
    raw: dict[str, list[Any]] = (
        {name: list(values) for name, values in zip(names, zip(*rows, strict=True), strict=True)}
        if rows
        else {name: [] for name in names}
    )
    built: dict[str, Any] = {}
    for name in names:
        if name in _DIRECT_NUMBERS:
            built[name] = _number_column(raw[name], name, crm_ids)
        elif name == "email_opt_out":
            built[name] = _bool_column(raw[name], name, crm_ids)
        elif name in ("created_at", "modified_at"):
            built[name] = _time_column(raw[name], name, crm_ids)
        else:
            built[name] = _text_column(raw[name])
    if "email_domain" in wanted:
        built["email_domain"] = _text_column(
            [
                email.rpartition("@")[2].strip().lower() if isinstance(email, str) else None
                for email in raw["email"]
            ]
        )
    frame = pd.DataFrame(built, index=pd.RangeIndex(len(crm_ids)))
    frame.index = pd.Index(crm_ids, name="crm_id", dtype="str")
    return frame


def event_parts(event: Any) -> tuple[Any, Any, Any]:
    """An event's kind, detail and date, from a mapping or an object with those attributes."""
    if isinstance(event, Mapping):
        return event.get("kind"), event.get("detail"), event.get("at")
    return getattr(event, "kind", None), getattr(event, "detail", None), getattr(event, "at", None)


def _event_times(stamps: list[Any], owner: Callable[[int], str]) -> pd.DatetimeIndex:
    """Event dates as UTC: aware or naive (taken as UTC) datetimes, or ISO 8601 text."""
    try:
        times = pd.DatetimeIndex(pd.to_datetime(stamps, utc=True, format="ISO8601"))
    except (TypeError, ValueError, OverflowError):
        times = None
    if times is not None and not times.hasnans:
        return times
    for position, stamp in enumerate(stamps):
        try:
            one = pd.to_datetime([stamp], utc=True, format="ISO8601")
        except (TypeError, ValueError, OverflowError):
            one = None
        if one is None or one.hasnans:
            raise LeadDataError(owner(position), f"an event has no readable date (at = {stamp!r})")
    raise LeadDataError(owner(0), "event dates cannot be read together")  # pragma: no cover


def _events_frame(
    records: Sequence[Mapping[str, Any]], crm_ids: list[str], *, now: datetime
) -> pd.DataFrame:
    per_lead = [record.get("events") or () for record in records]
    counts = np.fromiter((len(events) for events in per_lead), dtype=np.int64, count=len(per_lead))
    flat = [event for events in per_lead for event in events]
    lead_position = np.repeat(np.arange(len(per_lead), dtype=np.int64), counts)

    def owner(position: int) -> str:
        return crm_ids[int(lead_position[position])]

    try:
        # Mappings, as Lead.model_dump() gives (with dates as datetimes or, in JSON mode, text).
        kinds: list[Any] = [event["kind"] for event in flat]
        details: list[Any] = [event.get("detail") for event in flat]
        stamps: list[Any] = [event["at"] for event in flat]
    except (TypeError, KeyError, AttributeError):
        parts = [event_parts(event) for event in flat]
        kinds = [part[0] for part in parts]
        details = [part[1] for part in parts]
        stamps = [part[2] for part in parts]
    codes, uniques = pd.factorize(pd.Series(kinds, dtype=object))
    bad_kinds = [
        code for code, kind in enumerate(uniques) if not isinstance(kind, str) or not kind.strip()
    ]
    if bad_kinds or (codes < 0).any():
        position = int(np.flatnonzero((codes < 0) | np.isin(codes, bad_kinds))[0])
        raise LeadDataError(owner(position), f"an event has no kind: {flat[position]!r}")
    lowered = [kind.strip().lower() for kind in uniques]
    categories = list(dict.fromkeys(lowered))
    slot = {kind: index for index, kind in enumerate(categories)}
    remap = np.array([slot[kind] for kind in lowered], dtype=np.int64)
    kind_column = pd.Categorical.from_codes(remap[codes], categories=categories)
    # Details repeat (page paths, campaign names): codes into the distinct ones take less
    # memory than a pointer per event and let matching test each distinct detail once.
    detail_codes, detail_uniques = pd.factorize(pd.Series(details, dtype=object))
    detail_categories = list(detail_uniques)
    if (detail_codes < 0).any():
        if "" not in detail_categories:
            detail_categories.append("")
        detail_codes = np.where(detail_codes < 0, detail_categories.index(""), detail_codes)
    detail_column = pd.Categorical.from_codes(detail_codes, categories=detail_categories)
    times = _event_times(stamps, owner).as_unit("us")
    age_days = (now.timestamp() - times.asi8 / 1e6) / _SECONDS_PER_DAY
    frame = pd.DataFrame(
        {
            "lead": lead_position,
            "kind": kind_column,
            "detail": detail_column,
            "at": times,
            "age_days": age_days,
        },
        columns=list(EVENT_COLUMNS),
    )
    future = age_days < -FUTURE_GRACE_DAYS
    if future.any():
        frame = frame[~future].reset_index(drop=True)
    return frame


def future_dated_events(events: Iterable[Any], *, now: datetime) -> int:
    """How many of one lead's events are dated after ``now`` (beyond the grace)."""
    limit = _micros_of(now) + FUTURE_GRACE_DAYS * _SECONDS_PER_DAY * 1e6
    count = 0
    for event in events:
        stamp = _micros(event_parts(event)[2])
        count += stamp is not None and stamp > limit
    return count


def _count_by_lead(lead: np.ndarray, mask: np.ndarray | None, n: int) -> np.ndarray:
    chosen = lead if mask is None else lead[mask]
    return np.bincount(chosen, minlength=n).astype(np.int64)


def _add_engagement(
    frame: pd.DataFrame, events: pd.DataFrame, *, now: datetime, wanted: set[str]
) -> pd.DataFrame:
    n = len(frame)
    lead = events["lead"].to_numpy()
    age = events["age_days"].to_numpy()
    kind = events["kind"]
    derived: dict[str, Any] = {}

    if "account_age_days" in wanted:
        created = frame["created_at"]
        derived["account_age_days"] = (
            (pd.Timestamp(now) - created).dt.total_seconds() / _SECONDS_PER_DAY
        ).to_numpy(dtype=float, na_value=np.nan)
    if "days_since_last_activity" in wanted:
        latest = np.full(n, -np.inf)
        np.maximum.at(latest, lead, -age)
        derived["days_since_last_activity"] = np.where(np.isfinite(latest), -latest, np.nan)
    if not wanted & set(ENGAGEMENT_COLUMNS):
        return frame.assign(**derived)

    derived["events_total"] = _count_by_lead(lead, None, n)
    # One bincount over (lead, kind) pairs gives every per-kind count at once.
    categories = list(kind.cat.categories)
    slots = [*(event_column_name(k) for k in STANDARD_EVENT_KINDS), "events_other"]
    slot_of = {name: index for index, name in enumerate(slots)}
    slot_index = np.array([slot_of[event_column_name(c)] for c in categories], dtype=np.int64)
    slot_codes = slot_index[kind.cat.codes.to_numpy()] if categories else np.zeros(0, np.int64)
    by_kind = np.bincount(lead * len(slots) + slot_codes, minlength=n * len(slots))
    by_kind = by_kind.reshape(n, len(slots))
    for column, name in enumerate(slots):
        derived[name] = by_kind[:, column].astype(np.int64)

    is_pricing = (kind == "page_view").to_numpy(dtype=bool, copy=True)
    if is_pricing.any():
        pricing_details = events["detail"].to_numpy()[is_pricing]
        is_pricing[is_pricing] = np.array(
            [_PRICING in detail.lower() for detail in pricing_details], dtype=bool
        )
    for days in (14, 30):
        recent = age <= days
        derived[f"events_last_{days}d"] = _count_by_lead(lead, recent, n)
        derived[f"pricing_views_{days}d"] = _count_by_lead(lead, recent & is_pricing, n)
    return frame.assign(**{name: value for name, value in derived.items() if name in wanted})


# -- a few leads without frames ---------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FEW_COLUMNS = frozenset({*FIELD_KINDS, *ENGAGEMENT_COLUMNS})
_MICROSECOND = timedelta(microseconds=1)


class LeadValues:
    """One lead's lead-frame columns read in plain Python, as :func:`build_frames` reads them.

    For a handful of leads (a webhook's rescore) building frames costs far more than the
    work; this reads the same values (``values``, by column name) and the lead's events as
    ``(kind, detail, age_days)`` without pandas.
    """

    __slots__ = ("crm_id", "values", "events")

    def __init__(
        self,
        record: Mapping[str, Any],
        crm_id: str,
        wanted: set[str],
        now: datetime,
        with_events: bool,
    ) -> None:
        self.crm_id = crm_id
        self.values: dict[str, Any] = {}
        self.events: list[tuple[str, Any, float]] = []
        if with_events:
            self._read_events(record.get("events") or (), now)
        for name in wanted:
            self.values[name] = self._read(record, name, now)

    def _read(self, record: Mapping[str, Any], name: str, now: datetime) -> Any:
        kind = FIELD_KINDS.get(name)
        if name == "email_domain":
            email = record.get("email")
            domain = email.rpartition("@")[2].strip().lower() if isinstance(email, str) else None
            return _text_value(domain)
        if name == "account_age_days":
            created = _micros(record.get("created_at"))
            if created is None:
                return math.nan
            return (_micros_of(now) - created) / 1e6 / _SECONDS_PER_DAY
        if name == "days_since_last_activity":
            if not self.events:
                return math.nan
            return -max(-age for _, _, age in self.events)
        if name in ENGAGEMENT_COLUMNS:
            return self._engagement(name)
        value = record.get(name)
        if kind == "text":
            return _text_value(value)
        if kind == "number":
            if value is None:
                return math.nan
            try:
                number = np.array([value], dtype=float)
                if number.shape == (1,):
                    return float(number[0])
            except (TypeError, ValueError):
                pass
            raise LeadDataError(self.crm_id, f"{name} should be a number, got {value!r}")
        if kind == "bool":
            if value is not None and not isinstance(value, bool | np.bool_):
                raise LeadDataError(self.crm_id, f"{name} should be true or false, got {value!r}")
            return None if value is None else bool(value)
        return value  # pragma: no cover - every scoring field has a kind

    def _read_events(self, events: Iterable[Any], now: datetime) -> None:
        now_seconds = now.timestamp()
        for event in events:
            kind, detail, at = event_parts(event)
            if not isinstance(kind, str) or not kind.strip():
                raise LeadDataError(self.crm_id, f"an event has no kind: {event!r}")
            stamp = _micros(at)
            if stamp is None:
                raise LeadDataError(self.crm_id, f"an event has no readable date (at = {at!r})")
            if detail is None or (not isinstance(detail, str) and pd.isna(detail)):
                detail = ""
            age = (now_seconds - stamp / 1e6) / _SECONDS_PER_DAY
            if age < -FUTURE_GRACE_DAYS:
                continue  # future-dated: left out, as the frame path leaves it out
            self.events.append((kind.strip().lower(), detail, age))

    def _engagement(self, name: str) -> int:
        events = self.events
        if name == "events_total":
            return len(events)
        for days in (14, 30):
            if name == f"events_last_{days}d":
                return sum(1 for _, _, age in events if age <= days)
            if name == f"pricing_views_{days}d":
                return sum(
                    1
                    for kind, detail, age in events
                    if age <= days and kind == "page_view" and "pricing" in detail.lower()
                )
        return sum(1 for kind, _, _ in events if event_column_name(kind) == name)


def _text_value(value: Any) -> str | None:
    if value is None or value is pd.NA or value == "":
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value if isinstance(value, str) else str(value)


def _micros_of(moment: datetime) -> int:
    return (as_utc(moment) - _EPOCH) // _MICROSECOND


def _micros(value: Any) -> int | None:
    """Microseconds since the epoch (UTC) as the frame path reads a date; None if missing."""
    if value is None:
        return None
    if type(value) is datetime:
        return _micros_of(value)
    try:
        parsed = pd.to_datetime([value], utc=True, format="ISO8601")
    except (TypeError, ValueError, OverflowError):
        return None
    if parsed.hasnans:
        return None
    return int(parsed.as_unit("us").asi8[0])


def few_leads_frame(
    records: Sequence[Mapping[str, Any]], *, now: datetime, columns: Sequence[str]
) -> pd.DataFrame:
    """The lead frame of a few leads, with :func:`build_frames`'s dtypes, read without it.

    Args:
        records: a handful of lead records.
        now: the moment ages and windows are measured from.
        columns: the lead-frame columns wanted, in the order wanted.

    Returns:
        The same frame as ``build_frames(records, now=now).leads[list(columns)]``.

    Raises:
        LeadDataError: a lead value cannot be read.
    """
    unreadable = [name for name in columns if name not in _FEW_COLUMNS]
    if unreadable:
        raise ValueError(f"columns {unreadable} are not read without frames")
    moment = as_utc(now)
    crm_ids = crm_ids_of(records)
    wanted = wanted_columns(columns, with_events=True)
    leads = [
        LeadValues(record, crm_id, wanted, moment, with_events=True)
        for record, crm_id in zip(records, crm_ids, strict=True)
    ]
    built: dict[str, Any] = {}
    for name in columns:
        values = [lead.values[name] for lead in leads]
        kind = FIELD_KINDS.get(name)
        if kind == "text":
            built[name] = pd.Series(values, dtype="str")
        elif kind == "bool":
            built[name] = pd.Series(values, dtype="boolean")
        elif name in ENGAGEMENT_COLUMNS:
            built[name] = np.array(values, dtype=np.int64)
        else:
            built[name] = np.array(values, dtype=float)
    frame = pd.DataFrame(built, index=pd.RangeIndex(len(crm_ids)))
    frame.index = pd.Index(crm_ids, name="crm_id", dtype="str")
    return frame
