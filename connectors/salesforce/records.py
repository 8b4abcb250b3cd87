"""Salesforce records to leadloop's records and back, for REST JSON and Bulk 2.0 CSV alike."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from connectors.base import (
    ProposalKind,
    RawLead,
    ReviewTaskRequest,
    TaskChange,
    TaskDecision,
    TaskStatus,
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
    if not isinstance(request.body, str):
        return "body must be text"
    if len(request.body) > MAX_DESCRIPTION:
        return f"body is {len(request.body):,} characters; a Task holds at most {MAX_DESCRIPTION:,}"
    if "\x00" in request.body or "\x00" in subject:
        return "subject or body contains a NUL byte"
    return None


def task_record(request: ReviewTaskRequest, config: SalesforceConfig) -> dict[str, Any]:
    """The Task a review request becomes, for a collections create."""
    names = config.task_fields
    record: dict[str, Any] = {
        "attributes": {"type": "Task"},
        "WhoId": request.lead_crm_id,
        "OwnerId": request.owner_id,
        "Subject": request.subject.strip(),
        "Description": request.body,
        "Status": config.task_status_open,
        "ActivityDate": request.due_date.isoformat(),
        names.proposal_id: request.proposal_key,
        names.kind: str(request.kind),
    }
    if request.proposed_score is not None:
        record[names.proposed_score] = request.proposed_score
    return record


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
    return ["Id", "Status", "IsClosed", "Description", "LastModifiedById", "SystemModstamp",
            names.proposal_id, names.kind, names.proposed_score, names.decision,
            names.reason, names.final_score]


def task_change(record: Mapping[str, Any], config: SalesforceConfig) -> TaskChange | None:
    """A review Task as a :class:`TaskChange`; None when it carries no proposal id."""
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
    decision: TaskDecision | None = None
    if str(record.get(names.decision) or "").lower() == "rejected":
        decision = TaskDecision.REJECTED
    elif status is TaskStatus.COMPLETED:
        # A rep who completes a review task without rejecting it has approved it.
        decision = TaskDecision.APPROVED
    final_score = _whole(record.get(names.final_score))
    if (decision is TaskDecision.APPROVED and final_score is None
            and record.get(names.kind) == ProposalKind.SCORE_OVERRIDE):
        final_score = _whole(record.get(names.proposed_score))  # approved as proposed
    description = record.get("Description")
    return TaskChange(
        task_id=str(record["Id"]),
        proposal_key=str(key),
        status=status,
        modified_at=modified_at,
        decision=decision,
        final_text=(description or "") if decision is TaskDecision.APPROVED else None,
        final_score=final_score,
        reason=record.get(names.reason) or None,
        decided_by=str(record.get("LastModifiedById")) if decision else None,
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
