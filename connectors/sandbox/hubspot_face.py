"""The sandbox CRM's HubSpot face: the CRM v3 subset leadloop uses, served on loopback.

It serves the very file a :class:`SandboxCRM` holds, so what reps do to sandbox tasks is
what the HubSpot connector reads back. Leads are contacts, review tasks are tasks
associated with their contact, the email log is email engagements. Ids are HubSpot-like
numbers: lead ``L000123`` is contact ``123``, task ``T000045`` is task ``45``, owner
``U000002`` is owner ``2``.

What it serves (paths as HubSpot's): owners; contacts list (100 a page, ``after`` cursor,
``archived``), search (200 a page, the 10,000-result cap), batch read by id (live ones, or
with ``archived=true`` only archived ones) and batch update of leadloop's score
properties; tasks batch create (with contact associations), batch read by id or by a
unique property, batch update of what leadloop sets on a review task, and search; emails
create, update and batch read by unique property; properties and property groups; the
OAuth refresh-token grant. Every response carries HubSpot's rate-limit headers, and a
request over the burst or search limit gets HubSpot's 429 body. Faults are switched on per
test through :attr:`HubSpotFace.faults`.

A task's properties are the sandbox task's columns: ``hs_task_body`` is the email body,
``leadloop_email_subject`` its subject, ``leadloop_review_notes`` the description (the
notes for the rep), ``leadloop_outcome`` and ``leadloop_note`` leadloop's marks. Tasks
batch update applies leadloop's updates through :meth:`SandboxCRM.update_review_tasks`:
it needs ``hs_task_status`` NOT_STARTED or COMPLETED in every input, takes the other
properties it is not given from the task as it stands, and can only clear
``leadloop_reason`` and ``leadloop_final_score`` (the sandbox stores nothing else there).
Values of select properties are checked against their options, as HubSpot does.

Searches here only see review tasks (those with a proposal id), and batch writes of
contacts accept only leadloop's score properties: the sandbox stores nothing else. A rep's
own score (``leadloop_rep_score``, set with :meth:`HubSpotFace.set_rep_score` or a single
contact PATCH) lives in the face with its history, read through contacts batch read with
``propertiesWithHistory``; setting it does not move the contact's ``lastmodifieddate`` as
HubSpot would. Tasks' contacts are read through the v4 associations batch read. A task's
``leadloop_final_score`` shows only when it differs from the proposed score, since the
sandbox cannot tell "approved as proposed" from "the rep typed the proposed score".
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from connectors.base import (
    OutgoingEmail,
    ProposalKind,
    ReviewTaskRequest,
    ScoreWrite,
    TaskDecision,
    TaskOutcome,
    TaskUpdate,
)
from connectors.errors import ConnectorError
from connectors.sandbox import hubspot_outcomes
from connectors.sandbox.crm import SandboxCRM, SandboxLead, SandboxTask

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SEARCH_PAGE_MAX = 200
LIST_PAGE_MAX = 100
BATCH_MAX = 100
CONTACT_TASK_ASSOCIATION = 204  # task -> contact, HUBSPOT_DEFINED
EMAIL_CONTACT_ASSOCIATION = 198  # email -> contact, HUBSPOT_DEFINED
_STATUS_TO_HS = {"Not Started": "NOT_STARTED", "In Progress": "IN_PROGRESS",
                 "Completed": "COMPLETED", "Deferred": "DEFERRED"}
_LEAD_STATUS = {"open": "OPEN", "disqualified": "UNQUALIFIED"}
_HS_TASK_STATUSES = {"NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"}
# What leadloop sets on a review task; the face updates nothing else of a task.
_TASK_UPDATABLE = {"hs_task_status", "hubspot_owner_id", "leadloop_decision",
                   "leadloop_outcome", "leadloop_note", "leadloop_reason",
                   "leadloop_final_score"}
_DATE_PROPERTIES = {"lastmodifieddate", "hs_lastmodifieddate", "createdate", "hs_createdate",
                    "hs_timestamp"}

# The properties a fresh HubSpot account has, per object (the subset leadloop touches).
_BUILT_IN: dict[str, tuple[str, ...]] = {
    "contacts": ("email", "firstname", "lastname", "company", "jobtitle", "industry",
                 "numemployees", "country", "hs_lead_status", "lifecyclestage",
                 "hubspot_owner_id", "hs_email_optout", "lastmodifieddate", "createdate",
                 "hs_object_id", "state", "hs_timezone"),
    "tasks": ("hs_task_subject", "hs_task_body", "hs_task_status", "hs_task_type",
              "hs_task_priority", "hubspot_owner_id", "hs_timestamp", "hs_lastmodifieddate",
              "hs_createdate", "hs_object_id"),
    "emails": ("hs_timestamp", "hs_email_direction", "hs_email_status", "hs_email_subject",
               "hs_email_text", "hs_email_headers", "hubspot_owner_id", "hs_object_id"),
}


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def iso_ms(moment: datetime) -> str:
    """HubSpot's datetime property text: ISO 8601 in UTC with milliseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def hubspot_id(sandbox_id: str) -> str:
    """The HubSpot-style number of a sandbox id (``L000123`` -> ``123``)."""
    return str(int(sandbox_id[1:]))


def sandbox_id(prefix: str, number: str) -> str | None:
    """The sandbox id of a HubSpot-style number, or None when it is not one."""
    return f"{prefix}{int(number):06d}" if number.isdigit() else None


@dataclass
class Faults:
    """Faults to inject; tests switch them on and off between calls.

    Attributes:
        burst_429: the next this-many requests get a 429 with ``Retry-After``.
        retry_after_s: the ``Retry-After`` those 429s carry (whole seconds, as HTTP says).
        server_errors: the next this-many requests get a 503.
        search_lag_s: a record changed less than this long ago is invisible to search.
        partial_failure_keys: batch inputs (by proposal id for tasks, created or updated,
            or by contact id for scores) that fail in a 207, each once.
    """

    burst_429: int = 0
    retry_after_s: int = 1
    server_errors: int = 0
    search_lag_s: float = 0.0
    partial_failure_keys: set[str] = field(default_factory=set)


@dataclass
class Counters:
    """What the face served: every request, by route, and the 429s and 5xx it sent."""

    calls: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    by_route: dict[str, int] = field(default_factory=dict)


