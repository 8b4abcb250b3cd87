"""Salesforce records to leadloop's records and back, for REST JSON and Bulk 2.0 CSV alike."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from connectors.base import (
    ProposalKind,
    RawLead,
    ReviewTaskRequest,
    TaskChange,
    TaskDecision,
    TaskOutcome,
    TaskStatus,
    TaskUpdate,
)
from connectors.salesforce.config import SalesforceConfig

MAX_SUBJECT = 255
# An email log Task's send status (the send status picklist). Pending: logged, not yet
# handed to the mail system; Sending: handed over, outcome not yet recorded; Sent: gone;
# Failed: the mail system refused it. Pending and Failed may be sent; Sending may not.
SEND_PENDING = "Pending"
SEND_SENDING = "Sending"
SEND_SENT = "Sent"
SEND_FAILED = "Failed"
SEND_STATES = (SEND_PENDING, SEND_SENDING, SEND_SENT, SEND_FAILED)
MAX_DESCRIPTION = 32_000
MAX_EMAIL_SUBJECT = 255  # Text(255)
MAX_EMAIL_BODY = 32_768  # Long Text Area(32768)
MAX_NOTE = 32_768  # Long Text Area(32768)
# The decision picklist's values, as a rep sees them.
DECISION_VALUES = {TaskDecision.APPROVED: "Approved", TaskDecision.REJECTED: "Rejected"}
_SALESFORCE_ID = re.compile(r"^[A-Za-z0-9]{1,18}$")
_DUPLICATE_ID = re.compile(r"record with id: ?([A-Za-z0-9]+)")
_TASK_STATUS = {
    "Not Started": TaskStatus.NOT_STARTED,
    "In Progress": TaskStatus.IN_PROGRESS,
    "Completed": TaskStatus.COMPLETED,
    "Deferred": TaskStatus.DEFERRED,
    "Waiting on someone else": TaskStatus.IN_PROGRESS,
}
_INT_FIELDS = {"past_purchases"}
_FLOAT_FIELDS = {"lifetime_value"}
_BOOL_FIELDS = {"email_opt_out"}


def soql_datetime(moment: datetime) -> str:
    """A datetime as a SOQL literal (UTC, milliseconds, unquoted)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def soql_string(value: str) -> str:
    """A string as a quoted SOQL literal."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f"'{escaped}'"


def parse_datetime(value: Any) -> datetime | None:
    """A Salesforce datetime (``2025-06-01T12:00:00.000+0000`` or ``...Z``) as aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


def blank_to_none(record: Mapping[str, Any]) -> dict[str, Any]:
    """A Bulk 2.0 CSV row with its empty cells as None, as REST JSON gives them."""
    return {k: (None if v == "" else v) for k, v in record.items()}


def lead_select(config: SalesforceConfig) -> list[str]:
    """The Lead fields one sync reads: ours through the field map, plus the sync's own."""
    names = ["Id", "IsDeleted", "SystemModstamp"]
    for api_name in config.field_map.values():
        if api_name not in names:
            names.append(api_name)
    return names


def raw_lead(record: Mapping[str, Any], config: SalesforceConfig) -> RawLead | None:
    """A Lead record as a :class:`RawLead`; None when it has no usable Id or stamp.

    Values are converted only where the wire format hides their type (CSV text, JSON in a
    long text field); a value that is wrong stays wrong, for ``parse_lead`` to report.
    """
    crm_id = record.get("Id")
    modified_at = parse_datetime(record.get("SystemModstamp"))
    if not crm_id or modified_at is None:
        return None
    fields: dict[str, Any] = {}
    for ours, api_name in config.field_map.items():
        value = record.get(api_name)
        if (value is None or value == "") and ours != "email":
            # The Lead default applies, as for an empty field in any CRM; and Bulk 2.0's
            # CSV cannot tell an empty text from a null, so REST must not either.
            continue
        fields[ours] = _lead_value(ours, value, config)
    deleted = record.get("IsDeleted") in (True, "true", "True")
    return RawLead(crm_id=str(crm_id), modified_at=modified_at, fields=fields, deleted=deleted)


def _lead_value(ours: str, value: Any, config: SalesforceConfig) -> Any:
    if value is None:
        return None
    if ours == "events" and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value  # parse_lead names the field and what is expected
    if ours == "status" and isinstance(value, str):
        return config.status_map.get(value, value)
    if ours == "created_at":
        return parse_datetime(value) or value
    if isinstance(value, str):
        if ours in _BOOL_FIELDS and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if ours in _INT_FIELDS | _FLOAT_FIELDS | {"employees"}:
            try:
                number = float(value)
            except ValueError:
                return value
            if ours in _FLOAT_FIELDS:
                return number
            return int(number) if number.is_integer() else value
    if isinstance(value, float) and ours in _INT_FIELDS | {"employees"} and value.is_integer():
        return int(value)  # Salesforce sends Number(18, 0) custom fields as 3.0
    return value


