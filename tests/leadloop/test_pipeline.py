from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.base import (
    OutgoingEmail,
    ReviewTaskRequest,
    SendResult,
    TaskWriteResult,
)
from connectors.errors import ConnectorError
from connectors.sandbox import SandboxConnector, SandboxCRM
from leadloop.pipeline import Pipeline
from review_api.store.db import Store
from review_api.store.models import (
    AuditEvent,
    Decision,
    Lead,
    LeadSnapshot,
    OutboxEmail,
    Proposal,
    Score,
)

from .conftest import NOW, make_pipeline

MESSY = [
    {"first_name": "No", "last_name": "Email", "company": "Nowhere", "email": None},
    {"first_name": "Lots", "company": "Vague", "email": "lots@vague.example",
     "employees": "lots"},
    {"first_name": "Long", "company": "Verbose", "email": "long@verbose.example",
     "notes": "x" * 100_000},
    {"first_name": "Bell\x07", "company": "Odd", "email": "bell@odd.example"},
]
GOOD_UNICODE = {"first_name": "Zoë", "last_name": "Ørsted-李", "company": "Ünïcode 株式会社 🚀",
                "email": "zoe@unicode.example", "employees": 300}


def _owner(crm: SandboxCRM) -> str:
    return SandboxConnector(crm).list_owners()[0].owner_id


def _count(store: Store, model: Any, *where: Any) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _cycle(pipeline: Pipeline) -> None:
    pipeline.sync()
    pipeline.score()
    pipeline.propose()


def _pending_drafts(crm: SandboxCRM) -> list[Any]:
    return [t for t in crm.list_tasks(status="Not Started") if t.kind == "draft"]


def test_sync_skips_malformed_leads_and_keeps_the_rest(
    pipeline: Pipeline, crm: SandboxCRM
) -> None:
    owner = _owner(crm)
    crm.add_leads([{**lead, "owner_id": owner} for lead in [*MESSY, GOOD_UNICODE]])
    report = pipeline.sync()
    reasons = dict(report.skipped)
    assert len(reasons) == 4
    assert report.stored == crm.count_leads() - 4
    assert any("email" in r and "missing" in r for r in reasons.values())
    assert any("employees" in r and "'lots'" in r for r in reasons.values())
    assert any("notes" in r and "100,000 characters" in r for r in reasons.values())
    assert any("control character" in r for r in reasons.values())
    with pipeline.store.session() as session:
        stored = session.scalars(select(LeadSnapshot.payload)).all()
    assert any(p["company"] == "Ünïcode 株式会社 🚀" for p in stored)
    # The rest of the run goes on: every good lead is scored.
    assert pipeline.score().scored == report.stored


def test_sync_reads_only_changes_and_keeps_history(pipeline: Pipeline, crm: SandboxCRM) -> None:
    first = pipeline.sync()
    assert first.stored == crm.count_leads()
    assert pipeline.sync().stored == 0
    lead_id = crm.list_leads()[0]["crm_id"]
    crm.update_lead(lead_id, title="Chief Revenue Officer")
    again = pipeline.sync()
    assert again.stored == 1
    assert _count(pipeline.store, LeadSnapshot, LeadSnapshot.crm_id == lead_id) == 2


def test_a_stamp_that_moves_without_a_change_makes_no_new_snapshot(
    pipeline: Pipeline, crm: SandboxCRM
) -> None:
    pipeline.sync()
    lead = crm.list_leads()[0]
    crm.update_lead(lead["crm_id"], title=lead["title"])  # a save that changes nothing
    again = pipeline.sync()
    assert again.stored == 0 and again.unchanged >= 1
    assert _count(pipeline.store, LeadSnapshot, LeadSnapshot.crm_id == lead["crm_id"]) == 1


def test_deleted_lead_is_marked_deleted_not_kept_live(
    pipeline: Pipeline, crm: SandboxCRM
) -> None:
    pipeline.sync()
    lead_id = crm.list_leads()[0]["crm_id"]
    crm.delete_lead(lead_id)
    assert pipeline.sync().deleted == 1
    with pipeline.store.session() as session:
        assert session.get_one(Lead, lead_id).deleted
    assert pipeline.score().scored == crm.count_leads() - 1


def test_running_twice_creates_no_duplicate_task(pipeline: Pipeline, crm: SandboxCRM) -> None:
    _cycle(pipeline)
    tasks = len(crm.list_tasks())
    proposals = _count(pipeline.store, Proposal)
    assert tasks == proposals > 0
    _cycle(pipeline)
    assert len(crm.list_tasks()) == tasks
    assert _count(pipeline.store, Proposal) == proposals


class CrashAfterTaskCreate(SandboxConnector):
    """Creates the tasks in the CRM, then dies before leadloop can record their ids."""

    def upsert_review_tasks(self, tasks: Sequence[ReviewTaskRequest]) -> list[TaskWriteResult]:
        super().upsert_review_tasks(tasks)
        raise ConnectorError("connection lost after the CRM created the tasks")


