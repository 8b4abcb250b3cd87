"""The sandbox CRM's Salesforce face: the REST subset leadloop's Salesforce connector uses.

It serves the same :class:`SandboxCRM` file the sandbox connector and the demo's simulated
reps use, so a rep's decision in the sandbox is what the real connector reads back. It
listens on 127.0.0.1 only, over HTTPS with a self-signed certificate made at start (point a
``requests.Session``'s ``verify`` at :attr:`SalesforceFace.ca_file`).

Served, under ``/services/data/vXX.X/``: ``query`` and ``queryAll`` (the SOQL subset of
:mod:`connectors.sandbox.salesforce_soql`, paged by ``nextRecordsUrl``), sObject
Collections create (``POST composite/sobjects``: Tasks, with the proposal id and email key
as unique external ids) and update (``PATCH``: a Lead's score and tier; a review Task's
status, decision, outcome, owner and note, as leadloop sets them; an email log Task's
status and send status), ``sobjects/X/describe``, ``limits``,
``actions/standard/emailSimple`` and Bulk API 2.0 query jobs; and the OAuth token endpoint
(client credentials and JWT bearer). Every answer carries ``Sforce-Limit-Info``.

Field mapping: Lead ``Email, FirstName, LastName, Title, Company, Industry,
NumberOfEmployees, Country, State, LeadSource, Status, OwnerId, HasOptedOutOfEmail,
Description (notes), CreatedDate, IsDeleted, SystemModstamp`` plus ``LeadLoop_Time_Zone__c,
LeadLoop_Past_Purchases__c,
LeadLoop_Lifetime_Value__c, LeadLoop_Engagement_Events__c`` (JSON text),
``LeadLoop_Score__c, LeadLoop_Tier__c``. Task ``Id, WhoId, OwnerId, Subject, Description,
Status, IsClosed, ActivityDate, TaskSubtype, LastModifiedById, CreatedDate, SystemModstamp``
plus ``LeadLoop_Proposal_Id__c, LeadLoop_Kind__c, LeadLoop_Proposed_Score__c,
LeadLoop_Decision__c, LeadLoop_Reason__c, LeadLoop_Final_Score__c, LeadLoop_Email_Key__c,
LeadLoop_Send_Status__c, LeadLoop_Email_Subject__c, LeadLoop_Email_Body__c,
LeadLoop_Outcome__c, LeadLoop_Note__c`` and ``CompletedDateTime``. A review Task's email
fields are the sandbox task's ``email_subject`` and ``email_body``, its Description the
task's notes, its outcome and note the task's ``outcome`` and ``leadloop_note``. The
sandbox's email log shows as completed Tasks of subtype Email carrying the key, send status
Sent. An email log Task created with another send status (Pending, Sending, Failed) is held
by the face, not the sandbox, and can be updated (``PATCH``: its Status and send status
only); when it becomes Sent it moves into the sandbox's email log, taking the log's id
(``M000001``).

Known differences from Salesforce: ids are the sandbox's (``L000001``), not 18-character
ids; a score write does not move the Lead's SystemModstamp (Salesforce's does); only the
score and tier of a Lead, and of a Task only the fields leadloop itself updates, can be
updated (a rep works tasks in the sandbox, not through the face); a review Task's
LastModifiedById is the rep who completed it, or its owner, never leadloop's user; JWT
assertions are checked for issuer and subject, and for their signature only when the face
is given the app's public key.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import itertools
import json
import secrets
import ssl
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlparse

from connectors.base import (
    OutgoingEmail,
    ProposalKind,
    ReviewTaskRequest,
    ScoreWrite,
    TaskDecision,
    TaskOutcome,
    TaskUpdate,
)
from connectors.errors import ConnectorError, NotFoundError
from connectors.sandbox import salesforce_outcomes as outcome_rows
from connectors.sandbox import salesforce_soql as soql
from connectors.sandbox.crm import SandboxCRM, SandboxLead, SandboxTask, SentEmail

API_MAX = 15_000
PAGE_SIZE = 2_000
COLLECTION_LIMIT = 200
SCORE_FIELD = "LeadLoop_Score__c"
TIER_FIELD = "LeadLoop_Tier__c"
FIT_FIELD = "LeadLoop_Fit_Score__c"
ENGAGEMENT_FIELD = "LeadLoop_Engagement_Score__c"
GRADE_FIELD = "LeadLoop_Grade__c"
_SCORE_WRITE_FIELDS = {SCORE_FIELD, TIER_FIELD, FIT_FIELD, ENGAGEMENT_FIELD, GRADE_FIELD}
PROPOSAL_FIELD = "LeadLoop_Proposal_Id__c"
EMAIL_KEY_FIELD = "LeadLoop_Email_Key__c"
SEND_STATUS_FIELD = "LeadLoop_Send_Status__c"
DECISION_FIELD = "LeadLoop_Decision__c"
REASON_FIELD = "LeadLoop_Reason__c"
FINAL_SCORE_FIELD = "LeadLoop_Final_Score__c"
EMAIL_SUBJECT_FIELD = "LeadLoop_Email_Subject__c"
EMAIL_BODY_FIELD = "LeadLoop_Email_Body__c"
OUTCOME_FIELD = "LeadLoop_Outcome__c"
NOTE_FIELD = "LeadLoop_Note__c"
# What leadloop sets on a review Task (TaskUpdate); the reason and final score only to null.
_REVIEW_UPDATE_FIELDS = {"Status", "OwnerId", DECISION_FIELD, OUTCOME_FIELD, NOTE_FIELD,
                         REASON_FIELD, FINAL_SCORE_FIELD}
_DECISIONS = {"Approved": TaskDecision.APPROVED, "Rejected": TaskDecision.REJECTED}

# (API name, describe type) of every field the face serves; custom ones end in __c.
LEAD_DESCRIBE: tuple[tuple[str, str], ...] = (
    ("Id", "id"), ("IsDeleted", "boolean"), ("FirstName", "string"), ("LastName", "string"),
    ("Email", "email"), ("Company", "string"), ("Title", "string"), ("Industry", "picklist"),
    ("NumberOfEmployees", "int"), ("Country", "string"), ("State", "string"),
    ("LeadSource", "picklist"), ("LeadLoop_Time_Zone__c", "string"),
    ("Status", "picklist"), ("OwnerId", "reference"), ("HasOptedOutOfEmail", "boolean"),
    ("Description", "textarea"), ("CreatedDate", "datetime"), ("LastModifiedDate", "datetime"),
    ("SystemModstamp", "datetime"),
    ("LeadLoop_Past_Purchases__c", "double"), ("LeadLoop_Lifetime_Value__c", "currency"),
    ("LeadLoop_Engagement_Events__c", "textarea"), (SCORE_FIELD, "double"),
    (TIER_FIELD, "picklist"), (FIT_FIELD, "double"), (ENGAGEMENT_FIELD, "double"),
    (GRADE_FIELD, "picklist"),
)
TASK_DESCRIBE: tuple[tuple[str, str], ...] = (
    ("Id", "id"), ("WhoId", "reference"), ("OwnerId", "reference"), ("Subject", "combobox"),
    ("Description", "textarea"), ("Status", "picklist"), ("IsClosed", "boolean"),
    ("ActivityDate", "date"), ("TaskSubtype", "picklist"), ("LastModifiedById", "reference"),
    ("CreatedDate", "datetime"), ("SystemModstamp", "datetime"), ("IsDeleted", "boolean"),
    ("CompletedDateTime", "datetime"), (PROPOSAL_FIELD, "string"), ("LeadLoop_Kind__c", "picklist"),
    ("LeadLoop_Proposed_Score__c", "double"), (DECISION_FIELD, "picklist"),
    (REASON_FIELD, "textarea"), (FINAL_SCORE_FIELD, "double"),
    (EMAIL_KEY_FIELD, "string"), (SEND_STATUS_FIELD, "picklist"),
    (EMAIL_SUBJECT_FIELD, "string"), (EMAIL_BODY_FIELD, "textarea"),
    (OUTCOME_FIELD, "picklist"), (NOTE_FIELD, "textarea"),
)
USER_FIELDS = ("Id", "Name", "Email", "ManagerId", "IsActive", "UserType")
_EXTERNAL_IDS = {PROPOSAL_FIELD, EMAIL_KEY_FIELD}
_LENGTHS = {"string": 255, "picklist": 255, "textarea": 32_768}


@dataclass
class Faults:
    """Faults a test switches on; each queued failure is used once, by the next API call.

    Attributes:
        queued: (HTTP status, errorCode, message) answers for the next API calls.
        locked_records: how many of the next records written through sObject Collections
            come back UNABLE_TO_LOCK_ROW (the rest of their call succeeds).
        locked_ids: records (by Id, or a Task's WhoId) that stay locked until removed.
        delay_s: added to every answer (slow responses).
        reset_connections: how many of the next API calls have their connection dropped
            without an answer.
    """

    queued: deque[tuple[int, str, str]] = field(default_factory=deque)
    locked_records: int = 0
    locked_ids: set[str] = field(default_factory=set)
    delay_s: float = 0.0
    reset_connections: int = 0


@dataclass
class _Job:
    sobject: str
    rows: list[dict[str, Any]]
    columns: list[str]


class SalesforceFace:
    """A loopback HTTPS server speaking Salesforce REST over a :class:`SandboxCRM`.

    Args:
        crm: the sandbox CRM to serve; the face does not own it.
        page_size: records per query page (Salesforce's default is 2,000).
        client_id: the Connected App consumer key the token endpoint accepts.
        client_secret: its secret, for the client credentials flow.
        jwt_public_key: PEM public key to check JWT bearer assertions with; None checks
            only the issuer and subject.
        api_max: the org's daily API request allowance, as ``Sforce-Limit-Info`` reports it.
        missing_fields: API names the describe leaves out and queries refuse, as in an org
            where an admin has not created them yet.
        api_version: the version served (paths carry ``vXX.X``; any version is accepted).
    """

    def __init__(
        self,
        crm: SandboxCRM,
        *,
        page_size: int = PAGE_SIZE,
        client_id: str = "leadloop-sandbox",
        client_secret: str = "sandbox-secret",
        jwt_public_key: str | None = None,
        api_max: int = API_MAX,
        missing_fields: Sequence[str] = (),
        api_version: str = "61.0",
    ) -> None:
        self.crm = crm
        self.page_size = page_size
        self.client_id = client_id
        self.client_secret = client_secret
        self.jwt_public_key = jwt_public_key
        self.api_max = api_max
        self.api_used = 0
        self.api_version = api_version
        self.missing_fields = set(missing_fields)
        self.faults = Faults()
        self.calls: Counter[str] = Counter()
        self.sent_mail: list[dict[str, Any]] = []
        self._tokens: set[str] = set()
        self._cursors: dict[str, list[dict[str, Any]]] = {}
        self._jobs: dict[str, _Job] = {}
        # Email log Tasks not yet Sent, by key; a Sent one moves into the sandbox's log.
        self._email_logs: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.ca_file: Path | None = None

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The face's base URL, ``https://127.0.0.1:<port>``."""
        if self._server is None:
            raise ConnectorError("the Salesforce face is not started")
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> SalesforceFace:
        """Make a certificate, bind a free loopback port and serve in a thread."""
        self._tmp = tempfile.TemporaryDirectory(prefix="leadloop-sf-face-")
        cert, key = _self_signed(Path(self._tmp.name))
        self.ca_file = cert
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        face = self

        class Handler(_Handler):
            owner = face

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,),
                                        name="salesforce-face", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the certificate."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SalesforceFace:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- faults -------------------------------------------------------------------------

    def expire_sessions(self) -> None:
        """Every access token handed out so far stops working (401 INVALID_SESSION_ID)."""
        with self._lock:
            self._tokens.clear()

    def fail_next(self, status: int, code: str, message: str = "", *, times: int = 1) -> None:
        """Answer the next ``times`` API calls with this error instead of serving them."""
        with self._lock:
            for _ in range(times):
                self.faults.queued.append((status, code, message or code))

    def issue_token(self) -> str:
        """A valid access token, as if a login had happened (for session-id tests)."""
        token = f"00Dsandbox!{secrets.token_urlsafe(24)}"
        with self._lock:
            self._tokens.add(token)
        return token

    # -- rows ---------------------------------------------------------------------------

    def _known(self, sobject: str) -> list[str]:
        if sobject == "Lead":
            names = [n for n, _ in LEAD_DESCRIBE]
        elif sobject == "Task":
            names = [n for n, _ in TASK_DESCRIBE]
        elif sobject == "User":
            names = list(USER_FIELDS)
        elif sobject in outcome_rows.SOBJECTS:
            names = list(outcome_rows.SOBJECTS[sobject])
        else:
            raise soql.SoqlError("INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
        return [n for n in names if n not in self.missing_fields]

    def _rows(self, query: soql.Query, *, include_deleted: bool) -> Iterator[dict[str, Any]]:
        if query.sobject == "Lead":
            ids = soql.required_values(query.where, "Id")
            if ids is not None:  # read by id through the sandbox's key, not the whole file
                for lead in self.crm.leads_by_ids([str(i) for i in ids if i is not None]):
                    yield _lead_row(lead)
                return
            yield from self._lead_rows(soql.lower_bound(query.where, "SystemModstamp"),
                                       include_deleted=include_deleted)
        elif query.sobject == "Task":
            for task in self.crm.list_tasks():
                yield _task_row(task)
            for email in self.crm.sent_emails():
                yield _email_row(email)
            with self._lock:
                pending = [dict(row) for row in self._email_logs.values()]
            yield from pending
        elif query.sobject in outcome_rows.SOBJECTS:
            yield from outcome_rows.rows(self.crm, query.sobject)
        else:
            for owner in self.crm.list_owners():
                yield {"Id": owner.owner_id, "Name": owner.name, "Email": owner.email,
                       "ManagerId": owner.manager_id, "IsActive": True, "UserType": "Standard"}

    def _lead_rows(self, since: datetime | None, *, include_deleted: bool
                   ) -> Iterator[dict[str, Any]]:
        # An incremental query reads through the sandbox's (stamp, id) index, not the file.
        after = None if since is None else (since - timedelta(milliseconds=1), "\uffff")
        while True:
            page = self.crm.leads_after(after, limit=5000)
            for lead in page:
                if include_deleted or not lead.deleted:
                    yield _lead_row(lead)
            if len(page) < 5000:
                return
            after = (page[-1].modified_at, page[-1].crm_id)

    def run_query(self, text: str, *, include_deleted: bool, bulk: bool = False
                  ) -> tuple[soql.Query, list[dict[str, Any]]]:
        """Run a SOQL query; the matching rows projected onto its fields, in order."""
        query = soql.parse(text)
        if bulk and (query.order_by or query.limit is not None):
            raise soql.SoqlError("INVALIDJOB", "Bulk API 2.0 queries take no ORDER BY or LIMIT")
        query = soql.resolve(query, self._known(query.sobject))
        rows = [r for r in self._rows(query, include_deleted=include_deleted)
                if soql.matches(query.where, r)]
        if not include_deleted and query.sobject != "User":
            rows = [r for r in rows if not r.get("IsDeleted")]
        soql.order(rows, query.order_by)
        if query.limit is not None:
            rows = rows[:query.limit]
        if query.count_only:
            return query, rows
        return query, [{name: r.get(name) for name in query.fields} for r in rows]

    # -- writes -------------------------------------------------------------------------

    def _take_lock_fault(self, record: Mapping[str, Any]) -> bool:
        with self._lock:
            if {record.get("id"), record.get("Id"), record.get("WhoId")} & self.faults.locked_ids:
                return True
            if self.faults.locked_records > 0:
                self.faults.locked_records -= 1
                return True
        return False

    def create_records(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """sObject Collections create: review Tasks in one sandbox transaction."""
        results: list[dict[str, Any] | None] = [None] * len(records)
        reviews: list[tuple[int, ReviewTaskRequest]] = []
        for n, record in enumerate(records):
            sobject = (record.get("attributes") or {}).get("type")
            if self._take_lock_fault(record):
                results[n] = _failure("UNABLE_TO_LOCK_ROW",
                                      "unable to obtain exclusive access to this record")
            elif sobject != "Task":
                results[n] = _failure("INVALID_TYPE", f"the face creates Tasks, not {sobject}")
            elif record.get(EMAIL_KEY_FIELD):
                results[n] = self._log_email(record)
            elif record.get(PROPOSAL_FIELD):
                try:
                    reviews.append((n, _review_request(record)))
                except (KeyError, ValueError) as exc:
                    results[n] = _failure("REQUIRED_FIELD_MISSING", f"{exc}")
            else:
                results[n] = self._plain_task(record)
        if reviews:
            outcomes = self.crm.create_review_tasks([r for _, r in reviews])
            for (n, _), outcome in zip(reviews, outcomes, strict=True):
                if outcome.created:
                    results[n] = {"id": outcome.task_id, "success": True, "errors": []}
                elif outcome.task_id is not None:
                    results[n] = _failure(
                        "DUPLICATE_VALUE", f"duplicate value found: {PROPOSAL_FIELD} duplicates "
                        f"value on record with id: {outcome.task_id}", [PROPOSAL_FIELD])
                else:
                    results[n] = _failure("FIELD_INTEGRITY_EXCEPTION", str(outcome.error))
        return [r if r is not None else _failure("UNKNOWN_EXCEPTION", "no result")
                for r in results]

    def _log_email(self, record: Mapping[str, Any]) -> dict[str, Any]:
        key = str(record[EMAIL_KEY_FIELD])
        state = record.get(SEND_STATUS_FIELD)
        with self._lock:  # the unique key: of two creates, one wins
            found = self.crm.find_email(key)
            existing = found.message_id if found else (self._email_logs.get(key) or {}).get("Id")
            if existing is not None:
                return _failure("DUPLICATE_VALUE", f"duplicate value found: {EMAIL_KEY_FIELD} "
                                f"duplicates value on record with id: {existing}",
                                [EMAIL_KEY_FIELD])
            if state not in (None, "", "Sent"):
                return self._hold_email_log(key, record)
        description = str(record.get("Description") or "")
        first, _, body = description.partition("\n\n")
        to = first.removeprefix("To: ") if first.startswith("To: ") else ""
        try:
            lead = self.crm.get_lead(str(record.get("WhoId")))
            sent = self.crm.log_email(OutgoingEmail(
                idempotency_key=key, lead_crm_id=str(record.get("WhoId")),
                to=to or str(lead.get("email") or ""),
                subject=str(record.get("Subject") or "").removeprefix("Email: "),
                body=body if to else description, from_owner_id=str(record.get("OwnerId"))))
        except ConnectorError as exc:
            return _failure("INVALID_CROSS_REFERENCE_KEY", str(exc))
        return {"id": sent.message_id, "success": True, "errors": []}

    def _hold_email_log(self, key: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """An email log Task not yet Sent: kept here until it is (call under the lock)."""
        lead_id = str(record.get("WhoId"))
        try:
            if self.crm.get_lead(lead_id)["deleted"]:
                return _failure("ENTITY_IS_DELETED", f"lead {lead_id} is deleted")
        except ConnectorError as exc:
            return _failure("INVALID_CROSS_REFERENCE_KEY", str(exc))
        now = datetime.now(UTC)
        task_id = self.new_id("00T")
        self._email_logs[key] = {
            "Id": task_id, "WhoId": lead_id, "OwnerId": record.get("OwnerId"),
            "Subject": record.get("Subject"), "Description": record.get("Description"),
            "Status": record.get("Status") or "Not Started", "IsClosed": False,
            "ActivityDate": record.get("ActivityDate"), "TaskSubtype": "Email",
            "LastModifiedById": record.get("OwnerId"), "CreatedDate": now,
            "SystemModstamp": now, "IsDeleted": False, "CompletedDateTime": None,
            PROPOSAL_FIELD: None, EMAIL_KEY_FIELD: key,
            SEND_STATUS_FIELD: record.get(SEND_STATUS_FIELD),
        }
        return {"id": task_id, "success": True, "errors": []}

    def _update_email_log(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A Task update: only an email log's Status and send status can change."""
        task_id = str(record.get("id") or record.get("Id"))
        changes = {k: v for k, v in record.items() if k not in ("attributes", "id", "Id")}
        if not set(changes) <= {"Status", SEND_STATUS_FIELD}:
            return _failure("FIELD_NOT_UPDATEABLE", "the face updates only an email log "
                            f"Task's Status and {SEND_STATUS_FIELD}")
        with self._lock:
            key = next((k for k, row in self._email_logs.items() if row["Id"] == task_id),
                       None)
            if key is None:
                if changes.get(SEND_STATUS_FIELD) in (None, "Sent") and any(
                        e.message_id == task_id for e in self.crm.sent_emails()):
                    return {"id": task_id, "success": True, "errors": []}  # Sent already
                return _failure("INVALID_CROSS_REFERENCE_KEY",
                                f"no email log Task {task_id} that is not yet Sent")
            row = self._email_logs[key]
            row.update(changes)
            row["SystemModstamp"] = datetime.now(UTC)
            if row.get(SEND_STATUS_FIELD) != "Sent":
                return {"id": task_id, "success": True, "errors": []}
            del self._email_logs[key]
        outcome = self._log_email({**row, SEND_STATUS_FIELD: "Sent"})
        return {**outcome, "id": task_id} if outcome.get("success") else outcome

    def _is_email_log(self, task_id: str) -> bool:
        with self._lock:
            if any(row["Id"] == task_id for row in self._email_logs.values()):
                return True
        return any(e.message_id == task_id for e in self.crm.sent_emails())

    def _plain_task(self, record: Mapping[str, Any]) -> dict[str, Any]:
        try:
            due = record.get("ActivityDate")
            task_id = self.crm.create_task(
                str(record.get("WhoId")), owner_id=str(record.get("OwnerId")),
                subject=str(record.get("Subject") or ""),
                description=str(record.get("Description") or ""),
                due_date=date.fromisoformat(due) if due else None)
        except (ConnectorError, ValueError) as exc:
            return _failure("FIELD_INTEGRITY_EXCEPTION", str(exc))
        return {"id": task_id, "success": True, "errors": []}

    def _opt_out(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A Lead's HasOptedOutOfEmail set (true only: an opt-in needs the person's say)."""
        lead_id = str(record.get("id") or record.get("Id"))
        if record["HasOptedOutOfEmail"] is not True:
            return _failure("FIELD_NOT_UPDATEABLE", "the face only sets HasOptedOutOfEmail "
                            "to true")
        try:
            self.crm.update_lead(lead_id, email_opt_out=True)
        except NotFoundError as exc:
            return _failure("ENTITY_IS_DELETED", str(exc))
        return {"id": lead_id, "success": True, "errors": []}

    def update_records(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """sObject Collections update: a Lead's score and tier, review Tasks as leadloop
        sets them (each in one sandbox transaction), an email log Task's send status."""
        results: list[dict[str, Any] | None] = [None] * len(records)
        writes: list[tuple[int, ScoreWrite]] = []
        reviews: list[tuple[int, TaskUpdate]] = []
        for n, record in enumerate(records):
            sobject = (record.get("attributes") or {}).get("type")
            fields = set(record) - {"attributes", "id", "Id"}
            if self._take_lock_fault(record):
                results[n] = _failure("UNABLE_TO_LOCK_ROW",
                                      "unable to obtain exclusive access to this record")
            elif sobject == "Task":
                review = self._review_update(record)
                if isinstance(review, TaskUpdate):
                    reviews.append((n, review))
                else:
                    results[n] = review
            elif sobject == "Lead" and fields == {"HasOptedOutOfEmail"}:
                results[n] = self._opt_out(record)
            elif sobject != "Lead" or not fields <= _SCORE_WRITE_FIELDS:
                results[n] = _failure("FIELD_NOT_UPDATEABLE", "the face updates only "
                                      f"{', '.join(sorted(_SCORE_WRITE_FIELDS))}, or "
                                      "HasOptedOutOfEmail, on Lead")
            elif not isinstance(record.get(SCORE_FIELD), int | float) or isinstance(
                    record.get(SCORE_FIELD), bool):
                results[n] = _failure("INVALID_TYPE_ON_FIELD_IN_RECORD",
                                      f"{SCORE_FIELD}: value not of required type")
            else:
                score = record[SCORE_FIELD]
                writes.append((n, ScoreWrite(
                    str(record.get("id") or record.get("Id")), int(score),
                    str(record.get(TIER_FIELD) or ""), _whole(record.get(FIT_FIELD)),
                    _whole(record.get(ENGAGEMENT_FIELD)),
                    None if record.get(GRADE_FIELD) is None else str(record[GRADE_FIELD]))))
        if writes:
            outcomes = self.crm.set_scores([w for _, w in writes])
            for (n, write), outcome in zip(writes, outcomes, strict=True):
                if outcome.ok:
                    results[n] = {"id": write.lead_crm_id, "success": True, "errors": []}
                else:
                    code = ("ENTITY_IS_DELETED" if "deleted" in str(outcome.error)
                            else "INVALID_CROSS_REFERENCE_KEY")
                    results[n] = _failure(code, str(outcome.error))
        if reviews:
            done = self.crm.update_review_tasks([u for _, u in reviews])
            for (n, update), written in zip(reviews, done, strict=True):
                results[n] = ({"id": update.task_id, "success": True, "errors": []}
                              if written.ok else
                              _failure("INVALID_CROSS_REFERENCE_KEY", str(written.error)))
        return [r if r is not None else _failure("UNKNOWN_EXCEPTION", "no result")
                for r in results]

    def _review_update(self, record: Mapping[str, Any]) -> TaskUpdate | dict[str, Any]:
        """A Task update as the sandbox's review task update, or the answer to give instead.

        A field the update leaves out keeps the task's value, as in Salesforce; the sandbox
        then sets the task whole. A Task that is not a review task is an email log (or
        nothing the face can update).
        """
        task_id = str(record.get("id") or record.get("Id") or "")
        try:
            task = self.crm.get_task(task_id)
        except ConnectorError:
            if self._is_email_log(task_id):
                return self._update_email_log(record)
            return _failure("INVALID_CROSS_REFERENCE_KEY",
                            f"invalid cross reference id: no Task {task_id}")
        if task.proposal_key is None:
            return _failure("FIELD_NOT_UPDATEABLE",
                            f"the face does not update task {task_id}, a rep's own to-do")
        changes = {k: v for k, v in record.items() if k not in ("attributes", "id", "Id")}
        refused = sorted(set(changes) - _REVIEW_UPDATE_FIELDS)
        if refused:
            return _failure("FIELD_NOT_UPDATEABLE", "the face updates a review Task's Status, "
                            f"OwnerId, {DECISION_FIELD}, {OUTCOME_FIELD} and {NOTE_FIELD} "
                            "(and clears its reason and final score) only", refused)
        cleared = [f for f in (REASON_FIELD, FINAL_SCORE_FIELD) if changes.get(f) is not None]
        if cleared:
            return _failure("FIELD_NOT_UPDATEABLE", "leadloop only clears these", cleared)
        status = changes.get("Status", task.status.value)
        if status not in ("Not Started", "Completed"):
            return _failure("FIELD_INTEGRITY_EXCEPTION", "a review Task is set to 'Not "
                            f"Started' or 'Completed' by leadloop, not {status!r}", ["Status"])
        decision_value = changes.get(DECISION_FIELD, task.decision.value if task.decision
                                     else None)
        outcome_value = changes.get(OUTCOME_FIELD, task.outcome)
        if decision_value is not None and decision_value not in _DECISIONS:
            return _failure("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                            f"bad value for restricted picklist field: {decision_value}",
                            [DECISION_FIELD])
        if outcome_value is not None and outcome_value not in set(TaskOutcome):
            return _failure("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                            f"bad value for restricted picklist field: {outcome_value}",
                            [OUTCOME_FIELD])
        note = changes.get(NOTE_FIELD, task.note)
        return TaskUpdate(
            task_id=task.task_id, proposal_key=task.proposal_key,
            owner_id=str(changes.get("OwnerId") or task.owner_id),
            open=status != "Completed",
            decision=_DECISIONS[decision_value] if decision_value else None,
            outcome=TaskOutcome(outcome_value) if outcome_value else None,
            note=str(note or ""))

    # -- bookkeeping ----------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        """A fresh id for a query locator or a job."""
        return f"{prefix}{next(self._ids):012d}"

    def count_call(self, kind: str) -> tuple[int, str, str] | None:
        """Count an API call; the queued fault to answer it with, if any."""
        with self._lock:
            self.api_used += 1
            self.calls[kind] += 1
            if self.faults.queued:
                return self.faults.queued.popleft()
            if self.api_used > self.api_max:
                return (403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        return None

    def token_valid(self, token: str) -> bool:
        """Whether an access token is one the face handed out and has not expired."""
        with self._lock:
            return token in self._tokens

    def take_reset(self) -> bool:
        """Whether to drop this connection (a queued connection fault)."""
        with self._lock:
            if self.faults.reset_connections > 0:
                self.faults.reset_connections -= 1
                return True
        return False


class _Handler(BaseHTTPRequestHandler):
    """One HTTP exchange; the routes of :class:`SalesforceFace`."""

    owner: SalesforceFace
    protocol_version = "HTTP/1.1"  # keep-alive, as requests expects of Salesforce
    # Headers and body leave in one write, with Nagle off: otherwise every answer waits
    # for the client's delayed ACK (about 40 ms a call on Linux).
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: tests and the demo print their own output."""

    def do_GET(self) -> None:  # noqa: N802
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._route("PATCH")

    def _route(self, method: str) -> None:
        face = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if face.faults.delay_s:
            time.sleep(face.faults.delay_s)
        parsed = urlparse(self.path)
        if parsed.path == "/services/oauth2/token" and method == "POST":
            self._token(raw)
            return
        if not parsed.path.startswith("/services/data/v"):
            self._json(404, [{"errorCode": "NOT_FOUND",
                              "message": "The requested resource does not exist"}])
            return
        parts = parsed.path.split("/")[4:]  # after /services/data/vXX.X
        if face.take_reset():
            self.close_connection = True
            self.connection.close()
            return
        auth = self.headers.get("Authorization", "")
        if not face.token_valid(auth.removeprefix("Bearer ").strip()):
            self._json(401, [{"errorCode": "INVALID_SESSION_ID",
                              "message": "Session expired or invalid"}])
            return
        fault = face.count_call("/".join(parts[:2]) if parts[:1] == ["jobs"] else parts[0])
        if fault is not None:
            status, code, message = fault
            self._json(status, [{"errorCode": code, "message": message}])
            return
        try:
            self._serve(method, parts, parse_qs(parsed.query), raw)
        except soql.SoqlError as exc:
            self._json(400, [{"errorCode": exc.code, "message": str(exc)}])
        except (ValueError, KeyError, TypeError) as exc:
            self._json(400, [{"errorCode": "JSON_PARSER_ERROR", "message": str(exc)}])

    def _serve(self, method: str, parts: list[str], params: dict[str, list[str]],
               raw: bytes) -> None:
        face = self.owner
        head = parts[0] if parts else ""
        if head in ("query", "queryAll") and method == "GET":
            if len(parts) > 1 and parts[1]:
                self._more(parts[1])
            else:
                self._query(params["q"][0], include_deleted=head == "queryAll")
        elif parts[:2] == ["composite", "sobjects"] and method in ("POST", "PATCH"):
            body = json.loads(raw or b"{}")
            records = body.get("records") or []
            if len(records) > COLLECTION_LIMIT:
                self._json(400, [{"errorCode": "EXCEEDED_ID_LIMIT", "message":
                                  "record limit reached. cannot submit more than 200 records "
                                  "into this call"}])
                return
            answer = (face.create_records(records) if method == "POST"
                      else face.update_records(records))
            self._json(200, answer)
        elif head == "sobjects" and len(parts) >= 3 and parts[2] == "describe":
            self._describe(parts[1])
        elif head == "limits":
            self._json(200, {"DailyApiRequests": {"Max": face.api_max,
                                                  "Remaining": face.api_max - face.api_used}})
        elif parts[:3] == ["actions", "standard", "emailSimple"] and method == "POST":
            self._email_simple(json.loads(raw or b"{}"))
        elif parts[:2] == ["jobs", "query"]:
            self._bulk(method, parts[2:], params, raw)
        else:
            self._json(404, [{"errorCode": "NOT_FOUND",
                              "message": "The requested resource does not exist"}])

    # -- routes -------------------------------------------------------------------------

    def _token(self, raw: bytes) -> None:
        face = self.owner
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()}
        grant = form.get("grant_type", "")
        ok = False
        if grant == "client_credentials":
            ok = (form.get("client_id") == face.client_id
                  and form.get("client_secret") == face.client_secret)
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            ok = _jwt_ok(form.get("assertion", ""), face)
        if not ok:
            self._json(400, {"error": "invalid_grant" if grant.endswith("jwt-bearer")
                             else "invalid_client",
                             "error_description": "authentication failure"})
            return
        self._json(200, {"access_token": face.issue_token(), "instance_url": face.url,
                         "token_type": "Bearer", "issued_at": str(int(time.time() * 1000))})

    def _query(self, text: str, *, include_deleted: bool) -> None:
        face = self.owner
        query, rows = face.run_query(text, include_deleted=include_deleted)
        if query.count_only:
            self._json(200, {"totalSize": len(rows), "done": True, "records": []})
            return
        sobject = query.sobject
        for row in rows:
            row["attributes"] = {"type": sobject,
                                 "url": f"/services/data/v{face.api_version}/sobjects/"
                                        f"{sobject}/{row.get('Id')}"}
        self._page(rows, total=len(rows), locator=face.new_id("01g"), start=0)

    def _more(self, token: str) -> None:
        locator, _, start = token.rpartition("-")
        rows = self.owner._cursors.get(locator)
        if rows is None or not start.isdigit():
            self._json(400, [{"errorCode": "INVALID_QUERY_LOCATOR",
                              "message": "invalid query locator"}])
            return
        self._page(rows, total=len(rows), locator=locator, start=int(start))

    def _page(self, rows: list[dict[str, Any]], *, total: int, locator: str, start: int
              ) -> None:
        face = self.owner
        end = start + face.page_size
        body: dict[str, Any] = {"totalSize": total, "done": end >= total,
                                "records": rows[start:end]}
        if end < total:
            face._cursors[locator] = rows
            body["nextRecordsUrl"] = f"/services/data/v{face.api_version}/query/{locator}-{end}"
        else:
            face._cursors.pop(locator, None)
        self._json(200, body)

    def _describe(self, sobject: str) -> None:
        face = self.owner
        table = {"Lead": LEAD_DESCRIBE, "Task": TASK_DESCRIBE}.get(sobject)
        if table is None:
            self._json(404, [{"errorCode": "NOT_FOUND",
                              "message": f"The requested resource does not exist: {sobject}"}])
            return
        fields = [{"name": name, "type": kind, "label": name.removesuffix("__c"),
                   "custom": name.endswith("__c"), "externalId": name in _EXTERNAL_IDS,
                   "unique": name in _EXTERNAL_IDS, "nillable": name != "Id",
                   "length": _LENGTHS.get(kind, 0)}
                  for name, kind in table if name not in face.missing_fields]
        self._json(200, {"name": sobject, "label": sobject, "queryable": True,
                         "fields": fields})

    def _email_simple(self, body: Mapping[str, Any]) -> None:
        answers = []
        for item in body.get("inputs") or []:
            if not item.get("emailAddresses") or not item.get("emailSubject"):
                answers.append({"actionName": "emailSimple", "isSuccess": False,
                                "errors": [{"statusCode": "REQUIRED_FIELD_MISSING",
                                            "message": "emailAddresses and emailSubject are "
                                                       "required"}], "outputValues": None})
                continue
            self.owner.sent_mail.append(dict(item))
            answers.append({"actionName": "emailSimple", "isSuccess": True, "errors": None,
                            "outputValues": None})
        self._json(200, answers)

    def _bulk(self, method: str, rest: list[str], params: dict[str, list[str]],
              raw: bytes) -> None:
        face = self.owner
        if method == "POST" and not rest:
            spec = json.loads(raw or b"{}")
            operation = spec.get("operation")
            if operation not in ("query", "queryAll"):
                raise ValueError(f"operation must be query or queryAll, got {operation!r}")
            query, rows = face.run_query(str(spec.get("query", "")), bulk=True,
                                         include_deleted=operation == "queryAll")
            job_id = face.new_id("750")
            face._jobs[job_id] = _Job(query.sobject, rows, query.fields)
            self._json(200, {"id": job_id, "operation": operation, "object": query.sobject,
                             "state": "UploadComplete", "apiVersion": float(face.api_version)})
            return
        job = face._jobs.get(rest[0]) if rest else None
        if job is None:
            self._json(404, [{"errorCode": "NOT_FOUND", "message": "no such job"}])
        elif len(rest) == 1 and method == "GET":
            self._json(200, {"id": rest[0], "state": "JobComplete",
                             "numberRecordsProcessed": len(job.rows), "object": job.sobject})
        elif len(rest) == 2 and rest[1] == "results" and method == "GET":
            start = int((params.get("locator") or ["0"])[0] or 0)
            size = int((params.get("maxRecords") or ["50000"])[0])
            chunk = job.rows[start:start + size]
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(job.columns)
            for row in chunk:
                writer.writerow([_csv_value(row.get(c)) for c in job.columns])
            more = start + size < len(job.rows)
            self._send(200, out.getvalue().encode("utf-8"), "text/csv", {
                "Sforce-Locator": str(start + size) if more else "null",
                "Sforce-NumberOfRecords": str(len(chunk))})
        else:
            self._json(404, [{"errorCode": "NOT_FOUND", "message": "no such resource"}])

    # -- answers ------------------------------------------------------------------------

    def _json(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body, default=_json_value).encode("utf-8"),
                   "application/json;charset=UTF-8", {})

    def _send(self, status: int, payload: bytes, content_type: str,
              headers: Mapping[str, str]) -> None:
        face = self.owner
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Sforce-Limit-Info", f"api-usage={face.api_used}/{face.api_max}")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


# -- mapping ------------------------------------------------------------------------------


def _sf_datetime(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _sf_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
            f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _stamp_or_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


def _lead_row(lead: SandboxLead) -> dict[str, Any]:
    f = lead.fields
    events = f.get("events")
    return {
        "Id": lead.crm_id, "IsDeleted": lead.deleted, "FirstName": f.get("first_name"),
        "LastName": f.get("last_name"), "Email": f.get("email"), "Company": f.get("company"),
        "Title": f.get("title"), "Industry": f.get("industry"),
        "NumberOfEmployees": f.get("employees"), "Country": f.get("country"),
        "State": f.get("state") or None, "LeadLoop_Time_Zone__c": f.get("time_zone") or None,
        "LeadSource": f.get("lead_source"), "Status": f.get("status"),
        "OwnerId": f.get("owner_id"), "HasOptedOutOfEmail": bool(f.get("email_opt_out")),
        "Description": f.get("notes"), "CreatedDate": _stamp_or_text(f.get("created_at")),
        "LastModifiedDate": lead.modified_at, "SystemModstamp": lead.modified_at,
        "LeadLoop_Past_Purchases__c": f.get("past_purchases"),
        "LeadLoop_Lifetime_Value__c": f.get("lifetime_value"),
        "LeadLoop_Engagement_Events__c": (
            json.dumps(events) if isinstance(events, list | dict) else events),
        SCORE_FIELD: lead.score, TIER_FIELD: lead.tier, FIT_FIELD: lead.fit_score,
        ENGAGEMENT_FIELD: lead.engagement_score, GRADE_FIELD: lead.grade,
    }


def _task_row(task: SandboxTask) -> dict[str, Any]:
    return {
        "Id": task.task_id, "WhoId": task.lead_crm_id, "OwnerId": task.owner_id,
        "Subject": task.subject, "Description": task.description, "Status": task.status.value,
        "IsClosed": task.status.value == "Completed", "ActivityDate": task.due_date,
        "TaskSubtype": "Task", "LastModifiedById": task.completed_by or task.owner_id,
        "CreatedDate": task.created_at, "SystemModstamp": task.modified_at,
        "IsDeleted": False, PROPOSAL_FIELD: task.proposal_key,
        "LeadLoop_Kind__c": task.kind, "LeadLoop_Proposed_Score__c": task.proposed_score,
        DECISION_FIELD: task.decision.value if task.decision else None,
        REASON_FIELD: task.decision_reason,
        FINAL_SCORE_FIELD: task.final_score, EMAIL_KEY_FIELD: None,
        SEND_STATUS_FIELD: None,
        # Salesforce gives an empty text field as null.
        EMAIL_SUBJECT_FIELD: task.email_subject or None,
        EMAIL_BODY_FIELD: task.email_body or None,
        OUTCOME_FIELD: task.outcome or None, NOTE_FIELD: task.note or None,
        "CompletedDateTime": task.modified_at if task.status.value == "Completed" else None,
    }


def _email_row(email: SentEmail) -> dict[str, Any]:
    return {
        "Id": email.message_id, "WhoId": email.lead_crm_id, "OwnerId": email.from_owner_id,
        "Subject": f"Email: {email.subject}", "Description": f"To: {email.to}\n\n{email.body}",
        "Status": "Completed", "IsClosed": True, "ActivityDate": email.sent_at.date(),
        "TaskSubtype": "Email", "LastModifiedById": email.from_owner_id,
        "CreatedDate": email.sent_at, "SystemModstamp": email.sent_at, "IsDeleted": False,
        PROPOSAL_FIELD: None, EMAIL_KEY_FIELD: email.idempotency_key,
        SEND_STATUS_FIELD: "Sent", "CompletedDateTime": email.sent_at,
    }


def _review_request(record: Mapping[str, Any]) -> ReviewTaskRequest:
    due = record.get("ActivityDate")
    proposed = record.get("LeadLoop_Proposed_Score__c")
    return ReviewTaskRequest(
        proposal_key=str(record[PROPOSAL_FIELD]),
        kind=ProposalKind(record.get("LeadLoop_Kind__c") or ProposalKind.DRAFT),
        lead_crm_id=str(record.get("WhoId") or ""), owner_id=str(record.get("OwnerId") or ""),
        subject=str(record.get("Subject") or ""), notes=str(record.get("Description") or ""),
        email_subject=str(record.get(EMAIL_SUBJECT_FIELD) or ""),
        email_body=str(record.get(EMAIL_BODY_FIELD) or ""),
        due_date=date.fromisoformat(due) if due else datetime.now(UTC).date(),
        proposed_score=None if proposed is None else int(proposed),
    )


def _failure(code: str, message: str, fields: Sequence[str] = ()) -> dict[str, Any]:
    return {"success": False, "errors": [{"statusCode": code, "message": message,
                                          "fields": list(fields)}]}


def _jwt_ok(assertion: str, face: SalesforceFace) -> bool:
    import jwt

    try:
        if face.jwt_public_key is not None:
            claims = jwt.decode(assertion, face.jwt_public_key, algorithms=["RS256"],
                                audience=face.url)
        else:
            claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return bool(claims.get("iss") == face.client_id and claims.get("sub"))


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made now, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leadloop sandbox Salesforce")])
    now = datetime.now(UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        # Marked as its own CA, with key ids: strict X.509 checking (newer Pythons' default)
        # accepts a self-signed certificate as a trust anchor only then.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "face-cert.pem", folder / "face-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_path, key_path


def _whole(value: Any) -> int | None:
    """A number field's value as a whole number (None when empty or not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)
