"""Review Tasks on Salesforce: the email in its own fields, the decision rule, leadloop's
updates through sObject Collections and leads read back by id.

Wire-level cases are patched at the HTTP boundary with ``responses``; the rest run the real
connector against the sandbox's Salesforce face.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses
from pydantic import SecretStr

from connectors.base import (
    ProposalKind,
    ReviewTaskRequest,
    TaskDecision,
    TaskOutcome,
    TaskStatus,
    TaskUpdate,
)
from connectors.salesforce import SalesforceConnector, records
from connectors.salesforce.check import check_org
from connectors.salesforce.config import SalesforceConfig, SessionCredentials, TaskFields
from connectors.salesforce.connector import COLLECTION_SIZE, ID_BATCH
from connectors.salesforce.sandbox_link import connect_to_sandbox
from connectors.sandbox import SandboxCRM, generate_leads

INSTANCE = "https://acme.my.salesforce.com"
API = f"{INSTANCE}/services/data/v61.0"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
STAMP = "2025-06-01T12:00:00.000+0000"
NEW_TASK_FIELDS = ("LeadLoop_Email_Subject__c", "LeadLoop_Email_Body__c",
                   "LeadLoop_Outcome__c", "LeadLoop_Note__c")


def _session_connector(**overrides: Any) -> SalesforceConnector:
    config = SalesforceConfig(auth="session", session=SessionCredentials(
        session_id=SecretStr("00Dtoken"), instance_url=INSTANCE), retry_wait_s=0, **overrides)
    return SalesforceConnector(config, http=requests.Session(), sleep=lambda _s: None)


def _task_id(n: int) -> str:
    return f"00T{n:015d}"


def _update(n: int, *, open: bool = False, note: str = "expired in leadloop") -> TaskUpdate:
    return TaskUpdate(task_id=_task_id(n), proposal_key=f"p{n}", owner_id="005000000000001AAA",
                      open=open, decision=None, outcome=None if open else TaskOutcome.EXPIRED,
                      note=note)


def _sent_records(call: Any) -> list[dict[str, Any]]:
    body = json.loads(call.request.body or b"{}")
    assert body["allOrNone"] is False
    records_: list[dict[str, Any]] = body["records"]
    return records_


# -- the decision rule ------------------------------------------------------------------


def _task(**fields: Any) -> dict[str, Any]:
    return {"Id": "00T1", "SystemModstamp": STAMP, "Status": "Not Started", "IsClosed": False,
            "OwnerId": "0051", "LastModifiedById": "0052",
            "LeadLoop_Proposal_Id__c": "p1", "LeadLoop_Kind__c": "draft", **fields}


COMPLETED = {"Status": "Completed", "IsClosed": True}


@pytest.mark.parametrize(("fields", "decision"), [
    ({}, None),  # open
    ({"LeadLoop_Decision__c": "Approved"}, TaskDecision.APPROVED),  # set before completing
    (COMPLETED, TaskDecision.APPROVED),  # a rep completed it: approval
    ({**COMPLETED, "LeadLoop_Decision__c": "Approved"}, TaskDecision.APPROVED),
    ({**COMPLETED, "LeadLoop_Decision__c": "Rejected"}, TaskDecision.REJECTED),
    ({**COMPLETED, "LeadLoop_Outcome__c": "expired"}, None),  # leadloop closed it
    ({**COMPLETED, "LeadLoop_Outcome__c": "superseded"}, None),
    ({**COMPLETED, "LeadLoop_Outcome__c": "sent", "LeadLoop_Decision__c": "Approved"},
     TaskDecision.APPROVED),
    ({**COMPLETED, "LeadLoop_Outcome__c": "rejected", "LeadLoop_Decision__c": "Rejected"},
     TaskDecision.REJECTED),
    ({**COMPLETED, "LeadLoop_Decision__c": "Maybe later"}, None),  # not a decision we know
    ({**COMPLETED, "LeadLoop_Outcome__c": "archived"}, None),  # not an outcome we know
    ({"Status": "Closed - Done", "IsClosed": True}, TaskDecision.APPROVED),  # org's own value
])
def test_decision_rule(fields: dict[str, Any], decision: TaskDecision | None) -> None:
    change = records.task_change(_task(**fields), SalesforceConfig())
    assert change is not None and change.decision is decision


def test_a_task_leadloop_closed_has_its_outcome_and_no_decider() -> None:
    change = records.task_change(_task(**COMPLETED, LeadLoop_Outcome__c="expired"),
                                 SalesforceConfig())
    assert change is not None
    assert (change.status, change.outcome, change.decided_by) == (
        TaskStatus.COMPLETED, TaskOutcome.EXPIRED, None)
    rep = records.task_change(_task(**COMPLETED), SalesforceConfig())
    assert rep is not None and rep.decided_by == "0052" and rep.outcome is None


def test_the_email_is_read_from_its_fields_never_from_the_description() -> None:
    change = records.task_change(_task(
        **COMPLETED, Description="Score 80\n- - - Internal: they hate us\nHi Ana",
        LeadLoop_Email_Subject__c="Tuesday?", LeadLoop_Email_Body__c="Hi Ana,\r\nTuesday?"),
        SalesforceConfig())
    assert change is not None
    assert (change.email_subject, change.email_body, change.owner_id) == (
        "Tuesday?", "Hi Ana,\nTuesday?", "0051")
    assert "Description" not in records.task_select(SalesforceConfig())


def test_configured_task_field_names_are_used() -> None:
    config = SalesforceConfig(task_fields=TaskFields(
        email_subject="Mail_Subject__c", email_body="Mail_Body__c", outcome="Result__c",
        note="Why__c"))
    change = records.task_change(_task(**COMPLETED, Mail_Subject__c="S", Mail_Body__c="B",
                                       Result__c="cancelled"), config)
    assert change is not None
    assert (change.email_subject, change.email_body, change.outcome, change.decision) == (
        "S", "B", TaskOutcome.CANCELLED, None)
    written = records.update_record(_update(1, note="n"), config)
    assert {"Result__c", "Why__c"} <= set(written)


# -- creating review tasks --------------------------------------------------------------


@responses.activate
def test_a_draft_is_created_with_the_email_in_its_fields_and_notes_in_the_description(
) -> None:
    create = responses.post(f"{API}/composite/sobjects", json=[
        {"id": "00T000000000001AAA", "success": True, "errors": []},
        {"id": "00T000000000002AAA", "success": True, "errors": []}])
    _session_connector().upsert_review_tasks([
        ReviewTaskRequest("p1", ProposalKind.DRAFT, "00Q1", "0051", "Review draft",
                          "Score 80 (tier A)", date(2025, 6, 3), email_subject="Hello",
                          email_body="Hi Ana,\nshall we talk?"),
        ReviewTaskRequest("s1", ProposalKind.SCORE_OVERRIDE, "00Q2", "0051", "Score change",
                          "Proposed 82", date(2025, 6, 3), proposed_score=82)])
    draft, override = _sent_records(create.calls[0])
    assert draft["Description"] == "Score 80 (tier A)"
    assert (draft["LeadLoop_Email_Subject__c"], draft["LeadLoop_Email_Body__c"]) == (
        "Hello", "Hi Ana,\nshall we talk?")
    assert "LeadLoop_Email_Body__c" not in override
    assert override["LeadLoop_Proposed_Score__c"] == 82


def test_an_email_too_long_for_its_field_is_refused_before_a_call() -> None:
    connector = _session_connector()
    (result,) = connector.upsert_review_tasks([ReviewTaskRequest(
        "p1", ProposalKind.DRAFT, "00Q1", "0051", "Review", "notes", date(2025, 6, 3),
        email_subject="x" * 256, email_body="Hi")])
    assert result.task_id is None and "email_subject is 256 characters" in str(result.error)
    assert connector.api_calls == 0


# -- leadloop's updates -----------------------------------------------------------------


def _per_record_answer(refuse: set[str]) -> Any:
    """A Collections update answer: success, except the ids in ``refuse``."""

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        out = []
        for record in body["records"]:
            if record["id"] in refuse:
                out.append({"id": record["id"], "success": False, "errors": [{
                    "statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted",
                    "fields": []}]})
            else:
                out.append({"id": record["id"], "success": True, "errors": []})
        return 200, {}, json.dumps(out)

    return answer


@responses.activate
def test_updating_450_tasks_costs_three_calls_and_reports_refusals_per_record() -> None:
    refused = {_task_id(7), _task_id(333)}
    responses.add_callback(responses.PATCH, f"{API}/composite/sobjects",
                           callback=_per_record_answer(refused))
    connector = _session_connector()
    updates = [_update(n) for n in range(450)]
    results = connector.update_review_tasks(updates)
    calls = [c for c in responses.calls if c.request.method == "PATCH"]
    assert len(calls) == math.ceil(450 / COLLECTION_SIZE) == 3
    assert [len(_sent_records(c)) for c in calls] == [200, 200, 50]
    assert [r.crm_id for r in results] == [u.task_id for u in updates]
    assert {r.crm_id for r in results if not r.ok} == refused
    assert all(r.error is None for r in results if r.ok)
    bad = next(r for r in results if r.crm_id == _task_id(333))
    assert bad.error is not None and "ENTITY_IS_DELETED" in bad.error
    assert _task_id(333) in bad.error


@responses.activate
def test_an_update_sets_the_task_whole() -> None:
    patch = responses.add_callback(responses.PATCH, f"{API}/composite/sobjects",
                                   callback=_per_record_answer(set()))
    connector = _session_connector()
    closing = TaskUpdate(_task_id(1), "p1", "0051", open=False,
                         decision=TaskDecision.REJECTED, outcome=TaskOutcome.REJECTED,
                         note="rejected in leadloop by U3")
    connector.update_review_tasks([closing, _update(2, open=True, note="")])
    closed, reopened = _sent_records(patch.calls[0])
    assert closed == {"attributes": {"type": "Task"}, "id": _task_id(1), "OwnerId": "0051",
                      "Status": "Completed", "LeadLoop_Decision__c": "Rejected",
                      "LeadLoop_Outcome__c": "rejected",
                      "LeadLoop_Note__c": "rejected in leadloop by U3"}
    # Reopening clears what the refused decision left; an empty note clears the last one.
    assert reopened["Status"] == "Not Started"
    for name in ("LeadLoop_Decision__c", "LeadLoop_Outcome__c", "LeadLoop_Reason__c",
                 "LeadLoop_Final_Score__c", "LeadLoop_Note__c"):
        assert name in reopened and reopened[name] is None


@responses.activate
def test_a_task_updated_twice_in_one_batch_is_written_once_as_the_last_says() -> None:
    patch = responses.add_callback(responses.PATCH, f"{API}/composite/sobjects",
                                   callback=_per_record_answer(set()))
    first, last = _update(1, note="first"), _update(1, open=True, note="last")
    results = _session_connector().update_review_tasks([first, _update(2), last])
    (sent,) = [_sent_records(c) for c in patch.calls]
    assert [r["id"] for r in sent] == [_task_id(2), _task_id(1)]
    assert sent[1]["LeadLoop_Note__c"] == "last"
    assert [r.ok for r in results] == [True, True, True]


def test_a_malformed_task_id_fails_alone_without_a_call() -> None:
    connector = _session_connector()
    (result,) = connector.update_review_tasks([TaskUpdate(
        "NO-SUCH-TASK", "p1", "0051", open=False, decision=None, outcome=None, note="")])
    assert not result.ok and "not a Salesforce Task id" in str(result.error)
    assert connector.api_calls == 0


@responses.activate
def test_a_lock_on_one_task_is_retried_alone() -> None:
    answers = iter([
        [{"id": _task_id(1), "success": True, "errors": []},
         {"id": _task_id(2), "success": False, "errors": [
             {"statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked", "fields": []}]}],
        [{"id": _task_id(2), "success": True, "errors": []}],
    ])
    patch = responses.add_callback(
        responses.PATCH, f"{API}/composite/sobjects",
        callback=lambda _request: (200, {}, json.dumps(next(answers))))
    results = _session_connector().update_review_tasks([_update(1), _update(2)])
    assert [r.ok for r in results] == [True, True]
    assert [[r["id"] for r in _sent_records(c)] for c in patch.calls] == [
        [_task_id(1), _task_id(2)], [_task_id(2)]]


# -- leads by id ------------------------------------------------------------------------


def _lead_record(crm_id: str, *, deleted: bool = False) -> dict[str, Any]:
    return {"attributes": {"type": "Lead"}, "Id": crm_id, "IsDeleted": deleted,
            "SystemModstamp": STAMP, "Email": f"{crm_id.lower()}@x.example",
            "OwnerId": "0051", "HasOptedOutOfEmail": False}


def _ids_in(request: Any) -> list[str]:
    soql = parse_qs(urlparse(request.url).query)["q"][0]
    inside = soql[soql.index("Id IN (") + len("Id IN ("):soql.rindex(")")]
    return [part.strip().strip("'") for part in inside.split(",")]


@responses.activate
def test_leads_by_id_are_read_200_a_query_with_deletes_and_without_unknowns() -> None:
    ids = [f"00Q{n:015d}" for n in range(450)]
    deleted = {ids[5], ids[420]}

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        asked = _ids_in(request)
        known = [i for i in asked if i != ids[9]]  # one id Salesforce does not know
        return 200, {}, json.dumps({"totalSize": len(known), "done": True, "records": [
            _lead_record(i, deleted=i in deleted) for i in known]})

    query_all = responses.add_callback(responses.GET, f"{API}/queryAll/", callback=answer)
    asked = [*ids, ids[0], "bad id'); DELETE"]  # a repeat and an id no lead can have
    leads = _session_connector().fetch_leads_by_id(asked)
    assert len(query_all.calls) == math.ceil(450 / ID_BATCH) == 3
    batches = [_ids_in(c.request) for c in query_all.calls]
    assert [len(b) for b in batches] == [200, 200, 50]
    assert sum(batches, []) == ids
    assert all(len(str(c.request.url)) < 16_384 for c in query_all.calls)
    assert [r.crm_id for r in leads] == [i for i in ids if i != ids[9]]
    assert {r.crm_id for r in leads if r.deleted} == deleted
    assert leads[0].fields["email"] == f"{ids[0].lower()}@x.example"


@responses.activate
def test_a_15_character_id_finds_its_lead_under_the_18_character_id() -> None:
    responses.get(f"{API}/queryAll/", json={"totalSize": 1, "done": True, "records": [
        _lead_record("00Q000000000001AAA")]})
    (lead,) = _session_connector().fetch_leads_by_id(["00Q000000000001"])
    assert lead.crm_id == "00Q000000000001AAA"


def test_no_ids_make_no_call() -> None:
    connector = _session_connector()
    assert connector.fetch_leads_by_id([]) == []
    assert connector.api_calls == 0


# -- against the sandbox's face ---------------------------------------------------------


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[SandboxCRM]:
    sandbox = SandboxCRM(tmp_path / "sf.db")
    sandbox.seed(0)
    sandbox.add_leads(generate_leads(450, seed=4, now=NOW))
    yield sandbox
    sandbox.close()


@pytest.fixture
def sf(crm: SandboxCRM) -> Iterator[SalesforceConnector]:
    with connect_to_sandbox(crm, retry_wait_s=0) as connector:
        yield connector


def _face(sf: SalesforceConnector) -> Any:
    return sf.face  # type: ignore[attr-defined]


def test_closing_450_tasks_through_the_face_costs_three_calls(
    sf: SalesforceConnector, crm: SandboxCRM
) -> None:
    leads = crm.list_leads()
    created = sf.upsert_review_tasks([ReviewTaskRequest(
        f"p{n}", ProposalKind.DRAFT, lead["crm_id"], lead["owner_id"], "Review", "notes",
        date(2025, 6, 3), email_subject="Hi", email_body="Hello") for n, lead in enumerate(leads)])
    updates = [TaskUpdate(str(r.task_id), r.proposal_key, leads[n]["owner_id"], open=False,
                          decision=None, outcome=TaskOutcome.SUPERSEDED, note="superseded")
               for n, r in enumerate(created)]
    updates.insert(3, TaskUpdate("T999999", "p-gone", leads[0]["owner_id"], open=False,
                                 decision=None, outcome=TaskOutcome.EXPIRED, note=""))
    before = _face(sf).calls["composite"]
    results = sf.update_review_tasks(updates)
    assert _face(sf).calls["composite"] - before == math.ceil(len(updates) / 200) == 3
    assert [r.ok for r in results].count(False) == 1 and not results[3].ok
    assert "T999999" in str(results[3].error)
    assert {t.outcome for t in crm.list_tasks()} == {"superseded"}
    assert {t.note for t in crm.list_tasks()} == {"superseded"}
    again = sf.update_review_tasks(updates)  # idempotent
    assert [r.ok for r in again] == [r.ok for r in results]
    changes = list(sf.fetch_task_changes(since=None))
    assert len(changes) == len(leads)
    assert all(c.decision is None and c.outcome is TaskOutcome.SUPERSEDED for c in changes)


def test_the_face_refuses_a_task_update_outside_leadloops_fields(
    sf: SalesforceConnector, crm: SandboxCRM
) -> None:
    lead = crm.list_leads()[0]
    (created,) = sf.upsert_review_tasks([ReviewTaskRequest(
        "p1", ProposalKind.DRAFT, lead["crm_id"], lead["owner_id"], "Review", "notes",
        date(2025, 6, 3), email_subject="Hi", email_body="Hello")])
    (outcome,) = sf._collection("PATCH", [(0, {
        "attributes": {"type": "Task"}, "id": str(created.task_id),
        "LeadLoop_Email_Body__c": "something else"})], "test").values()
    assert not outcome["success"]
    assert outcome["errors"][0]["statusCode"] == "FIELD_NOT_UPDATEABLE"
    assert crm.get_task(str(created.task_id)).email_body == "Hello"


def test_leads_by_id_through_the_face_read_by_key_in_batches(
    sf: SalesforceConnector, crm: SandboxCRM
) -> None:
    ids = crm.list_lead_ids()
    crm.delete_lead(ids[10])
    sf.list_owners()
    before = _face(sf).calls["queryAll"]
    leads = sf.fetch_leads_by_id([*ids, "L999999"])
    assert _face(sf).calls["queryAll"] - before == math.ceil(451 / ID_BATCH) == 3
    assert [r.crm_id for r in leads] == ids
    assert [r.crm_id for r in leads if r.deleted] == [ids[10]]
    by_sync = {r.crm_id: r for r in sf.fetch_leads(since=None)}
    assert all(dict(r.fields) == dict(by_sync[r.crm_id].fields) for r in leads)


def test_check_lists_the_new_task_fields_with_their_types(crm: SandboxCRM) -> None:
    with connect_to_sandbox(crm) as sf:
        assert check_org(sf).missing == []
        _face(sf).missing_fields = set(NEW_TASK_FIELDS)
        missing = check_org(sf).missing
    assert [(m.sobject, m.api_name, m.field_type) for m in missing] == [
        ("Task", "LeadLoop_Email_Subject__c", "Text(255)"),
        ("Task", "LeadLoop_Email_Body__c", "Long Text Area(32768)"),
        ("Task", "LeadLoop_Outcome__c",
         "Picklist: approved, rejected, expired, superseded, cancelled, sent"),
        ("Task", "LeadLoop_Note__c", "Long Text Area(32768)"),
    ]
