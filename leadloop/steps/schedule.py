"""Schedule: when each approved email may leave, from the lead's sending window, public
holidays and the daily caps per mailbox (the sending rep) and per recipient domain.

A day, for the caps, is a UTC calendar day. The window and the holidays are the lead's:
its local time (leadloop.timezones) and its country's calendar. The plan gives each queued
email a not-before time; the send step sends what is due, and the claim of each email
counts again, in the store, what its mailbox and domain sent that day, so two senders
together never go past a cap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from leadloop.timezones import lead_zone
from review_api.store.models import Lead, LeadSnapshot, OutboxEmail

if TYPE_CHECKING:
    from leadloop.settings import SendingConfig

COUNTED = ("sending", "sent")  # a claimed email counts against its caps, sent or not yet
MAX_DAYS_AHEAD = 40


@dataclass(frozen=True, slots=True)
class Slot:
    """When an email may leave, and what held it back from leaving now (None: nothing)."""

    at: datetime
    held_because: str | None


def day_start(moment: datetime) -> datetime:
    """Midnight UTC of the UTC day ``moment`` falls in."""
    utc = moment.astimezone(UTC)
    return datetime.combine(utc.date(), time(0), tzinfo=UTC)


def domain_of(address: str) -> str:
    """The recipient domain of an address, lower case."""
    return address.rsplit("@", 1)[-1].strip().lower()


@cache
def _calendar(code: str) -> Any:
    import holidays

    return holidays.country_holidays(code)


def holiday_checker(codes: Iterable[str]) -> Callable[[date], str | None]:
    """A function naming the calendar (a country code) on which a day is a public holiday."""
    calendars = [(code, _calendar(code)) for code in dict.fromkeys(codes)]

    def check(day: date) -> str | None:
        for code, calendar in calendars:
            if day in calendar:
                return code
        return None

    return check


def next_open(moment: datetime, *, zone: ZoneInfo, start: time, end: time,
              weekdays: frozenset[int],
              holiday: Callable[[date], str | None]) -> tuple[datetime, str | None]:
    """The first instant at or after ``moment`` inside the window on a sending day in
    ``zone`` that is not a holiday, in UTC; and why it is later than ``moment`` ("window" or
    "holiday: <code>"), None when it is ``moment`` itself."""
    local = moment.astimezone(zone)
    why: str | None = None
    for ahead in range(MAX_DAYS_AHEAD):
        day = local.date() + timedelta(days=ahead)
        opens = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
        closes = datetime.combine(day, end, tzinfo=zone).astimezone(UTC)
        changes = _clocks_change(day, zone)
        # On a 25-hour day the window may open a second time in the repeated hour, after its
        # first closing: such a day is judged minute by minute below, not by its first close.
        if closes <= moment and not changes:
            why = why or "window"
            continue
        if day.weekday() not in weekdays:
            why = why or "window"
            continue
        code = holiday(day)
        if code is not None:
            why = why or f"holiday: {code}"
            continue
        if changes:
            # A 23- or 25-hour day: the window's edges may fall in an hour the clocks skip
            # or repeat, so go by the wall clock, minute by minute, on this one day.
            found = _first_open_minute(day, moment, zone=zone, start=start, end=end)
            if found is None:
                why = why or "window"
                continue
            return found, (why or "window") if found > moment else why
        if opens <= moment:
            return moment.astimezone(UTC), why
        return opens, why or "window"
    raise ValueError(f"no sending day in the next {MAX_DAYS_AHEAD} days in {zone.key}")


def _clocks_change(day: date, zone: ZoneInfo) -> bool:
    """The zone's offset is not the same all through ``day`` (a daylight-saving change)."""
    marks = [datetime.combine(day, time(h), tzinfo=zone) for h in (0, 12)]
    marks.append(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone))
    return len({mark.utcoffset() for mark in marks}) > 1


def _first_open_minute(day: date, moment: datetime, *, zone: ZoneInfo, start: time,
                       end: time) -> datetime | None:
    """The first instant at or after ``moment`` on local ``day`` whose wall-clock time is in
    the window, stepping by minutes (the window's edges are whole minutes); None if none."""
    at = max(moment.astimezone(UTC),
             datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC) - timedelta(hours=3))
    while True:
        local = at.astimezone(zone)
        if local.date() > day:
            return None
        if local.date() == day and start <= local.time() and (
                end == time.max or local.time() < end):
            return at
        at = at.replace(second=0, microsecond=0) + timedelta(minutes=1)