def task_problem(request: ReviewTaskRequest) -> str | None:
    """Why Salesforce would refuse this task, found before spending a call on it."""
    if not request.proposal_key or not request.proposal_key.strip():
        return "proposal_key is empty; every review task needs one"
    if len(request.proposal_key) > 255:
        return "proposal_key is longer than the 255 characters its field holds"
    subject = request.subject.strip() if isinstance(request.subject, str) else ""
    if not subject:
        return "subject is empty; every task needs one"
    if len(subject) > MAX_SUBJECT:
        return f"subject is {len(subject):,} characters; at most {MAX_SUBJECT}"
    for name, text, limit in (("notes", request.notes, MAX_DESCRIPTION),
                              ("email_subject", request.email_subject, MAX_EMAIL_SUBJECT),
                              ("email_body", request.email_body, MAX_EMAIL_BODY)):
        if not isinstance(text, str):
            return f"{name} must be text"
        if len(text) > limit:
            return f"{name} is {len(text):,} characters; its Task field holds at most {limit:,}"
        if "\x00" in text:
            return f"{name} contains a NUL byte"
    if "\x00" in subject:
        return "subject contains a NUL byte"
    return None


def task_record(request: ReviewTaskRequest, config: SalesforceConfig) -> dict[str, Any]:
    """The Task a review request becomes, for a collections create.

    The email goes in its own two fields and the notes in the Description: nothing is
    ever read back out of the Description, so a rep's edit there cannot reach a prospect.
    """
    names = config.task_fields
    record: dict[str, Any] = {
        "attributes": {"type": "Task"},
        "WhoId": request.lead_crm_id,
        "OwnerId": request.owner_id,
        "Subject": request.subject.strip(),
        "Description": request.notes,
        "Status": config.task_status_open,
        "ActivityDate": request.due_date.isoformat(),
        names.proposal_id: request.proposal_key,
        names.kind: str(request.kind),
    }
    if request.email_subject:
        record[names.email_subject] = request.email_subject
    if request.email_body:
        record[names.email_body] = request.email_body
    if request.proposed_score is not None:
        record[names.proposed_score] = request.proposed_score
    return record


def update_problem(update: TaskUpdate) -> str | None:
    """Why this task update cannot be written, found before spending a call on it."""
    if not isinstance(update.task_id, str) or not _SALESFORCE_ID.match(update.task_id):
        return f"{update.task_id!r} is not a Salesforce Task id"
    if not isinstance(update.owner_id, str) or not _SALESFORCE_ID.match(update.owner_id):
        return f"owner {update.owner_id!r} is not a Salesforce User id"
    if not isinstance(update.note, str) or "\x00" in update.note:
        return "note must be text without NUL bytes"
    return None


def update_record(update: TaskUpdate, config: SalesforceConfig) -> dict[str, Any]:
    """The whole state a task update sets, for a collections update.

    Every field leadloop owns is written, null included, so applying it twice leaves the
    Task as applying it once. Reopening also clears what the rep's refused decision left:
    the decision, the reason and the final score.
    """
    names = config.task_fields
    note = update.note
    if len(note) > MAX_NOTE:
        note = note[:MAX_NOTE - 1] + "\u2026"  # leadloop's own note: the end matters least
    record: dict[str, Any] = {
        "attributes": {"type": "Task"},
        "id": update.task_id,
        "OwnerId": update.owner_id,
        names.note: note or None,
    }
    if update.open:
        record.update({"Status": config.task_status_open, names.decision: None,
                       names.outcome: None, names.reason: None, names.final_score: None})
    else:
        record.update({
            "Status": config.task_status_completed,
            names.decision: DECISION_VALUES[update.decision] if update.decision else None,
            names.outcome: str(update.outcome) if update.outcome else None,
        })
    return record


def lead_ids(crm_ids: Sequence[str]) -> list[str]:
    """The ids worth asking Salesforce for: each once, in order, only well-formed ones.

    An id with characters no Salesforce id has cannot name a lead, and inside ``IN (...)``
    it would make Salesforce refuse the whole query.
    """
    seen: dict[str, None] = {}
    for crm_id in crm_ids:
        if isinstance(crm_id, str) and _SALESFORCE_ID.match(crm_id):
            seen.setdefault(crm_id)
    return list(seen)


