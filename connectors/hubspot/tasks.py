"""Review tasks on HubSpot's wire: what leadloop writes onto a task, and how it reads one back.

Pure mapping, no calls: the connector sends what these functions build and hands what
HubSpot returns to them. The property names are in :mod:`connectors.hubspot.properties`.

- A draft's email travels in fields of its own: ``hs_task_body`` is the email body the rep
  edits, ``leadloop_email_subject`` its subject. A score change has no email, so both stay
  empty. The notes for the rep go to ``leadloop_review_notes``, which is never asked for
  when tasks are read back, so no edit of a rep's can make them part of an email.
- leadloop's updates set a task whole (status, decision, outcome, owner, note), so applying
  one twice leaves the task as once.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

from connectors.base import (
    ProposalKind,
    ReviewTaskRequest,
    TaskChange,
    TaskDecision,
    TaskOutcome,
    TaskStatus,
    TaskUpdate,
)
from connectors.hubspot.properties import (
    DECISION_PROPERTY,
    EMAIL_BODY_PROPERTY,
    EMAIL_SUBJECT_PROPERTY,
    FINAL_SCORE_PROPERTY,
    NOTE_PROPERTY,
    OUTCOME_PROPERTY,
    PROPOSAL_PROPERTY,
    PROPOSED_SCORE_PROPERTY,
    REASON_PROPERTY,
    REVIEW_NOTES_PROPERTY,
    TASK_PROPERTIES,
    TASK_TO_CONTACT,
)
from connectors.hubspot.wire import from_hubspot_time, int_or_none, to_ms

MAX_SUBJECT_CHARS = 255
TASK_STATUS = {"NOT_STARTED": TaskStatus.NOT_STARTED, "IN_PROGRESS": TaskStatus.IN_PROGRESS,
               "WAITING": TaskStatus.IN_PROGRESS, "COMPLETED": TaskStatus.COMPLETED,
               "DEFERRED": TaskStatus.DEFERRED}
# What reading tasks back asks for. Never the review notes: what is not read cannot leak.
TASK_READ_PROPERTIES: tuple[str, ...] = (
    *(spec.name for spec in TASK_PROPERTIES if spec.name != REVIEW_NOTES_PROPERTY),
    EMAIL_BODY_PROPERTY, "hs_task_status", "hs_task_type", "hubspot_owner_id",
    "hs_lastmodifieddate", "hs_createdate",
)
_TAG = re.compile(r"<[^>]+>")


def task_problem(task: ReviewTaskRequest) -> str | None:
    """Why HubSpot would refuse to create this task, found before any call; None if fine."""
    if not task.proposal_key or not task.proposal_key.strip():
        return "proposal_key is empty; every review task needs one"
    if not task.subject or not task.subject.strip():
        return "subject is empty; every task needs one"
    if len(task.subject.strip()) > MAX_SUBJECT_CHARS:
        return f"subject is {len(task.subject.strip()):,} characters; at most 255"
    if not task.lead_crm_id.isdigit():
        return f"contact {task.lead_crm_id} not found: HubSpot contact ids are numbers"
    return None


def task_input(task: ReviewTaskRequest) -> dict[str, Any]:
    """One input of the tasks batch create: the task, its properties, its contact."""
    due = datetime.combine(task.due_date, datetime.min.time(), UTC)
    properties: dict[str, str] = {
        "hs_task_subject": task.subject.strip(), "hs_task_status": "NOT_STARTED",
        "hs_task_type": "EMAIL" if task.kind is ProposalKind.DRAFT else "TODO",
        "hubspot_owner_id": task.owner_id, "hs_timestamp": str(to_ms(due)),
        PROPOSAL_PROPERTY: task.proposal_key, REVIEW_NOTES_PROPERTY: task.notes,
    }
    if task.kind is ProposalKind.DRAFT:
        properties[EMAIL_SUBJECT_PROPERTY] = task.email_subject
        properties[EMAIL_BODY_PROPERTY] = task.email_body
    if task.proposed_score is not None:
        properties[PROPOSED_SCORE_PROPERTY] = str(task.proposed_score)
    return {"properties": properties, "objectWriteTraceId": task.proposal_key,
            "associations": [{"to": {"id": task.lead_crm_id}, "types": [{
                "associationCategory": "HUBSPOT_DEFINED",
                "associationTypeId": TASK_TO_CONTACT}]}]}


def update_problem(update: TaskUpdate) -> str | None:
    """Why HubSpot would refuse this update, found before any call; None if fine."""
    if not update.task_id.isdigit():
        return f"task {update.task_id} not found: HubSpot task ids are numbers"
    if not update.owner_id.isdigit():
        return f"owner {update.owner_id} not found: HubSpot owner ids are numbers"
    return None


def update_input(update: TaskUpdate) -> dict[str, Any]:
    """One input of the tasks batch update: every property the update sets.

    An empty value clears a property in HubSpot. Reopening clears the decision, outcome,
    reason and final score the refused decision left behind, as the sandbox does.
    """
    properties: dict[str, str] = {
        "hs_task_status": "NOT_STARTED" if update.open else "COMPLETED",
        "hubspot_owner_id": update.owner_id, NOTE_PROPERTY: update.note,
    }
    if update.open:
        properties.update({DECISION_PROPERTY: "", OUTCOME_PROPERTY: "", REASON_PROPERTY: "",
                           FINAL_SCORE_PROPERTY: ""})
    else:
        properties[DECISION_PROPERTY] = update.decision.value.upper() if update.decision else ""
        properties[OUTCOME_PROPERTY] = update.outcome.value if update.outcome else ""
    return {"id": update.task_id, "properties": properties}


def body_text(body: str) -> str:
    """A task body as text: HubSpot's editor saves HTML when a rep edits the body."""
    if not _TAG.search(body) or not re.search(r"</?(p|br|div|span|b|i|strong|em)\b", body):
        return body
    text = re.sub(r"<br\s*/?>", "\n", body, flags=re.IGNORECASE)
    text = re.sub(r"</(p|div)>", "\n", text, flags=re.IGNORECASE)
    return html.unescape(_TAG.sub("", text)).strip("\n")


