"""The contract every CRM connector passes, run against each CRM in ``harness.FACTORIES``."""

from __future__ import annotations

from datetime import date

import pytest

from connectors.base import (
    CRMConnector,
    Lead,
    OutgoingEmail,
    ProposalKind,
    RawLead,
    ReviewTaskRequest,
    ScoreWrite,
    SyncCursor,
    TaskChange,
    TaskDecision,
    TaskOutcome,
    TaskStatus,
    TaskUpdate,
    parse_lead,
)
from connectors.sandbox import generate_leads
from tests.connectors.conftest import NOW
from tests.connectors.harness import LeadAdmin, RepActions

DUE = date(2025, 6, 8)


def _add(connector: CRMConnector, far_leads: LeadAdmin, n: int = 12) -> list[str]:
    owners = [{"owner_id": o.owner_id, "manager_id": o.manager_id}
              for o in connector.list_owners()]
    return far_leads.add_leads(generate_leads(n, seed=3, now=NOW, owners=owners))


def _cursor(raw: RawLead) -> SyncCursor:
    return SyncCursor(raw.modified_at, raw.crm_id)


NOTES = "Score 80 (tier A).\nWhy: visited the pricing page\nProposal: {key}"


def _draft(key: str, lead: RawLead, *, subject: str = "Quick question", body: str = "Hi there"
           ) -> ReviewTaskRequest:
    return ReviewTaskRequest(
        proposal_key=key, kind=ProposalKind.DRAFT, lead_crm_id=lead.crm_id,
        owner_id=lead.fields["owner_id"], subject=subject,
        notes=NOTES.format(key=key), due_date=DUE, email_subject=subject, email_body=body,
    )


def _override(key: str, lead: RawLead, *, proposed: int) -> ReviewTaskRequest:
    return ReviewTaskRequest(
        proposal_key=key, kind=ProposalKind.SCORE_OVERRIDE, lead_crm_id=lead.crm_id,
        owner_id=lead.fields["owner_id"], subject="Score change to review",
        notes=f"Proposed score {proposed}", due_date=DUE, proposed_score=proposed,
    )


def _changes(connector: CRMConnector, since: SyncCursor | None = None) -> dict[str, TaskChange]:
    return {c.proposal_key: c for c in connector.fetch_task_changes(since=since)}


# -- owners and leads ------------------------------------------------------------------


def test_connector_satisfies_the_protocol(connector: CRMConnector) -> None:
    assert isinstance(connector, CRMConnector)
    assert isinstance(connector.name, str) and connector.name


def test_owners_are_listed_with_names_and_emails(connector: CRMConnector) -> None:
    owners = connector.list_owners()
    ids = [o.owner_id for o in owners]
    assert owners and len(set(ids)) == len(ids)
    assert all(o.name and "@" in o.email for o in owners)
    assert all(o.manager_id is None or o.manager_id in ids for o in owners)


def test_full_fetch_returns_every_lead_once_in_order(
    connector: CRMConnector, far_leads: LeadAdmin
) -> None:
    added = _add(connector, far_leads)
    fetched = list(connector.fetch_leads(since=None))
    assert sorted(r.crm_id for r in fetched) == sorted(added)
    positions = [(r.modified_at, r.crm_id) for r in fetched]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    owners = {o.owner_id for o in connector.list_owners()}
    for raw in fetched:
        assert not raw.deleted
        assert raw.modified_at.tzinfo is not None
        assert set(raw.fields) <= set(Lead.model_fields)
        lead = parse_lead(raw)
        assert lead.owner_id in owners


