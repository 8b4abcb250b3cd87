"""leadloop's connector to Salesforce, on simple-salesforce.

Every call goes through :meth:`SalesforceConnector._call`, which is where the org's rules
are kept: the quota guard looks at ``Sforce-Limit-Info`` before each call; an expired
session is renewed once; lock errors, 5xx and dropped connections are retried with
exponential backoff and jitter, a bounded number of times; REQUEST_LIMIT_EXCEEDED stops the
run at once (the pipeline has already committed every batch before it, with its cursor).
"""

from __future__ import annotations

import csv
import io
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import chain
from typing import Any, TypeVar

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.bulk2 import SFBulk2Handler
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from connectors.base import (
    OutgoingEmail,
    Owner,
    RawLead,
    ReviewTaskRequest,
    ScoreWrite,
    SendResult,
    SyncCursor,
    TaskChange,
    TaskUpdate,
    TaskWriteResult,
    WriteResult,
)
from connectors.errors import AuthError, ConnectorError, NotFoundError
from connectors.outcomes import OutcomeEvent
from connectors.salesforce import outcomes, records
from connectors.salesforce.auth import Token, can_renew, fetch_token
from connectors.salesforce.config import SalesforceConfig
from connectors.salesforce.errors import QuotaGuardError, RequestLimitError
from connectors.smtp import SmtpConfig, SmtpSender

log = logging.getLogger(__name__)

