"""Sending windows, holidays and daily caps: the plan, and the sends counted at the transport."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from connectors.base import OutgoingEmail, RawLead, SendResult
from connectors.sandbox import SandboxConnector, SandboxCRM
from leadloop.settings import SendingConfig
from leadloop.steps import schedule
from leadloop.steps.schedule import Planner, holiday_checker, next_open
from leadloop.timezones import lead_zone
from review_api.store.db import Store
from review_api.store.models import OutboxEmail

from .conftest import NOW, RecordingConnector, Transport, make_pipeline

ZONES = ["UTC", "Asia/Tokyo", "America/Los_Angeles", "Europe/Berlin", "Australia/Sydney",
         "Asia/Kolkata", "Pacific/Auckland", "America/St_Johns"]
CLOCKS = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31),
                      timezones=st.just(UTC))
WINDOWS = st.sampled_from(["09:00-17:00", "08:30-12:15", "00:00-24:00", "22:00-23:30"])


def _open_at(moment: datetime, zone: ZoneInfo, config: SendingConfig, code: str | None) -> bool:
    local = moment.astimezone(zone)
    start, end = config.window_times
    holiday = holiday_checker([code] if code else [])
    return (local.weekday() in config.weekdays and holiday(local.date()) is None
            and start <= local.time() and (end == time.max or local.time() < end))


@settings(max_examples=300, deadline=None)
@given(moment=CLOCKS, zone=st.sampled_from(ZONES), window=WINDOWS,
       days=st.sampled_from(["mon-fri", "mon-sun", "tue,thu", "sat-sun"]),
       country=st.sampled_from([None, "JP", "US", "DE"]))
def test_next_open_is_the_first_open_instant_in_the_leads_time(
        moment: datetime, zone: str, window: str, days: str, country: str | None) -> None:
    config = SendingConfig(window=window, days=days)
    start, end = config.window_times
    where = ZoneInfo(zone)
    at, why = next_open(moment, zone=where, start=start, end=end, weekdays=config.weekdays,
                        holiday=holiday_checker([country] if country else []))
    assert at >= moment
    assert _open_at(at, where, config, country)
    if at == moment:
        assert why is None
    else:
        assert why is not None
        # Nothing opened earlier: the instant before was closed, and it opened at the
        # window's start (on the lead's clock), not somewhere in the middle.
        assert not _open_at(moment, where, config, country)
        assert at.astimezone(where).time().replace(second=0, microsecond=0) == start
        assert not _open_at(at - timedelta(minutes=1), where, config, country) or (
            at - timedelta(minutes=1) < moment)


@settings(max_examples=100, deadline=None)
@given(moment=CLOCKS, zone=st.sampled_from(ZONES), cap=st.integers(1, 6),
       emails=st.integers(1, 25), domain_cap=st.integers(1, 30))
def test_planned_sends_never_pass_a_cap_on_any_utc_day(
        moment: datetime, zone: str, cap: int, emails: int, domain_cap: int) -> None:
    config = SendingConfig(max_per_mailbox_per_day=cap, max_per_domain_per_day=domain_cap,
                           default_time_zone=zone, holidays=[])
    planner = Planner(config, sent_by_mailbox=Counter(), sent_by_domain=Counter())
    slots = [planner.place(owner_id="U1", to=f"p{i}@acme.example", lead={}, now=moment)
             for i in range(emails)]
    per_day = Counter(slot.at.date() for slot in slots)
    assert max(per_day.values()) <= min(cap, domain_cap)
    for slot in slots:
        assert slot.at >= moment
        assert _open_at(slot.at, ZoneInfo(zone), config, None)
    assert [s.at for s in slots] == sorted(s.at for s in slots)  # first approved, first out


def test_lead_zone_prefers_the_crm_field_then_state_then_country_then_default() -> None:
    assert lead_zone({"time_zone": "asia_slash_tokyo", "country": "US"},
                     default="UTC").zone.key == "Asia/Tokyo"
    found = lead_zone({"state": "CA", "country": "United States"}, default="UTC")
    assert (found.zone.key, found.country, found.source) == ("America/Los_Angeles", "US",
                                                             "state")
    assert lead_zone({"country": "Germany"}, default="UTC").zone.key == "Europe/Berlin"
    unknown = lead_zone({"country": "Atlantis", "time_zone": "Mars/Olympus"},
                        default="Europe/Lisbon")
    assert (unknown.zone.key, unknown.country, unknown.source) == ("Europe/Lisbon", None,
                                                                   "default")


def test_a_public_holiday_in_the_leads_country_holds_the_email() -> None:
    config = SendingConfig(holidays=["lead"])
    planner = Planner(config, sent_by_mailbox=Counter(), sent_by_domain=Counter())
    new_year = datetime(2027, 1, 1, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # a Friday
    slot = planner.place(owner_id="U1", to="a@b.de", lead={"country": "Germany"}, now=new_year)
    assert slot.held_because == "public holiday in DE"
    assert slot.at == datetime(2027, 1, 4, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))


class ClockedTransport(Transport):
    def __init__(self) -> None:
        super().__init__()
        self.days: list[tuple[str, date]] = []


def _approve_all_drafts(pipeline_crm: SandboxCRM) -> int:
    approved = 0
    for task in pipeline_crm.list_tasks(status="Not Started"):
        if task.kind == "draft":
            pipeline_crm.approve_task(task.task_id, by=task.owner_id)
            approved += 1
    return approved


ALWAYS: dict[str, Any] = {"window": "00:00-24:00", "days": "mon-sun", "holidays": []}


def test_send_stops_at_the_mailbox_cap_and_sends_the_rest_next_day(
        sqlite_store: Store, crm: SandboxCRM) -> None:
    clock = {"now": NOW}
    transport = Transport()
    pipeline = make_pipeline(sqlite_store, crm, connector=RecordingConnector(crm, transport),
                             sending=SendingConfig(max_per_mailbox_per_day=2, **ALWAYS))
    pipeline.clock = lambda: clock["now"]
    pipeline.sync()
    pipeline.score()
    pipeline.propose()
    approved = _approve_all_drafts(crm)
    pipeline.reconcile()
    first = pipeline.send()
    per_owner = Counter(email.from_owner_id for email in transport.calls)
    assert approved > 2 * len(per_owner) or max(per_owner.values()) == 2
    assert max(per_owner.values()) <= 2
    assert first.sent == len(transport.calls)
    assert sum(first.held.values()) == approved - first.sent > 0
    assert all(why.startswith("2/day cap for ") for why in first.held)
    # The same day again: nothing more leaves.
    clock["now"] = NOW + timedelta(hours=5)
    assert pipeline.send().sent == 0 and len(transport.calls) == first.sent
    sent_by_day = [len(transport.calls)]
    for day in range(1, 20):
        clock["now"] = NOW + timedelta(days=day)
        pipeline.send()
        sent_by_day.append(len(transport.calls) - sum(sent_by_day))
        if len(transport.calls) == approved:
            break
    assert len(transport.calls) == approved
    assert len(set(transport.keys())) == approved
    assert max(sent_by_day) <= 2 * len({e.from_owner_id for e in transport.calls})


def test_a_lead_outside_its_window_is_held_with_its_zone(sqlite_store: Store,
                                                         crm: SandboxCRM) -> None:
    # NOW is 09:00 UTC: 18:00 in Tokyo, after the window there; within it in London.
    transport = Transport()
    pipeline = make_pipeline(sqlite_store, crm, connector=RecordingConnector(crm, transport),
                             sending=SendingConfig(holidays=[]))
    for lead in crm.list_leads():
        crm.update_lead(lead["crm_id"], country="Japan" if lead["crm_id"] < "L000040"
                        else "United Kingdom")
    pipeline.sync()
    pipeline.score()
    pipeline.propose()
    approved = _approve_all_drafts(crm)
    pipeline.reconcile()
    report = pipeline.send()
    sent_to = {e.lead_crm_id for e in transport.calls}
    assert sent_to and all(crm_id >= "L000040" for crm_id in sent_to)
    assert report.held["outside 09:00-17:00 mon-fri Asia/Tokyo"] == approved - report.sent > 0


class MeetHalfway(RecordingConnector):
    """Both senders read consent (after planning) before either claims a row."""

    def __init__(self, crm: SandboxCRM, transport: Transport,
                 barrier: threading.Barrier) -> None:
        super().__init__(crm, transport)
        self.barrier, self.lock = barrier, threading.Lock()

    def fetch_leads_by_id(self, crm_ids: list[str]) -> list[RawLead]:  # type: ignore[override]
        found = super().fetch_leads_by_id(crm_ids)
        self.barrier.wait(timeout=30)
        return found

    def send_email(self, email: OutgoingEmail) -> SendResult:
        with self.lock:
            self.transport.calls.append(email)
        return SandboxConnector.send_email(self, email)


def test_two_senders_at_once_never_pass_the_cap(store: Store, crm: SandboxCRM,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Each sender's plan is stale (it says every email is due now, as a plan made before
    # the other sender's claims would): only the count inside each claim holds the cap.
    monkeypatch.setattr(schedule, "plan", lambda **_: {})
    config = SendingConfig(max_per_mailbox_per_day=1, **ALWAYS)
    setup = make_pipeline(store, crm, sending=config)
    setup.sync()
    setup.score()
    setup.propose()
    assert _approve_all_drafts(crm) > len({t.owner_id for t in crm.list_tasks()})
    setup.reconcile()
    transport, barrier = Transport(), threading.Barrier(2)
    senders = [make_pipeline(store, SandboxCRM(crm.path), sending=config) for _ in range(2)]
    for sender in senders:
        sender.connector = MeetHalfway(SandboxCRM(crm.path), transport, barrier)
    threads = [threading.Thread(target=sender.send) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    per_owner = Counter(email.from_owner_id for email in transport.calls)
    assert per_owner and max(per_owner.values()) == 1
    assert len(transport.keys()) == len(set(transport.keys()))


class OvertakenWhileReading(RecordingConnector):
    """A sender that listed the outbox and, while it reads consent, another sender sends."""

    def __init__(self, crm: SandboxCRM, transport: Transport, other: Any) -> None:
        super().__init__(crm, transport)
        self.other = other

    def fetch_leads_by_id(self, crm_ids: list[str]) -> list[RawLead]:  # type: ignore[override]
        self.other.send()
        return super().fetch_leads_by_id(crm_ids)


def test_a_sender_overtaken_by_another_leaves_its_sent_emails_sent_and_counted(
        store: Store, crm: SandboxCRM, monkeypatch: pytest.MonkeyPatch) -> None:
    # The overtaken sender must not take the other's sent emails for refused ones (their
    # proposals read 'sent' now): that would free their cap slots for a second email.
    monkeypatch.setattr(schedule, "plan", lambda **_: {})
    config = SendingConfig(max_per_mailbox_per_day=1, **ALWAYS)
    setup = make_pipeline(store, crm, sending=config)
    setup.sync()
    setup.score()
    setup.propose()
    assert _approve_all_drafts(crm) > len({t.owner_id for t in crm.list_tasks()})
    setup.reconcile()
    transport = Transport()
    first = make_pipeline(store, crm, connector=RecordingConnector(crm, transport),
                          sending=config)
    late = make_pipeline(store, crm, connector=OvertakenWhileReading(crm, transport, first),
                         sending=config)
    report = late.send()
    per_owner = Counter(email.from_owner_id for email in transport.calls)
    assert per_owner and max(per_owner.values()) == 1
    assert report.sent == report.refused == 0
    with store.session() as session:
        states = Counter(row.state for row in session.scalars(select(OutboxEmail)))
    assert states["sent"] == len(per_owner) == len(crm.sent_emails())
    assert states["refused"] == 0


def test_the_review_api_shows_when_a_held_email_will_leave(sqlite_store: Store,
                                                           crm: SandboxCRM) -> None:
    from fastapi.testclient import TestClient

    from review_api.app import create_app
    from review_api.keys import Role, create_key

    pipeline = make_pipeline(sqlite_store, crm, sending=SendingConfig(holidays=[]))
    for lead in crm.list_leads():
        crm.update_lead(lead["crm_id"], country="Japan")
    pipeline.sync()
    pipeline.score()
    pipeline.propose()
    task = next(t for t in crm.list_tasks(status="Not Started") if t.kind == "draft")
    crm.approve_task(task.task_id, by=task.owner_id)
    pipeline.reconcile()
    assert pipeline.send().sent == 0
    with sqlite_store.session() as session:
        key = create_key(session=session, role=Role.ADMIN)[1]
    client = TestClient(create_app(sqlite_store, clock=lambda: NOW),
                        headers={"Authorization": f"Bearer {key}"})
    proposal = next(p for p in client.get("/proposals", params={"state": "approved"}).json()
                    if p["key"] == task.proposal_key)
    planned = client.get(f"/proposals/{proposal['id']}").json()["planned_send"]
    # NOW is Monday 18:00 in Tokyo: the email waits for Tuesday 09:00 there.
    assert datetime.fromisoformat(planned["not_before"]) == datetime(
        2026, 11, 3, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert planned["held_because"] == "outside 09:00-17:00 mon-fri Asia/Tokyo"
    assert planned["state"] == "queued" and planned["sent_at"] is None