def test_incremental_fetch_returns_only_what_follows_the_cursor(
    connector: CRMConnector, far_leads: LeadAdmin
) -> None:
    _add(connector, far_leads)
    full = list(connector.fetch_leads(since=None))
    for k in (0, len(full) // 2, len(full) - 2):
        again = list(connector.fetch_leads(since=_cursor(full[k])))
        assert [r.crm_id for r in again] == [r.crm_id for r in full[k + 1 :]]


def test_cursor_inside_a_shared_stamp_keeps_the_rest_of_that_stamp(
    connector: CRMConnector, far_leads: LeadAdmin
) -> None:
    _add(connector, far_leads)
    full = list(connector.fetch_leads(since=None))
    tied = [k for k in range(len(full) - 1) if full[k].modified_at == full[k + 1].modified_at]
    if not tied:
        pytest.skip("this CRM gave no two leads the same stamp; the tie-break cannot be seen")
    k = tied[0]
    again = list(connector.fetch_leads(since=_cursor(full[k])))
    assert again[0].crm_id == full[k + 1].crm_id
    assert again[0].modified_at == full[k].modified_at
    # An empty last_id means "nothing read at this stamp yet": the whole stamp comes back.
    whole = list(connector.fetch_leads(since=SyncCursor(full[k].modified_at)))
    assert [r.crm_id for r in whole] == [r.crm_id for r in full[k:]]


def test_change_after_the_cursor_is_never_missed(
    connector: CRMConnector, far_leads: LeadAdmin
) -> None:
    _add(connector, far_leads)
    full = list(connector.fetch_leads(since=None))
    cursor = _cursor(full[-1])
    # The lowest id is the one a (stamp, id) cursor would skip if the CRM reused the
    # cursor's stamp for a later change.
    lowest = min(r.crm_id for r in full)
    far_leads.update_lead(lowest, title="Chief Revenue Officer")
    again = list(connector.fetch_leads(since=cursor))
    assert [r.crm_id for r in again] == [lowest]
    assert again[0].fields["title"] == "Chief Revenue Officer"
    assert (again[0].modified_at, again[0].crm_id) > (cursor.modified_at, cursor.last_id)


def test_fetch_from_the_last_cursor_returns_nothing(
    connector: CRMConnector, far_leads: LeadAdmin
) -> None:
    _add(connector, far_leads)
    full = list(connector.fetch_leads(since=None))
    assert list(connector.fetch_leads(since=_cursor(full[-1]))) == []


def test_deleted_lead_comes_back_deleted(connector: CRMConnector, far_leads: LeadAdmin) -> None:
    added = _add(connector, far_leads)
    cursor = _cursor(list(connector.fetch_leads(since=None))[-1])
    far_leads.delete_lead(added[3])
    again = list(connector.fetch_leads(since=cursor))
    assert [(r.crm_id, r.deleted) for r in again] == [(added[3], True)]
    full = list(connector.fetch_leads(since=None))
    assert [r.crm_id for r in full if r.deleted] == [added[3]]
    assert len(full) == len(added)


# -- review tasks ----------------------------------------------------------------------


def test_upserting_the_same_keys_twice_creates_no_duplicate(
    connector: CRMConnector, far_leads: LeadAdmin
) -> None:
    _add(connector, far_leads)
    leads = list(connector.fetch_leads(since=None))[:3]
    requests = [_draft(f"p-{lead.crm_id}", lead) for lead in leads]
    first = connector.upsert_review_tasks(requests)
    assert [r.created for r in first] == [True, True, True]
    assert all(r.error is None and r.task_id for r in first)
    assert len({r.task_id for r in first}) == 3
    second = connector.upsert_review_tasks(requests)
    assert [r.task_id for r in second] == [r.task_id for r in first]
    assert [r.created for r in second] == [False, False, False]
    changes = list(connector.fetch_task_changes(since=None))
    assert sorted(c.task_id for c in changes) == sorted(str(r.task_id) for r in first)


def test_a_key_repeated_within_one_batch_makes_one_task(
    connector: CRMConnector, far_leads: LeadAdmin
) -> None:
    _add(connector, far_leads)
    lead = next(iter(connector.fetch_leads(since=None)))
    results = connector.upsert_review_tasks([_draft("same", lead), _draft("same", lead)])
    assert results[0].created and not results[1].created
    assert results[0].task_id == results[1].task_id
    assert len(list(connector.fetch_task_changes(since=None))) == 1


def test_a_bad_item_in_a_batch_does_not_fail_the_others(
    connector: CRMConnector, far_leads: LeadAdmin
) -> None:
    _add(connector, far_leads)
    a, b = list(connector.fetch_leads(since=None))[:2]
    unknown = ReviewTaskRequest(
        proposal_key="p-unknown", kind=ProposalKind.DRAFT, lead_crm_id="NO-SUCH-LEAD",
        owner_id=a.fields["owner_id"], subject="Hello", notes="Hi", due_date=DUE,
    )
    results = connector.upsert_review_tasks(
        [_draft("p-a", a), unknown, _draft("p-empty", b, subject="  "), _draft("p-b", b)]
    )
    assert [r.proposal_key for r in results] == ["p-a", "p-unknown", "p-empty", "p-b"]
    assert results[0].created and results[3].created
    for bad in (results[1], results[2]):
        assert bad.task_id is None and not bad.created and bad.error
    assert "NO-SUCH-LEAD" in str(results[1].error)
    assert "subject" in str(results[2].error)
    assert set(_changes(connector)) == {"p-a", "p-b"}


def test_a_new_task_reads_back_pending(connector: CRMConnector, far_leads: LeadAdmin) -> None:
    _add(connector, far_leads)
    lead = next(iter(connector.fetch_leads(since=None)))
    connector.upsert_review_tasks([_draft("p1", lead)])
    change = _changes(connector)["p1"]
    assert change.status is TaskStatus.NOT_STARTED
    assert change.decision is None and change.decided_by is None
    assert change.modified_at.tzinfo is not None


def test_approval_reads_back_with_the_text_as_proposed(
    connector: CRMConnector, far_leads: LeadAdmin, rep: RepActions
) -> None:
    _add(connector, far_leads)
    lead = next(iter(connector.fetch_leads(since=None)))
    (result,) = connector.upsert_review_tasks([_draft("p1", lead, body="Hi Ana,\nShall we talk?")])
    rep.approve(str(result.task_id), by=lead.fields["owner_id"])
    change = _changes(connector)["p1"]
    assert change.task_id == result.task_id
    assert change.status is TaskStatus.COMPLETED
    assert change.decision is TaskDecision.APPROVED
    assert change.email_subject == "Quick question"
    assert change.email_body == "Hi Ana,\nShall we talk?"
    assert change.decided_by == lead.fields["owner_id"]
    assert change.owner_id == lead.fields["owner_id"]
    assert change.outcome is None


def test_approval_with_an_edit_reads_back_the_edited_text(
    connector: CRMConnector, far_leads: LeadAdmin, rep: RepActions
) -> None:
    _add(connector, far_leads)
    lead = next(iter(connector.fetch_leads(since=None)))
    (result,) = connector.upsert_review_tasks([_draft("p1", lead, body="Hi Ana")])
    rep.approve_with_edit(str(result.task_id), by=lead.fields["owner_id"],
                          subject="Tuesday?", body="Hello Ana, are you free on Tuesday?")
    change = _changes(connector)["p1"]
    assert change.decision is TaskDecision.APPROVED
    assert change.email_subject == "Tuesday?"
    assert change.email_body == "Hello Ana, are you free on Tuesday?"


def test_editing_the_notes_leaves_the_email_fields_as_they_were(
    connector: CRMConnector, far_leads: LeadAdmin, rep: RepActions
) -> None:
    _add(connector, far_leads)
    lead = next(iter(connector.fetch_leads(since=None)))
    (result,) = connector.upsert_review_tasks([_draft("p1", lead, body="Hi Ana")])
    rep.approve_with_notes(str(result.task_id), by=lead.fields["owner_id"],
                           notes="Score 80 (tier A)\n- - - my own notes, the marker is gone")
    change = _changes(connector)["p1"]
    assert change.decision is TaskDecision.APPROVED
    assert (change.email_subject, change.email_body) == ("Quick question", "Hi Ana")


def test_rejection_reads_back_with_its_reason(
    connector: CRMConnector, far_leads: LeadAdmin, rep: RepActions
) -> None:
    _add(connector, far_leads)
    lead = next(iter(connector.fetch_leads(since=None)))
    (result,) = connector.upsert_review_tasks([_draft("p1", lead)])
    rep.reject(str(result.task_id), by=lead.fields["owner_id"], reason="already in talks")
    change = _changes(connector)["p1"]
    assert change.status is TaskStatus.COMPLETED
    assert change.decision is TaskDecision.REJECTED
    assert change.reason == "already in talks"
    assert change.decided_by == lead.fields["owner_id"]


def test_score_adjustment_reads_back_the_reps_score(
    connector: CRMConnector, far_leads: LeadAdmin, rep: RepActions
) -> None:
    _add(connector, far_leads)
    lead = next(iter(connector.fetch_leads(since=None)))
    (result,) = connector.upsert_review_tasks([_override("s1", lead, proposed=82)])
    rep.set_score(str(result.task_id), by=lead.fields["owner_id"], score=64)
    change = _changes(connector)["s1"]
    assert change.decision is TaskDecision.APPROVED
    assert change.final_score == 64


def test_override_approved_as_proposed_keeps_the_proposed_score(
    connector: CRMConnector, far_leads: LeadAdmin, rep: RepActions
) -> None:
    _add(connector, far_leads)
    lead = next(iter(connector.fetch_leads(since=None)))
    (result,) = connector.upsert_review_tasks([_override("s1", lead, proposed=82)])
    rep.approve(str(result.task_id), by=lead.fields["owner_id"])
    change = _changes(connector)["s1"]
    assert change.decision is TaskDecision.APPROVED
    assert change.final_score == 82


def test_task_changes_from_a_cursor_hold_only_later_decisions(
    connector: CRMConnector, far_leads: LeadAdmin, rep: RepActions
) -> None:
    _add(connector, far_leads)
    leads = list(connector.fetch_leads(since=None))[:3]
    results = connector.upsert_review_tasks([_draft(f"p{i}", lead) for i, lead in enumerate(leads)])
    pending = list(connector.fetch_task_changes(since=None))
    cursor = SyncCursor(pending[-1].modified_at, pending[-1].task_id)
    rep.approve(str(results[0].task_id), by=leads[0].fields["owner_id"])
    later = list(connector.fetch_task_changes(since=cursor))
    assert [(c.proposal_key, c.decision) for c in later] == [("p0", TaskDecision.APPROVED)]
    last = SyncCursor(later[-1].modified_at, later[-1].task_id)
    assert list(connector.fetch_task_changes(since=last)) == []


# -- scores and email ------------------------------------------------------------------


def test_write_scores_reports_unknown_leads_per_record(
    connector: CRMConnector, far_leads: LeadAdmin
) -> None:
    added = _add(connector, far_leads)
    results = connector.write_scores([
        ScoreWrite(added[0], 71, "B"), ScoreWrite("NO-SUCH-LEAD", 50, "C"),
        ScoreWrite(added[1], 12, "D"),
    ])
    assert [(r.crm_id, r.ok) for r in results] == [
        (added[0], True), ("NO-SUCH-LEAD", False), (added[1], True),
    ]
    assert results[1].error and "NO-SUCH-LEAD" in results[1].error
    assert results[0].error is None and results[2].error is None


def test_send_email_twice_with_one_key_sends_once(
    connector: CRMConnector, far_leads: LeadAdmin
) -> None:
    added = _add(connector, far_leads)
    lead = next(r for r in connector.fetch_leads(since=None) if r.crm_id == added[0])
    email = OutgoingEmail(
        idempotency_key="proposal-1", lead_crm_id=added[0], to=str(lead.fields["email"]),
        subject="Hello", body="Hi there", from_owner_id=str(lead.fields["owner_id"]),
    )
    assert connector.find_sent_email("proposal-1") is None
    first = connector.send_email(email)
    second = connector.send_email(email)
    assert not first.already_sent and second.already_sent
    assert second.message_id == first.message_id and second.sent_at == first.sent_at
    found = connector.find_sent_email("proposal-1")
    assert found is not None and found.message_id == first.message_id
    other = connector.send_email(
        OutgoingEmail("proposal-2", added[0], email.to, "Again", "Hi", email.from_owner_id)
    )
    assert other.message_id != first.message_id and not other.already_sent


# -- leadloop's updates to review tasks -------------------------------------------------


def _update(change: TaskChange | str, key: str, owner: str, *, open: bool,
            decision: TaskDecision | None = None, outcome: TaskOutcome | None = None,
            note: str = "") -> TaskUpdate:
    task_id = change if isinstance(change, str) else change.task_id
    return TaskUpdate(task_id=task_id, proposal_key=key, owner_id=owner, open=open,
                      decision=decision, outcome=outcome, note=note)


def test_a_task_leadloop_closes_reads_back_closed_with_its_outcome_and_no_decision(
    connector: CRMConnector, far_leads: LeadAdmin
) -> None:
    _add(connector, far_leads)
    lead = next(iter(connector.fetch_leads(since=None)))
    owner = str(lead.fields["owner_id"])
    (result,) = connector.upsert_review_tasks([_draft("p1", lead)])
    note = "expired in leadloop at 14:02 UTC; nothing was sent"
    (written,) = connector.update_review_tasks(
        [_update(str(result.task_id), "p1", owner, open=False, outcome=TaskOutcome.EXPIRED,
                 note=note)])
    assert written.ok and written.crm_id == result.task_id and written.error is None
    change = _changes(connector)["p1"]
    assert change.status is TaskStatus.COMPLETED
    assert change.decision is None  # closed by leadloop, not approved by a rep
    assert change.outcome is TaskOutcome.EXPIRED


def test_a_task_closed_with_a_decision_reads_back_that_decision(
    connector: CRMConnector, far_leads: LeadAdmin, rep: RepActions
) -> None:
    _add(connector, far_leads)
    lead = next(iter(connector.fetch_leads(since=None)))
    owner = str(lead.fields["owner_id"])
    (result,) = connector.upsert_review_tasks([_draft("p1", lead)])
    update = _update(str(result.task_id), "p1", owner, open=False,
                     decision=TaskDecision.REJECTED, outcome=TaskOutcome.REJECTED,
                     note="rejected in leadloop by U000003 at 14:02 UTC; nothing was sent")
    assert [r.ok for r in connector.update_review_tasks([update, update])] == [True, True]
    change = _changes(connector)["p1"]
    assert (change.status, change.decision, change.outcome) == (
        TaskStatus.COMPLETED, TaskDecision.REJECTED, TaskOutcome.REJECTED)
    assert len(_changes(connector)) == 1


def test_reassigning_a_task_moves_it_to_the_new_owner_still_open(
    connector: CRMConnector, far_leads: LeadAdmin
) -> None:
    _add(connector, far_leads)
    owners = [o.owner_id for o in connector.list_owners()]
    lead = next(iter(connector.fetch_leads(since=None)))
    other = next(o for o in owners if o != lead.fields["owner_id"])
    (result,) = connector.upsert_review_tasks([_draft("p1", lead)])
    (written,) = connector.update_review_tasks(
        [_update(str(result.task_id), "p1", other, open=True,
                 note="needs the manager's approval: over 1,000 employees")])
    assert written.ok
    change = _changes(connector)["p1"]
    assert change.owner_id == other
    assert change.status is TaskStatus.NOT_STARTED and change.decision is None


def test_reopening_a_task_clears_the_reps_decision_and_it_can_be_decided_again(
    connector: CRMConnector, far_leads: LeadAdmin, rep: RepActions
) -> None:
    _add(connector, far_leads)
    lead = next(iter(connector.fetch_leads(since=None)))
    owner = str(lead.fields["owner_id"])
    (result,) = connector.upsert_review_tasks([_draft("p1", lead)])
    rep.approve(str(result.task_id), by=owner)
    connector.update_review_tasks([_update(
        str(result.task_id), "p1", owner, open=True,
        note="refused: the approved email is empty; edit it or reject the task")])
    reopened = _changes(connector)["p1"]
    assert reopened.status is TaskStatus.NOT_STARTED
    assert reopened.decision is None and reopened.outcome is None
    rep.reject(str(result.task_id), by=owner, reason="not now")
    again = _changes(connector)["p1"]
    assert again.decision is TaskDecision.REJECTED and again.reason == "not now"


def test_an_update_of_an_unknown_task_fails_alone(
    connector: CRMConnector, far_leads: LeadAdmin
) -> None:
    _add(connector, far_leads)
    a, b = list(connector.fetch_leads(since=None))[:2]
    results = connector.upsert_review_tasks([_draft("p-a", a), _draft("p-b", b)])
    owner_a, owner_b = str(a.fields["owner_id"]), str(b.fields["owner_id"])
    written = connector.update_review_tasks([
        _update(str(results[0].task_id), "p-a", owner_a, open=False,
                outcome=TaskOutcome.SUPERSEDED),
        _update("NO-SUCH-TASK", "p-x", owner_a, open=False, outcome=TaskOutcome.EXPIRED),
        _update(str(results[1].task_id), "p-b", owner_b, open=False,
                outcome=TaskOutcome.EXPIRED),
    ])
    assert [w.ok for w in written] == [True, False, True]
    assert written[1].error
    changes = _changes(connector)
    assert changes["p-a"].outcome is TaskOutcome.SUPERSEDED
    assert changes["p-b"].outcome is TaskOutcome.EXPIRED


def test_leads_read_by_id_show_their_state_in_the_crm_now(
    connector: CRMConnector, far_leads: LeadAdmin
) -> None:
    added = _add(connector, far_leads, n=4)
    far_leads.update_lead(added[0], email_opt_out=True)
    far_leads.delete_lead(added[1])
    found = {r.crm_id: r for r in connector.fetch_leads_by_id([added[0], added[1], added[2]])}
    assert set(found) == {added[0], added[1], added[2]}
    assert parse_lead(found[added[0]]).email_opt_out is True
    assert found[added[1]].deleted
    assert not found[added[2]].deleted and parse_lead(found[added[2]]).email_opt_out is False
