"""The places where the review loop broke its word, each replayed as a rep or an admin would.

Each test counts where harm happens: at the send call (``Transport``) and on the CRM's own
tasks. The model-based test (test_review_loop_model.py) mixes these at random; these pin
each one down on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from connectors.sandbox import SandboxConnector, SandboxCRM
from connectors.sandbox.crm import SandboxTask
from leadloop.checks import sandbox_tasks_out_of_step
from leadloop.pipeline import Pipeline
from review_api.app import create_app
from review_api.keys import Role, create_key
from review_api.store.db import Store
from review_api.store.models import AuditEvent, OutboxEmail, Proposal

from .conftest import NOW, RecordingConnector, Transport, make_pipeline, rep_text


def _hot(crm: SandboxCRM, **fields: object) -> str:
    """A new lead that scores into tier A, owned by the first rep."""
    owner = SandboxConnector(crm).list_owners()[1].owner_id
    events = [{"kind": "page_view", "detail": "/pricing",
               "at": (NOW - timedelta(days=1)).isoformat()}] * 3 + [
        {"kind": "form_submit", "detail": "/demo", "at": NOW.isoformat()}]
    crm.add_leads([{"first_name": "Ann", "last_name": "Lee", "company": "Acme Logistics",
                    "email": f"ann{len(crm.list_leads())}@acme.example", "employees": 400,
                    "industry": "Logistics", "title": "VP Operations", "owner_id": owner,
                    "events": events, "past_purchases": 1, **fields}])
    return str(crm.list_leads()[-1]["crm_id"])


def _looped(store: Store, crm: SandboxCRM) -> tuple[Pipeline, Transport]:
    transport = Transport()
    pipeline = make_pipeline(store, crm, connector=RecordingConnector(crm, transport))
    pipeline.sync()
    pipeline.score()
    pipeline.propose()
    return pipeline, transport


def _draft_task(crm: SandboxCRM, lead: str) -> SandboxTask:
    return next(t for t in crm.tasks_for_lead(lead) if t.kind == "draft")


def _events(store: Store, key: str) -> list[str]:
    with store.session() as session:
        proposal = session.scalars(select(Proposal).where(Proposal.key == key)).one()
        return list(session.scalars(select(AuditEvent.event).where(
            AuditEvent.proposal_id == proposal.id).order_by(AuditEvent.id)))


def _state(store: Store, key: str) -> str:
    with store.session() as session:
        return session.scalars(select(Proposal.state).where(Proposal.key == key)).one()


def _api(store: Store, owner: str | None) -> TestClient:
    with store.session() as session:
        _, key = (create_key(session=session, role=Role.REP, owner_id=owner) if owner
                  else create_key(session=session, role=Role.ADMIN))
    return TestClient(create_app(store, clock=lambda: NOW),
                      headers={"Authorization": f"Bearer {key}"})


# 1. Decisions made elsewhere reach the CRM ---------------------------------------------


def test_an_api_rejection_closes_the_crm_task_and_a_late_crm_approval_is_overruled(
    store: Store, crm: SandboxCRM
) -> None:
    pipeline, transport = _looped(store, crm)
    lead = _hot(crm)
    pipeline.sync()
    pipeline.score()
    pipeline.propose()
    task = _draft_task(crm, lead)
    with store.session() as session:
        proposal_id = session.scalars(select(Proposal.id).where(
            Proposal.key == task.proposal_key)).one()
    # The rep approves in the CRM a moment after a colleague rejected it through the API,
    # before leadloop pushed the rejection to the task.
    response = _api(store, task.owner_id).post(
        f"/proposals/{proposal_id}/decision", json={"decision": "reject", "reason": "no"})
    assert response.status_code == 200, response.text
    crm.approve_task(task.task_id, by=task.owner_id)
    report = pipeline.reconcile()
    assert report.overruled == 1 and report.approved == 0
    pipeline.send()
    shown = crm.get_task(task.task_id)
    assert (shown.status.value, shown.decision, shown.outcome) == (
        "Completed", "Rejected", "rejected")
    assert "was not taken: already rejected in leadloop by" in shown.note
    assert "nothing was sent" in shown.note
    assert transport.calls == []
    assert "crm_decision_overruled" in _events(store, str(task.proposal_key))
    assert sandbox_tasks_out_of_step(store, crm) == []


def test_expired_and_superseded_proposals_close_their_tasks(
    store: Store, crm: SandboxCRM
) -> None:
    pipeline, _ = _looped(store, crm)
    later = NOW + timedelta(hours=100)
    pipeline.clock = lambda: later
    report = pipeline.reconcile()
    assert report.expired > 0
    assert [t for t in crm.list_tasks() if t.proposal_key and t.status.value != "Completed"] == []
    expired = [t for t in crm.list_tasks() if t.outcome == "expired"]
    assert len(expired) == report.expired
    assert all("expired in leadloop" in t.note and t.decision is None for t in expired)
    assert sandbox_tasks_out_of_step(store, crm) == []


# 2. Only the entitled person's approval counts -----------------------------------------


def test_a_draft_that_needs_the_manager_is_theirs_alone_to_approve(
    store: Store, crm: SandboxCRM
) -> None:
    pipeline, transport = _looped(store, crm)
    lead = _hot(crm, employees=5000)
    pipeline.propose()
    pipeline.sync()
    pipeline.score()
    pipeline.propose()
    task = _draft_task(crm, lead)
    rep = crm.get_lead(lead)["owner_id"]
    manager = next(o.manager_id for o in crm.list_owners() if o.owner_id == rep)
    assert task.owner_id == manager  # the task is written to whoever must decide

    crm.approve_task(task.task_id, by=rep)  # the rep approves it anyway
    assert pipeline.reconcile().refused == 1
    pipeline.send()
    assert transport.calls == []
    reopened = crm.get_task(task.task_id)
    assert reopened.status.value == "Not Started" and reopened.owner_id == manager
    assert f"needs approval by {manager}" in reopened.note
    assert "decision_refused" in _events(store, str(task.proposal_key))

    crm.approve_task(task.task_id, by=manager)
    assert pipeline.reconcile().approved == 1
    assert pipeline.send().sent == 1
    assert transport.keys() == [task.proposal_key]
    assert crm.get_task(task.task_id).outcome == "sent"
    assert sandbox_tasks_out_of_step(store, crm) == []


def test_bulk_approval_refuses_item_by_item_what_the_rep_may_not_approve(
    store: Store, crm: SandboxCRM
) -> None:
    pipeline, _ = _looped(store, crm)
    big = _hot(crm, employees=5000)
    small = _hot(crm)
    pipeline.sync()
    pipeline.score()
    pipeline.propose()
    with store.session() as session:
        ids = {lead: session.scalars(select(Proposal.id).where(
            Proposal.crm_id == lead, Proposal.kind == "draft")).one() for lead in (big, small)}
    rep = crm.get_lead(big)["owner_id"]
    response = _api(store, rep).post("/decisions", json={"items": [
        {"proposal_id": ids[big], "decision": "approve"},
        {"proposal_id": ids[small], "decision": "approve"},
        {"proposal_id": 2_000_000, "decision": "approve"},
    ]})
    assert response.status_code == 200
    receipts = response.json()
    assert [(r["ok"], r["code"]) for r in receipts] == [
        (False, "not_entitled"), (True, None), (False, "not_found")]
    assert "needs approval by" in receipts[0]["message"]
    admin = _api(store, None).post(f"/proposals/{ids[big]}/decision",
                                   json={"decision": "approve"})
    assert admin.status_code == 200


def test_an_escalation_moves_the_crm_task_to_the_manager(store: Store, crm: SandboxCRM) -> None:
    pipeline, _ = _looped(store, crm)
    pipeline.escalate_after = timedelta(hours=24)
    later = NOW + timedelta(hours=30)
    pipeline.clock = lambda: later
    report = pipeline.reconcile()
    assert report.escalated > 0
    managers = {o.owner_id: o.manager_id for o in crm.list_owners()}
    moved = [t for t in crm.list_tasks() if t.proposal_key and t.note.startswith("escalated")]
    assert len(moved) == report.escalated
    for task in moved:
        assert task.owner_id == managers[crm.get_lead(task.lead_crm_id)["owner_id"]]
        assert task.status.value == "Not Started"
    assert sandbox_tasks_out_of_step(store, crm) == []


# 3-5. What was approved is what is sent --------------------------------------------------


def test_a_damaged_notes_line_changes_nothing_that_is_sent(store: Store, crm: SandboxCRM) -> None:
    pipeline, transport = _looped(store, crm)
    task = next(t for t in crm.list_tasks(status="Not Started") if t.kind == "draft")
    crm.approve_task(task.task_id, by=task.owner_id,
                     description=task.description.replace("-", "=") + "\nmy own notes")
    pipeline.reconcile()
    pipeline.send()
    (email,) = transport.calls
    assert (email.subject, rep_text(email.body)) == (task.email_subject, task.email_body)
    assert "Proposal:" not in email.body and "Score " not in email.body


def test_notes_pasted_into_the_email_are_refused_and_the_task_reopened(
    store: Store, crm: SandboxCRM
) -> None:
    pipeline, transport = _looped(store, crm)
    task = next(t for t in crm.list_tasks(status="Not Started") if t.kind == "draft")
    pasted = next(line for line in task.description.splitlines() if line.startswith("Proposal"))
    crm.approve_task(task.task_id, by=task.owner_id,
                     email_body=task.email_body + "\n" + pasted)
    assert pipeline.reconcile().refused == 1
    pipeline.send()
    assert transport.calls == []
    reopened = crm.get_task(task.task_id)
    assert reopened.status.value == "Not Started" and "notes for you" in reopened.note


def test_a_score_on_a_draft_task_is_refused_and_nothing_is_sent(
    store: Store, crm: SandboxCRM
) -> None:
    pipeline, transport = _looped(store, crm)
    task = next(t for t in crm.list_tasks(status="Not Started") if t.kind == "draft")
    crm.set_final_score(task.task_id, by=task.owner_id, score=50)
    assert pipeline.reconcile().refused == 1
    pipeline.send()
    assert transport.calls == []
    assert _state(store, str(task.proposal_key)) == "pending"
    reopened = crm.get_task(task.task_id)
    assert reopened.status.value == "Not Started" and reopened.final_score is None
    assert "a score cannot be set on it" in reopened.note


def test_an_empty_edit_is_refused_the_task_reopened_and_a_real_edit_then_sent(
    store: Store, crm: SandboxCRM
) -> None:
    pipeline, transport = _looped(store, crm)
    task = next(t for t in crm.list_tasks(status="Not Started") if t.kind == "draft")
    crm.approve_task(task.task_id, by=task.owner_id, email_body="   ")
    report = pipeline.reconcile()
    assert report.refused == 1 and "empty" in report.errors[0]
    reopened = crm.get_task(task.task_id)
    assert reopened.status.value == "Not Started" and "the approved email is empty" in reopened.note
    crm.approve_task(task.task_id, by=task.owner_id, email_body="Hi Ann,\n\nShort and real.")
    assert pipeline.reconcile().approved == 1
    assert pipeline.send().sent == 1
    assert rep_text(transport.calls[0].body) == "Hi Ann,\n\nShort and real."


# 6. Consent is checked at send time ----------------------------------------------------


def test_an_opt_out_after_approval_cancels_the_send_and_closes_the_task(
    store: Store, crm: SandboxCRM
) -> None:
    pipeline, transport = _looped(store, crm)
    tasks = [t for t in crm.list_tasks(status="Not Started") if t.kind == "draft"][:3]
    for task in tasks:
        crm.approve_task(task.task_id, by=task.owner_id)
    pipeline.reconcile()
    crm.update_lead(tasks[0].lead_crm_id, email_opt_out=True)
    crm.delete_lead(tasks[1].lead_crm_id)
    report = pipeline.send()  # no sync in between: the send step asks the CRM itself
    assert report.cancelled == 2 and report.sent == 1
    assert transport.keys() == [tasks[2].proposal_key]
    for task, why in ((tasks[0], "opted out"), (tasks[1], "deleted")):
        assert _state(store, str(task.proposal_key)) == "cancelled"
        closed = crm.get_task(task.task_id)
        assert closed.outcome == "cancelled" and why in closed.note
        assert "cancelled" in _events(store, str(task.proposal_key))
    with store.session() as session:
        states = sorted(session.scalars(select(OutboxEmail.state)))
    assert states == ["cancelled", "cancelled", "sent"]
    assert sandbox_tasks_out_of_step(store, crm) == []


def test_an_opt_out_seen_by_sync_cancels_pending_drafts(store: Store, crm: SandboxCRM) -> None:
    pipeline, _ = _looped(store, crm)
    task = next(t for t in crm.list_tasks(status="Not Started") if t.kind == "draft")
    crm.update_lead(task.lead_crm_id, email_opt_out=True)
    pipeline.sync()
    pipeline.reconcile()
    assert _state(store, str(task.proposal_key)) == "cancelled"
    assert crm.get_task(task.task_id).outcome == "cancelled"
    assert sandbox_tasks_out_of_step(store, crm) == []