def _status(props: dict[str, Any]) -> TaskStatus:
    return TASK_STATUS.get(str(props.get("hs_task_status") or "NOT_STARTED"),
                           TaskStatus.NOT_STARTED)


def _outcome(props: dict[str, Any]) -> TaskOutcome | None:
    try:
        return TaskOutcome(str(props.get(OUTCOME_PROPERTY) or "").strip().lower())
    except ValueError:
        return None


def decision_of(props: dict[str, Any]) -> TaskDecision | None:
    """The decision a task's properties hold, by the rule of :class:`TaskChange`."""
    marked = str(props.get(DECISION_PROPERTY) or "").strip().upper()
    if marked == "REJECTED":
        return TaskDecision.REJECTED
    if marked == "APPROVED":
        return TaskDecision.APPROVED
    # Completing a review task approves it, unless leadloop closed it. Any value at all in
    # either field, even one leadloop does not know, means this was not a plain approval:
    # reading it as one could send an email nobody approved.
    if (_status(props) is TaskStatus.COMPLETED and not marked
            and not str(props.get(OUTCOME_PROPERTY) or "").strip()):
        return TaskDecision.APPROVED
    return None


def wants_rep_score(obj: dict[str, Any]) -> bool:
    """An approved score change task with no final score of its own."""
    props: dict[str, Any] = obj.get("properties") or {}
    return (decision_of(props) is TaskDecision.APPROVED
            and int_or_none(props.get(FINAL_SCORE_PROPERTY)) is None
            and int_or_none(props.get(PROPOSED_SCORE_PROPERTY)) is not None)


def task_change(obj: dict[str, Any], *, rep_score: int | None = None) -> TaskChange | None:
    """A task read back as a :class:`TaskChange`; None for a task with no proposal id.

    Args:
        obj: the task as HubSpot returned it, with :data:`TASK_READ_PROPERTIES`.
        rep_score: the contact's rep score, when it was set for this task.
    """
    props: dict[str, Any] = obj.get("properties") or {}
    key = props.get(PROPOSAL_PROPERTY)
    stamp = from_hubspot_time(props.get("hs_lastmodifieddate")) or from_hubspot_time(
        obj.get("updatedAt"))
    if not key or stamp is None:
        return None
    decision = decision_of(props)
    final_score = int_or_none(props.get(FINAL_SCORE_PROPERTY))
    if decision is TaskDecision.APPROVED and final_score is None:
        final_score = rep_score if rep_score is not None else int_or_none(
            props.get(PROPOSED_SCORE_PROPERTY))
    owner = props.get("hubspot_owner_id")
    return TaskChange(
        task_id=str(obj["id"]), proposal_key=str(key), status=_status(props),
        modified_at=stamp, decision=decision,
        email_subject=str(props.get(EMAIL_SUBJECT_PROPERTY) or ""),
        email_body=body_text(str(props.get(EMAIL_BODY_PROPERTY) or "")),
        final_score=final_score, reason=props.get(REASON_PROPERTY) or None,
        # HubSpot keeps no "completed by": the task's owner is who decided it.
        decided_by=str(owner) if decision and owner else None,
        owner_id=str(owner) if owner else None, outcome=_outcome(props),
    )
