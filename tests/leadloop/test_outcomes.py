"""Outcomes come back: every sent email's audit chain ends in one, importing twice changes
nothing, and a lead who answered gets no follow-up (on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from connectors.sandbox import SandboxConnector, SandboxCRM
from connectors.sandbox import outcomes as simulated
from leadloop.pipeline import Pipeline
from leadloop.steps.outcomes import OUTCOMES_STREAM
from review_api import labels, outcomes, service
from review_api.store.db import Store
from review_api.store.models import (
    AuditEvent,
    OutboxEmail,
    OutcomeEventRow,
    Proposal,
    Suppression,
)
from review_api.store.models import SyncCursor as CursorRow

from .conftest import NOW, make_pipeline

KINDS = {"replied", "bounced", "unsubscribed", "meeting_booked", "converted", "no_reply"}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def moving_crm(tmp_path: Path, clock: Clock) -> Iterator[SandboxCRM]:
    crm = SandboxCRM(tmp_path / "moving.db", clock=clock)
    crm.seed(80, seed=11, now=NOW)
    simulated.set_seed(crm, 3)
    yield crm
    crm.close()


def _sent_round(store: Store, crm: SandboxCRM, clock: Clock, **kw: object) -> Pipeline:
    pipeline = make_pipeline(store, crm, **kw)
    pipeline.clock = clock
    pipeline.sync()
    pipeline.score()
    pipeline.propose()
    for task in crm.list_tasks(status="Not Started"):
        if task.kind == "draft":
            crm.approve_task(task.task_id, by=task.owner_id)
    pipeline.reconcile()
    assert pipeline.send().sent > 5
    return pipeline


def _counts(store: Store) -> tuple[int, ...]:
    with store.session() as session:
        return tuple(session.scalar(select(func.count()).select_from(model)) or 0
                     for model in (OutcomeEventRow, AuditEvent, Suppression))


def test_the_audit_chain_of_a_sent_email_ends_in_an_outcome(
        store: Store, moving_crm: SandboxCRM, clock: Clock) -> None:
    pipeline = _sent_round(store, moving_crm, clock)
    clock.now = NOW + timedelta(days=20)
    pipeline.sync()  # opt-outs reach leadloop by sync
    report = pipeline.outcomes()
    with store.session() as session:
        sent = list(session.scalars(select(OutboxEmail).where(OutboxEmail.state == "sent")))
        table = labels.load(session=session, kind="draft").set_index("proposal_id")
        for email in sent:
            proposal = session.get(Proposal, email.proposal_id)
            assert proposal is not None
            chain = service.audit_chain(session=session, proposal=proposal)
            assert chain["events"][-1]["event"] == "outcome", chain["events"]
            assert chain["outcome"] in KINDS and chain["outcome_events"]
            assert table.loc[proposal.id, "outcome"] == chain["outcome"]
        bounced = session.scalars(select(OutboxEmail.to_address).join(
            OutcomeEventRow, OutcomeEventRow.proposal_id == OutboxEmail.proposal_id).where(
            OutcomeEventRow.kind == "bounced")).all()
        for address in bounced:  # a bounced address is never mailed again
            assert session.get(Suppression, address) is not None
    assert report.funnel["sent"] == len(sent)
    assert report.funnel["replied"] >= report.funnel["meeting_booked"] > 0
    assert report.funnel["replied"] + report.funnel["no_reply"] <= len(sent)
    assert report.unmatched == 0


def test_importing_outcomes_twice_changes_nothing(
        store: Store, moving_crm: SandboxCRM, clock: Clock) -> None:
    pipeline = _sent_round(store, moving_crm, clock)
    clock.now = NOW + timedelta(days=20)
    first = pipeline.outcomes()
    assert first.new > 0
    before = _counts(store)
    again = pipeline.outcomes()  # by cursor: nothing new to read
    assert (again.new, again.inferred) == (0, 0) and _counts(store) == before
    with store.session() as session:  # the cursor lost: everything is read again
        session.execute(delete(CursorRow).where(CursorRow.stream == OUTCOMES_STREAM))
    reread = pipeline.outcomes()
    assert reread.read == first.read and reread.already_known == first.read
    assert (reread.new, reread.inferred) == (0, 0) and _counts(store) == before
    with store.session() as session:  # and the same events handed over directly
        events = list(SandboxConnector(moving_crm).fetch_outcomes(since=None))
        counts = outcomes.import_events(session=session, source="sandbox",
                                        events=events + events, now=clock.now)
    assert counts.new == 0 and counts.already_known == 2 * len(events)
    assert _counts(store) == before


def test_no_follow_up_to_a_lead_who_answered(
        store: Store, moving_crm: SandboxCRM, clock: Clock) -> None:
    pipeline = _sent_round(store, moving_crm, clock)
    pipeline.no_reply_days = 1
    clock.now = NOW + timedelta(days=1, hours=12)
    pipeline.outcomes()  # the quiet ones are no_reply after a day...
    with store.session() as session:
        quiet = set(session.scalars(select(OutcomeEventRow.crm_id).where(
            OutcomeEventRow.kind == "no_reply")))
    clock.now = NOW + timedelta(days=10)
    pipeline.outcomes()  # ...and some of them answer late
    with store.session() as session:
        answered = outcomes.answered_leads(session=session, crm_ids=sorted(quiet))
    assert answered and quiet - answered
    pipeline.propose()
    with store.session() as session:
        follow_ups = {p.crm_id: p for p in session.scalars(
            select(Proposal).where(Proposal.key.like("%:follow-up-1")))}
    assert follow_ups, "a lead that did not answer gets one follow-up"
    assert not set(follow_ups) & answered
    assert set(follow_ups) <= quiet
    assert {p.payload["template_id"] for p in follow_ups.values()} == {"follow_up"}
