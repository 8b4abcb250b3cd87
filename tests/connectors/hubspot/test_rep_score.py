"""A rep's own score on the contact (``leadloop_rep_score``), read back by reconcile."""

from __future__ import annotations

from datetime import date, timedelta

from connectors.base import ProposalKind, RawLead, ReviewTaskRequest, TaskChange, TaskDecision
from connectors.hubspot import HubSpotConnector
from connectors.sandbox import SandboxCRM
from connectors.sandbox.hubspot_face import HubSpotFace, sandbox_id


def _lead(connector: HubSpotConnector) -> RawLead:
    return next(iter(connector.fetch_leads(since=None)))


def _request(key: str, lead: RawLead, kind: ProposalKind) -> ReviewTaskRequest:
    return ReviewTaskRequest(
        proposal_key=key, kind=kind, lead_crm_id=lead.crm_id,
        owner_id=str(lead.fields["owner_id"]), subject="Score change to review",
        notes="Proposed score 82", due_date=date(2025, 6, 8),
        proposed_score=82 if kind is ProposalKind.SCORE_OVERRIDE else None,
        email_subject="Hello" if kind is ProposalKind.DRAFT else "",
        email_body="Hi" if kind is ProposalKind.DRAFT else "")


def _open_task(connector: HubSpotConnector, crm: SandboxCRM, lead: RawLead, key: str = "s1",
               kind: ProposalKind = ProposalKind.SCORE_OVERRIDE) -> str:
    (result,) = connector.upsert_review_tasks([_request(key, lead, kind)])
    assert result.created and result.task_id
    return str(sandbox_id("T", result.task_id))


def _change(connector: HubSpotConnector, key: str = "s1") -> TaskChange:
    return {c.proposal_key: c for c in connector.fetch_task_changes(since=None)}[key]


def _owner(lead: RawLead) -> str:
    return str(sandbox_id("U", str(lead.fields["owner_id"])))


def test_setup_creates_the_rep_score_property(connector: HubSpotConnector) -> None:
    assert connector.missing_properties() == []
    _, body = connector.transport.call("list", connector.transport.properties.get_all,
                                       "contacts")
    made = {p["name"]: p for p in body["results"]}["leadloop_rep_score"]
    assert (made["type"], made["groupName"]) == ("number", "leadloop")


def test_approved_score_change_takes_the_reps_contact_score(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    lead = _lead(connector)
    task_id = _open_task(connector, crm, lead)
    created = crm.get_task(task_id).created_at
    face.set_rep_score(lead.crm_id, 57, at=created + timedelta(seconds=1))
    crm.approve_task(task_id, by=_owner(lead))
    change = _change(connector)
    assert change.decision is TaskDecision.APPROVED and change.final_score == 57


def test_the_tasks_own_final_score_wins_over_the_contact_score(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    lead = _lead(connector)
    task_id = _open_task(connector, crm, lead)
    face.set_rep_score(lead.crm_id, 57, at=crm.get_task(task_id).created_at + timedelta(1))
    crm.set_final_score(task_id, by=_owner(lead), score=64)
    assert _change(connector).final_score == 64


def test_a_rep_score_set_before_the_task_was_created_is_ignored(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    lead = _lead(connector)
    task_id = _open_task(connector, crm, lead)
    face.set_rep_score(lead.crm_id, 40, at=crm.get_task(task_id).created_at - timedelta(days=3))
    crm.approve_task(task_id, by=_owner(lead))
    assert _change(connector).final_score == 82  # as proposed: 40 was for an older change


def test_a_cleared_rep_score_falls_back_to_the_proposed_score(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    lead = _lead(connector)
    task_id = _open_task(connector, crm, lead)
    created = crm.get_task(task_id).created_at
    face.set_rep_score(lead.crm_id, 57, at=created + timedelta(seconds=1))
    face.set_rep_score(lead.crm_id, None, at=created + timedelta(seconds=2))
    crm.approve_task(task_id, by=_owner(lead))
    assert _change(connector).final_score == 82


def test_a_rep_score_written_through_the_api_is_read_back(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    lead = _lead(connector)
    task_id = _open_task(connector, crm, lead)
    connector.transport.call("set the rep score", connector.transport.contacts.update,
                             lead.crm_id, {"properties": {"leadloop_rep_score": "61"}})
    crm.approve_task(task_id, by=_owner(lead))
    assert _change(connector).final_score == 61
    contact = next(c for c in connector.fetch_leads(since=None) if c.crm_id == lead.crm_id)
    assert "leadloop_rep_score" not in contact.fields  # not a lead field: reconcile's only


def test_open_rejected_and_draft_tasks_ignore_the_contact_score(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    leads = list(connector.fetch_leads(since=None))[:3]
    pending = _open_task(connector, crm, leads[0], "s-open")
    rejected = _open_task(connector, crm, leads[1], "s-rejected")
    draft = _open_task(connector, crm, leads[2], "d1", ProposalKind.DRAFT)
    for lead, task_id in zip(leads, (pending, rejected, draft), strict=True):
        face.set_rep_score(lead.crm_id, 33,
                           at=crm.get_task(task_id).created_at + timedelta(seconds=1))
    crm.reject_task(rejected, by=_owner(leads[1]), reason="no change needed")
    crm.approve_task(draft, by=_owner(leads[2]))
    before = dict(face.counters.by_route)
    changes = {c.proposal_key: c for c in connector.fetch_task_changes(since=None)}
    assert changes["s-open"].final_score is None and changes["s-open"].decision is None
    assert changes["s-rejected"].decision is TaskDecision.REJECTED
    assert changes["s-rejected"].final_score is None
    assert changes["d1"].final_score is None
    # Nothing asked for a contact score: no task needed one.
    route = "POST /crm/v4/associations/tasks/contacts/batch/read"
    assert face.counters.by_route.get(route, 0) == before.get(route, 0)


def test_many_approved_changes_cost_two_calls_per_hundred(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    leads = list(connector.fetch_leads(since=None))[:12]
    tasks = [_open_task(connector, crm, lead, f"s{n}") for n, lead in enumerate(leads)]
    for n, (lead, task_id) in enumerate(zip(leads, tasks, strict=True)):
        if n % 2 == 0:
            face.set_rep_score(lead.crm_id, 10 + n,
                               at=crm.get_task(task_id).created_at + timedelta(seconds=1))
        crm.approve_task(task_id, by=_owner(lead))
    before = dict(face.counters.by_route)
    changes = {c.proposal_key: c for c in connector.fetch_task_changes(since=None)}
    assert [changes[f"s{n}"].final_score for n in range(12)] == [
        10 + n if n % 2 == 0 else 82 for n in range(12)]
    for route in ("POST /crm/v4/associations/tasks/contacts/batch/read",
                  "POST /crm/v3/objects/contacts/batch/read"):
        assert face.counters.by_route[route] - before.get(route, 0) == 1
