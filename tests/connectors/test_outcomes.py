"""Outcomes through every connector: the sandbox itself, and the real Salesforce and HubSpot
clients against the sandbox's faces, all reading the same simulated replies, bounces and
meetings, incrementally by cursor."""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import CRMConnector, OutgoingEmail, SyncCursor
from connectors.outcomes import OutcomeEvent, OutcomeKind
from connectors.sandbox import SandboxConnector, SandboxCRM
from connectors.sandbox import outcomes as simulated

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@contextmanager
def _connected(name: str, crm: SandboxCRM) -> Iterator[tuple[CRMConnector, Callable[[str], str]]]:
    if name == "sandbox":
        yield SandboxConnector(crm, page_size=7), str
        return
    link = importlib.import_module(f"connectors.{name}.sandbox_link")
    with link.connect_to_sandbox(crm) as connector:
        yield connector, getattr(link, "wire_id", str)


@pytest.fixture
def clock() -> dict[str, datetime]:
    return {"now": START}


@pytest.fixture
def crm(tmp_path: Path, clock: dict[str, datetime]) -> Iterator[SandboxCRM]:
    crm = SandboxCRM(tmp_path / "crm.db", clock=lambda: clock["now"])
    crm.seed(90, seed=11, now=START)
    simulated.set_seed(crm, 4)
    yield crm
    crm.close()


def _send_to_all(connector: CRMConnector, crm: SandboxCRM, wire: Callable[[str], str]
                 ) -> dict[str, str]:
    """One email to every lead through the connector; lead wire id -> message id."""
    sent = {}
    for lead in crm.list_leads():
        result = connector.send_email(OutgoingEmail(
            idempotency_key=f"k-{lead['crm_id']}", lead_crm_id=wire(lead["crm_id"]),
            to=lead["email"], subject="A question",
            body=f"Hi {lead['first_name']},\n\nIs {lead['company']} planning anything "
                 "this quarter?\n\nBest,\nSam", from_owner_id=wire(lead["owner_id"])))
        sent[wire(lead["crm_id"])] = result.message_id
    return sent


def _truth(crm: SandboxCRM, wire: Callable[[str], str]) -> Counter[tuple[str, str]]:
    return Counter((e.kind.value, wire(e.lead_crm_id)) for e in simulated.all_outcomes(crm))


@pytest.mark.parametrize("name", ["sandbox", "salesforce", "hubspot"])
def test_outcomes_come_back_in_order_and_once_by_cursor(
        name: str, crm: SandboxCRM, clock: dict[str, datetime]) -> None:
    with _connected(name, crm) as (connector, wire):
        sent = _send_to_all(connector, crm, wire)
        assert list(connector.fetch_outcomes(since=None)) == []  # nothing has happened yet

        clock["now"] = START + timedelta(days=2)
        first = list(connector.fetch_outcomes(since=None))
        clock["now"] = START + timedelta(days=9)
        cursor = SyncCursor(first[-1].modified_at, first[-1].event_id)
        later = list(connector.fetch_outcomes(since=cursor))
        everything = list(connector.fetch_outcomes(since=None))

        got = Counter((e.kind.value, e.lead_crm_id) for e in everything)
        assert got == _truth(crm, wire)
        assert {k for k, _ in got} == {"replied", "bounced", "meeting_booked"}
        # Read in (modified_at, event_id) order, each event once; the cursor resumes exactly.
        keys = [(e.modified_at, e.event_id) for e in everything]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        assert [e.event_id for e in first + later] == [e.event_id for e in everything]
        assert list(connector.fetch_outcomes(
            since=SyncCursor(everything[-1].modified_at, everything[-1].event_id))) == []
        for event in everything:
            assert event.occurred_at >= START
            if event.message_id is not None:  # when the CRM ties it to our email, it is ours
                assert event.message_id == sent[event.lead_crm_id]


def _fates(seed: int, body: str, tmp_path: Path) -> tuple[Counter[str], list[OutcomeEvent]]:
    crm = SandboxCRM(tmp_path / f"crm-{seed}-{len(body)}.db", clock=lambda: START)
    try:
        crm.seed(400, seed=2, now=START)
        simulated.set_seed(crm, seed)
        for lead in crm.list_leads():
            crm.log_email(OutgoingEmail(
                f"k-{lead['crm_id']}", lead["crm_id"], lead["email"], "Hello",
                body.format(**lead), lead["owner_id"]))
        later = SandboxCRM(crm.path, clock=lambda: START + timedelta(days=30))
        events = list(SandboxConnector(later).fetch_outcomes(since=None))
        later.close()
        return Counter(e.kind.value for e in events), events
    finally:
        crm.close()


def test_the_simulation_is_deterministic_per_seed(tmp_path: Path) -> None:
    body = "Hi {first_name},\n\nIs {company} looking at this?\n\nBest"
    one = _fates(5, body, tmp_path / "a")
    two = _fates(5, body, tmp_path / "b")
    other = _fates(6, body, tmp_path / "c")
    strip = [(e.event_id, e.kind, e.lead_crm_id, e.occurred_at) for e in one[1]]
    assert strip == [(e.event_id, e.kind, e.lead_crm_id, e.occurred_at) for e in two[1]]
    assert strip != [(e.event_id, e.kind, e.lead_crm_id, e.occurred_at) for e in other[1]]


def test_better_drafts_earn_more_replies(tmp_path: Path) -> None:
    personal = "Hi {first_name},\n\nIs {company} in {industry} planning anything soon?\n\nBest"
    generic = "Hello,\n\n" + "We help companies like yours do more with less. " * 30 + "\n\nBest"
    good, _ = _fates(5, personal, tmp_path / "good")
    poor, _ = _fates(5, generic, tmp_path / "poor")
    assert good[OutcomeKind.REPLIED] > 1.5 * poor[OutcomeKind.REPLIED] > 0