T = TypeVar("T")
COLLECTION_SIZE = 200  # sObject Collections take at most 200 records a call
# Ids per ``Id IN (...)`` query: about 5,000 characters once URL-encoded, far below
# Salesforce's limits on a SOQL statement (100,000) and on a request URI (16,384).
ID_BATCH = 200
BULK_PAGE = 50_000
_TRANSIENT_CODES = {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG"}


class _Transient(Exception):
    """A failure worth another try: lock contention, 5xx, a dropped connection."""


class _NoAnswer(Exception):
    """A send whose connection broke before an answer came: it may or may not have left."""


class SalesforceConnector:
    """leadloop's connector to one Salesforce org.

    Args:
        config: the Salesforce settings.
        http: the HTTP session every call goes through; tests and the sandbox face inject
            one (whose ``verify`` trusts the face's certificate). Default a new one.
        smtp: the SMTP settings, used when ``config.send_via`` is ``"smtp"``.
        smtp_ssl_context: the TLS context for SMTP (tests trust a local certificate).
        sleep: how to wait between retries (tests pass one that does not sleep).
    """

    name = "salesforce"

    def __init__(
        self,
        config: SalesforceConfig,
        *,
        http: requests.Session | None = None,
        smtp: SmtpConfig | None = None,
        smtp_ssl_context: ssl.SSLContext | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.http = http or requests.Session()
        self.http.hooks["response"].append(self._watch_limits)
        self.smtp = smtp
        self._smtp_ssl_context = smtp_ssl_context
        self._sleep = sleep
        self._sf: Salesforce | None = None
        self._owners: dict[str, Owner] | None = None
        self.api_calls = 0
        self.api_usage: tuple[int, int] | None = None  # (used, daily max) as last reported
        if config.send_via == "smtp" and (smtp is None or not smtp.configured):
            raise ConnectorError("LEADLOOP_SALESFORCE__SEND_VIA is smtp but SMTP is not "
                                 "configured: set LEADLOOP_SMTP__HOST")

    @classmethod
    def from_config(
        cls, config: SalesforceConfig, *, smtp: SmtpConfig | None
    ) -> SalesforceConnector:
        """The connector the settings describe; no call is made until one is needed.

        Args:
            config: the Salesforce settings (``LEADLOOP_SALESFORCE__*``).
            smtp: the SMTP settings, for ``send_via = "smtp"``.

        Returns:
            A connector that logs in on its first call.
        """
        return cls(config, smtp=smtp)

    def close(self) -> None:
        """Close the HTTP session."""
        self.http.close()

    # -- the one way out ------------------------------------------------------------------

    def _client(self) -> Salesforce:
        if self._sf is None:
            token: Token = fetch_token(self.config, http=self.http)
            self._sf = Salesforce(instance_url=token.instance_url, session_id=token.access_token,
                                  session=self.http, version=self.config.api_version)
        return self._sf

    def _watch_limits(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        if "/services/data/" in response.url:
            self.api_calls += 1
        info = response.headers.get("Sforce-Limit-Info", "")
        for part in info.split(","):
            name, _, value = part.strip().partition("=")
            if name == "api-usage" and "/" in value:
                used, _, limit = value.partition("/")
                if used.isdigit() and limit.isdigit():
                    self.api_usage = (int(used), int(limit))

    def _guard_quota(self) -> None:
        if self.api_usage is None:
            return
        used, limit = self.api_usage
        if limit and used >= self.config.quota_share * limit:
            raise QuotaGuardError(
                f"Salesforce quota guard: the org has used {used:,} of its {limit:,} daily API "
                f"requests ({used / limit:.0%}), and leadloop stops at "
                f"{self.config.quota_share:.0%} (LEADLOOP_SALESFORCE__QUOTA_SHARE); the next "
                "run resumes from the saved cursor")

    def _call(self, what: str, action: Callable[[Salesforce], T], *, retry: bool = True,
              guard: bool = True) -> T:
        """Run one API call under the quota guard, session renewal and bounded retries.

        Args:
            what: the call in words, for error messages.
            action: the call, given the logged-in client.
            retry: False for a call that must not be repeated when its outcome is unknown
                (a send): it is then tried once.
            guard: False for a call that records what already happened (an email's send
                status): it may pass the quota share by one call rather than be lost.
        """
        retrying = Retrying(
            stop=stop_after_attempt(self.config.retries if retry else 1),
            wait=wait_random_exponential(multiplier=self.config.retry_wait_s,
                                         max=max(self.config.retry_wait_s * 30, 0.001)),
            retry=retry_if_exception_type(_Transient),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(what, action, guard=guard)
        except _Transient as exc:
            tries = self.config.retries if retry else 1
            raise ConnectorError(f"Salesforce {what} failed after {tries} attempt(s): {exc}"
                                 ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _attempt(self, what: str, action: Callable[[Salesforce], T], *, guard: bool) -> T:
        renewed = False
        while True:
            if guard:
                self._guard_quota()
            try:
                return action(self._client())
            except SalesforceExpiredSession as exc:
                if renewed or not can_renew(self.config):
                    raise AuthError(_expired_message(self.config, exc)) from None
                log.info("Salesforce session expired; logging in again")
                self._sf, renewed = None, True
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise _Transient(f"connection failed ({type(exc).__name__})") from None
            except SalesforceError as exc:
                raise _translate(what, exc) from None
            except SalesforceOperationError as exc:  # a Bulk 2.0 job that failed
                raise ConnectorError(f"Salesforce {what} failed: {exc}") from None

    # -- owners ---------------------------------------------------------------------------

    def list_owners(self) -> list[Owner]:
        """Every active standard user, who can own leads.

        Returns:
            The users; a manager outside that set is left out of ``manager_id``.
        """
        soql = ("SELECT Id, Name, Email, ManagerId FROM User "
                "WHERE IsActive = true AND UserType = 'Standard' ORDER BY Id")
        users = list(self._records(soql))
        ids = {str(u["Id"]) for u in users}
        owners = [Owner(str(u["Id"]), str(u.get("Name") or ""), str(u.get("Email") or ""),
                        u.get("ManagerId") if u.get("ManagerId") in ids else None)
                  for u in users]
        self._owners = {o.owner_id: o for o in owners}
        return owners

    # -- leads ----------------------------------------------------------------------------

    def fetch_leads(self, *, since: SyncCursor | None) -> Iterator[RawLead]:
        """Leads changed at or after ``since``, in (SystemModstamp, Id) order; all when None.

        Reads through ``queryAll`` so that deleted leads come back with ``deleted=True``.
        A full read of more than ``bulk_threshold`` leads switches to a Bulk API 2.0 query
        job after its first REST page told the size (one call spent to learn it).

        Args:
            since: where the last read stopped; leads at its stamp with ids up to
                ``since.last_id`` are left out, as that read had them.

        Returns:
            Raw leads with our field names (through the field map) and values as stored,
            malformed ones included for :func:`connectors.base.parse_lead` to report.
            A record without an Id or SystemModstamp is logged and skipped.

        Raises:
            AuthError: the credentials were refused or the session cannot be renewed.
            RequestLimitError, QuotaGuardError: the run must stop; leads already yielded
                stand.
            ConnectorError: Salesforce refused the query (for example a field in the field
                map does not exist: ``leadloop salesforce check`` names it).
        """
        select = ", ".join(records.lead_select(self.config))
        soql = f"SELECT {select} FROM Lead{_after(since)}"
        pages = self._pages(f"{soql} ORDER BY SystemModstamp, Id", include_deleted=True)
        first = next(pages)
        threshold = self.config.bulk_threshold
        rows: Iterable[Mapping[str, Any]]
        if since is None and threshold and int(first.get("totalSize", 0)) > threshold:
            rows = self._bulk_rows(soql)
        else:
            rows = chain(first["records"], chain.from_iterable(p["records"] for p in pages))
        seen: set[str] = set()
        for record in rows:
            raw = records.raw_lead(record, self.config)
            if raw is None:
                log.warning("Salesforce Lead %s has no Id or SystemModstamp; skipped",
                            record.get("Id"))
                continue
            if since is not None and (raw.modified_at, raw.crm_id) <= (
                    since.modified_at, since.last_id):
                continue  # at the cursor's stamp, already read by the last sync
            if raw.crm_id in seen:
                continue
            seen.add(raw.crm_id)
            yield raw

    def fetch_leads_by_id(self, crm_ids: Sequence[str]) -> list[RawLead]:
        """The current record of each named lead, read now: one ``queryAll`` per 200 ids.

        Args:
            crm_ids: the leads to read; repeats are read once, and an id no Salesforce id
                could be (it has characters other than letters and digits) is left out
                rather than sent, as Salesforce would refuse the whole query for it.

        Returns:
            Raw leads as :meth:`fetch_leads` gives them, through the same field map, in the
            order first asked for; deleted ones (still in the recycle bin) with
            ``deleted=True``; ids Salesforce does not know (or has purged) are left out.

        Raises:
            AuthError, RequestLimitError, QuotaGuardError, ConnectorError: as for
                :meth:`fetch_leads`; leads of the batches already read are not returned.
        """
        ids = records.lead_ids(crm_ids)
        select = ", ".join(records.lead_select(self.config))
        found: dict[str, RawLead] = {}
        for chunk in _chunks(ids, ID_BATCH):
            quoted = ", ".join(records.soql_string(i) for i in chunk)
            soql = f"SELECT {select} FROM Lead WHERE Id IN ({quoted})"
            for page in self._pages(soql, include_deleted=True):
                for record in page["records"]:
                    raw = records.raw_lead(record, self.config)
                    if raw is None:
                        log.warning("Salesforce Lead %s has no Id or SystemModstamp; skipped",
                                    record.get("Id"))
                        continue
                    found[raw.crm_id] = raw
        # Salesforce answers with 18-character ids when asked with 15: match either way.
        by_short = {crm_id[:15]: raw for crm_id, raw in found.items()}
        ordered = (found.get(i) or (by_short.get(i) if len(i) == 15 else None) for i in ids)
        return list({raw.crm_id: raw for raw in ordered if raw is not None}.values())

    def _pages(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """The pages of one SOQL query, following ``nextRecordsUrl``."""
        timeout = self.config.timeout_s
        page: dict[str, Any] = self._call("query", lambda sf: sf.query(
            soql, include_deleted=include_deleted, timeout=timeout))
        yield page
        while not page.get("done", True):
            url = str(page["nextRecordsUrl"])
            page = self._call("query", lambda sf, url=url: sf.query_more(  # type: ignore[misc]
                url, identifier_is_url=True, timeout=timeout))
            yield page

    def _records(self, soql: str) -> Iterator[dict[str, Any]]:
        for page in self._pages(soql):
            yield from page["records"]

    def _bulk_rows(self, soql: str) -> list[dict[str, Any]]:
        """A Bulk API 2.0 queryAll job's rows, sorted by (SystemModstamp, Id).

        Bulk 2.0 takes no ORDER BY, and the sync's cursor needs the order, so the rows are
        sorted here; a first sync holds its leads in memory once.
        """
        wait = int(self.config.bulk_poll_seconds)

        def run(sf: Salesforce) -> list[str]:
            handler = SFBulk2Handler(sf.session_id, sf.bulk2_url, sf.proxies, sf.session)
            job = handler.Lead  # Bulk 2.0 reads deleted leads through query_all only
            return [str(page) for page in job.query_all(soql, max_records=BULK_PAGE, wait=wait)]

        pages = self._call("bulk query", run)
        rows = [records.blank_to_none(row) for text in pages
                for row in csv.DictReader(io.StringIO(text))]
        rows.sort(key=lambda r: (records.parse_datetime(r.get("SystemModstamp"))
                                 or datetime.min.replace(tzinfo=UTC),
                                 str(r.get("Id"))))
        return rows

    # -- scores ---------------------------------------------------------------------------

    def write_scores(self, scores: Sequence[ScoreWrite]) -> list[WriteResult]:
        """Write score, tier, fit and engagement sub-scores and grade onto leads through
        sObject Collections, 200 a call.

        Args:
            scores: one score per lead.

        Returns:
            One result per score, in order; a record Salesforce refused carries its error
            (a lock that outlasts the retries included), and the others are written.
        """
        fields = self.config.lead_fields
        results: dict[int, WriteResult] = {}
        pending: list[tuple[int, dict[str, Any]]] = []
        for n, score in enumerate(scores):
            if isinstance(score.score, bool) or not isinstance(score.score, int):
                results[n] = WriteResult(score.lead_crm_id, ok=False,
                                         error=f"score must be a whole number, got {score.score!r}")
                continue
            record: dict[str, Any] = {"attributes": {"type": "Lead"}, "id": score.lead_crm_id,
                                      fields.score: score.score, fields.tier: score.tier}
            for name, value in ((fields.fit_score, score.fit_score),
                                (fields.engagement_score, score.engagement_score),
                                (fields.grade, score.grade)):
                if value is not None:  # unknown sub-scores leave the fields alone
                    record[name] = value
            pending.append((n, record))
        for chunk in _chunks(pending, COLLECTION_SIZE):
            for n, outcome in self._collection("PATCH", chunk, "score write").items():
                crm_id = scores[n].lead_crm_id
                if outcome.get("success"):
                    results[n] = WriteResult(crm_id, ok=True)
                else:
                    errors = outcome.get("errors") or []
                    results[n] = WriteResult(crm_id, ok=False,
                                             error=f"lead {crm_id}: {records.error_text(errors)}")
        return [results[n] for n in range(len(scores))]

    def _collection(
        self, method: str, items: Sequence[tuple[int, dict[str, Any]]], what: str, *,
        guard: bool = True,
    ) -> dict[int, dict[str, Any]]:
        """One sObject Collections call (allOrNone=false), retrying locked records alone.

        Returns:
            Each item's outcome (``success``, ``id``, ``errors``) by the item's number.
        """
        outcomes: dict[int, dict[str, Any]] = {}
        todo = list(items)
        for attempt in range(1, self.config.retries + 1):
            body = {"allOrNone": False, "records": [record for _, record in todo]}
            answer = self._call(what, lambda sf, body=body: sf.restful(  # type: ignore[misc]
                "composite/sobjects", method=method, json=body, timeout=self.config.timeout_s),
                guard=guard)
            if not isinstance(answer, list) or len(answer) != len(todo):
                raise ConnectorError(f"Salesforce {what}: expected one result per record, "
                                     f"got {answer!r:.200}")
            locked = []
            for (n, record), outcome in zip(todo, answer, strict=True):
                codes = {e.get("statusCode") for e in outcome.get("errors") or []}
                if codes & _TRANSIENT_CODES and attempt < self.config.retries:
                    locked.append((n, record))
                else:
                    outcomes[n] = outcome
            if not locked:
                break
            todo = locked
            self._sleep(min(self.config.retry_wait_s * 2 ** (attempt - 1), 30.0))
        return outcomes

    # -- review tasks ---------------------------------------------------------------------

    def upsert_review_tasks(self, tasks: Sequence[ReviewTaskRequest]) -> list[TaskWriteResult]:
        """Create pending review Tasks on their leads, idempotently by proposal id.

        Each Task carries the proposal key in a unique external-id field, a draft's email
        in its two email fields and the notes in its Description, and is created through
        sObject Collections (200 a call, allOrNone=false). A key that already has a
        Task comes back from Salesforce as DUPLICATE_VALUE naming that Task, which is
        returned with ``created=False``. We create rather than upsert on purpose: an upsert
        of an existing key would overwrite the Task, and with it a rep's edit or decision
        made since the first attempt.

        Args:
            tasks: the tasks to create.

        Returns:
            One result per task, in order; a task Salesforce refused carries its error and
            the others are still created.
        """
        results: dict[int, TaskWriteResult] = {}
        first_of: dict[str, int] = {}
        pending: list[tuple[int, dict[str, Any]]] = []
        repeats: list[tuple[int, int]] = []
        for n, request in enumerate(tasks):
            problem = records.task_problem(request)
            if problem:
                results[n] = TaskWriteResult(request.proposal_key, None, error=problem)
            elif request.proposal_key in first_of:
                repeats.append((n, first_of[request.proposal_key]))
            else:
                first_of[request.proposal_key] = n
                pending.append((n, records.task_record(request, self.config)))
        unresolved: list[int] = []
        for chunk in _chunks(pending, COLLECTION_SIZE):
            for n, outcome in self._collection("POST", chunk, "task create").items():
                key = tasks[n].proposal_key
                errors = outcome.get("errors") or []
                if outcome.get("success"):
                    results[n] = TaskWriteResult(key, str(outcome["id"]), created=True)
                elif (existing := records.duplicate_id(errors)) is not None:
                    results[n] = TaskWriteResult(key, existing, created=False)
                elif any(e.get("statusCode") == "DUPLICATE_VALUE" for e in errors):
                    unresolved.append(n)
                else:
                    results[n] = TaskWriteResult(
                        key, None, error=f"task on lead {tasks[n].lead_crm_id}: "
                                         f"{records.error_text(errors)}")
        if unresolved:
            found = self._task_ids_by_key([tasks[n].proposal_key for n in unresolved])
            for n in unresolved:
                key = tasks[n].proposal_key
                results[n] = (TaskWriteResult(key, found[key], created=False) if key in found
                              else TaskWriteResult(key, None, error="DUPLICATE_VALUE, but no "
                                                   "Task with this proposal id is visible"))
        for n, first in repeats:
            done = results[first]
            results[n] = TaskWriteResult(tasks[n].proposal_key, done.task_id, created=False,
                                         error=done.error)
        return [results[n] for n in range(len(tasks))]

    def _task_ids_by_key(self, keys: Sequence[str]) -> dict[str, str]:
        field = self.config.task_fields.proposal_id
        found: dict[str, str] = {}
        for chunk in _chunks(list(keys), COLLECTION_SIZE):
            quoted = ", ".join(records.soql_string(k) for k in chunk)
            for row in self._records(f"SELECT Id, {field} FROM Task WHERE {field} IN ({quoted})"):
                found[str(row[field])] = str(row["Id"])
        return found

    def fetch_task_changes(self, *, since: SyncCursor | None) -> Iterator[TaskChange]:
        """Review Tasks changed at or after ``since``, in (SystemModstamp, Id) order.

        Args:
            since: where the last read stopped, as for :meth:`fetch_leads`.

        Returns:
            Task changes, decided as :class:`connectors.base.TaskChange` says: the decision
            field's Approved or Rejected (with the reason); else a Task completed with no
            decision and no leadloop outcome is APPROVED; else no decision. Each carries the
            email fields as they stand now (never the Description, which holds the rep's
            notes), the owner, leadloop's outcome, and the final score field (or, for a
            score override approved as proposed, the proposed score). Tasks without a
            proposal id are left out.
        """
        names = self.config.task_fields
        after = _after(since).replace(" WHERE ", " AND (", 1) + (")" if since else "")
        soql = (f"SELECT {', '.join(records.task_select(self.config))} FROM Task "
                f"WHERE {names.proposal_id} != null{after} ORDER BY SystemModstamp, Id")
        for record in self._records(soql):
            change = records.task_change(record, self.config)
            if change is None:
                continue
            if since is not None and (change.modified_at, change.task_id) <= (
                    since.modified_at, since.last_id):
                continue
            yield change

    def update_review_tasks(self, updates: Sequence[TaskUpdate]) -> list[WriteResult]:
        """Set review Tasks to the state leadloop holds, 200 a call (sObject Collections
        update, allOrNone=false).

        Each Task is set whole: Status (``task_status_open`` or ``task_status_completed``),
        the decision (null clears it), leadloop's outcome, the owner and leadloop's note;
        reopening also clears the rep's reason and final score. So applying an update twice
        leaves the Task as once. An update of a task id given twice in one call is written
        once, as the last of them says.

        Args:
            updates: the states to set (see :class:`connectors.base.TaskUpdate`).

        Returns:
            One result per update, in order, by task id; a Task Salesforce refused (an
            unknown or deleted Task, an inactive owner, a lock that outlasts the retries)
            carries its error, and the others are written.

        Raises:
            AuthError, RequestLimitError, QuotaGuardError, ConnectorError: a whole call
                failed; updates of the calls before it stand.
        """
        results: dict[int, WriteResult] = {}
        last_of: dict[str, int] = {}
        for n, update in enumerate(updates):
            problem = records.update_problem(update)
            if problem:
                results[n] = WriteResult(str(update.task_id), ok=False,
                                         error=f"task {update.task_id}: {problem}")
            else:
                last_of[update.task_id] = n
        pending = [(n, records.update_record(updates[n], self.config))
                   for n in sorted(last_of.values())]
        for chunk in _chunks(pending, COLLECTION_SIZE):
            for n, outcome in self._collection("PATCH", chunk, "task update").items():
                task_id = updates[n].task_id
                if outcome.get("success"):
                    results[n] = WriteResult(task_id, ok=True)
                else:
                    errors = outcome.get("errors") or []
                    results[n] = WriteResult(task_id, ok=False,
                                             error=f"task {task_id}: {records.error_text(errors)}")
        for n, update in enumerate(updates):
            if n not in results:  # an earlier update of a task the batch updated again
                done = results[last_of[update.task_id]]
                results[n] = WriteResult(update.task_id, ok=done.ok, error=done.error)
        return [results[n] for n in range(len(updates))]

    # -- email ----------------------------------------------------------------------------

    def fetch_outcomes(self, *, since: SyncCursor | None) -> Iterator[OutcomeEvent]:
        """Replies, bounces (EmailMessage) and meetings (Event) after ``since``; see
        :mod:`connectors.salesforce.outcomes`."""
        return outcomes.fetch_outcomes(self._records, since)

    def find_sent_email(self, idempotency_key: str) -> SendResult | None:
        """The email already sent under this key: its activity Task on the lead, if any.

        Returns:
            The send, with the Task's Id as message id and ``already_sent=True``, when the
            Task's send status is Sent (or empty: a log from before send statuses). None
            when there is no Task, or it is Pending or Failed: nothing left, so a send may
            go ahead.

        Raises:
            ConnectorError: the Task is Sending: a run stopped after handing the email to
                the mail system and before recording the outcome, so it may have left; a
                person checks the mailbox and sets the send status to Sent or Failed.
        """
        logged = self._email_log(idempotency_key)
        if logged is None:
            return None
        state = records.send_state(logged, self.config)
        if state == records.SEND_SENDING:
            raise ConnectorError(self._interrupted(idempotency_key, str(logged["Id"])))
        if state == records.SEND_SENT:
            return _sent(idempotency_key, logged)
        return None

    def send_email(self, email: OutgoingEmail) -> SendResult:
        """Send an approved email once per key, logged as a Task on the lead before it leaves.

        The log is written first: a Task carrying the key in a unique field, send status
        Pending (Task Status ``task_status_sending``). Just before the email is handed to
        ``emailSimple`` (or SMTP, when settings say so) the Task becomes Sending, and once
        it has gone, Sent and completed. So a run that stops before the hand-over leaves
        Pending, which the next run sends; one that stops after it leaves Sending, which
        is never sent again without a person. A refusal by the mail system marks it
        Failed, which a later run may send. The send itself is never retried: a lost email
        is found and resent by a person, a duplicate cannot be taken back.

        Args:
            email: the approved email.

        Returns:
            The send; a key already Sent returns the first send with ``already_sent=True``
            and sends nothing.

        Raises:
            ConnectorError: the send failed (the Task says Failed, so a later run may
                retry); or it may have left and a person must check (the Task says
                Sending); or the log could not be written (nothing was sent).
        """
        key = email.idempotency_key
        logged = self._email_log(key)
        if logged is not None:
            state = records.send_state(logged, self.config)
            if state == records.SEND_SENT:
                return _sent(key, logged)
            if state == records.SEND_SENDING:
                raise ConnectorError(self._interrupted(key, str(logged["Id"])))
        # Everything that can fail without sending is done before the hand-over.
        from_address = self._smtp_from(email) if self.config.send_via == "smtp" else None
        task_id = str(logged["Id"]) if logged is not None else self._log_pending(email)
        self._mark_email(key, task_id, records.SEND_SENDING)
        try:
            if from_address is not None:
                assert self.smtp is not None
                SmtpSender(self.smtp, ssl_context=self._smtp_ssl_context).send(
                    email, from_address=from_address)
            else:
                self._send_email_simple(email)
        except _NoAnswer as exc:
            raise ConnectorError(
                f"email {key} was handed to Salesforce emailSimple but no answer came "
                f"({exc}), so it may have left (Salesforce Task {task_id} is Sending); "
                f"check the rep's mailbox, then set its {self._send_status_field} to Sent "
                "or Failed") from None
        except ConnectorError as exc:
            try:
                self._mark_email(key, task_id, records.SEND_FAILED, guard=False)
            except ConnectorError as mark:
                log.warning("email %s failed (%s) and marking its Task %s Failed failed too "
                            "(%s); it stays Sending until a person sets it", key, exc,
                            task_id, mark)
            raise
        try:
            self._mark_email(key, task_id, records.SEND_SENT, guard=False)
        except ConnectorError as exc:
            raise ConnectorError(
                f"email {key} was sent, but marking its Salesforce Task {task_id} Sent "
                f"failed ({exc}); set its {self._send_status_field} to Sent") from None
        try:
            logged = self._email_log(key, guard=False)
        except ConnectorError:
            logged = None  # sent and recorded: the read-back only dates it
        if logged is None:
            return SendResult(key, task_id, datetime.now(UTC))
        done = _sent(key, logged)
        return SendResult(key, done.message_id, done.sent_at)

    def opt_out_of_email(self, crm_id: str, *, email: str) -> None:
        """Set the Lead's ``HasOptedOutOfEmail`` (or the field mapped to ``email_opt_out``).

        Raises:
            ConnectorError: Salesforce refused the update (a deleted Lead is left be).
        """
        field_name = self.config.field_map.get("email_opt_out", "HasOptedOutOfEmail")
        record = {"attributes": {"type": "Lead"}, "id": crm_id, field_name: True}
        outcome = self._collection("PATCH", [(0, record)], "email opt-out")[0]
        errors = outcome.get("errors") or []
        if outcome.get("success") or any(
                e.get("statusCode") == "ENTITY_IS_DELETED" for e in errors):
            return
        raise ConnectorError(f"lead {crm_id}: setting {field_name} for {email} failed: "
                             f"{records.error_text(errors)}")

    @property
    def _send_status_field(self) -> str:
        return self.config.task_fields.send_status

    def _interrupted(self, key: str, task_id: str) -> str:
        return (f"email {key} was being sent when an earlier run stopped (Salesforce Task "
                f"{task_id} is Sending); check the rep's mailbox, then set its "
                f"{self._send_status_field} to Sent or Failed")

    def _email_log(self, key: str, *, guard: bool = True) -> dict[str, Any] | None:
        """The activity Task logging the email under this key, if there is one."""
        names = self.config.task_fields
        soql = (f"SELECT Id, Status, IsClosed, CreatedDate, CompletedDateTime, "
                f"{names.send_status} FROM Task WHERE {names.email_key} = "
                f"{records.soql_string(key)} LIMIT 1")
        timeout = self.config.timeout_s
        page: dict[str, Any] = self._call("email log query", lambda sf: sf.query(
            soql, timeout=timeout), guard=guard)
        found = page.get("records") or []
        return dict(found[0]) if found else None

    def _log_pending(self, email: OutgoingEmail) -> str:
        """Create the email's activity Task, Pending; its unique key is the lock."""
        names = self.config.task_fields
        record = {
            "attributes": {"type": "Task"}, "WhoId": email.lead_crm_id,
            "OwnerId": email.from_owner_id, "Subject": f"Email: {email.subject}"[:255],
            "Description": f"To: {email.to}\n\n{email.body}"[:records.MAX_DESCRIPTION],
            "Status": self.config.task_status_sending, "TaskSubtype": "Email",
            "ActivityDate": records.today().isoformat(),
            names.email_key: email.idempotency_key, names.send_status: records.SEND_PENDING,
        }
        outcome = self._collection("POST", [(0, record)], "email log")[0]
        if outcome.get("success"):
            return str(outcome["id"])
        errors = outcome.get("errors") or []
        if any(e.get("statusCode") == "DUPLICATE_VALUE" for e in errors):
            # Logged by another run since we looked: that run sends it, not this one.
            raise ConnectorError(f"email {email.idempotency_key} was logged by another run "
                                 "at the same moment; that run sends it, so this one did not")
        raise ConnectorError(f"email {email.idempotency_key}: logging it on lead "
                             f"{email.lead_crm_id} failed, so it was not sent: "
                             f"{records.error_text(errors)}")

    def _mark_email(self, key: str, task_id: str, state: str, *, guard: bool = True) -> None:
        record: dict[str, Any] = {"attributes": {"type": "Task"}, "id": task_id,
                                  self._send_status_field: state}
        if state == records.SEND_SENT:
            record["Status"] = self.config.task_status_completed
        outcome = self._collection("PATCH", [(0, record)], f"email log ({state})",
                                   guard=guard)[0]
        if not outcome.get("success"):
            raise ConnectorError(f"email {key}: marking its Salesforce Task {task_id} {state} "
                                 f"failed: {records.error_text(outcome.get('errors') or [])}")

    def _send_email_simple(self, email: OutgoingEmail) -> None:
        inputs: dict[str, Any] = {
            "emailAddresses": email.to, "emailSubject": email.subject,
            "emailBody": email.body, "senderType": self.config.email_sender_type,
            "recipientId": email.lead_crm_id, "logEmailOnSend": False,
        }
        if self.config.email_sender_address:
            inputs["senderAddress"] = self.config.email_sender_address
        timeout = self.config.timeout_s

        def post(sf: Salesforce) -> Any:
            try:
                return sf.restful("actions/standard/emailSimple", method="POST",
                                  json={"inputs": [inputs]}, timeout=timeout)
            except requests.ConnectTimeout:
                raise  # never connected: nothing was sent
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise _NoAnswer(type(exc).__name__) from None

        answer = self._call("emailSimple send", post, retry=False)
        outcome = answer[0] if isinstance(answer, list) and answer else {}
        if not outcome.get("isSuccess"):
            raise ConnectorError(f"Salesforce emailSimple refused email "
                                 f"{email.idempotency_key}: "
                                 f"{records.error_text(outcome.get('errors') or [])}")

    def _smtp_from(self, email: OutgoingEmail) -> str:
        owners = self._owners if self._owners is not None else {
            o.owner_id: o for o in self.list_owners()}
        owner = owners.get(email.from_owner_id)
        if owner is None or not owner.email:
            raise NotFoundError(f"owner {email.from_owner_id} of email {email.idempotency_key} "
                                "is not an active Salesforce user with an email address")
        return owner.email


def _sent(key: str, logged: Mapping[str, Any]) -> SendResult:
    """A Sent email log Task as the send it records."""
    sent_at = (records.parse_datetime(logged.get("CompletedDateTime"))
               or records.parse_datetime(logged.get("CreatedDate"))
               or datetime.min.replace(tzinfo=UTC))
    return SendResult(key, str(logged["Id"]), sent_at, already_sent=True)


def _after(since: SyncCursor | None) -> str:
    """The WHERE clause of a (SystemModstamp, Id) cursor; empty for a full read.

    With an id, rows at the cursor's stamp are read only past that id: a bulk load gives
    thousands of leads one stamp, and ``>=`` alone would read them all again.
    """
    if since is None:
        return ""
    stamp = records.soql_datetime(since.modified_at)
    if not since.last_id:
        return f" WHERE SystemModstamp >= {stamp}"
    return (f" WHERE (SystemModstamp > {stamp} OR (SystemModstamp = {stamp} "
            f"AND Id > {records.soql_string(since.last_id)}))")


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _first_error(exc: SalesforceError) -> tuple[str, str]:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        return str(content[0].get("errorCode", "")), str(content[0].get("message", ""))
    if isinstance(content, Mapping):
        return str(content.get("errorCode", "")), str(content.get("message", ""))
    return "", str(content)[:300]


def _translate(what: str, exc: SalesforceError) -> Exception:
    """A simple-salesforce error as ours; transient ones as :class:`_Transient`."""
    code, message = _first_error(exc)
    if code == "REQUEST_LIMIT_EXCEEDED":
        return RequestLimitError(
            f"Salesforce refused {what}: the org's API request limit is exceeded ({message}); "
            "leadloop stopped, and the next run resumes from the saved cursor")
    if code in _TRANSIENT_CODES or isinstance(exc, SalesforceGeneralError) and exc.status >= 500:
        return _Transient(f"HTTP {exc.status} {code or ''} {message}".strip())
    if isinstance(exc, SalesforceResourceNotFound):
        return NotFoundError(f"Salesforce {what}: not found ({code}: {message})")
    if isinstance(exc, SalesforceRefusedRequest):
        return AuthError(f"Salesforce refused {what}: {code}: {message}; check the "
                         "integration user's profile and permission sets")
    hint = ""
    if code in ("INVALID_FIELD", "INVALID_TYPE", "INVALID_FIELD_FOR_INSERT_UPDATE"):
        hint = "; `leadloop salesforce check` lists the fields leadloop needs"
    if isinstance(exc, SalesforceMalformedRequest):
        return ConnectorError(f"Salesforce refused {what}: {code}: {message}{hint}")
    return ConnectorError(f"Salesforce {what} failed: HTTP {exc.status} {code}: {message}")


def _expired_message(config: SalesforceConfig, exc: SalesforceError) -> str:
    _code, message = _first_error(exc)
    if config.auth == "session":
        return ("Salesforce session id flow: the session has expired or is invalid "
                f"({message}); set a fresh LEADLOOP_SALESFORCE__SESSION__SESSION_ID, or use "
                "the JWT bearer flow, which renews itself")
    return (f"Salesforce {config.auth} flow: a fresh session was refused too ({message}); "
            "check the integration user and the Connected App")