def test_crash_between_task_create_and_record_makes_no_duplicate(
    sqlite_store: Store, crm: SandboxCRM
) -> None:
    crashing = make_pipeline(sqlite_store, crm)
    crashing.connector = CrashAfterTaskCreate(crm)
    crashing.sync()
    crashing.score()
    with pytest.raises(ConnectorError):
        crashing.propose()
    created = len(crm.list_tasks())
    assert created > 0
    # Asked for, answer lost: marked so, not forgotten.
    assert _count(sqlite_store, Proposal, Proposal.crm_task_id == "") == created
    # Meanwhile one is expired: its task (which leadloop never heard of) must still close.
    with sqlite_store.session() as session:
        expiring = session.scalars(select(Proposal).order_by(Proposal.id)).first()
        assert expiring is not None
        expiring.expires_at = NOW

    healthy = make_pipeline(sqlite_store, crm)
    healthy.reconcile()  # expires it, and confirms every task before pushing updates
    assert len(crm.list_tasks()) == created
    assert _count(sqlite_store, Proposal, Proposal.crm_task_id.is_(None)) == 0
    assert _count(sqlite_store, Proposal, Proposal.crm_task_id == "") == 0
    closed = [t for t in crm.list_tasks() if t.outcome == "expired"]
    assert [t.proposal_key for t in closed] == [expiring.key]


def test_reconcile_edited_draft_logs_label_and_sends_the_edit(
    pipeline: Pipeline, crm: SandboxCRM
) -> None:
    _cycle(pipeline)
    task = _pending_drafts(crm)[0]
    edited = task.email_body.replace("\n\n", "\n\nThanks for coming to our webinar.\n\n", 1)
    crm.approve_task(task.task_id, by=task.owner_id, email_body=edited)

    report = pipeline.reconcile()
    assert report.approved == 1
    with pipeline.store.session() as session:
        label = session.scalars(select(Decision)).one()
        assert label.decision == "approved" and label.source == "crm"
        assert label.edit_distance == len("Thanks for coming to our webinar.\n\n")
        assert "+Thanks for coming to our webinar." in (label.diff or "")
        assert label.final_text is not None and "Proposal:" not in label.final_text
    assert pipeline.send().sent == 1
    sent = crm.sent_emails()
    assert len(sent) == 1 and "Thanks for coming to our webinar." in sent[0].body


def test_rejected_draft_is_labelled_and_never_sent(pipeline: Pipeline, crm: SandboxCRM) -> None:
    _cycle(pipeline)
    task = _pending_drafts(crm)[0]
    crm.reject_task(task.task_id, by=task.owner_id, reason="already talking to them")
    assert pipeline.reconcile().rejected == 1
    assert pipeline.send().sent == 0
    assert crm.sent_emails() == []
    with pipeline.store.session() as session:
        label = session.scalars(select(Decision)).one()
        assert (label.decision, label.reason) == ("rejected", "already talking to them")


def test_unapproved_drafts_are_never_sent(pipeline: Pipeline, crm: SandboxCRM) -> None:
    _cycle(pipeline)
    pipeline.reconcile()
    assert pipeline.send().sent == 0
    assert crm.sent_emails() == []
    assert _count(pipeline.store, OutboxEmail) == 0


class CrashAfterSend(SandboxConnector):
    """Sends the email, then dies before leadloop records it."""

    def send_email(self, email: OutgoingEmail) -> SendResult:
        super().send_email(email)
        raise ConnectorError("process killed after the email left")


def test_crash_after_send_does_not_send_twice(sqlite_store: Store, crm: SandboxCRM) -> None:
    pipeline = make_pipeline(sqlite_store, crm)
    _cycle(pipeline)
    for task in _pending_drafts(crm)[:3]:
        crm.approve_task(task.task_id, by=task.owner_id)
    pipeline.reconcile()
    pipeline.connector = CrashAfterSend(crm)
    assert pipeline.send().failed == 3
    assert len(crm.sent_emails()) == 3
    pipeline.connector = SandboxConnector(crm)
    report = pipeline.send()
    assert (report.sent, report.already_sent) == (0, 3)
    assert len(crm.sent_emails()) == 3
    assert _count(sqlite_store, Proposal, Proposal.state == "sent") == 3


