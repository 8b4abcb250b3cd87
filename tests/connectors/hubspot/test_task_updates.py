"""HubSpot's own cases for leadloop's task updates, the email fields and leads read by id."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from connectors.base import (
    ProposalKind,
    RawLead,
    ReviewTaskRequest,
    TaskDecision,
    TaskOutcome,
    TaskStatus,
    TaskUpdate,
)
from connectors.hubspot import HubSpotConnector
from connectors.hubspot.client import HubSpotError
from connectors.hubspot.tasks import TASK_READ_PROPERTIES, task_change, update_input
from connectors.sandbox import SandboxCRM
from connectors.sandbox.hubspot_face import HubSpotFace, hubspot_id, sandbox_id

UPDATE = "POST /crm/v3/objects/tasks/batch/update"
READ_CONTACTS = "POST /crm/v3/objects/contacts/batch/read"
NOTES = "Score 80 (tier A)\nWhy: visited pricing\nFlags: pricing"


def _leads(connector: HubSpotConnector) -> list[RawLead]:
    return list(connector.fetch_leads(since=None))


def _draft(key: str, lead: RawLead) -> ReviewTaskRequest:
    return ReviewTaskRequest(
        proposal_key=key, kind=ProposalKind.DRAFT, lead_crm_id=lead.crm_id,
        owner_id=str(lead.fields["owner_id"]), subject="Review the draft", notes=NOTES,
        due_date=date(2025, 6, 8), email_subject="Quick question",
        email_body="Hi Ana,\nshall we talk?")


def _tasks(connector: HubSpotConnector, n: int) -> list[tuple[str, str, str]]:
    """n open draft tasks spread over the contacts: (task id, proposal key, owner id)."""
    leads = _leads(connector)
    requests = [_draft(f"p{i}", leads[i % len(leads)]) for i in range(n)]
    results = connector.upsert_review_tasks(requests)
    assert all(r.created for r in results)
    return [(str(r.task_id), q.proposal_key, q.owner_id)
            for r, q in zip(results, requests, strict=True)]


def _close(task: tuple[str, str, str], outcome: TaskOutcome = TaskOutcome.EXPIRED,
           **changes: Any) -> TaskUpdate:
    task_id, key, owner = task
    fields: dict[str, Any] = {"task_id": task_id, "proposal_key": key, "owner_id": owner,
                              "open": False, "decision": None, "outcome": outcome,
                              "note": "expired in leadloop; nothing was sent", **changes}
    return TaskUpdate(**fields)


def _read_task(connector: HubSpotConnector, task_id: str, *names: str) -> dict[str, Any]:
    _, body = connector.transport.call("read", connector.transport.tasks_batch.read,
                                       {"inputs": [{"id": task_id}], "properties": list(names)})
    props: dict[str, Any] = body["results"][0]["properties"]
    return props


# -- the email and the notes on the wire -----------------------------------------------------


def test_a_draft_task_holds_the_email_and_the_notes_in_their_own_properties(
    connector: HubSpotConnector,
) -> None:
    ((task_id, _, _),) = _tasks(connector, 1)
    props = _read_task(connector, task_id, "hs_task_body", "leadloop_email_subject",
                       "leadloop_review_notes", "hs_task_subject")
    assert props["hs_task_body"] == "Hi Ana,\nshall we talk?"
    assert props["leadloop_email_subject"] == "Quick question"
    assert props["leadloop_review_notes"] == NOTES
    assert props["hs_task_subject"] == "Review the draft"


def test_a_score_change_task_has_no_email(connector: HubSpotConnector) -> None:
    lead = _leads(connector)[0]
    (result,) = connector.upsert_review_tasks([ReviewTaskRequest(
        proposal_key="s1", kind=ProposalKind.SCORE_OVERRIDE, lead_crm_id=lead.crm_id,
        owner_id=str(lead.fields["owner_id"]), subject="Score change to review",
        notes="Proposed score 82", due_date=date(2025, 6, 8), proposed_score=82)])
    props = _read_task(connector, str(result.task_id), "hs_task_body",
                       "leadloop_email_subject", "leadloop_review_notes")
    assert not props["hs_task_body"] and not props["leadloop_email_subject"]
    assert props["leadloop_review_notes"] == "Proposed score 82"
    change = {c.proposal_key: c for c in connector.fetch_task_changes(since=None)}["s1"]
    assert (change.email_subject, change.email_body) == ("", "")


def test_reading_tasks_back_never_asks_for_the_review_notes() -> None:
    assert "leadloop_review_notes" not in TASK_READ_PROPERTIES
    assert {"hs_task_body", "leadloop_email_subject", "leadloop_outcome",
            "hubspot_owner_id"} <= set(TASK_READ_PROPERTIES)


def test_notes_a_rep_rewrote_are_never_read_as_the_email(
    connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    ((task_id, _, owner),) = _tasks(connector, 1)
    crm.approve_task(str(sandbox_id("T", task_id)), by=str(sandbox_id("U", owner)),
                     description=f"{NOTES}\n- - - my own line, no marker at all")
    (change,) = connector.fetch_task_changes(since=None)
    assert change.decision is TaskDecision.APPROVED
    assert change.email_body == "Hi Ana,\nshall we talk?"
    assert "Score 80" not in f"{change.email_subject} {change.email_body}"


# -- reading back the decision -------------------------------------------------------------


def _obj(**props: str) -> dict[str, Any]:
    return {"id": "7", "properties": {"leadloop_proposal_id": "p7",
                                      "hs_lastmodifieddate": "1748779200123", **props}}


@pytest.mark.parametrize(("props", "decision"), [
    ({"hs_task_status": "COMPLETED"}, TaskDecision.APPROVED),
    ({"hs_task_status": "COMPLETED", "leadloop_outcome": "expired"}, None),
    ({"hs_task_status": "COMPLETED", "leadloop_outcome": "someone's own option"}, None),
    ({"hs_task_status": "COMPLETED", "leadloop_decision": "MAYBE"}, None),
    ({"hs_task_status": "COMPLETED", "leadloop_decision": "REJECTED",
      "leadloop_outcome": "rejected"}, TaskDecision.REJECTED),
    ({"hs_task_status": "COMPLETED", "leadloop_decision": "APPROVED",
      "leadloop_outcome": "sent"}, TaskDecision.APPROVED),
    ({"hs_task_status": "NOT_STARTED"}, None),
    ({"hs_task_status": "IN_PROGRESS", "leadloop_decision": "REJECTED"},
     TaskDecision.REJECTED),
])
def test_the_decision_rule_on_hubspot_properties(
    props: dict[str, str], decision: TaskDecision | None
) -> None:
    change = task_change(_obj(**props))
    assert change is not None and change.decision is decision


def test_a_leadloop_outcome_reads_back_and_an_unknown_one_is_none() -> None:
    change = task_change(_obj(hs_task_status="COMPLETED", leadloop_outcome="superseded",
                              hubspot_owner_id="3"))
    assert change is not None
    assert (change.outcome, change.owner_id, change.decided_by) == (
        TaskOutcome.SUPERSEDED, "3", None)
    odd = task_change(_obj(hs_task_status="COMPLETED", leadloop_outcome="odd"))
    assert odd is not None and odd.outcome is None and odd.decision is None


def test_reopening_clears_what_the_refused_decision_left_behind() -> None:
    update = TaskUpdate("7", "p7", "3", open=True, decision=TaskDecision.APPROVED,
                        outcome=TaskOutcome.APPROVED, note="refused: the email is empty")
    assert update_input(update) == {"id": "7", "properties": {
        "hs_task_status": "NOT_STARTED", "hubspot_owner_id": "3",
        "leadloop_note": "refused: the email is empty", "leadloop_decision": "",
        "leadloop_outcome": "", "leadloop_reason": "", "leadloop_final_score": ""}}


# -- update_review_tasks ----------------------------------------------------------------------


def test_updating_250_tasks_takes_three_calls(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    tasks = _tasks(connector, 250)
    before = face.counters.by_route.get(UPDATE, 0)
    results = connector.update_review_tasks([_close(t) for t in tasks])
    assert face.counters.by_route[UPDATE] - before == 3
    assert [r.crm_id for r in results] == [t[0] for t in tasks]
    assert all(r.ok and r.error is None for r in results)
    closed = crm.list_tasks(status="Completed")
    assert len(closed) == 250 and {t.outcome for t in closed} == {"expired"}


def test_a_207_on_update_fails_only_those_records(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    tasks = _tasks(connector, 4)
    face.faults.partial_failure_keys = {"p1"}
    before = face.counters.by_route.get(UPDATE, 0)
    unknown = _close(("999999", "p-x", tasks[0][2]))
    results = connector.update_review_tasks([_close(t) for t in tasks] + [unknown])
    assert face.counters.by_route[UPDATE] - before == 1  # per-record errors: no split
    assert [r.ok for r in results] == [True, False, True, True, False]
    assert "injected failure" in str(results[1].error)
    assert "999999" in str(results[4].error)
    assert crm.get_task(str(sandbox_id("T", tasks[1][0]))).status == "Not Started"
    assert crm.get_task(str(sandbox_id("T", tasks[2][0]))).outcome == "expired"
    # The failed one is written by the next push, as the outbox would retry it.
    (retried,) = connector.update_review_tasks([_close(tasks[1])])
    assert retried.ok


def test_a_batch_refused_whole_is_split_to_find_the_bad_record(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    tasks = _tasks(connector, 8)
    updates = [_close(t) for t in tasks]
    updates[5] = _close(tasks[5], owner_id="424242")  # no such owner: HubSpot's 400
    results = connector.update_review_tasks(updates)
    assert [r.ok for r in results] == [True] * 5 + [False] + [True] * 2
    assert "424242" in str(results[5].error) and results[5].crm_id == tasks[5][0]
    assert crm.get_task(str(sandbox_id("T", tasks[5][0]))).status == "Not Started"
    assert sum(t.status == "Completed" for t in crm.list_tasks()) == 7


def test_ids_that_cannot_be_hubspot_ids_are_refused_without_a_call(
    face: HubSpotFace, connector: HubSpotConnector
) -> None:
    tasks = _tasks(connector, 1)
    before = face.counters.calls
    results = connector.update_review_tasks([
        _close(("T000001", "p0", tasks[0][2])), _close(tasks[0], owner_id="U000002")])
    assert [r.ok for r in results] == [False, False]
    assert "numbers" in str(results[0].error) and "owner" in str(results[1].error)
    assert face.counters.calls == before


def test_one_task_twice_in_a_batch_is_sent_once_and_the_last_update_wins(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    (task,) = _tasks(connector, 1)
    results = connector.update_review_tasks([
        _close(task, outcome=TaskOutcome.EXPIRED),
        _close(task, outcome=TaskOutcome.SUPERSEDED, note="a newer draft replaced it")])
    assert [r.ok for r in results] == [True, True]
    stored = crm.get_task(str(sandbox_id("T", task[0])))
    assert (stored.outcome, stored.note) == ("superseded", "a newer draft replaced it")


def test_close_reassign_and_reopen_read_back_with_owner_outcome_and_note(
    connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    (task,) = _tasks(connector, 1)
    other = next(o.owner_id for o in connector.list_owners() if o.owner_id != task[2])
    connector.update_review_tasks([TaskUpdate(task[0], task[1], other, open=True,
                                              decision=None, outcome=None,
                                              note="needs the manager's approval")])
    props = _read_task(connector, task[0], "leadloop_note", "hubspot_owner_id")
    assert props == {"leadloop_note": "needs the manager's approval",
                     "hubspot_owner_id": other}
    connector.update_review_tasks([_close(task, owner_id=other,
                                          decision=TaskDecision.REJECTED,
                                          outcome=TaskOutcome.REJECTED)])
    (change,) = connector.fetch_task_changes(since=None)
    assert (change.status, change.decision, change.outcome, change.owner_id) == (
        TaskStatus.COMPLETED, TaskDecision.REJECTED, TaskOutcome.REJECTED, other)


def test_an_update_rides_out_a_429_and_a_503(
    face: HubSpotFace, connector: HubSpotConnector
) -> None:
    tasks = _tasks(connector, 2)
    face.faults.burst_429, face.faults.retry_after_s, face.faults.server_errors = 1, 0, 1
    assert all(r.ok for r in connector.update_review_tasks([_close(t) for t in tasks]))
    assert face.counters.rate_limited == 1 and face.counters.server_errors == 1


def test_the_face_refuses_an_outcome_that_is_not_an_option(
    connector: HubSpotConnector,
) -> None:
    (task,) = _tasks(connector, 1)
    with pytest.raises(HubSpotError, match="not one of the allowed options"):
        connector.transport.call("update", connector.transport.tasks_batch.update, {
            "inputs": [{"id": task[0], "properties": {
                "hs_task_status": "COMPLETED", "leadloop_outcome": "EXPIRED"}}]})


# -- fetch_leads_by_id ------------------------------------------------------------------------


def test_leads_by_id_read_100_a_call_and_skip_the_archived_call_when_all_are_live(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    crm.seed(220, seed=11)  # 250 contacts in all
    ids = [r.crm_id for r in _leads(connector)]
    before = face.counters.by_route.get(READ_CONTACTS, 0)
    found = connector.fetch_leads_by_id(list(reversed(ids)))
    assert face.counters.by_route[READ_CONTACTS] - before == 3
    assert [r.crm_id for r in found] == list(reversed(ids))
    assert not any(r.deleted for r in found)


def test_archived_contacts_come_back_deleted_and_unknown_ids_are_left_out(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    leads = _leads(connector)
    for lead in leads[:3]:
        crm.delete_lead(str(sandbox_id("L", lead.crm_id)))
    asked = [leads[0].crm_id, leads[5].crm_id, "999999", "not-a-number", leads[1].crm_id,
             leads[5].crm_id, leads[2].crm_id]
    before = face.counters.by_route.get(READ_CONTACTS, 0)
    found = connector.fetch_leads_by_id(asked)
    assert face.counters.by_route[READ_CONTACTS] - before == 2  # live, then archived
    assert [(r.crm_id, r.deleted) for r in found] == [
        (leads[0].crm_id, True), (leads[5].crm_id, False), (leads[1].crm_id, True),
        (leads[2].crm_id, True)]
    deleted_at = crm.get_lead(str(sandbox_id("L", leads[0].crm_id)))["modified_at"]
    assert found[0].modified_at == deleted_at
    live = found[1]
    assert live.fields == next(r for r in leads if r.crm_id == live.crm_id).fields


def test_the_face_reads_archived_contacts_only_when_asked(
    connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    lead = _leads(connector)[0]
    crm.delete_lead(str(sandbox_id("L", lead.crm_id)))
    request = {"inputs": [{"id": lead.crm_id}], "properties": ["email"]}
    status, live = connector.transport.call(
        "read", connector.transport.contacts_batch.read, request)
    assert status == 207 and live["results"] == []
    _, archived = connector.transport.call(
        "read", connector.transport.contacts_batch.read, request, archived=True)
    (contact,) = archived["results"]
    assert contact["archived"] is True and contact["id"] == hubspot_id(
        str(sandbox_id("L", lead.crm_id)))


# -- an account set up by the previous version -------------------------------------------------

NEW_TASK_PROPERTIES = {"leadloop_email_subject", "leadloop_review_notes", "leadloop_outcome",
                       "leadloop_note"}


@pytest.fixture
def old_account(face: HubSpotFace) -> HubSpotConnector:
    """A connector to an account whose properties predate the email and outcome fields."""
    from connectors.hubspot.properties import GROUP, required_properties
    from tests.connectors.hubspot.contract import face_config

    made = HubSpotConnector(face_config(face))
    for kind in ("contacts", "tasks", "emails"):
        made.transport.call("group", made.transport.groups.create, kind,
                            {"name": GROUP, "label": "leadloop"})
    for spec in required_properties():
        if spec.name not in NEW_TASK_PROPERTIES:
            made.transport.call("create", made.transport.properties.create, spec.object_type,
                                spec.definition())
    return made


def test_before_setup_is_rerun_a_refused_batch_costs_one_call_and_says_what_to_do(
    face: HubSpotFace, old_account: HubSpotConnector, crm: SandboxCRM
) -> None:
    assert {s.name for s in old_account.missing_properties()} == NEW_TASK_PROPERTIES
    leads = _leads(old_account)[:6]
    before = face.counters.calls
    created = old_account.upsert_review_tasks([_draft(f"p{i}", r) for i, r in enumerate(leads)])
    assert face.counters.calls - before == 1  # not halved down to single records
    assert all(not r.created and "leadloop hubspot setup" in str(r.error) for r in created)
    assert crm.list_tasks() == []
    # Tasks the previous version made, before the upgrade: updating them fails alike.
    made = crm.create_review_tasks([ReviewTaskRequest(
        proposal_key=f"old{i}", kind=ProposalKind.DRAFT,
        lead_crm_id=str(sandbox_id("L", r.crm_id)),
        owner_id=str(sandbox_id("U", str(r.fields["owner_id"]))), subject="Review",
        notes="", due_date=date(2025, 6, 8)) for i, r in enumerate(leads)])
    tasks = [(hubspot_id(str(m.task_id)), m.proposal_key, str(r.fields["owner_id"]))
             for m, r in zip(made, leads, strict=True)]
    before = face.counters.calls
    updated = old_account.update_review_tasks([_close(t) for t in tasks])
    assert face.counters.calls - before == 1
    assert all(not r.ok and "leadloop_outcome" in str(r.error)
               and "leadloop hubspot setup" in str(r.error) for r in updated)
    old_account.setup()
    assert all(r.ok for r in old_account.update_review_tasks([_close(t) for t in tasks]))