class _Window:
    """A sliding-window counter: at most ``limit`` hits in any ``window_s``."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self.hits: deque[float] = deque()

    def hit(self, now: float) -> float | None:
        """Count a hit; None if allowed, else the seconds until one would be."""
        while self.hits and self.hits[0] <= now - self.window_s:
            self.hits.popleft()
        if len(self.hits) >= self.limit:
            return self.hits[0] + self.window_s - now
        self.hits.append(now)
        return None

    def remaining(self) -> int:
        return max(0, self.limit - len(self.hits))


class _Reply(Exception):
    """A non-2xx reply, raised from a route and written by the handler."""

    def __init__(self, status: int, category: str, message: str,
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.category, self.message = status, category, message
        self.headers = dict(headers or {})
        self.extra = extra


class HubSpotFace:
    """The HubSpot CRM v3 subset over a sandbox CRM, on a loopback port.

    Args:
        crm: the sandbox CRM whose file is served.
        tokens: bearer tokens accepted (a private app's).
        oauth_clients: client id -> (client secret, refresh token) for the refresh grant.
        burst_per_10s: the burst limit enforced (HubSpot's default app tier: 100).
        search_per_second: the search limit enforced.
        window_scale: multiplies the limit windows (0.1 makes 10 s a 1 s window), so a
            benchmark can enforce the shape of the limits without waiting out real time.
        daily_limit: the daily limit reported in the headers and enforced.
        search_cap: the results one search may page through (HubSpot: 10,000).
        granted_scopes: the scopes the token has; None grants all.
    """

    def __init__(
        self, crm: SandboxCRM, *, tokens: Iterable[str] = ("sandbox-token",),
        oauth_clients: Mapping[str, tuple[str, str]] | None = None,
        burst_per_10s: int = 100, search_per_second: int = 5, window_scale: float = 1.0,
        daily_limit: int = 250_000, search_cap: int = 10_000,
        granted_scopes: set[str] | None = None,
    ) -> None:
        self.crm = crm
        self.tokens = set(tokens)
        self.oauth_clients = dict(oauth_clients or {})
        self.faults = Faults()
        self.counters = Counters()
        self.search_cap = search_cap
        self.daily_limit = daily_limit
        self.daily_used = 0
        self.granted_scopes = granted_scopes
        self._burst = _Window(burst_per_10s, 10.0 * window_scale)
        self._search_window = _Window(search_per_second, 1.0 * window_scale)
        self._lock = threading.Lock()
        self._properties: dict[str, dict[str, dict[str, Any]]] = {
            kind: {name: {"name": name, "type": "string", "groupName": "builtin"}
                   for name in names}
            for kind, names in _BUILT_IN.items()
        }
        self._groups: dict[str, set[str]] = {kind: {"builtin"} for kind in _BUILT_IN}
        # Email engagements not yet SENT live here; SENT ones are also in the sandbox's log.
        self._emails: dict[str, dict[str, Any]] = {}
        # A rep's own score per contact number, as HubSpot's property history: (when, value),
        # oldest first. The sandbox file has no column for it, so it lives in the face.
        self._rep_scores: dict[str, list[tuple[datetime, str]]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 in a background thread; returns the base URL."""
        face = self

        class Handler(_Handler):
            owner = face

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        # A short poll interval: stop() waits for it, and tests stop a face each.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True, name="hubspot-face")
        self._thread.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        """Where the face listens."""
        if self._server is None:
            raise ConnectorError("the HubSpot face is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> HubSpotFace:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what a rep does in HubSpot's UI ---------------------------------------------------

    def set_rep_score(self, contact_id: str, score: int | None, *,
                      at: datetime | None = None) -> None:
        """A rep types their own score into the contact's ``leadloop_rep_score`` (None clears).

        Args:
            contact_id: the contact's HubSpot id.
            score: the rep's score, or None to clear the property.
            at: when; now when None (tests pass a moment to order it against a task).

        Raises:
            ConnectorError: the property does not exist yet (``leadloop hubspot setup``),
                or there is no such contact.
        """
        if "leadloop_rep_score" not in self._properties["contacts"]:
            raise ConnectorError("contacts have no leadloop_rep_score property yet")
        lead_id = sandbox_id("L", contact_id)
        if lead_id is None or self._lead_state(lead_id) is None:
            raise ConnectorError(f"no contact {contact_id}")
        with self._lock:
            self._record_rep_score(contact_id, "" if score is None else str(score), at)

    def _record_rep_score(self, contact_id: str, value: str, at: datetime | None) -> None:
        history = self._rep_scores.setdefault(contact_id, [])
        history.append((at or datetime.now(UTC), value))
        history.sort(key=lambda entry: entry[0])

    def _rep_score_of(self, contact_id: str) -> str | None:
        history = self._rep_scores.get(contact_id)
        return (history[-1][1] or None) if history else None

    # -- what the handler calls -----------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes
               ) -> tuple[int, dict[str, str], Any]:
        """Serve one request; returns (status, headers, JSON body)."""
        parts = urlsplit(target)
        path, query = parts.path.rstrip("/"), parse_qs(parts.query)
        route = _route_name(method, path)
        with self._lock:
            self.counters.calls += 1
            self.counters.by_route[route] = self.counters.by_route.get(route, 0) + 1
        try:
            if path == "/oauth/v1/token":
                return 200, {}, self._oauth_token(body)
            self._authenticate(headers, path)
            limit_headers = self._admit(path)
            payload = json.loads(body) if body else {}
            status, reply = self._dispatch(method, path, query, payload)
            return status, limit_headers, reply
        except _Reply as reply:
            if reply.status == 429:
                with self._lock:
                    self.counters.rate_limited += 1
            elif reply.status >= 500:
                with self._lock:
                    self.counters.server_errors += 1
            body_out = {"status": "error", "message": reply.message,
                        "correlationId": str(uuid.uuid4()), "category": reply.category,
                        **reply.extra}
            return reply.status, reply.headers, body_out
        except (ValueError, KeyError, TypeError) as exc:
            return 400, {}, {"status": "error", "category": "VALIDATION_ERROR",
                             "message": f"invalid request: {exc}"}

    def _authenticate(self, headers: Mapping[str, str], path: str) -> None:
        auth = headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if token not in self.tokens:
            raise _Reply(401, "INVALID_AUTHENTICATION",
                         "Authentication credentials not found or expired.")
        needed = _scope_for(path)
        if self.granted_scopes is not None and needed not in self.granted_scopes:
            raise _Reply(403, "MISSING_SCOPES", "This app hasn't been granted all required "
                         "scopes to make this call.",
                         errors=[{"context": {"requiredGranularScopes": [needed]}}])

    def _admit(self, path: str) -> dict[str, str]:
        """Apply faults and the rate limits; returns the rate-limit headers."""
        with self._lock:
            if self.faults.burst_429 > 0:
                self.faults.burst_429 -= 1
                raise _Reply(429, "RATE_LIMITS", "You have reached your ten_secondly_rolling "
                             "limit.", {"Retry-After": str(self.faults.retry_after_s)},
                             errorType="RATE_LIMIT", policyName="TEN_SECONDLY_ROLLING")
            if self.faults.server_errors > 0:
                self.faults.server_errors -= 1
                raise _Reply(503, "SERVICE_UNAVAILABLE", "injected server error")
            now = time.monotonic()
            if self.daily_used >= self.daily_limit:
                raise _Reply(429, "RATE_LIMITS", "You have reached your daily limit.",
                             errorType="RATE_LIMIT", policyName="DAILY")
            if path.endswith("/search"):
                wait = self._search_window.hit(now)
                if wait is not None:
                    raise _Reply(429, "RATE_LIMITS", "You have reached your secondly limit.",
                                 {"Retry-After": str(max(1, math.ceil(wait)))},
                                 errorType="RATE_LIMIT", policyName="SECONDLY")
            wait = self._burst.hit(now)
            if wait is not None:
                raise _Reply(429, "RATE_LIMITS", "You have reached your ten_secondly_rolling "
                             "limit.", {"Retry-After": str(max(1, math.ceil(wait)))},
                             errorType="RATE_LIMIT", policyName="TEN_SECONDLY_ROLLING")
            self.daily_used += 1
            return {
                "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
                "X-HubSpot-RateLimit-Daily-Remaining": str(self.daily_limit - self.daily_used),
                "X-HubSpot-RateLimit-Interval-Milliseconds":
                    str(int(self._burst.window_s * 1000)),
                "X-HubSpot-RateLimit-Max": str(self._burst.limit),
                "X-HubSpot-RateLimit-Remaining": str(self._burst.remaining()),
            }

    def _dispatch(self, method: str, path: str, query: dict[str, list[str]],
                  payload: Any) -> tuple[int, Any]:
        if method == "GET" and path == "/crm/v3/owners":
            return 200, self._owners(query)
        if method == "GET" and path == "/crm/v3/objects/contacts":
            return 200, self._list_contacts(query)
        if method == "POST" and path == "/crm/v3/objects/contacts/search":
            return 200, self._search("contacts", payload)
        if method == "POST" and path == "/crm/v3/objects/contacts/batch/update":
            return self._update_contacts(payload)
        if method == "POST" and path == "/crm/v3/objects/contacts/batch/read":
            return self._read_contacts(payload, query)
        match = re.fullmatch(r"/crm/v3/objects/contacts/(\d+)", path)
        if method == "PATCH" and match:
            return 200, self._patch_contact(match.group(1), payload)
        if method == "POST" and path == "/crm/v4/associations/tasks/contacts/batch/read":
            return self._task_contacts(payload)
        if method == "POST" and path == "/crm/v3/objects/tasks/batch/create":
            return self._create_tasks(payload)
        if method == "POST" and path == "/crm/v3/objects/tasks/batch/read":
            return self._read_tasks(payload)
        if method == "POST" and path == "/crm/v3/objects/tasks/batch/update":
            return self._update_tasks(payload)
        if method == "POST" and path == "/crm/v3/objects/tasks/search":
            return 200, self._search("tasks", payload)
        match = re.fullmatch(r"/crm/(?:v3/objects/(emails|meetings)/search|"
                             r"v4/associations/(emails|meetings)/contacts/batch/read)", path)
        if method == "POST" and match:
            return self._outcomes(match.group(1), match.group(2), payload)
        if method == "POST" and path == "/crm/v3/objects/emails":
            return self._create_email(payload)
        if method == "POST" and path == "/crm/v3/objects/emails/batch/read":
            return self._read_emails(payload)
        match = re.fullmatch(r"/crm/v3/objects/emails/(\d+)", path)
        if method == "PATCH" and match:
            return 200, self._update_email(match.group(1), payload)
        match = re.fullmatch(r"/communication-preferences/v4/statuses/([^/]+)/unsubscribe-all",
                             path)
        if method == "POST" and match:
            return 200, self._unsubscribe_all(unquote(match.group(1)), query)
        match = re.fullmatch(r"/crm/v3/properties/(\w+)(/groups)?", path)
        if match and match.group(1) in self._properties:
            kind = match.group(1)
            if match.group(2):
                return self._groups_route(method, kind, payload)
            if method == "GET":
                return 200, {"results": list(self._properties[kind].values())}
            if method == "POST":
                return self._create_property(kind, payload)
        raise _Reply(404, "OBJECT_NOT_FOUND", f"no route for {method} {path} in the face")

    def _unsubscribe_all(self, address: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """Opt every contact at this address out of email, as HubSpot's opt-out does."""
        if query.get("channel", [""])[0] != "EMAIL":
            raise _Reply(400, "VALIDATION_ERROR", "channel=EMAIL is required")
        for lead in self.crm.list_leads(include_deleted=False):
            if str(lead.get("email") or "").lower() == address.lower() and not lead.get(
                    "email_opt_out"):
                self.crm.update_lead(lead["crm_id"], email_opt_out=True)
        return {"status": "COMPLETE", "results": [{
            "channel": "EMAIL", "status": "NOT_SUBSCRIBED", "subscriberIdString": address,
            "wideStatusType": "PORTAL_WIDE"}]}

    # -- owners and contacts --------------------------------------------------------------

    def _owners(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = min(int(query.get("limit", ["100"])[0]), 500)
        after = int(query.get("after", ["0"])[0])
        owners = [o for o in self.crm.list_owners() if int(hubspot_id(o.owner_id)) > after]
        page = owners[:limit]
        results = []
        for owner in page:
            first, _, last = owner.name.partition(" ")
            results.append({"id": hubspot_id(owner.owner_id), "email": owner.email,
                            "firstName": first, "lastName": last, "archived": False,
                            "userId": int(hubspot_id(owner.owner_id))})
        reply: dict[str, Any] = {"results": results}
        if len(owners) > limit:
            reply["paging"] = {"next": {"after": results[-1]["id"]}}
        return reply

    def _list_contacts(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = int(query.get("limit", ["10"])[0])
        if not 1 <= limit <= LIST_PAGE_MAX:
            raise _Reply(400, "VALIDATION_ERROR", f"limit must be 1 to {LIST_PAGE_MAX}")
        after = int(query.get("after", ["0"])[0])
        archived = query.get("archived", ["false"])[0].lower() == "true"
        wanted = _property_list(query)
        page = self.crm.leads_by_number(after, limit=limit + 1, deleted=archived)
        results = [self._contact(lead, wanted) for lead in page[:limit]]
        reply: dict[str, Any] = {"results": results}
        if len(page) > limit:
            reply["paging"] = {"next": {"after": results[-1]["id"]}}
        return reply

    def _contact(self, lead: SandboxLead, wanted: list[str] | None) -> dict[str, Any]:
        return _contact(lead, wanted, rep_score=self._rep_score_of(hubspot_id(lead.crm_id)))

    def _read_contacts(self, payload: dict[str, Any], query: dict[str, list[str]]
                       ) -> tuple[int, Any]:
        if (payload.get("idProperty") or "hs_object_id") != "hs_object_id":
            raise _Reply(400, "VALIDATION_ERROR", "the face reads contacts by id only")
        # As HubSpot's: archived=true returns only archived contacts, the default only live.
        archived = query.get("archived", ["false"])[0].lower() == "true"
        wanted = payload.get("properties") or None
        with_history = payload.get("propertiesWithHistory") or []
        idents = [str(item["id"]) for item in _batch_inputs(payload)]
        lead_ids = [lead_id for lead_id in (sandbox_id("L", i) for i in idents) if lead_id]
        leads = {lead.crm_id: lead for lead in self.crm.leads_by_ids(lead_ids)}
        results, missing = [], []
        for ident in idents:
            lead = leads.get(sandbox_id("L", ident) or "")
            if lead is None or lead.deleted is not archived:
                missing.append(ident)
                continue
            shown = self._contact(lead, wanted)
            if with_history:
                # HubSpot lists a property's history newest first; the face keeps history
                # only for the rep score, the one property leadloop asks it of.
                shown["propertiesWithHistory"] = {
                    name: [{"value": value, "timestamp": iso_ms(at), "sourceType": "CRM_UI"}
                           for at, value in reversed(self._rep_scores.get(ident, []))]
                    for name in with_history if name == "leadloop_rep_score"}
            results.append(shown)
        errors = [_error("OBJECT_NOT_FOUND", "Could not get some CONTACT objects, they may "
                         "be deleted or not exist.", ids=missing)] if missing else []
        return _batch_reply(results, errors, ok_status=200)

    def _patch_contact(self, number: str, payload: dict[str, Any]) -> dict[str, Any]:
        props = {k: "" if v is None else str(v)
                 for k, v in (payload.get("properties") or {}).items()}
        self._check_writable("contacts", props)
        if set(props) != {"leadloop_rep_score"}:
            raise _Reply(400, "VALIDATION_ERROR", "the sandbox face updates one contact's "
                         "leadloop_rep_score only")
        lead_id = sandbox_id("L", number)
        if lead_id is None or self._lead_state(lead_id) is not True:
            raise _Reply(404, "OBJECT_NOT_FOUND", f"contact {number} not found")
        value = props["leadloop_rep_score"].strip()
        if value and _int_text(value) is None:
            raise _Reply(400, "VALIDATION_ERROR", f"leadloop_rep_score: {value!r} is not a "
                         "number")
        with self._lock:
            self._record_rep_score(number, value, None)
        return self._contact(self._live_lead(number), ["leadloop_rep_score"])

    def _live_lead(self, number: str) -> SandboxLead:
        page = self.crm.leads_by_number(int(number) - 1, limit=1)
        if not page or page[0].crm_id != sandbox_id("L", number):
            raise _Reply(404, "OBJECT_NOT_FOUND", f"contact {number} not found")
        return page[0]

    def _task_contacts(self, payload: dict[str, Any]) -> tuple[int, Any]:
        results, missing = [], []
        for item in _batch_inputs(payload):
            ident = str(item["id"])
            task_id = sandbox_id("T", ident)
            try:
                task = self.crm.get_task(task_id) if task_id else None
            except ConnectorError:
                task = None
            if task is None:
                missing.append(ident)
                continue
            results.append({"from": {"id": ident}, "to": [{
                "toObjectId": int(hubspot_id(task.lead_crm_id)),
                "associationTypes": [{"category": "HUBSPOT_DEFINED",
                                      "typeId": CONTACT_TASK_ASSOCIATION,
                                      "label": None}]}]})
        errors = [_error("OBJECT_NOT_FOUND", "No task with these ids", ids=missing)
                  ] if missing else []
        return _batch_reply(results, errors, ok_status=200)

    def _update_contacts(self, payload: dict[str, Any]) -> tuple[int, Any]:
        inputs = _batch_inputs(payload)
        writes: list[tuple[str, ScoreWrite]] = []
        errors: list[dict[str, Any]] = []
        for item in inputs:
            props = item.get("properties", {})
            self._check_writable("contacts", props)
            extra = set(props) - _SCORE_PROPERTIES
            if extra:
                raise _Reply(400, "VALIDATION_ERROR", "the sandbox face stores only "
                             f"{', '.join(sorted(_SCORE_PROPERTIES))}, not {sorted(extra)}")
            ident = str(item["id"])
            if ident in self.faults.partial_failure_keys:
                self.faults.partial_failure_keys.discard(ident)
                errors.append(_error("INTERNAL_ERROR", f"injected failure for {ident}",
                                     ids=[ident]))
                continue
            lead_id = sandbox_id("L", ident) or ident
            try:
                score = int(float(props["leadloop_score"]))
            except (KeyError, ValueError):
                errors.append(_error("VALIDATION_ERROR", f"contact {ident}: leadloop_score "
                                     "must be a number", ids=[ident]))
                continue
            writes.append((ident, ScoreWrite(
                lead_id, score, str(props.get("leadloop_tier")),
                _whole_or_none(props.get("leadloop_fit_score")),
                _whole_or_none(props.get("leadloop_engagement_score")),
                None if props.get("leadloop_grade") is None else str(props["leadloop_grade"]))))
        outcomes = self.crm.set_scores([w for _, w in writes])
        results = []
        for (ident, _), outcome in zip(writes, outcomes, strict=True):
            if outcome.ok:
                results.append({"id": ident, "properties": {}, "archived": False})
            else:
                errors.append(_error("OBJECT_NOT_FOUND", f"contact {ident}: {outcome.error}",
                                     ids=[ident]))
        return _batch_reply(results, errors, ok_status=200)

    # -- tasks ----------------------------------------------------------------------------

    def _create_tasks(self, payload: dict[str, Any]) -> tuple[int, Any]:
        inputs = _batch_inputs(payload)
        owners = {hubspot_id(o.owner_id) for o in self.crm.list_owners()}
        requests: list[tuple[str, ReviewTaskRequest]] = []
        errors: list[dict[str, Any]] = []
        # Validation fails the whole batch, as HubSpot's batch create does.
        for position, item in enumerate(inputs):
            props = item.get("properties", {})
            self._check_writable("tasks", props)
            self._check_options("tasks", props)
            trace = str(item.get("objectWriteTraceId") or position)
            contact = _associated_contact(item, CONTACT_TASK_ASSOCIATION)
            lead_id = sandbox_id("L", contact)
            if lead_id is None or self._lead_state(lead_id) is not True:
                raise _Reply(400, "VALIDATION_ERROR", f"input {position}: association to "
                             f"contact {contact} failed: no live contact with that id")
            owner = str(props.get("hubspot_owner_id", ""))
            if owner not in owners:
                raise _Reply(400, "VALIDATION_ERROR", f"input {position}: "
                             f"{owner!r} is not a valid owner id (hubspot_owner_id)")
            subject = str(props.get("hs_task_subject") or "")
            if not subject.strip():
                raise _Reply(400, "VALIDATION_ERROR", f"input {position}: hs_task_subject "
                             "is required")
            if not str(props.get("hs_timestamp", "")).isdigit():
                raise _Reply(400, "VALIDATION_ERROR", f"input {position}: hs_timestamp "
                             "must be epoch milliseconds")
            key = str(props.get("leadloop_proposal_id") or "")
            if key in self.faults.partial_failure_keys:
                self.faults.partial_failure_keys.discard(key)
                errors.append(_error("INTERNAL_ERROR", f"injected failure for {key}",
                                     objectWriteTraceId=[trace]))
                continue
            due = datetime.fromtimestamp(int(props["hs_timestamp"]) / 1000, UTC).date()
            score = props.get("leadloop_proposed_score")
            requests.append((trace, ReviewTaskRequest(
                proposal_key=key, lead_crm_id=lead_id,
                kind=ProposalKind.DRAFT if props.get("hs_task_type") == "EMAIL"
                else ProposalKind.SCORE_OVERRIDE,
                owner_id=sandbox_id("U", owner) or owner, subject=subject,
                notes=str(props.get("leadloop_review_notes") or ""), due_date=due,
                proposed_score=int(float(score)) if score not in (None, "") else None,
                email_subject=str(props.get("leadloop_email_subject") or ""),
                email_body=str(props.get("hs_task_body") or ""),
            )))
        outcomes = self.crm.create_review_tasks([r for _, r in requests])
        results = []
        for (trace, request), outcome in zip(requests, outcomes, strict=True):
            if outcome.created and outcome.task_id:
                results.append(_task(self.crm.get_task(outcome.task_id), None))
            elif outcome.task_id:  # the unique property already has this value
                errors.append(_error(
                    "CONFLICT", f"leadloop_proposal_id {request.proposal_key!r} already "
                    f"exists on task {hubspot_id(outcome.task_id)}",
                    objectWriteTraceId=[trace]))
            else:
                errors.append(_error("VALIDATION_ERROR", str(outcome.error),
                                     objectWriteTraceId=[trace]))
        return _batch_reply(results, errors, ok_status=201)

    def _update_tasks(self, payload: dict[str, Any]) -> tuple[int, Any]:
        inputs = _batch_inputs(payload)
        owners = {hubspot_id(o.owner_id) for o in self.crm.list_owners()}
        seen: set[str] = set()
        staged: list[tuple[str, TaskUpdate]] = []
        errors: list[dict[str, Any]] = []
        # Validation fails the whole batch, as HubSpot's batch update does; an unknown task
        # fails alone, in a 207.
        for position, item in enumerate(inputs):
            ident = str(item.get("id") or "")
            if ident in seen:
                raise _Reply(400, "VALIDATION_ERROR", f"Duplicate IDs found in batch input: "
                             f"[{ident}]")
            seen.add(ident)
            props = {k: "" if v is None else str(v)
                     for k, v in (item.get("properties") or {}).items()}
            self._check_writable("tasks", props)
            self._check_options("tasks", props)
            _check_task_update(position, props, owners)
            task = self._review_task(ident)
            if task is None or task.proposal_key is None:
                errors.append(_error("OBJECT_NOT_FOUND", f"task {ident} not found, or not a "
                                     "review task", ids=[ident]))
                continue
            if task.proposal_key in self.faults.partial_failure_keys:
                self.faults.partial_failure_keys.discard(task.proposal_key)
                errors.append(_error("INTERNAL_ERROR", f"injected failure for "
                                     f"{task.proposal_key}", ids=[ident]))
                continue
            staged.append((ident, _task_update(task, props)))
        outcomes = self.crm.update_review_tasks([update for _, update in staged])
        results = []
        for (ident, update), outcome in zip(staged, outcomes, strict=True):
            if outcome.ok:
                results.append(_task(self.crm.get_task(update.task_id), None))
            else:
                errors.append(_error("VALIDATION_ERROR", f"task {ident}: {outcome.error}",
                                     ids=[ident]))
        return _batch_reply(results, errors, ok_status=200)

    def _review_task(self, number: str) -> SandboxTask | None:
        task_id = sandbox_id("T", number)
        if task_id is None:
            return None
        try:
            return self.crm.get_task(task_id)
        except ConnectorError:
            return None

    def _read_tasks(self, payload: dict[str, Any]) -> tuple[int, Any]:
        wanted = payload.get("properties") or None
        id_property = payload.get("idProperty") or "hs_object_id"
        ids = [str(i["id"]) for i in _batch_inputs(payload)]
        if id_property == "leadloop_proposal_id":
            by_key = {t.proposal_key: t for t in self.crm.list_tasks() if t.proposal_key}
            found = {i: by_key[i] for i in ids if i in by_key}
        elif id_property == "hs_object_id":
            found = {}
            for ident in ids:
                task_id = sandbox_id("T", ident)
                if task_id is not None:
                    try:
                        found[ident] = self.crm.get_task(task_id)
                    except ConnectorError:
                        pass
        else:
            raise _Reply(400, "VALIDATION_ERROR", f"{id_property} is not a unique property")
        results = [_task(task, wanted) for task in found.values()]
        missing = [i for i in ids if i not in found]
        errors = [_error("OBJECT_NOT_FOUND", "Could not get some TASK objects, they may be "
                         "deleted or not exist.", ids=missing)] if missing else []
        return _batch_reply(results, errors, ok_status=200)

    # -- search ---------------------------------------------------------------------------

    def _search(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        limit = int(payload.get("limit", 10))
        if not 1 <= limit <= SEARCH_PAGE_MAX:
            raise _Reply(400, "VALIDATION_ERROR", f"limit must be 1 to {SEARCH_PAGE_MAX}")
        offset = int(payload.get("after") or 0)
        if offset + limit > self.search_cap:
            raise _Reply(400, "VALIDATION_ERROR", "search can page through at most "
                         f"{self.search_cap} results; narrow the filter")
        groups = payload.get("filterGroups") or [{"filters": []}]
        stamp_property = "lastmodifieddate" if kind == "contacts" else "hs_lastmodifieddate"
        lower = _lower_bound(groups, stamp_property)
        hidden_after = datetime.now(UTC) - timedelta(seconds=self.faults.search_lag_s)
        records: list[tuple[datetime, dict[str, Any]]] = []
        if kind == "contacts":
            for lead in self._leads_from(lower):
                if not lead.deleted:
                    records.append((lead.modified_at, self._contact(lead, None)))
        elif kind in ("emails", "meetings"):
            records = [(at, obj) for at, obj, _ in hubspot_outcomes.objects(self.crm, kind, iso_ms)]
        else:
            for task in self._tasks_from(lower):
                records.append((task.modified_at, _task(task, None)))
        if self.faults.search_lag_s:
            records = [r for r in records if r[0] <= hidden_after]
        matched = [obj for _, obj in records
                   if any(_matches(obj["properties"], g.get("filters", [])) for g in groups)]
        sorts = payload.get("sorts") or []
        if sorts:
            sort = sorts[0]
            name = sort if isinstance(sort, str) else sort.get("propertyName", "")
            descending = not isinstance(sort, str) and sort.get("direction") == "DESCENDING"
            matched.sort(key=lambda o: (_sort_value(o["properties"], name), int(o["id"])),
                         reverse=descending)
        page = matched[offset : offset + limit]
        wanted = payload.get("properties") or None
        results = [{**o, "properties": _only(o["properties"], wanted)} for o in page]
        reply: dict[str, Any] = {"total": len(matched), "results": results}
        if offset + limit < len(matched):
            reply["paging"] = {"next": {"after": str(offset + limit)}}
        return reply

    def _leads_from(self, lower: int | None) -> list[SandboxLead]:
        after = None if lower is None else (EPOCH + timedelta(milliseconds=lower), "")
        out: list[SandboxLead] = []
        while True:
            page = self.crm.leads_after(after, limit=5000)
            out.extend(page)
            if len(page) < 5000:
                return out
            after = (page[-1].modified_at, page[-1].crm_id)

    def _tasks_from(self, lower: int | None) -> list[SandboxTask]:
        after = None if lower is None else (EPOCH + timedelta(milliseconds=lower), "")
        out: list[SandboxTask] = []
        while True:
            page = self.crm.tasks_after(after, limit=5000)
            out.extend(page)
            if len(page) < 5000:
                return out
            after = (page[-1].modified_at, page[-1].task_id)

    def _outcomes(self, searched: str | None, linked: str | None, payload: dict[str, Any]
                  ) -> tuple[int, Any]:
        if searched:
            return 200, self._search(searched, payload)
        assert linked is not None
        ids = [str(item["id"]) for item in _batch_inputs(payload)]
        results, missing = hubspot_outcomes.associations(self.crm, linked, ids, iso_ms)
        errors = [_error("OBJECT_NOT_FOUND", f"No {linked} with these ids", ids=missing)
                  ] if missing else []
        return _batch_reply(results, errors, ok_status=200)

    # -- emails ---------------------------------------------------------------------------

    def _create_email(self, payload: dict[str, Any]) -> tuple[int, Any]:
        props = {k: str(v) for k, v in payload.get("properties", {}).items() if v is not None}
        self._check_writable("emails", props)
        key = props.get("leadloop_idempotency_key", "")
        if not key:
            raise _Reply(400, "VALIDATION_ERROR", "leadloop_idempotency_key is required here")
        if key in self._emails or self.crm.find_email(key) is not None:
            raise _Reply(409, "CONFLICT", f"leadloop_idempotency_key {key!r} already exists")
        contact = _associated_contact(payload, EMAIL_CONTACT_ASSOCIATION)
        lead_id = sandbox_id("L", contact)
        if lead_id is None or self._lead_state(lead_id) is not True:
            raise _Reply(400, "VALIDATION_ERROR", f"no live contact {contact} to associate")
        with self._lock:
            number = str(len(self._emails) + 1)
            record = {"id": number, "contact": lead_id, "properties": {
                **props, "hs_object_id": number}}
            self._emails[key] = record
        if props.get("hs_email_status") == "SENT":
            self._log_sent(record)
        return 201, _email(record)

    def _update_email(self, number: str, payload: dict[str, Any]) -> dict[str, Any]:
        props = {k: str(v) for k, v in payload.get("properties", {}).items() if v is not None}
        self._check_writable("emails", props)
        record = next((r for r in self._emails.values() if r["id"] == number), None)
        if record is None:
            raise _Reply(404, "OBJECT_NOT_FOUND", f"email {number} not found")
        was_sent = record["properties"].get("hs_email_status") == "SENT"
        record["properties"].update(props)
        if not was_sent and record["properties"].get("hs_email_status") == "SENT":
            self._log_sent(record)
        return _email(record)

    def _log_sent(self, record: dict[str, Any]) -> None:
        props = record["properties"]
        headers = json.loads(props.get("hs_email_headers") or "{}")
        self.crm.log_email(OutgoingEmail(
            idempotency_key=props["leadloop_idempotency_key"], lead_crm_id=record["contact"],
            to=str(headers.get("to", "")), subject=props.get("hs_email_subject", ""),
            body=props.get("hs_email_text", ""),
            from_owner_id=sandbox_id("U", props.get("hubspot_owner_id", "")) or "",
            headers=tuple((name, str(value)) for name, value in headers.items()
                          if name.lower().startswith("list-")),
        ))

    def _read_emails(self, payload: dict[str, Any]) -> tuple[int, Any]:
        if payload.get("idProperty") != "leadloop_idempotency_key":
            raise _Reply(400, "VALIDATION_ERROR", "the face reads emails by "
                         "leadloop_idempotency_key only")
        results, missing = [], []
        for item in _batch_inputs(payload):
            key = str(item["id"])
            if key in self._emails:
                results.append(_email(self._emails[key]))
                continue
            logged = self.crm.find_email(key)  # sent through an earlier face
            if logged is None:
                missing.append(key)
                continue
            results.append({"id": logged.message_id.lstrip("M").lstrip("0") or "0",
                            "properties": {"leadloop_idempotency_key": key,
                                           "hs_email_status": "SENT",
                                           "hs_timestamp": iso_ms(logged.sent_at)}})
        errors = [_error("OBJECT_NOT_FOUND", "Could not get some EMAIL objects.",
                         ids=missing)] if missing else []
        return _batch_reply(results, errors, ok_status=200)

    # -- properties -----------------------------------------------------------------------

    def _create_property(self, kind: str, payload: dict[str, Any]) -> tuple[int, Any]:
        name = str(payload.get("name", ""))
        for required in ("name", "label", "type", "fieldType", "groupName"):
            if not payload.get(required):
                raise _Reply(400, "VALIDATION_ERROR", f"property {name!r}: {required} is "
                             "required")
        if payload["groupName"] not in self._groups[kind]:
            raise _Reply(400, "VALIDATION_ERROR", f"property group {payload['groupName']!r} "
                         f"does not exist on {kind}")
        if name in self._properties[kind]:
            raise _Reply(409, "OBJECT_ALREADY_EXISTS", f"property {name} already exists")
        self._properties[kind][name] = dict(payload)
        return 201, dict(payload)

    def _groups_route(self, method: str, kind: str, payload: dict[str, Any]
                      ) -> tuple[int, Any]:
        if method == "GET":
            return 200, {"results": [{"name": g, "label": g} for g in self._groups[kind]]}
        name = str(payload.get("name", ""))
        if not name or not payload.get("label"):
            raise _Reply(400, "VALIDATION_ERROR", "a property group needs a name and a label")
        if name in self._groups[kind]:
            raise _Reply(409, "OBJECT_ALREADY_EXISTS", f"group {name} already exists")
        self._groups[kind].add(name)
        return 201, {"name": name, "label": payload["label"]}

    def _check_options(self, kind: str, props: Mapping[str, Any]) -> None:
        """A select property takes one of its options (or empty, which clears it)."""
        for name, value in props.items():
            options = self._properties[kind].get(name, {}).get("options")
            if not options or value in (None, ""):
                continue
            allowed = [str(option.get("value")) for option in options]
            if str(value) not in allowed:
                raise _Reply(400, "VALIDATION_ERROR", f"Property values were not valid: "
                             f"{value!r} was not one of the allowed options for {name}: "
                             f"{', '.join(allowed)}",
                             errors=[{"code": "INVALID_OPTION",
                                      "context": {"propertyName": [name]}}])

    def _check_writable(self, kind: str, props: Mapping[str, Any]) -> None:
        unknown = sorted(set(props) - set(self._properties[kind]))
        if unknown:
            raise _Reply(400, "VALIDATION_ERROR", f"Property values were not valid: "
                         f"{', '.join(unknown)} do not exist on {kind}",
                         errors=[{"code": "PROPERTY_DOESNT_EXIST", "context":
                                  {"propertyName": unknown}}])

    def _lead_state(self, lead_id: str) -> bool | None:
        """True for a live lead, False for a deleted one, None for an unknown id."""
        try:
            return not self.crm.get_lead(lead_id)["deleted"]
        except ConnectorError:
            return None

    def _oauth_token(self, body: bytes) -> dict[str, Any]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        client = self.oauth_clients.get(form.get("client_id", ""))
        if (form.get("grant_type") != "refresh_token" or client is None
                or client != (form.get("client_secret"), form.get("refresh_token"))):
            raise _Reply(400, "BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        token = f"oauth-{uuid.uuid4().hex[:12]}"
        self.tokens.add(token)
        return {"access_token": token, "refresh_token": client[1], "expires_in": 1800,
                "token_type": "bearer"}


class _Handler(BaseHTTPRequestHandler):
    owner: HubSpotFace
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle on, each keep-alive reply would
    # wait for the client's delayed ACK (tens of milliseconds a call).
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, reply = self.owner.handle(self.command, self.path, headers, body)
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: tests and the demo print their own summaries."""


# -- object shapes ---------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A stored value as HubSpot's string property value."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _contact(lead: SandboxLead, wanted: list[str] | None, *, rep_score: str | None = None
             ) -> dict[str, Any]:
    f = lead.fields
    status = f.get("status")
    props: dict[str, str | None] = {
        "hs_object_id": hubspot_id(lead.crm_id),
        "email": _text(f.get("email")), "firstname": _text(f.get("first_name")),
        "lastname": _text(f.get("last_name")), "company": _text(f.get("company")),
        "jobtitle": _text(f.get("title")), "industry": _text(f.get("industry")),
        "numemployees": _text(f.get("employees")), "country": _text(f.get("country")),
        "hs_lead_status": _LEAD_STATUS.get(str(status), _text(status)
                                           if status != "converted" else None),
        "lifecyclestage": "customer" if status == "converted" else "lead",
        "hubspot_owner_id": hubspot_id(f["owner_id"]) if f.get("owner_id") else None,
        "hs_email_optout": _text(f.get("email_opt_out")),
        "state": _text(f.get("state")) or None,
        # HubSpot's time zone enumeration spells Europe/Berlin as europe_slash_berlin.
        "hs_timezone": (str(f["time_zone"]).lower().replace("/", "_slash_")
                        if f.get("time_zone") else None),
        "leadloop_lead_source": _text(f.get("lead_source")),
        "leadloop_past_purchases": _text(f.get("past_purchases")),
        "leadloop_lifetime_value": _text(f.get("lifetime_value")),
        "leadloop_notes": _text(f.get("notes")),
        "leadloop_events": _text(f.get("events")),
        "leadloop_score": _text(lead.score), "leadloop_tier": _text(lead.tier),
        "leadloop_fit_score": _text(lead.fit_score),
        "leadloop_engagement_score": _text(lead.engagement_score),
        "leadloop_grade": _text(lead.grade),
        "leadloop_rep_score": rep_score,
        "createdate": _text(f.get("created_at")),
        "lastmodifieddate": iso_ms(lead.modified_at),
    }
    shown: dict[str, Any] = {
        "id": hubspot_id(lead.crm_id), "properties": _only(props, wanted),
        "createdAt": props["createdate"], "updatedAt": iso_ms(lead.modified_at),
        "archived": lead.deleted,
    }
    if lead.deleted:
        shown["archivedAt"] = iso_ms(lead.modified_at)
    return shown


def _task(task: SandboxTask, wanted: list[str] | None) -> dict[str, Any]:
    props: dict[str, str | None] = {
        "hs_object_id": hubspot_id(task.task_id),
        "hs_task_subject": task.subject, "hs_task_body": task.email_body or None,
        "leadloop_email_subject": task.email_subject or None,
        "leadloop_review_notes": task.description or None,
        "leadloop_outcome": task.outcome or None,
        "leadloop_note": task.note or None,
        "hs_task_status": _STATUS_TO_HS[task.status.value],
        "hs_task_type": "EMAIL" if task.kind == "draft" else "TODO",
        "hubspot_owner_id": hubspot_id(task.owner_id),
        "hs_timestamp": str(to_ms(datetime.combine(task.due_date, datetime.min.time(), UTC)))
        if task.due_date else None,
        "leadloop_proposal_id": task.proposal_key,
        "leadloop_decision": task.decision.value.upper() if task.decision else None,
        "leadloop_reason": task.decision_reason,
        # The sandbox fills a final score in when a task is approved as proposed; HubSpot
        # leaves the property empty then, which is what lets a contact's rep score count.
        "leadloop_final_score": _text(task.final_score)
        if task.final_score != task.proposed_score else None,
        "leadloop_proposed_score": _text(task.proposed_score),
        "hs_createdate": iso_ms(task.created_at),
        "hs_lastmodifieddate": iso_ms(task.modified_at),
    }
    return {"id": hubspot_id(task.task_id), "properties": _only(props, wanted),
            "createdAt": iso_ms(task.created_at), "updatedAt": iso_ms(task.modified_at),
            "archived": False,
            "associations": {"contacts": {"results": [
                {"id": hubspot_id(task.lead_crm_id), "type": "task_to_contact"}]}}}


def _check_task_update(position: int, props: Mapping[str, str], owners: set[str]) -> None:
    """Refuse, for the whole batch, an update HubSpot would refuse or the sandbox cannot keep."""
    status = props.get("hs_task_status")
    if status is None:
        raise _Reply(400, "VALIDATION_ERROR", f"input {position}: the sandbox face needs "
                     "hs_task_status in every task update")
    if status not in _HS_TASK_STATUSES:
        raise _Reply(400, "VALIDATION_ERROR", f"input {position}: Property values were not "
                     f"valid: {status!r} was not one of the allowed options for "
                     "hs_task_status")
    if status not in ("NOT_STARTED", "COMPLETED"):
        raise _Reply(400, "VALIDATION_ERROR", f"input {position}: the sandbox face sets a "
                     f"review task NOT_STARTED or COMPLETED, not {status}")
    extra = sorted(set(props) - _TASK_UPDATABLE)
    if extra:
        raise _Reply(400, "VALIDATION_ERROR", f"input {position}: the sandbox face does not "
                     f"update {', '.join(extra)} on a task")
    kept = [name for name in ("leadloop_reason", "leadloop_final_score") if props.get(name)]
    if kept:
        raise _Reply(400, "VALIDATION_ERROR", f"input {position}: the sandbox face can only "
                     f"clear {', '.join(kept)}")
    if status == "NOT_STARTED" and (props.get("leadloop_decision")
                                    or props.get("leadloop_outcome")):
        raise _Reply(400, "VALIDATION_ERROR", f"input {position}: the sandbox clears "
                     "leadloop_decision and leadloop_outcome on an open task")
    owner = props.get("hubspot_owner_id")
    if owner is not None and owner not in owners:
        raise _Reply(400, "VALIDATION_ERROR", f"input {position}: {owner!r} is not a valid "
                     "owner id (hubspot_owner_id)")


def _task_update(task: SandboxTask, props: Mapping[str, str]) -> TaskUpdate:
    """The sandbox update a checked HubSpot update makes; what it leaves out stays as is."""
    opened = props["hs_task_status"] == "NOT_STARTED"
    decision = props.get("leadloop_decision",
                         task.decision.value.upper() if task.decision else "")
    outcome = props.get("leadloop_outcome", task.outcome or "")
    owner = props.get("hubspot_owner_id")
    return TaskUpdate(
        task_id=task.task_id, proposal_key=str(task.proposal_key),
        owner_id=(sandbox_id("U", owner) or owner) if owner else task.owner_id,
        open=opened,
        decision=None if opened or not decision else TaskDecision(decision.lower()),
        outcome=None if opened or not outcome else TaskOutcome(outcome),
        note=props.get("leadloop_note", task.note),
    )


def _email(record: dict[str, Any]) -> dict[str, Any]:
    return {"id": record["id"], "properties": dict(record["properties"]), "archived": False}


def _only(props: Mapping[str, Any], wanted: list[str] | None) -> dict[str, Any]:
    if wanted is None:
        return dict(props)
    return {name: props.get(name) for name in wanted if name in props}


def _property_list(query: dict[str, list[str]]) -> list[str] | None:
    names = [n for value in query.get("properties", []) for n in value.split(",") if n]
    return names or None


def _batch_inputs(payload: dict[str, Any]) -> list[dict[str, Any]]:
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise _Reply(400, "VALIDATION_ERROR", "inputs must be a non-empty list")
    if len(inputs) > BATCH_MAX:
        raise _Reply(400, "VALIDATION_ERROR", f"at most {BATCH_MAX} inputs per batch")
    return inputs


def _associated_contact(item: Mapping[str, Any], type_id: int) -> str:
    for association in item.get("associations") or []:
        for spec in association.get("types", []):
            if (spec.get("associationCategory") == "HUBSPOT_DEFINED"
                    and int(spec.get("associationTypeId", 0)) == type_id):
                return str(association["to"]["id"])
    raise _Reply(400, "VALIDATION_ERROR", f"an association to a contact (HUBSPOT_DEFINED "
                 f"{type_id}) is required")


def _error(category: str, message: str, **context: list[str]) -> dict[str, Any]:
    return {"status": "error", "category": category, "message": message, "context": context}


def _batch_reply(results: list[dict[str, Any]], errors: list[dict[str, Any]], *,
                 ok_status: int) -> tuple[int, Any]:
    now = iso_ms(datetime.now(UTC))
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now,
                            "completedAt": now}
    if errors:
        body["errors"] = errors
        body["numErrors"] = len(errors)
        return 207, body
    return ok_status, body


def _stamp_ms(value: Any) -> int | None:
    if value is None or value == "":
        return None
    text = str(value)
    if text.lstrip("-").isdigit():
        return int(text)
    return to_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _lower_bound(groups: list[dict[str, Any]], stamp_property: str) -> int | None:
    """The lowest stamp every filter group needs, so a search reads only what follows it."""
    bounds = []
    for group in groups:
        bound = None
        for f in group.get("filters", []):
            if f.get("propertyName") == stamp_property and f.get("operator") in (
                    "GTE", "GT", "EQ"):
                bound = _stamp_ms(f.get("value"))
        if bound is None:
            return None
        bounds.append(bound)
    return min(bounds) if bounds else None


def _sort_value(props: Mapping[str, Any], name: str) -> Any:
    value = props.get(name)
    if name in _DATE_PROPERTIES:
        return _stamp_ms(value) or 0
    if name == "hs_object_id":
        return int(value or 0)
    return "" if value is None else str(value)


def _matches(props: Mapping[str, Any], filters: list[dict[str, Any]]) -> bool:
    for f in filters:
        name, op = f.get("propertyName", ""), f.get("operator", "EQ")
        have = props.get(name)
        if op == "HAS_PROPERTY":
            if have in (None, ""):
                return False
            continue
        if op == "NOT_HAS_PROPERTY":
            if have not in (None, ""):
                return False
            continue
        if have in (None, ""):
            return False
        compare: Callable[[Any], Any] = str
        if name in _DATE_PROPERTIES:
            compare = _stamp_ms
        elif name == "hs_object_id":
            compare = _number
        left: Any = compare(have)
        if op == "IN":
            if left not in {compare(v) for v in f.get("values", [])}:
                return False
            continue
        right: Any = compare(f.get("value"))
        ok = {"EQ": left == right, "NEQ": left != right, "GT": left > right,
              "GTE": left >= right, "LT": left < right, "LTE": left <= right}.get(op)
        if ok is None:
            raise _Reply(400, "VALIDATION_ERROR", f"operator {op} is not served by the face")
        if not ok:
            return False
    return True


def _int_text(value: str) -> int | None:
    try:
        return int(float(value))
    except ValueError:
        return None


def _number(value: Any) -> int:
    return int(str(value))


def _scope_for(path: str) -> str:
    if path.startswith("/communication-preferences"):
        return "communication_preferences.write"
    if path.startswith("/crm/v3/owners"):
        return "crm.objects.owners.read"
    if path.startswith("/crm/v3/properties"):
        return "crm.schemas.contacts.write"
    if path.startswith("/crm/v3/objects/emails"):
        return "sales-email-read"
    return "crm.objects.contacts.write"


def _route_name(method: str, path: str) -> str:
    generic = re.sub(r"/\d+", "/{id}", path)
    return f"{method} {generic}"


_SCORE_PROPERTIES = {"leadloop_score", "leadloop_tier", "leadloop_fit_score",
                     "leadloop_engagement_score", "leadloop_grade"}


def _whole_or_none(value: Any) -> int | None:
    """A number property as HubSpot sends it (text), as a whole number; None when empty."""
    try:
        return None if value in (None, "") else int(float(value))
    except (TypeError, ValueError):
        return None