def test_score_override_waits_for_approval(pipeline: Pipeline, crm: SandboxCRM) -> None:
    pipeline.sync()
    pipeline.score()
    with pipeline.store.session() as session:
        lead, _ = session.execute(
            select(Lead, LeadSnapshot).join(LeadSnapshot, Lead.snapshot_id == LeadSnapshot.id)
            .where(Lead.effective_tier.in_(["C", "D"]))
            .where(LeadSnapshot.payload["status"].as_string() == "open")
        ).first()  # type: ignore[misc]
        lead_id, old_score = lead.crm_id, lead.effective_score
    _make_hot(crm, lead_id)
    pipeline.sync()
    report = pipeline.score()
    assert report.overrides_proposed >= 1
    with pipeline.store.session() as session:
        assert session.get_one(Lead, lead_id).effective_score == old_score
    assert crm.get_lead(lead_id)["score"] == old_score  # the CRM still shows the old score
    pipeline.write_back()
    task = next(t for t in crm.list_tasks() if t.kind == "score_override"
                and t.lead_crm_id == lead_id)
    crm.set_final_score(task.task_id, by=task.owner_id, score=81)
    assert pipeline.reconcile().approved == 1
    with pipeline.store.session() as session:
        lead = session.get_one(Lead, lead_id)
        assert (lead.effective_score, lead.effective_tier) == (81, "A")
        label = session.scalars(select(Decision)).one()
        assert label.final_score == 81 and label.original_score is not None
    assert (crm.get_lead(lead_id)["score"], crm.get_lead(lead_id)["tier"]) == (81, "A")


def _make_hot(crm: SandboxCRM, lead_id: str) -> None:
    """Make a lead look like a buyer on every default criterion."""
    from tests.leadloop.conftest import NOW

    events = [{"kind": kind, "detail": detail, "at": NOW.isoformat()}
              for kind, detail in [("page_view", "/pricing")] * 5
              + [("webinar", "Product tour"), ("form_submit", "/demo"),
                 ("email_click", "case study")] * 2]
    crm.update_lead(lead_id, events=events, employees=600, industry="logistics",
                    title="VP Operations", past_purchases=2)


def test_every_step_leaves_an_audit_trail(pipeline: Pipeline, crm: SandboxCRM) -> None:
    _cycle(pipeline)
    task = _pending_drafts(crm)[0]
    crm.approve_task(task.task_id, by=task.owner_id)
    pipeline.reconcile()
    pipeline.send()
    with pipeline.store.session() as session:
        proposal = session.scalars(select(Proposal).where(Proposal.key == task.proposal_key)).one()
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.proposal_id == proposal.id)
            .order_by(AuditEvent.id)
        ).all()
    assert [e.event for e in events] == ["proposed", "task_written", "decision_approved", "sent"]
    proposed = events[0].detail
    assert proposed["prompt"] and proposed["output"] and proposed["inputs"]["crm_id"]


def test_stale_proposals_escalate_to_the_manager_before_expiry(
    pipeline: Pipeline, crm: SandboxCRM
) -> None:
    from datetime import timedelta

    from fastapi.testclient import TestClient

    from review_api.app import create_app
    from review_api.keys import Role, create_key
    from review_api.store.models import AuditEvent

    from .conftest import NOW

    owners = {o.owner_id: o for o in SandboxConnector(crm).list_owners()}
    pipeline.escalate_after = timedelta(hours=24)
    _cycle(pipeline)
    assert pipeline.reconcile().escalated == 0  # nothing is a day old yet
    later = NOW + timedelta(hours=25)
    pipeline.clock = lambda: later
    report = pipeline.reconcile()
    pending = _count(pipeline.store, Proposal, Proposal.state == "pending")
    assert report.escalated == pending > 0
    with pipeline.store.session() as session:
        moved = session.scalars(select(Proposal)).all()
        manager = moved[0].assignee_id
        assert all(p.assignee_id == owners[p.owner_id].manager_id for p in moved)
        assert _count(pipeline.store, AuditEvent, AuditEvent.event == "escalated") == pending
        _, key = create_key(session=session, role=Role.REP, owner_id=manager)
    as_manager = TestClient(create_app(pipeline.store, clock=lambda: later),
                            headers={"X-API-Key": key})
    assert len(as_manager.get("/proposals", params={"limit": 500}).json()) == pending
    assert pipeline.reconcile().escalated == 0  # moved once, not again


def test_sync_names_leads_with_events_dated_in_the_future(
    pipeline: Pipeline, crm: SandboxCRM
) -> None:
    owner = _owner(crm)
    crm.add_leads([{"first_name": "Tess", "company": "Later", "email": "tess@later.example",
                    "owner_id": owner, "events": [
                        {"kind": "page_view", "detail": "/pricing", "at": "2999-01-01T00:00:00Z"}
                    ]}])
    report = pipeline.sync()
    [later] = [lead["crm_id"] for lead in crm.list_leads() if lead["company"] == "Later"]
    assert report.future_dated == [later]
    pipeline.score()
    with pipeline.store.session() as session:
        [score] = session.scalars(select(Score).where(Score.crm_id == later)).all()
        assert "pricing" not in str(score.factors)
    assert pipeline.sync().future_dated == []  # nothing new read, nothing named