class Planner:
    """Places emails one after another into the first slot their window and caps allow."""

    def __init__(self, config: SendingConfig, *, sent_by_mailbox: Counter[tuple[str, date]],
                 sent_by_domain: Counter[tuple[str, date]]) -> None:
        self.config = config
        self.start, self.end = config.window_times
        self.weekdays = config.weekdays
        self.by_mailbox = sent_by_mailbox
        self.by_domain = sent_by_domain

    def opens(self, *, lead: dict[str, Any], moment: datetime) -> tuple[datetime, str | None]:
        """The first instant at or after ``moment`` the lead's window and holidays allow,
        and why it is later ("outside 09:00-17:00 mon-fri Asia/Tokyo"), None if it is not."""
        where = lead_zone(lead, default=self.config.default_time_zone)
        codes = [c for c in self.config.holidays if c != "lead"]
        if "lead" in self.config.holidays and where.country:
            codes.insert(0, where.country)
        at, why = next_open(moment, zone=where.zone, start=self.start, end=self.end,
                            weekdays=self.weekdays, holiday=holiday_checker(_supported(codes)))
        if why is None:
            return at, None
        return at, (f"outside {self.config.window} {self.config.days} {where.zone.key}"
                    if why == "window" else f"public holiday in {why.split(': ')[1]}")

    def place(self, *, owner_id: str, to: str, lead: dict[str, Any], now: datetime) -> Slot:
        """The slot for one email; counts it against its caps on the day it gets."""
        domain, moment, first_why = domain_of(to), now, None
        for _ in range(MAX_DAYS_AHEAD):
            moment, why = self.opens(lead=lead, moment=moment)
            if why is not None and first_why is None:
                first_why = why
            day = moment.date()
            cap = self.cap_reason(owner_id=owner_id, domain=domain, day=day)
            if cap is None:
                self.by_mailbox[(owner_id, day)] += 1
                self.by_domain[(domain, day)] += 1
                return Slot(moment, first_why)
            first_why = first_why or cap
            moment = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
        raise ValueError(f"no slot in the next {MAX_DAYS_AHEAD} days for {to}")

    def cap_reason(self, *, owner_id: str, domain: str, day: date) -> str | None:
        """Which cap a further email from this mailbox to this domain on ``day`` would break."""
        if self.by_mailbox[(owner_id, day)] >= self.config.max_per_mailbox_per_day:
            return f"{self.config.max_per_mailbox_per_day}/day cap for {owner_id}"
        if self.by_domain[(domain, day)] >= self.config.max_per_domain_per_day:
            return f"{self.config.max_per_domain_per_day}/day cap for {domain}"
        return None


def _supported(codes: list[str]) -> list[str]:
    import holidays

    known = holidays.list_supported_countries()
    return [c for c in codes if c in known]


def counted_since(session: Session, since: datetime
                  ) -> tuple[Counter[tuple[str, date]], Counter[tuple[str, date]]]:
    """Emails claimed or sent since ``since``, by (mailbox, UTC day) and (domain, UTC day)."""
    by_mailbox: Counter[tuple[str, date]] = Counter()
    by_domain: Counter[tuple[str, date]] = Counter()
    for owner_id, to, claimed_at in session.execute(
        select(OutboxEmail.owner_id, OutboxEmail.to_address, OutboxEmail.claimed_at).where(
            OutboxEmail.state.in_(COUNTED), OutboxEmail.claimed_at >= since)
    ):
        if claimed_at is None:
            continue
        day = claimed_at.astimezone(UTC).date()
        by_mailbox[(owner_id, day)] += 1
        by_domain[(domain_of(to), day)] += 1
    return by_mailbox, by_domain


def plan(*, session: Session, config: SendingConfig, now: datetime) -> dict[int, Slot]:
    """Give every email waiting in the outbox its not-before time, oldest approval first."""
    rows = session.scalars(
        select(OutboxEmail).where(OutboxEmail.state.in_(["queued", "failed"]))
        .order_by(OutboxEmail.id)
    ).all()
    fields = lead_fields(session, sorted({row.crm_id for row in rows}))
    by_mailbox, by_domain = counted_since(session, day_start(now))
    planner = Planner(config, sent_by_mailbox=by_mailbox, sent_by_domain=by_domain)
    slots = {}
    for row in rows:
        slot = planner.place(owner_id=row.owner_id, to=row.to_address,
                             lead=fields.get(row.crm_id, {}), now=now)
        row.not_before, row.held_because = slot.at, slot.held_because
        slots[row.id] = slot
    return slots


def lead_fields(session: Session, crm_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The latest synced fields of each lead (for its time zone and country)."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(crm_ids), 500):
        for crm_id, payload in session.execute(
            select(Lead.crm_id, LeadSnapshot.payload)
            .join(LeadSnapshot, LeadSnapshot.id == Lead.snapshot_id)
            .where(Lead.crm_id.in_(crm_ids[start:start + 500]))
        ):
            found[crm_id] = dict(payload or {})
    return found


def under_caps(row: OutboxEmail, *, config: SendingConfig, now: datetime
               ) -> ColumnElement[bool]:
    """A condition, for the claim's UPDATE, that this row's mailbox and recipient domain
    have each claimed fewer emails than their caps on the UTC day of ``now``."""
    start = day_start(now)
    other = OutboxEmail.__table__.alias("counted")
    mailbox = select(func.count()).select_from(other).where(
        other.c.owner_id == row.owner_id, other.c.state.in_(COUNTED),
        other.c.claimed_at >= start, other.c.claimed_at < start + timedelta(days=1),
        other.c.id != row.id).scalar_subquery()
    domain = select(func.count()).select_from(other).where(
        func.lower(other.c.to_address).like(f"%@{domain_of(row.to_address)}"),
        other.c.state.in_(COUNTED), other.c.claimed_at >= start,
        other.c.claimed_at < start + timedelta(days=1), other.c.id != row.id,
    ).scalar_subquery()
    return and_(mailbox < config.max_per_mailbox_per_day,
                domain < config.max_per_domain_per_day)


def held_summary(held: Counter[str]) -> str:
    """``held 11: 8 by the 10/day cap for U000002; 3 outside 09:00-17:00 mon-fri Asia/Tokyo``."""
    if not held:
        return "held 0"
    parts = "; ".join(f"{n} by the {why}" if "cap" in why else f"{n} {why}"
                      for why, n in held.most_common())
    return f"held {sum(held.values())}: {parts}"
