"""leadloop's connector to HubSpot: contacts are leads, tasks are review tasks.

Times are epoch milliseconds in UTC on the wire and aware UTC datetimes here; nothing
reads the machine's local time zone (see :mod:`connectors.hubspot.wire`). What a review
task holds on the wire is :mod:`connectors.hubspot.tasks`.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
from connectors.errors import ConnectorError
from connectors.hubspot import outcomes
from connectors.hubspot.archived import scan_floor
from connectors.hubspot.client import HubSpotError, HubSpotTransport
from connectors.hubspot.config import HubSpotConfig
from connectors.hubspot.properties import (
    CONTACT_PROPERTY_MAP,
    EMAIL_TO_CONTACT,
    ENGAGEMENT_PROPERTY,
    FIT_PROPERTY,
    GRADE_PROPERTY,
    GROUP,
    PROPOSAL_PROPERTY,
    REP_SCORE_PROPERTY,
    SCORE_PROPERTY,
    TIER_PROPERTY,
    PropertySpec,
    missing_properties,
    required_properties,
)
from connectors.hubspot.tasks import (
    TASK_READ_PROPERTIES,
    task_change,
    task_input,
    task_problem,
    update_input,
    update_problem,
    wants_rep_score,
)
from connectors.hubspot.wire import EPOCH, from_hubspot_time, int_or_none, next_after, to_ms
from connectors.outcomes import OutcomeEvent
from connectors.smtp import SmtpConfig, SmtpSender, message_id_for

log = logging.getLogger(__name__)
UNSUBSCRIBE_ALL_PATH = "/communication-preferences/v4/statuses/{subscriberIdString}/unsubscribe-all"

LIST_PAGE = 100
SEARCH_PAGE = 200
BATCH = 100
_OPEN_LEAD_STATUSES = {"NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "CONNECTED",
                       "OPEN_DEAL", ""}
_CLOSED_LEAD_STATUSES = {"UNQUALIFIED", "BAD_TIMING"}


@dataclass(frozen=True, slots=True)
class SkippedContact:
    """A contact the connector could not hand on at all, with why."""

    crm_id: str
    reason: str


class HubSpotConnector:
    """leadloop's connector to a HubSpot account.

    Args:
        config: the HubSpot settings.
        sender: sends approved email (the rep's mailbox or a relay); None refuses sends.
        transport: the HTTP side; built from ``config`` when None (tests inject one).
        limits_url: where a built transport counts rate limits (Redis; None: in memory).
    """

    name = "hubspot"

    def __init__(self, config: HubSpotConfig, *, sender: SmtpSender | None = None,
                 transport: HubSpotTransport | None = None,
                 limits_url: str | None = None) -> None:
        self.config = config
        self.transport = transport or HubSpotTransport(config, limits_url=limits_url)
        self.sender = sender
        self.property_map = {**CONTACT_PROPERTY_MAP, **config.property_map}
        self.skipped: list[SkippedContact] = []
        self._owner_emails: dict[str, str] | None = None

    @classmethod
    def from_config(cls, config: HubSpotConfig, *, smtp: SmtpConfig | None,
                    limits_url: str | None = None) -> HubSpotConnector:
        """The connector the settings describe.

        Args:
            config: the HubSpot settings.
            smtp: the SMTP settings; when not configured, sending refuses with one line.
            limits_url: where every worker counts rate limits (Redis; None: in memory).

        Raises:
            AuthError: no credentials are configured.
        """
        sender = SmtpSender(smtp) if smtp is not None and smtp.configured else None
        return cls(config, sender=sender, limits_url=limits_url)

    # -- setup ----------------------------------------------------------------------------

    def missing_properties(self) -> list[PropertySpec]:
        """The custom properties leadloop needs that the account lacks."""
        existing: dict[str, set[str]] = {}
        for object_type in {spec.object_type for spec in required_properties()}:
            _, body = self.transport.call(f"list {object_type} properties",
                                          self.transport.properties.get_all, object_type)
            existing[object_type] = {p["name"] for p in body.get("results", [])}
        return missing_properties(existing)

    def setup(self) -> list[PropertySpec]:
        """Create the missing custom properties (and their group); idempotent.

        Returns:
            The properties created now; empty when everything was there.
        """
        missing = self.missing_properties()
        groups_made: set[str] = set()
        for spec in missing:
            if spec.object_type not in groups_made:
                _, body = self.transport.call(f"list {spec.object_type} property groups",
                                              self.transport.groups.get_all, spec.object_type)
                if GROUP not in {g["name"] for g in body.get("results", [])}:
                    self.transport.call(f"create the {GROUP} property group",
                                        self.transport.groups.create, spec.object_type,
                                        {"name": GROUP, "label": "leadloop"})
                groups_made.add(spec.object_type)
            try:
                self.transport.call(f"create property {spec.object_type}.{spec.name}",
                                    self.transport.properties.create, spec.object_type,
                                    spec.definition())
            except HubSpotError as exc:
                if exc.status != 409:  # created meanwhile by another run: fine
                    raise
        return missing

    # -- owners ---------------------------------------------------------------------------

    def list_owners(self) -> list[Owner]:
        """Every HubSpot user who can own contacts.

        Returns:
            Owners with id, name and email; HubSpot has no manager field, so
            ``manager_id`` is None.
        """
        owners: list[Owner] = []
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": 100, "archived": False}
            if after:
                kwargs["after"] = after
            _, body = self.transport.call("list owners", self.transport.owners.get_page,
                                          **kwargs)
            for item in body.get("results", []):
                name = f"{item.get('firstName') or ''} {item.get('lastName') or ''}".strip()
                owners.append(Owner(str(item["id"]), name or str(item.get("email")),
                                    str(item.get("email") or "")))
            after = next_after(body)
            if after is None:
                break
        self._owner_emails = {o.owner_id: o.email for o in owners}
        return owners

    # -- contacts -------------------------------------------------------------------------

    def fetch_leads(self, *, since: SyncCursor | None) -> Iterator[RawLead]:
        """Contacts changed at or after a cursor, in (modified_at, crm_id) order.

        Searched by ``lastmodifieddate`` from the start on a full sync too, so each page is
        stored as it arrives; archived ones as :func:`connectors.hubspot.archived.scan_floor` says.

        Args:
            since: where the last read stopped; leads at its stamp with ids up to
                ``last_id`` are left out.

        Returns:
            Raw leads under the Lead field names, values as HubSpot holds them (for
            :func:`connectors.base.parse_lead` to validate). A contact with no usable
            modification stamp is skipped and recorded in :attr:`skipped`.
        """
        after = (since.modified_at, since.last_id) if since is not None else (EPOCH, "")
        every = self.config.archived_scan_hours
        floor = scan_floor(since, now=datetime.now(UTC), every_hours=every)
        archived = [] if floor is None else sorted(
            (r for r in self._list_contacts(archived=True) if _position(r) > floor),
            key=_position)
        changed = (self._raw_lead(obj) for obj in self._search_ordered(
            what="search contacts", method=self.transport.contacts_search.do_search,
            stamp_property="lastmodifieddate", since=since,
            properties=self._contact_properties(), filters=[]))
        live = (r for r in changed if r is not None and (since is None or _position(r) > after))
        yield from heapq.merge(live, archived, key=_position)

    def _contact_properties(self) -> list[str]:
        return sorted({*self.property_map.values(), "hs_lead_status", "lifecyclestage",
                       "lastmodifieddate", "hs_object_id"})

    def _list_contacts(self, *, archived: bool) -> Iterator[RawLead]:
        after: str | None = None
        properties = self._contact_properties()
        while True:
            kwargs: dict[str, Any] = {"limit": LIST_PAGE, "properties": properties,
                                      "archived": archived}
            if after:
                kwargs["after"] = after
            _, body = self.transport.call("list contacts", self.transport.contacts.get_page,
                                          **kwargs)
            for obj in body.get("results", []):
                raw = self._raw_lead(obj)
                if raw is not None:
                    yield raw
            after = next_after(body)
            if after is None:
                return

    def _raw_lead(self, obj: dict[str, Any]) -> RawLead | None:
        crm_id = str(obj.get("id", ""))
        props: dict[str, Any] = obj.get("properties") or {}
        deleted = bool(obj.get("archived"))
        stamp = from_hubspot_time(
            obj.get("archivedAt") if deleted else props.get("lastmodifieddate")
        ) or from_hubspot_time(obj.get("updatedAt"))
        if not crm_id or stamp is None:
            reason = "no id" if not crm_id else "no readable lastmodifieddate"
            self.skipped.append(SkippedContact(crm_id or "?", reason))
            log.warning("HubSpot contact %s skipped: %s", crm_id or "?", reason)
            return None
        fields: dict[str, Any] = {}
        for field_name, prop in self.property_map.items():
            value = props.get(prop)
            if value is None or (value == "" and field_name != "email"):
                continue
            fields[field_name] = value
        fields.setdefault("email", props.get(self.property_map["email"]))
        if "events" in fields:
            try:
                fields["events"] = json.loads(fields["events"])
            except (TypeError, json.JSONDecodeError):
                pass  # left as text: parse_lead names the field and the problem
        fields["status"] = _lead_status(props)
        return RawLead(crm_id=crm_id, modified_at=stamp, fields=fields, deleted=deleted)

    def fetch_leads_by_id(self, crm_ids: Sequence[str]) -> list[RawLead]:
        """The current record of each named contact, read now, 100 contacts a call.

        Contacts batch read (not search, which lags) with the properties a sync reads; the
        ids it does not find live are then read again as archived ones (HubSpot's
        ``archived=true`` returns only archived records), so that costs one more call per
        100 missing ids, and none when every contact is live.

        Args:
            crm_ids: contact ids; repeats are read once.

        Returns:
            Raw leads as :meth:`fetch_leads` gives them, in the order asked, archived
            contacts with ``deleted=True``; ids HubSpot does not know (or not numbers) are
            left out.
        """
        wanted = list(dict.fromkeys(i for i in crm_ids if i.isdigit()))
        found = self._read_contacts(wanted, archived=False)
        missing = [i for i in wanted if i not in found]
        found.update(self._read_contacts(missing, archived=True))
        return [found[i] for i in wanted if i in found]

    def _read_contacts(self, ids: list[str], *, archived: bool) -> dict[str, RawLead]:
        found: dict[str, RawLead] = {}
        properties = self._contact_properties()
        state = "archived" if archived else "live"
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            try:
                _, body = self.transport.call(
                    f"read {len(chunk)} {state} contact(s) by id",
                    self.transport.contacts_batch.read,
                    {"inputs": [{"id": i} for i in chunk], "properties": properties},
                    archived=archived)
            except HubSpotError as exc:
                if exc.status == 404:  # none of them found
                    continue
                raise
            for obj in body.get("results", []):
                raw = self._raw_lead({**obj, "archived": True} if archived else obj)
                if raw is not None and raw.crm_id in chunk:
                    found[raw.crm_id] = raw
        return found

    def _search_ordered(
        self, *, what: str, method: Callable[..., Any], stamp_property: str,
        since: SyncCursor | None, properties: list[str], filters: list[dict[str, Any]],
    ) -> Iterator[dict[str, Any]]:
        """Objects whose stamp is at or after ``since``, in (stamp, id) order, uncapped.

        Search sorts by one property only, so ties on the stamp arrive in no set order:
        objects are held back until a later stamp shows their stamp is complete, then
        yielded sorted by id. When paging would cross the result cap, the search starts
        again from the last stamp yielded; if a single stamp holds more than a cap's worth,
        that stamp is read on its own, paged by object id, which has no cap.
        """
        floor = to_ms(since.modified_at) if since else 0
        done: tuple[int, str] = (floor, since.last_id if since else "")
        held: list[tuple[int, str, dict[str, Any]]] = []
        offset = 0
        restarts_at_floor = 0
        while True:
            request = {
                "filterGroups": [{"filters": [
                    {"propertyName": stamp_property, "operator": "GTE", "value": str(floor)},
                    *filters]}],
                "sorts": [{"propertyName": stamp_property, "direction": "ASCENDING"}],
                "properties": properties, "limit": SEARCH_PAGE, "after": str(offset),
            }
            if offset == 0:
                request.pop("after")
            _, body = self.transport.call(what, method, request, search=True)
            page = body.get("results", [])
            for obj in page:
                stamp = from_hubspot_time((obj.get("properties") or {}).get(stamp_property))
                if stamp is None:
                    stamp = from_hubspot_time(obj.get("updatedAt")) or EPOCH
                held.append((to_ms(stamp), str(obj["id"]), obj))
            more = next_after(body) is not None
            top = max((h[0] for h in held), default=floor)
            # Everything stamped before the newest stamp seen is complete: later pages
            # only hold that stamp or later ones.
            ready = sorted((h for h in held if h[0] < top or not more), key=lambda h: h[:2])
            held = [h for h in held if h[0] >= top] if more else []
            for stamp_ms, ident, obj in ready:
                if (stamp_ms, ident) > done:
                    done = (stamp_ms, ident)
                    yield obj
            if not more:
                return
            offset += SEARCH_PAGE
            if offset + SEARCH_PAGE > self.config.search_result_cap:
                # The cap: start again from the newest complete stamp.
                if top > floor:
                    floor, offset, held, restarts_at_floor = top, 0, [], 0
                    done = max(done, (top, ""))
                    continue
                restarts_at_floor += 1
                yield from self._one_stamp(what=what, method=method, stamp_ms=floor,
                                           stamp_property=stamp_property,
                                           properties=properties, filters=filters,
                                           after_id=done[1] if done[0] == floor else "")
                floor, offset, held = floor + 1, 0, []
                done = (floor, "")

    def _one_stamp(
        self, *, what: str, method: Callable[..., Any], stamp_ms: int, stamp_property: str,
        properties: list[str], filters: list[dict[str, Any]], after_id: str,
    ) -> Iterator[dict[str, Any]]:
        """Every object at exactly one stamp, paged by object id (no result cap applies)."""
        everything: list[dict[str, Any]] = []
        last = 0
        while True:
            request = {
                "filterGroups": [{"filters": [
                    {"propertyName": stamp_property, "operator": "EQ", "value": str(stamp_ms)},
                    {"propertyName": "hs_object_id", "operator": "GT", "value": str(last)},
                    *filters]}],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": properties, "limit": SEARCH_PAGE,
            }
            _, body = self.transport.call(what, method, request, search=True)
            page = body.get("results", [])
            everything.extend(page)
            if len(page) < SEARCH_PAGE:
                break
            last = int(page[-1]["id"])
        for obj in sorted(everything, key=lambda o: str(o["id"])):
            if str(obj["id"]) > after_id:
                yield obj

    # -- scores ---------------------------------------------------------------------------

    def write_scores(self, scores: Sequence[ScoreWrite]) -> list[WriteResult]:
        """Write scores, tiers, sub-scores and grades into contact properties, 100 a call.

        Args:
            scores: one score per contact.

        Returns:
            One result per score, in order; a contact HubSpot refuses (unknown id, or a
            record error in a 207) gets its error, the others are written.
        """
        errors: dict[int, str] = {}
        for start in range(0, len(scores), BATCH):
            chunk = list(enumerate(scores[start : start + BATCH], start=start))
            errors.update(self._update_scores(chunk))
        return [WriteResult(s.lead_crm_id, ok=i not in errors, error=errors.get(i))
                for i, s in enumerate(scores)]

    def _update_scores(self, chunk: list[tuple[int, ScoreWrite]]) -> dict[int, str]:
        inputs = [{"id": s.lead_crm_id, "properties": _score_properties(s)} for _, s in chunk]
        try:
            _, body = self.transport.call(
                f"update scores of {len(chunk)} contact(s)",
                self.transport.contacts_batch.update, {"inputs": inputs})
        except HubSpotError as exc:
            if exc.status >= 500 or exc.status == 409:
                raise
            # A batch HubSpot refuses whole: halve it until the bad records stand alone.
            if len(chunk) == 1 or _refused_for_every_record(exc):
                why = _refusal(exc)
                return {i: f"contact {s.lead_crm_id}: {why}" for i, s in chunk}
            middle = len(chunk) // 2
            return {**self._update_scores(chunk[:middle]), **self._update_scores(chunk[middle:])}
        failed: dict[int, str] = {}
        positions = {s.lead_crm_id: i for i, s in chunk}
        for error in body.get("errors", []):
            for ident in (error.get("context") or {}).get("ids", []):
                if ident in positions:
                    failed[positions[ident]] = f"contact {ident}: {error.get('message')}"
        return failed

    # -- review tasks ---------------------------------------------------------------------

    def upsert_review_tasks(self, tasks: Sequence[ReviewTaskRequest]) -> list[TaskWriteResult]:
        """Create pending review tasks, 100 a call, each associated with its contact.

        Idempotent by the unique task property ``leadloop_proposal_id``: creation is tried
        first (one call per 100 new tasks, the minimum), and the keys HubSpot says exist
        already are read back by that property, so a retried batch never makes a second
        task.

        Args:
            tasks: the tasks to create.

        Returns:
            One result per task, in order: ``created`` for a new task, the existing task's
            id with ``created=False`` for a known key, or an error (unknown contact, empty
            subject, a record error in a 207), while the others are still created.
        """
        results: dict[str, TaskWriteResult] = {}
        first: dict[str, ReviewTaskRequest] = {}
        for task in tasks:
            problem = task_problem(task)
            if problem:
                results.setdefault(task.proposal_key or "", TaskWriteResult(
                    task.proposal_key, None, error=problem))
            elif task.proposal_key not in first and task.proposal_key not in results:
                first[task.proposal_key] = task
        pending = list(first.values())
        for start in range(0, len(pending), BATCH):
            results.update(self._create_tasks(pending[start : start + BATCH]))
        out: list[TaskWriteResult] = []
        handed: set[str] = set()
        for task in tasks:
            result = results[task.proposal_key or ""]
            if task.proposal_key in handed and result.task_id:
                result = TaskWriteResult(task.proposal_key, result.task_id, created=False)
            handed.add(task.proposal_key)
            out.append(result)
        return out

    def _create_tasks(self, batch: list[ReviewTaskRequest]) -> dict[str, TaskWriteResult]:
        inputs = [task_input(task) for task in batch]
        try:
            status, body = self.transport.call(
                f"create {len(batch)} review task(s)", self.transport.tasks_batch.create,
                {"inputs": inputs})
        except HubSpotError as exc:
            if exc.status == 409:
                return self._create_missing(batch, str(exc))
            if exc.status >= 500:
                raise
            if len(batch) == 1 or _refused_for_every_record(exc):
                why = _refusal(exc)
                return {t.proposal_key: TaskWriteResult(t.proposal_key, None, error=why)
                        for t in batch}
            middle = len(batch) // 2
            return {**self._create_tasks(batch[:middle]), **self._create_tasks(batch[middle:])}
        results: dict[str, TaskWriteResult] = {}
        for obj in body.get("results", []):
            key = (obj.get("properties") or {}).get(PROPOSAL_PROPERTY)
            if key:
                results[key] = TaskWriteResult(key, str(obj["id"]), created=True)
        conflicts: list[ReviewTaskRequest] = []
        by_key = {t.proposal_key: t for t in batch}
        for error in body.get("errors", []):
            for key in (error.get("context") or {}).get("objectWriteTraceId", []):
                if key not in by_key:
                    continue
                if error.get("category") == "CONFLICT":
                    conflicts.append(by_key[key])
                else:
                    results[key] = TaskWriteResult(key, None, error=str(error.get("message")))
        if conflicts:
            results.update(self._create_missing(conflicts, "conflict"))
        for task in batch:  # HubSpot said nothing about it: report, never assume
            results.setdefault(task.proposal_key, TaskWriteResult(
                task.proposal_key, None, error=f"HubSpot returned no outcome (HTTP {status})"))
        return results

    def _create_missing(self, batch: list[ReviewTaskRequest], why: str
                        ) -> dict[str, TaskWriteResult]:
        """Some keys exist already: return those tasks, and create only the others."""
        existing = self._tasks_by_key([t.proposal_key for t in batch])
        results = {key: TaskWriteResult(key, task_id, created=False)
                   for key, task_id in existing.items()}
        rest = [t for t in batch if t.proposal_key not in existing]
        if rest and len(rest) < len(batch):
            results.update(self._create_tasks(rest))
        else:
            for task in rest:  # no progress possible: report, do not loop
                results[task.proposal_key] = TaskWriteResult(
                    task.proposal_key, None, error=f"HubSpot refused the task: {why}")
        return results

    def _tasks_by_key(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(keys), BATCH):
            _, body = self.transport.call(
                "read review tasks by proposal id", self.transport.tasks_batch.read,
                {"idProperty": PROPOSAL_PROPERTY,
                 "inputs": [{"id": k} for k in keys[start : start + BATCH]],
                 "properties": [PROPOSAL_PROPERTY]})
            for obj in body.get("results", []):
                key = (obj.get("properties") or {}).get(PROPOSAL_PROPERTY)
                if key:
                    found[key] = str(obj["id"])
        return found

    def fetch_task_changes(self, *, since: SyncCursor | None) -> Iterator[TaskChange]:
        """Review tasks changed at or after a cursor, in (modified_at, task_id) order.

        Args:
            since: where the last read stopped, as for :meth:`fetch_leads`.

        Returns:
            Task changes, decided as :class:`connectors.base.TaskChange` says:
            ``leadloop_decision`` Rejected (with ``leadloop_reason``) or Approved, or a
            completed task with neither a decision nor a ``leadloop_outcome`` reads as
            approved. The email is ``leadloop_email_subject`` and the task body as text;
            the review notes are never read. The owner is ``hubspot_owner_id`` (also who
            decided: HubSpot keeps no "completed by"), the outcome ``leadloop_outcome``.
            An approved score change's final score is the task's
            ``leadloop_final_score``; else the contact's ``leadloop_rep_score`` when the rep
            set it after the task was created; else the proposed score. Tasks without a
            proposal id are a rep's own and are left out.
        """
        after = (since.modified_at, since.last_id) if since else None
        objects = self._search_ordered(
            what="search review tasks", method=self.transport.tasks_search.do_search,
            stamp_property="hs_lastmodifieddate", since=since,
            properties=list(TASK_READ_PROPERTIES),
            filters=[{"propertyName": PROPOSAL_PROPERTY, "operator": "HAS_PROPERTY"}])
        batch: list[dict[str, Any]] = []
        for obj in objects:
            batch.append(obj)
            if len(batch) == BATCH:
                yield from self._task_changes(batch, after)
                batch = []
        yield from self._task_changes(batch, after)

    def _task_changes(self, objects: list[dict[str, Any]],
                      after: tuple[datetime, str] | None) -> Iterator[TaskChange]:
        rep_scores = self._rep_scores([obj for obj in objects if wants_rep_score(obj)])
        for obj in objects:
            change = task_change(obj, rep_score=rep_scores.get(str(obj.get("id"))))
            if change is not None and (after is None or
                                       (change.modified_at, change.task_id) > after):
                yield change

    def update_review_tasks(self, updates: Sequence[TaskUpdate]) -> list[WriteResult]:
        """Set review tasks to the state leadloop holds, 100 tasks a call.

        Each task is set whole through the tasks batch update: ``hs_task_status``
        (NOT_STARTED or COMPLETED), ``leadloop_decision`` and ``leadloop_outcome`` (empty
        clears them), ``hubspot_owner_id`` and ``leadloop_note``; reopening also clears
        ``leadloop_reason`` and ``leadloop_final_score``. Applying an update twice leaves
        the task as once. When one task id appears more than once, the last update wins.

        Args:
            updates: the states to set (see :class:`connectors.base.TaskUpdate`).

        Returns:
            One result per update, in order, by task id: a task HubSpot refuses (unknown
            id, unknown owner, a record error in a 207) gets its error, the others are
            written. A batch refused whole is split until the bad record stands alone.
        """
        errors: dict[int, str] = {}
        last: dict[str, int] = {}
        for position, update in enumerate(updates):
            problem = update_problem(update)
            if problem:
                errors[position] = problem
            else:
                last[update.task_id] = position  # HubSpot refuses an id twice in one batch
        pending = [(position, updates[position]) for position in sorted(last.values())]
        for start in range(0, len(pending), BATCH):
            errors.update(self._update_tasks(pending[start : start + BATCH]))
        results: list[WriteResult] = []
        for position, update in enumerate(updates):
            source = last.get(update.task_id, position) if position not in errors else position
            results.append(WriteResult(update.task_id, ok=source not in errors,
                                       error=errors.get(source)))
        return results

    def _update_tasks(self, chunk: list[tuple[int, TaskUpdate]]) -> dict[int, str]:
        try:
            status, body = self.transport.call(
                f"update {len(chunk)} review task(s)", self.transport.tasks_batch.update,
                {"inputs": [update_input(update) for _, update in chunk]})
        except HubSpotError as exc:
            if exc.status >= 500 or exc.status == 409:
                raise
            # A batch HubSpot refuses whole: halve it until the bad records stand alone.
            if len(chunk) == 1 or _refused_for_every_record(exc):
                why = _refusal(exc)
                return {position: f"task {update.task_id}: {why}"
                        for position, update in chunk}
            middle = len(chunk) // 2
            return {**self._update_tasks(chunk[:middle]), **self._update_tasks(chunk[middle:])}
        positions = {update.task_id: position for position, update in chunk}
        failed: dict[int, str] = {}
        for error in body.get("errors", []):
            for ident in (error.get("context") or {}).get("ids", []):
                if str(ident) in positions:
                    failed[positions[str(ident)]] = f"task {ident}: {error.get('message')}"
        written = {str(obj.get("id")) for obj in body.get("results", [])}
        for ident, position in positions.items():
            if ident not in written and position not in failed:  # report, never assume
                failed[position] = f"task {ident}: HubSpot returned no outcome (HTTP {status})"
        return failed

    def _rep_scores(self, tasks: list[dict[str, Any]]) -> dict[str, int]:
        """Task id -> the contact's rep score, for tasks whose contact's score the rep set
        after the task was created (two calls per 100 tasks: associations, then contacts)."""
        if not tasks:
            return {}
        _, linked = self.transport.call(
            "read the contacts of score change tasks", self.transport.associations.get_page,
            "tasks", "contacts", {"inputs": [{"id": str(t["id"])} for t in tasks]})
        contact_of: dict[str, str] = {}
        for item in linked.get("results", []):
            targets = item.get("to") or []
            if targets:
                contact_of[str((item.get("from") or {}).get("id"))] = str(
                    targets[0].get("toObjectId"))
        if not contact_of:
            return {}
        _, body = self.transport.call(
            "read the reps' own scores", self.transport.contacts_batch.read,
            {"inputs": [{"id": c} for c in sorted(set(contact_of.values()))],
             "properties": [REP_SCORE_PROPERTY], "propertiesWithHistory": [REP_SCORE_PROPERTY]})
        latest: dict[str, tuple[datetime, int | None]] = {}
        for contact in body.get("results", []):
            history = (contact.get("propertiesWithHistory") or {}).get(REP_SCORE_PROPERTY) or []
            stamped = [(from_hubspot_time(h.get("timestamp")), h.get("value")) for h in history]
            dated = [(at, value) for at, value in stamped if at is not None]
            if dated:
                at, value = max(dated, key=lambda pair: pair[0])
                latest[str(contact.get("id"))] = (at, int_or_none(value))
        scores: dict[str, int] = {}
        for task in tasks:
            task_id = str(task["id"])
            found = latest.get(contact_of.get(task_id, ""))
            created = from_hubspot_time((task.get("properties") or {}).get("hs_createdate")
                                        ) or from_hubspot_time(task.get("createdAt"))
            if found is None or found[1] is None or created is None:
                continue
            if found[0] > created:  # set for this task, not left over from an earlier one
                scores[task_id] = found[1]
        return scores

    def fetch_outcomes(self, *, since: SyncCursor | None) -> Iterator[OutcomeEvent]:
        """Replies, bounces (email engagements) and meetings after ``since``; see
        :mod:`connectors.hubspot.outcomes`."""
        return outcomes.fetch_outcomes(self, since)

    # -- email ----------------------------------------------------------------------------

    def find_sent_email(self, idempotency_key: str) -> SendResult | None:
        """The email sent under this key, read by the unique property (no search lag).

        Returns:
            The send with ``already_sent=True``, or None when none was logged as SENT.
        """
        logged = self._email_by_key(idempotency_key)
        if logged is None or logged["properties"].get("hs_email_status") != "SENT":
            return None
        return self._send_result(idempotency_key, logged, already_sent=True)

    def send_email(self, email: OutgoingEmail) -> SendResult:
        """Send over SMTP once per key, logged on the contact as an email engagement.

        The engagement is created first, status SENDING, under the unique property
        ``leadloop_idempotency_key``: that write is the lock, so two workers cannot both
        send. Then SMTP, then status SENT. An SMTP failure marks it FAILED, which a retry
        may send again; a SENDING log left by a crash is refused, because the mail may
        have left.

        Args:
            email: the approved email.

        Returns:
            The send; a key already SENT returns the first send with ``already_sent=True``.

        Raises:
            ConnectorError: SMTP is not configured or failed, or an earlier attempt was
                interrupted mid-send.
        """
        if self.sender is None:
            raise ConnectorError("SMTP is not configured for HubSpot sends: set "
                                 "LEADLOOP_SMTP__HOST (HubSpot's API does not send email)")
        logged = self._email_by_key(email.idempotency_key)
        if logged is None:
            logged = self._log_sending(email)
            if logged is None:  # another worker logged it between our read and write
                logged = self._email_by_key(email.idempotency_key)
                if logged is None:
                    raise ConnectorError(f"email {email.idempotency_key}: HubSpot reported a "
                                         "conflict but has no email under that key")
        state = logged["properties"].get("hs_email_status")
        if state == "SENT":
            return self._send_result(email.idempotency_key, logged, already_sent=True)
        if state == "SENDING" and logged.get("_ours") is not True:
            raise ConnectorError(
                f"email {email.idempotency_key} was being sent when an earlier run stopped "
                f"(HubSpot email {logged['id']} is SENDING); check the rep's mailbox, then "
                "set its status to SENT or FAILED")
        if state != "SENDING":  # FAILED before: this attempt takes it over
            self._set_email(str(logged["id"]), {"hs_email_status": "SENDING"})
        try:
            message_id = self.sender.send(email, from_address=self._from_address(email))
        except ConnectorError:
            self._set_email(str(logged["id"]), {"hs_email_status": "FAILED"})
            raise
        sent_at = EPOCH + timedelta(milliseconds=to_ms(datetime.now(UTC)))
        self._set_email(str(logged["id"]), {"hs_email_status": "SENT",
                                            "hs_timestamp": str(to_ms(sent_at))})
        return SendResult(email.idempotency_key, message_id, sent_at)

    def opt_out_of_email(self, crm_id: str, *, email: str) -> None:
        """Unsubscribe the address from all email (communication preferences v4,
        ``unsubscribe-all`` on the EMAIL channel); HubSpot then shows ``hs_email_optout``.

        ``hs_email_optout`` itself is HubSpot's to set: a write to it is refused, so the
        subscriptions API is the way in. Needs the ``communication_preferences.write`` scope.

        Raises:
            ConnectorError: HubSpot refused or could not be reached.
        """
        api_client = self.transport.contacts.api_client
        self.transport.call(
            f"unsubscribe {email} (contact {crm_id}) from all email", api_client.call_api,
            UNSUBSCRIBE_ALL_PATH, "POST", path_params={"subscriberIdString": email},
            query_params=[("channel", "EMAIL")],
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            auth_settings=["oauth2"])

    def _log_sending(self, email: OutgoingEmail) -> dict[str, Any] | None:
        headers: dict[str, Any] = {"from": {"email": self._from_address(email)},
                                   "to": email.to,
                                   "messageId": self._message_id(email.idempotency_key)}
        # The log keeps the unsubscribe headers the SMTP message carries, by their names.
        headers.update(dict(email.headers))
        body = {"properties": {
            "hs_timestamp": str(to_ms(datetime.now(UTC))), "hs_email_direction": "EMAIL",
            "hs_email_status": "SENDING", "hs_email_subject": email.subject,
            "hs_email_text": email.body, "hs_email_headers": json.dumps(headers),
            "hubspot_owner_id": email.from_owner_id,
            "leadloop_idempotency_key": email.idempotency_key,
        }, "associations": [{"to": {"id": email.lead_crm_id}, "types": [{
            "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": EMAIL_TO_CONTACT}]}]}
        try:
            _, created = self.transport.call("log the email on the contact",
                                             self.transport.emails.create, body)
        except HubSpotError as exc:
            if exc.status == 409:
                return None
            raise
        created["_ours"] = True
        return created

    def _email_by_key(self, key: str) -> dict[str, Any] | None:
        _, body = self.transport.call(
            "read the email log", self.transport.emails_batch.read,
            {"idProperty": "leadloop_idempotency_key", "inputs": [{"id": key}],
             "properties": ["hs_email_status", "hs_timestamp", "hs_email_headers",
                            "leadloop_idempotency_key"]})
        for obj in body.get("results", []):
            if (obj.get("properties") or {}).get("leadloop_idempotency_key") == key:
                return dict(obj)
        return None

    def _set_email(self, email_id: str, properties: dict[str, str]) -> None:
        self.transport.call("update the email log", self.transport.emails.update, email_id,
                            {"properties": properties})

    def _send_result(self, key: str, logged: dict[str, Any], *, already_sent: bool
                     ) -> SendResult:
        props = logged.get("properties") or {}
        try:
            message_id = json.loads(props.get("hs_email_headers") or "{}").get("messageId")
        except (TypeError, json.JSONDecodeError):
            message_id = None
        sent_at = from_hubspot_time(props.get("hs_timestamp")) or EPOCH
        return SendResult(key, str(message_id or self._message_id(key)), sent_at,
                          already_sent=already_sent)

    def _message_id(self, key: str) -> str:
        domain = self.sender.config.domain if self.sender else "leadloop.local"
        return message_id_for(key, domain)

    def _from_address(self, email: OutgoingEmail) -> str:
        if self._owner_emails is None:
            self.list_owners()
        owners = self._owner_emails or {}
        if email.from_owner_id not in owners:
            raise ConnectorError(f"email {email.idempotency_key}: owner {email.from_owner_id} "
                                 "is not a HubSpot owner, so there is no mailbox to send from")
        return owners[email.from_owner_id]


# -- mapping ---------------------------------------------------------------------------------


def _position(raw: RawLead) -> tuple[datetime, str]:
    return (raw.modified_at, raw.crm_id)


def _refused_for_every_record(exc: HubSpotError) -> bool:
    """The refusal is about the request, not one record: splitting the batch cannot help.

    A property the account lacks (``leadloop hubspot setup`` not run since an upgrade)
    fails every record; halving would spend about two calls per record to learn that.
    """
    errors = exc.body.get("errors") or []
    return any(isinstance(e, dict) and e.get("code") == "PROPERTY_DOESNT_EXIST"
               for e in errors)


def _refusal(exc: HubSpotError) -> str:
    """A batch refusal as one record's error, saying what to do when the admin can fix it."""
    if _refused_for_every_record(exc):
        return f"{exc}; run `leadloop hubspot setup` to create the missing properties"
    return str(exc)


def _lead_status(props: dict[str, Any]) -> str:
    if str(props.get("lifecyclestage") or "").lower() == "customer":
        return "converted"
    status = str(props.get("hs_lead_status") or "").upper()
    if status in _CLOSED_LEAD_STATUSES:
        return "disqualified"
    if status in _OPEN_LEAD_STATUSES:
        return "open"
    return status.lower()


def _score_properties(score: ScoreWrite) -> dict[str, str]:
    """A score write as contact properties; unknown sub-scores leave theirs alone."""
    properties = {SCORE_PROPERTY: str(score.score), TIER_PROPERTY: score.tier}
    for name, value in ((FIT_PROPERTY, score.fit_score),
                        (ENGAGEMENT_PROPERTY, score.engagement_score),
                        (GRADE_PROPERTY, score.grade)):
        if value is not None:
            properties[name] = str(value)
    return properties