def send_state(record: Mapping[str, Any], config: SalesforceConfig) -> str:
    """An email log Task's send status; a log without one predates it and was sent."""
    value = record.get(config.task_fields.send_status)
    if value is None or value == "":
        return SEND_SENT  # logged only after the send, by leadloop before send statuses
    text = str(value)
    # A value outside the picklist's own is read as the unsafe one: a person decides.
    return text if text in SEND_STATES else SEND_SENDING


def task_select(config: SalesforceConfig) -> list[str]:
    """The Task fields reconcile reads."""
    names = config.task_fields
    return ["Id", "Status", "IsClosed", "OwnerId", "LastModifiedById", "SystemModstamp",
            names.proposal_id, names.kind, names.proposed_score, names.decision,
            names.reason, names.final_score, names.email_subject, names.email_body,
            names.outcome]


def task_change(record: Mapping[str, Any], config: SalesforceConfig) -> TaskChange | None:
    """A review Task as a :class:`TaskChange`; None when it carries no proposal id.

    The decision follows :class:`connectors.base.TaskChange`: the decision field as the
    rep set it (Approved or Rejected); else a Task completed with no decision and no
    leadloop outcome is the rep's approval; else none. A decision value outside the
    picklist's two, or an outcome leadloop does not know, is never read as an approval.
    """
    names = config.task_fields
    key = record.get(names.proposal_id)
    modified_at = parse_datetime(record.get("SystemModstamp"))
    if not key or modified_at is None:
        return None
    status_text = str(record.get("Status") or "")
    closed = record.get("IsClosed") is True or status_text == config.task_status_completed
    status = _TASK_STATUS.get(status_text)
    if status is None:  # an org's own picklist value: only open or closed is known
        status = TaskStatus.COMPLETED if closed else TaskStatus.IN_PROGRESS
    elif closed:
        status = TaskStatus.COMPLETED
    decision_text = str(record.get(names.decision) or "").strip().lower()
    outcome_text = str(record.get(names.outcome) or "").strip().lower()
    outcome = next((o for o in TaskOutcome if o.value == outcome_text), None)
    decision: TaskDecision | None = None
    if decision_text == "rejected":
        decision = TaskDecision.REJECTED
    elif decision_text == "approved" or (
            not decision_text and not outcome_text and status is TaskStatus.COMPLETED):
        # A rep who completes a review task without rejecting it has approved it; one
        # leadloop closed carries an outcome and was not decided by a rep.
        decision = TaskDecision.APPROVED
    final_score = _whole(record.get(names.final_score))
    if (decision is TaskDecision.APPROVED and final_score is None
            and record.get(names.kind) == ProposalKind.SCORE_OVERRIDE):
        final_score = _whole(record.get(names.proposed_score))  # approved as proposed
    # Salesforce keeps no "completed by": the last modifier decided, unless leadloop wrote
    # the Task last (it carries an outcome), when the modifier is leadloop's own user.
    decided_by = record.get("LastModifiedById") if decision and not outcome_text else None
    owner = record.get("OwnerId")
    return TaskChange(
        task_id=str(record["Id"]),
        proposal_key=str(key),
        status=status,
        modified_at=modified_at,
        decision=decision,
        email_subject=str(record.get(names.email_subject) or ""),
        # A text area edited in the browser comes back with CRLF line ends: as the proposed
        # body had LF, the label would otherwise show every line as edited.
        email_body=str(record.get(names.email_body) or "").replace("\r\n", "\n"),
        final_score=final_score,
        reason=record.get(names.reason) or None,
        decided_by=str(decided_by) if decided_by else None,
        owner_id=str(owner) if owner else None,
        outcome=outcome,
    )


def _whole(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else round(number)


def duplicate_id(errors: list[Mapping[str, Any]]) -> str | None:
    """The existing record's id from a DUPLICATE_VALUE error on an external-id field."""
    for error in errors:
        if error.get("statusCode") == "DUPLICATE_VALUE":
            found = _DUPLICATE_ID.search(str(error.get("message", "")))
            if found:
                return found.group(1)
    return None


def error_text(errors: list[Mapping[str, Any]]) -> str:
    """A record's errors from a collections response, as one line."""
    parts = []
    for error in errors:
        fields = error.get("fields") or []
        where = f" ({', '.join(fields)})" if fields else ""
        parts.append(f"{error.get('statusCode', 'ERROR')}: {error.get('message', '')}{where}")
    return "; ".join(parts) or "refused without a reason"


def today() -> date:
    """Today in UTC (Task.ActivityDate of a logged email)."""
    return datetime.now(UTC).date()
