"""The sandbox CRM: a small CRM in its own SQLite file, the embedded default.

It behaves like a hosted CRM where leadloop can tell: leads with owners and modification
stamps, soft deletes, tasks with a Salesforce-like status picklist that a rep works, and
an email log. Two processes may use one file at once (say ``leadloop review`` in one
terminal while the pipeline runs in another): the file is in WAL mode, every write is one
``BEGIN IMMEDIATE`` transaction, and waiting writers retry for up to 30 seconds.

Modification stamps are the file's own clock: each write transaction stamps its rows with
a time later than any stamp already in the file, even when the injected clock repeats or
goes back, so an incremental reader's (stamp, id) cursor can never skip a later change.
Rows written in one transaction share their stamp, as they often do in a real CRM; readers
break those ties by id.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any

from connectors.base import (
    OutgoingEmail,
    Owner,
    ReviewTaskRequest,
    ScoreWrite,
    SendResult,
    TaskDecision,
    TaskUpdate,
    TaskWriteResult,
    WriteResult,
)
from connectors.errors import NotFoundError
from connectors.sandbox.errors import (
    InvalidValueError,
    SandboxError,
    TaskAlreadyDecidedError,
)
from connectors.sandbox.generator import generate_leads, generate_owners
from connectors.sandbox.importer import read_lead_file, unstorable

SCHEMA_VERSION = 4
MAX_SUBJECT_CHARS = 255
# The Lead fields of connectors.base a sandbox lead stores; crm_id and modified_at are
# the CRM's own and are never taken from a record.
LEAD_FIELDS: tuple[str, ...] = (
    "email", "first_name", "last_name", "title", "company", "industry", "employees",
    "country", "lead_source", "status", "owner_id", "past_purchases", "lifetime_value",
    "email_opt_out", "notes", "events", "created_at", "state", "time_zone",
)
_STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# Real CRMs stamp to the millisecond, and so do stores that keep our cursors; a finer
# stamp could be rounded on the way back and make a cursor re-read or skip a row.
_STAMP_STEP = timedelta(milliseconds=1)
_QUERY_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS owners (
    seq INTEGER PRIMARY KEY,
    owner_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    manager_id TEXT REFERENCES owners (owner_id)
);
-- Lead columns carry no type, so values keep the type they came with and a malformed
-- value from an import reaches the sync's validation exactly as the team's file had it.
CREATE TABLE IF NOT EXISTS leads (
    seq INTEGER PRIMARY KEY,
    crm_id TEXT NOT NULL UNIQUE,
    email, first_name, last_name, title, company, industry, employees, country,
    lead_source, status, owner_id, past_purchases, lifetime_value, email_opt_out, notes,
    events TEXT,
    created_at,
    state, time_zone,
    score INTEGER,
    tier TEXT,
    fit_score INTEGER,
    engagement_score INTEGER,
    grade TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    modified_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS leads_by_stamp ON leads (modified_at, crm_id);
CREATE TABLE IF NOT EXISTS tasks (
    seq INTEGER PRIMARY KEY,
    task_id TEXT NOT NULL UNIQUE,
    proposal_key TEXT UNIQUE,
    kind TEXT,
    lead_crm_id TEXT NOT NULL REFERENCES leads (crm_id),
    owner_id TEXT NOT NULL REFERENCES owners (owner_id),
    subject TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL
        CHECK (status IN ('Not Started', 'In Progress', 'Completed', 'Deferred')),
    decision TEXT CHECK (decision IN ('Approved', 'Rejected')),
    decision_reason TEXT,
    proposed_score INTEGER,
    final_score INTEGER,
    due_date TEXT,
    completed_by TEXT,
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    email_subject TEXT NOT NULL DEFAULT '',
    email_body TEXT NOT NULL DEFAULT '',
    outcome TEXT,
    leadloop_note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS tasks_by_stamp ON tasks (modified_at, task_id);
CREATE INDEX IF NOT EXISTS tasks_by_lead ON tasks (lead_crm_id);
CREATE TABLE IF NOT EXISTS email_log (
    seq INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    idempotency_key TEXT NOT NULL UNIQUE,
    lead_crm_id TEXT NOT NULL REFERENCES leads (crm_id),
    "to" TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    from_owner_id TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    headers TEXT NOT NULL DEFAULT '[]'
);
"""
_SCHEMA_1_TO_2 = (
    "ALTER TABLE tasks ADD COLUMN email_subject TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tasks ADD COLUMN email_body TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tasks ADD COLUMN outcome TEXT",
    "ALTER TABLE tasks ADD COLUMN leadloop_note TEXT NOT NULL DEFAULT ''",
)
# Schema 3: a lead's fit and engagement sub-scores and grade.
_SCHEMA_2_TO_3 = (
    "ALTER TABLE leads ADD COLUMN fit_score INTEGER",
    "ALTER TABLE leads ADD COLUMN engagement_score INTEGER",
    "ALTER TABLE leads ADD COLUMN grade TEXT",
)
# Schema 4: a lead's state and time-zone field; each logged email's extra headers.
_SCHEMA_3_TO_4 = (
    "ALTER TABLE leads ADD COLUMN state",
    "ALTER TABLE leads ADD COLUMN time_zone",
    "ALTER TABLE email_log ADD COLUMN headers TEXT NOT NULL DEFAULT '[]'",
)
# What takes a file made at schema N to N + 1.
_UPGRADES = {1: _SCHEMA_1_TO_2, 2: _SCHEMA_2_TO_3, 3: _SCHEMA_3_TO_4}


class TaskStatusValue(StrEnum):
    """The sandbox's task status picklist, spelled as Salesforce spells its defaults."""

    NOT_STARTED = "Not Started"
    IN_PROGRESS = "In Progress"
    COMPLETED = "Completed"
    DEFERRED = "Deferred"


class DecisionValue(StrEnum):
    """The sandbox's decision picklist on a review task."""

    APPROVED = "Approved"
    REJECTED = "Rejected"


@dataclass(frozen=True, slots=True)
class SandboxLead:
    """A lead as the sandbox stores it.

    ``fields`` uses the Lead field names of :mod:`connectors.base` with raw stored values;
    empty columns are left out so the Lead defaults apply, except ``email``, which is
    always present so a missing one is reported as missing.
    """

    crm_id: str
    fields: dict[str, Any]
    score: int | None
    tier: str | None
    deleted: bool
    modified_at: datetime
    fit_score: int | None = None
    engagement_score: int | None = None
    grade: str | None = None


@dataclass(frozen=True, slots=True)
class SandboxTask:
    """A task as a rep sees it in the sandbox; review tasks carry a proposal key.

    A draft's email is in ``email_subject`` and ``email_body``, which the rep edits; the
    ``description`` holds the notes for the rep. ``outcome`` and ``note`` are leadloop's:
    what became of the proposal, and why leadloop last changed the task.
    """

    task_id: str
    proposal_key: str | None
    kind: str | None
    lead_crm_id: str
    owner_id: str
    subject: str
    description: str
    status: TaskStatusValue
    decision: DecisionValue | None
    decision_reason: str | None
    proposed_score: int | None
    final_score: int | None
    due_date: date | None
    completed_by: str | None
    created_at: datetime
    modified_at: datetime
    email_subject: str = ""
    email_body: str = ""
    outcome: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class SentEmail:
    """One entry of the sandbox's email log: what would have gone out, and when."""

    message_id: str
    idempotency_key: str
    lead_crm_id: str
    to: str
    subject: str
    body: str
    from_owner_id: str
    sent_at: datetime
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What ``import_file`` did: leads imported, and rows rejected as (row number, reason)."""

    imported: int
    rejected: list[tuple[int, str]] = field(default_factory=list)
    owners_added: int = 0


class SandboxCRM:
    """A local CRM in one SQLite file: leads, owners, review tasks and an email log.

    Args:
        path: the SQLite file; created, with its folder, when missing.
        clock: returns the current time as an aware UTC datetime; default the system
            clock. Tests inject one that repeats to check that stamps still increase.

    Raises:
        SandboxError: the file exists but is not a sandbox CRM, or is from a newer version.
    """

    def __init__(
        self, path: str | Path, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.path = Path(path)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # check_same_thread=False: one object may serve a web app's worker threads;
            # the lock above keeps them from interleaving statements on the connection.
            self._db = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise SandboxError(f"{self.path}: cannot open the sandbox CRM file ({exc})") from None
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._create_schema()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise SandboxError(
                f"{self.path}: is not a sandbox CRM file ({exc}); "
                "point the sandbox at a new path or at a file the sandbox made"
            ) from None

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the file; the object cannot be used afterwards."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SandboxCRM:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SandboxCRM({str(self.path)!r})"

    # -- owners -------------------------------------------------------------------------

    def list_owners(self) -> list[Owner]:
        """Every user who can own leads, in the order they were added."""
        with self._lock:
            rows = self._db.execute(
                "SELECT owner_id, name, email, manager_id FROM owners ORDER BY seq"
            ).fetchall()
        return [Owner(r["owner_id"], r["name"], r["email"], r["manager_id"]) for r in rows]

    # -- leads --------------------------------------------------------------------------

    def seed(self, n: int, *, seed: int = 7, now: datetime | None = None) -> int:
        """Add the generated sales team (when there is none yet) and ``n`` generated leads.

        Args:
            n: how many leads to add; seeding again adds more (with the same seed, the
                same people again).
            seed: the generator's seed; the same seed and ``now`` give the same leads.
            now: the time the data is generated at; default this CRM's clock.

        Returns:
            The number of leads added.
        """
        self._ensure_owners(seed)
        owners = [
            {"owner_id": o.owner_id, "manager_id": o.manager_id} for o in self.list_owners()
        ]
        records = generate_leads(n, seed=seed, now=now or self._now(), owners=owners)
        return self.add_leads(records)

    def add_leads(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Add leads in one transaction; all are added or, on a bad record, none.

        Args:
            records: lead dicts keyed by Lead field names (see ``LEAD_FIELDS``). Values are
                stored as given, so malformed ones reach the sync's validation. Leads with
                no ``owner_id`` are given to the reps in turn.

        Returns:
            The number of leads added.

        Raises:
            InvalidValueError: a record has a field the sandbox does not know (including
                ``crm_id`` and ``modified_at``, which the CRM assigns) or a value that
                cannot be stored; the message names the record by position.
        """
        prepared: list[dict[str, Any]] = []
        for position, record in enumerate(records, start=1):
            unknown = sorted(set(record) - set(LEAD_FIELDS))
            if unknown:
                raise InvalidValueError(
                    f"lead record {position}: unknown field(s) {', '.join(unknown)}; "
                    f"expected some of {', '.join(LEAD_FIELDS)} (ids and stamps are assigned)"
                )
            values = {k: v for k, v in record.items() if v is not None}
            problem = _storage_problem(values)
            if problem:
                raise InvalidValueError(f"lead record {position}: {problem}")
            prepared.append(values)
        with self._write() as db:
            self._ensure_owners_in(db, seed=7)
            return self._insert_leads(db, prepared)

    def import_file(self, path: str | Path) -> ImportReport:
        """Import leads from a team's own CSV or JSON export.

        Columns are matched by our field names or common CRM spellings, case-insensitively
        ("Email", "First Name", "FirstName", "Lead Source", "NumberOfEmployees", "Owner"...).
        An owner cell may hold an owner id, email or name; an owner the sandbox does not
        know yet is added, and rows with no owner go to the reps in turn. Malformed values
        are imported as they are, for the sync to report; rows that cannot be stored at
        all are rejected, each with its row number and reason.

        Args:
            path: a ``.csv`` file with a header row, or a ``.json`` list of objects.

        Returns:
            How many leads were imported, and the rejected rows.

        Raises:
            ImportFileError: the file is missing, empty, not CSV or JSON, or has no email
                column; the message names the file and what is expected.
        """
        rows = read_lead_file(path)
        rejected: list[tuple[int, str]] = []
        accepted: list[dict[str, Any]] = []
        for row in rows:
            problem = row.problem or _storage_problem(
                {k: v for k, v in row.fields.items() if k != "owner"}
            )
            if problem:
                rejected.append((row.row_number, problem))
            else:
                accepted.append(row.fields)
        with self._write() as db:
            self._ensure_owners_in(db, seed=7)
            owners_before = _count(db, "owners")
            resolve = self._owner_resolver(db)
            records = []
            for fields in accepted:
                owner = fields.pop("owner", None)
                if owner is not None and str(owner).strip():
                    fields["owner_id"] = resolve(str(owner).strip())
                records.append(fields)
            imported = self._insert_leads(db, records)
            owners_added = _count(db, "owners") - owners_before
        return ImportReport(imported=imported, rejected=rejected, owners_added=owners_added)

    def update_lead(self, crm_id: str, **fields: Any) -> dict[str, Any]:
        """Change a lead's fields the way a rep's edit would, moving its modification stamp.

        Args:
            crm_id: the lead.
            **fields: Lead field names with new values; None clears a field.

        Returns:
            The lead as it now stands, as :meth:`get_lead` gives it.

        Raises:
            NotFoundError: no such lead, or it is deleted.
            InvalidValueError: an unknown field name or a value that cannot be stored.
        """
        unknown = sorted(set(fields) - set(LEAD_FIELDS))
        if unknown:
            raise InvalidValueError(
                f"lead {crm_id}: unknown field(s) {', '.join(unknown)}; "
                f"expected some of {', '.join(LEAD_FIELDS)}"
            )
        problem = _storage_problem({k: v for k, v in fields.items() if v is not None})
        if problem:
            raise InvalidValueError(f"lead {crm_id}: {problem}")
        with self._write() as db:
            self._live_lead(db, crm_id)
            stamp = self._next_stamp(db)
            assignments = "".join(f"{name} = ?, " for name in fields)
            db.execute(
                f"UPDATE leads SET {assignments}modified_at = ? WHERE crm_id = ?",
                [*(_to_column(k, v) for k, v in fields.items()), stamp, crm_id],
            )
        return self.get_lead(crm_id)

    def delete_lead(self, crm_id: str) -> None:
        """Delete a lead softly: it stays in the file, flagged, so a sync sees the delete.

        Deleting a lead that is already deleted changes nothing.

        Raises:
            NotFoundError: no such lead.
        """
        with self._write() as db:
            row = db.execute("SELECT deleted FROM leads WHERE crm_id = ?", (crm_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"lead {crm_id} not found in the sandbox CRM")
            if not row["deleted"]:
                db.execute(
                    "UPDATE leads SET deleted = 1, modified_at = ? WHERE crm_id = ?",
                    (self._next_stamp(db), crm_id),
                )

    def get_lead(self, crm_id: str) -> dict[str, Any]:
        """One lead as a dict, deleted or not (see :meth:`list_leads` for its keys).

        Raises:
            NotFoundError: no such lead.
        """
        with self._lock:
            row = self._db.execute(
                f"SELECT {_LEAD_COLUMNS} FROM leads WHERE crm_id = ?", (crm_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"lead {crm_id} not found in the sandbox CRM")
        return _lead_dict(row)

    def list_leads(self, *, include_deleted: bool = True) -> list[dict[str, Any]]:
        """Every lead in the order they were added, as a rep's list view would show them.

        Args:
            include_deleted: also the soft-deleted leads still in the file (flagged).

        Returns:
            Dicts with ``crm_id``, every name in ``LEAD_FIELDS`` (None where empty; events
            as a list), and the CRM's own ``score``, ``tier``, ``deleted`` and
            ``modified_at``.
        """
        where = "" if include_deleted else " WHERE deleted = 0"
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_LEAD_COLUMNS} FROM leads{where} ORDER BY seq"
            ).fetchall()
        return [_lead_dict(r) for r in rows]

    def count_leads(self, *, include_deleted: bool = True) -> int:
        """How many leads the file holds; soft-deleted ones count unless told otherwise."""
        where = "" if include_deleted else " WHERE deleted = 0"
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM leads{where}").fetchone()[0])

    def list_lead_ids(self, *, include_deleted: bool = True) -> list[str]:
        """Every lead id in the order the leads were added."""
        where = "" if include_deleted else " WHERE deleted = 0"
        with self._lock:
            rows = self._db.execute(f"SELECT crm_id FROM leads{where} ORDER BY seq").fetchall()
        return [r["crm_id"] for r in rows]

    def leads_after(
        self, after: tuple[datetime, str] | None, *, limit: int = 500
    ) -> list[SandboxLead]:
        """The next ``limit`` leads after a (modified_at, crm_id) position, in that order.

        Args:
            after: the last position already read; None starts at the beginning. A lead
                is returned when its (modified_at, crm_id) pair sorts after this one.
            limit: the page size.
        """
        stamp, last_id = ("", "") if after is None else (_stamp_text(after[0]), after[1])
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_LEAD_COLUMNS} FROM leads "
                "WHERE modified_at > ? OR (modified_at = ? AND crm_id > ?) "
                "ORDER BY modified_at, crm_id LIMIT ?",
                (stamp, stamp, last_id, limit),
            ).fetchall()
        return [_lead_from_row(r) for r in rows]

    def leads_by_ids(self, crm_ids: Sequence[str]) -> list[SandboxLead]:
        """The named leads as they stand now, deleted ones included; unknown ids are left out."""
        found: list[SandboxLead] = []
        with self._lock:
            for chunk in _chunks(sorted(set(crm_ids))):
                marks = ", ".join("?" * len(chunk))
                found.extend(_lead_from_row(r) for r in self._db.execute(
                    f"SELECT {_LEAD_COLUMNS} FROM leads WHERE crm_id IN ({marks})", list(chunk)))
        return found

    def leads_by_number(
        self, after: int, *, limit: int = 100, deleted: bool = False
    ) -> list[SandboxLead]:
        """The next ``limit`` leads in the order they were added, after row number ``after``.

        For list views that page by record number (the HubSpot face's list endpoint).

        Args:
            after: the last row number already read; 0 starts at the beginning.
            limit: the page size.
            deleted: the deleted leads instead of the live ones.
        """
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_LEAD_COLUMNS} FROM leads WHERE seq > ? AND deleted = ? "
                "ORDER BY seq LIMIT ?",
                (after, int(deleted), limit),
            ).fetchall()
        return [_lead_from_row(r) for r in rows]

    def set_scores(self, scores: Sequence[ScoreWrite]) -> list[WriteResult]:
        """Write score and tier onto leads in one transaction; one result per score.

        The lead's modification stamp is left alone on purpose: leadloop writes scores back
        after every run, and a moved stamp would make every scored lead look changed at the
        next incremental sync, which would then re-read (and re-score) the whole CRM.

        Args:
            scores: the scores to write.

        Returns:
            One result per score, in order; unknown or deleted leads get an error.
        """
        with self._write() as db:
            state = _lead_states(db, [s.lead_crm_id for s in scores])
            results: list[WriteResult] = []
            updates: list[tuple[Any, ...]] = []
            for score in scores:
                deleted = state.get(score.lead_crm_id)
                if deleted is None:
                    error = f"lead {score.lead_crm_id} not found"
                elif deleted:
                    error = f"lead {score.lead_crm_id} is deleted"
                elif isinstance(score.score, bool) or not isinstance(score.score, int):
                    error = f"score must be a whole number, got {score.score!r}"
                else:
                    error = None
                    updates.append((score.score, score.tier, score.fit_score,
                                    score.engagement_score, score.grade, score.lead_crm_id))
                results.append(WriteResult(score.lead_crm_id, ok=error is None, error=error))
            # Sub-scores left out of a write (None) keep what the lead has.
            db.executemany(
                "UPDATE leads SET score = ?, tier = ?, fit_score = COALESCE(?, fit_score), "
                "engagement_score = COALESCE(?, engagement_score), grade = COALESCE(?, grade) "
                "WHERE crm_id = ?", updates)
        return results

    # -- review tasks -------------------------------------------------------------------

    def create_review_tasks(self, requests: Sequence[ReviewTaskRequest]) -> list[TaskWriteResult]:
        """Create pending review tasks in one transaction, idempotently by proposal key.

        A request whose key already has a task (from an earlier call, or earlier in the
        same batch) returns that task's id with ``created=False``. A request the CRM
        refuses (unknown lead or owner, empty subject...) gets its own error; the others
        are still created.

        Args:
            requests: the tasks to create.

        Returns:
            One result per request, in order.
        """
        with self._write() as db:
            existing = _existing_keys(db, [r.proposal_key for r in requests])
            leads = _lead_states(db, [r.lead_crm_id for r in requests])
            owners = {r["owner_id"] for r in db.execute("SELECT owner_id FROM owners")}
            stamp: str | None = None
            number = _next_seq(db, "tasks")
            results: list[TaskWriteResult] = []
            rows: list[tuple[Any, ...]] = []
            for request in requests:
                key = request.proposal_key
                if key in existing:
                    results.append(TaskWriteResult(key, existing[key], created=False))
                    continue
                error = _task_request_problem(request, leads=leads, owners=owners)
                if error:
                    results.append(TaskWriteResult(key, None, error=error))
                    continue
                stamp = stamp or self._next_stamp(db)
                task_id = f"T{number:06d}"
                rows.append((
                    number, task_id, key, str(request.kind), request.lead_crm_id,
                    request.owner_id, request.subject.strip(), request.notes,
                    TaskStatusValue.NOT_STARTED.value, request.proposed_score,
                    request.due_date.isoformat(), stamp, stamp, request.email_subject,
                    request.email_body,
                ))
                existing[key] = task_id
                number += 1
                results.append(TaskWriteResult(key, task_id, created=True))
            db.executemany(
                "INSERT INTO tasks (seq, task_id, proposal_key, kind, lead_crm_id, owner_id, "
                "subject, description, status, proposed_score, due_date, created_at, "
                "modified_at, email_subject, email_body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return results

    def create_task(
        self,
        lead_crm_id: str,
        *,
        owner_id: str,
        subject: str,
        description: str = "",
        due_date: date | None = None,
    ) -> str:
        """Create a rep's own to-do on a lead: a task with no proposal key.

        Returns:
            The new task's id.

        Raises:
            NotFoundError: no such lead or owner.
            InvalidValueError: the subject is empty or too long.
        """
        problem = _subject_problem(subject)
        if problem:
            raise InvalidValueError(problem)
        with self._write() as db:
            self._live_lead(db, lead_crm_id)
            self._known_owner(db, owner_id)
            stamp = self._next_stamp(db)
            number = _next_seq(db, "tasks")
            task_id = f"T{number:06d}"
            db.execute(
                "INSERT INTO tasks (seq, task_id, lead_crm_id, owner_id, subject, description, "
                "status, due_date, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (number, task_id, lead_crm_id, owner_id, subject.strip(), description,
                 TaskStatusValue.NOT_STARTED.value,
                 due_date.isoformat() if due_date else None, stamp, stamp),
            )
        return task_id

    def get_task(self, task_id: str) -> SandboxTask:
        """One task.

        Raises:
            NotFoundError: no such task.
        """
        with self._lock:
            row = self._db.execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"task {task_id} not found in the sandbox CRM")
        return _task_from_row(row)

    def list_tasks(
        self, *, owner_id: str | None = None, status: str | None = None
    ) -> list[SandboxTask]:
        """Tasks in creation order, optionally only one owner's and only one status.

        Args:
            owner_id: only tasks this owner is assigned.
            status: only tasks with this picklist value ('Not Started', 'In Progress',
                'Completed', 'Deferred').

        Raises:
            InvalidValueError: ``status`` is not a picklist value.
        """
        clauses, params = [], []
        if owner_id is not None:
            clauses.append("owner_id = ?")
            params.append(owner_id)
        if status is not None:
            clauses.append("status = ?")
            params.append(_picklist_status(status).value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM tasks{where} ORDER BY seq", params).fetchall()
        return [_task_from_row(r) for r in rows]

    def tasks_for_lead(self, crm_id: str) -> list[SandboxTask]:
        """Every task on one lead, in creation order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM tasks WHERE lead_crm_id = ? ORDER BY seq", (crm_id,)
            ).fetchall()
        return [_task_from_row(r) for r in rows]

    def tasks_after(
        self, after: tuple[datetime, str] | None, *, limit: int = 500
    ) -> list[SandboxTask]:
        """The next ``limit`` review tasks (those with a proposal key) after a position.

        Args:
            after: the last (modified_at, task_id) already read; None starts at the
                beginning.
            limit: the page size.
        """
        stamp, last_id = ("", "") if after is None else (_stamp_text(after[0]), after[1])
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM tasks WHERE proposal_key IS NOT NULL "
                "AND (modified_at > ? OR (modified_at = ? AND task_id > ?)) "
                "ORDER BY modified_at, task_id LIMIT ?",
                (stamp, stamp, last_id, limit),
            ).fetchall()
        return [_task_from_row(r) for r in rows]

    def update_review_tasks(self, updates: Sequence[TaskUpdate]) -> list[WriteResult]:
        """Set review tasks to the state leadloop holds, in one transaction; one result each.

        Each update is set whole (status, decision, outcome, owner, note), so applying one
        twice leaves the task as once. Reopening (``open``) also clears what the rep's
        refused decision left behind: who completed it, the reason and a final score.

        Args:
            updates: the states to set.

        Returns:
            One result per update, by task id; an unknown task or owner gets an error.
        """
        with self._write() as db:
            owners = {r["owner_id"] for r in db.execute("SELECT owner_id FROM owners")}
            stamp: str | None = None
            results: list[WriteResult] = []
            for update in updates:
                row = db.execute("SELECT task_id, proposal_key FROM tasks WHERE task_id = ?",
                                 (update.task_id,)).fetchone()
                error = None
                if row is None or row["proposal_key"] != update.proposal_key:
                    error = f"no review task {update.task_id} for {update.proposal_key}"
                elif update.owner_id not in owners:
                    error = f"owner {update.owner_id} not found"
                elif unstorable("note", update.note):
                    error = "note must be valid text"
                if error is None:
                    stamp = stamp or self._next_stamp(db)
                    if update.open:
                        db.execute(
                            "UPDATE tasks SET status = ?, decision = NULL, outcome = NULL, "
                            "decision_reason = NULL, completed_by = NULL, final_score = NULL, "
                            "owner_id = ?, leadloop_note = ?, modified_at = ? WHERE task_id = ?",
                            (TaskStatusValue.NOT_STARTED.value, update.owner_id, update.note,
                             stamp, update.task_id))
                    else:
                        db.execute(
                            "UPDATE tasks SET status = ?, decision = ?, outcome = ?, "
                            "owner_id = ?, leadloop_note = ?, modified_at = ? WHERE task_id = ?",
                            (TaskStatusValue.COMPLETED.value,
                             _DECISION_VALUE.get(update.decision) if update.decision else None,
                             update.outcome.value if update.outcome else None, update.owner_id,
                             update.note, stamp, update.task_id))
                results.append(WriteResult(update.task_id, ok=error is None, error=error))
        return results

    # -- rep actions --------------------------------------------------------------------

    def start_task(self, task_id: str, *, by: str) -> SandboxTask:
        """A rep opens a task and starts working it: status 'In Progress'.

        Raises:
            NotFoundError: no such task or owner.
            TaskAlreadyDecidedError: the task is completed.
        """
        return self._rep_edit(task_id, by=by, status=TaskStatusValue.IN_PROGRESS)

    def defer_task(self, task_id: str, *, by: str) -> SandboxTask:
        """A rep puts a task off: status 'Deferred'; it can still be decided later.

        Raises:
            NotFoundError: no such task or owner.
            TaskAlreadyDecidedError: the task is completed.
        """
        return self._rep_edit(task_id, by=by, status=TaskStatusValue.DEFERRED)

    def approve_task(
        self, task_id: str, *, by: str, email_subject: str | None = None,
        email_body: str | None = None, description: str | None = None,
    ) -> SandboxTask:
        """A rep approves a task, with their edits to the email or the notes if they made any.

        The task becomes 'Completed' / 'Approved'. A score override approved without an
        adjusted score keeps the proposed score as its final score.

        Args:
            task_id: the task.
            by: the approving owner's id.
            email_subject: the email's subject as the rep edited it; None keeps it.
            email_body: the email's body as the rep edited it; None keeps it.
            description: the notes as the rep edited them; None keeps them.

        Raises:
            NotFoundError: no such task or owner.
            TaskAlreadyDecidedError: the task is already completed.
        """
        return self._rep_edit(
            task_id, by=by, status=TaskStatusValue.COMPLETED, decision=DecisionValue.APPROVED,
            description=description, email_subject=email_subject, email_body=email_body,
        )

    def reject_task(self, task_id: str, *, by: str, reason: str) -> SandboxTask:
        """A rep rejects a task and says why: 'Completed' / 'Rejected' with the reason.

        Raises:
            NotFoundError: no such task or owner.
            InvalidValueError: the reason is empty; a rejection's reason is its label.
            TaskAlreadyDecidedError: the task is already completed.
        """
        if not reason or not reason.strip():
            raise InvalidValueError(f"task {task_id}: a rejection needs a reason")
        return self._rep_edit(
            task_id, by=by, status=TaskStatusValue.COMPLETED, decision=DecisionValue.REJECTED,
            reason=reason.strip(),
        )

    def set_final_score(
        self, task_id: str, *, by: str, score: int, reason: str | None = None
    ) -> SandboxTask:
        """A rep adjusts a proposed score override and approves it with their score.

        Args:
            task_id: the task.
            by: the rep's owner id.
            score: the score the rep settled on.
            reason: why, if the rep said.

        Raises:
            NotFoundError: no such task or owner.
            InvalidValueError: the score is not a whole number.
            TaskAlreadyDecidedError: the task is already completed.
        """
        if isinstance(score, bool) or not isinstance(score, int):
            raise InvalidValueError(f"task {task_id}: score must be a whole number, got {score!r}")
        return self._rep_edit(
            task_id, by=by, status=TaskStatusValue.COMPLETED, decision=DecisionValue.APPROVED,
            final_score=score, reason=reason,
        )

    # -- email log ----------------------------------------------------------------------

    def log_email(self, email: OutgoingEmail) -> SendResult:
        """"Send" an email: log it on the lead once per idempotency key, in one transaction.

        Args:
            email: the approved email.

        Returns:
            The logged send; for a key already logged, the first send with
            ``already_sent=True``, and nothing is written.

        Raises:
            InvalidValueError: the idempotency key is empty.
            NotFoundError: no such lead, or it is deleted.
        """
        if not email.idempotency_key:
            raise InvalidValueError("an email needs an idempotency key")
        for name in ("to", "subject", "body", "from_owner_id"):
            problem = unstorable(name, getattr(email, name))
            if problem:
                raise InvalidValueError(f"email {email.idempotency_key}: {problem}")
        with self._write() as db:
            row = db.execute(
                "SELECT * FROM email_log WHERE idempotency_key = ?", (email.idempotency_key,)
            ).fetchone()
            if row is not None:
                return _send_result(row, already_sent=True)
            self._live_lead(db, email.lead_crm_id)
            stamp = self._next_stamp(db)
            number = _next_seq(db, "email_log")
            db.execute(
                'INSERT INTO email_log (seq, message_id, idempotency_key, lead_crm_id, "to", '
                "subject, body, from_owner_id, sent_at, headers) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (number, f"M{number:06d}", email.idempotency_key, email.lead_crm_id, email.to,
                 email.subject, email.body, email.from_owner_id, stamp,
                 json.dumps([list(pair) for pair in email.headers])),
            )
        return SendResult(email.idempotency_key, f"M{number:06d}", _parse_stamp(stamp))

    def find_email(self, idempotency_key: str) -> SendResult | None:
        """The email logged under this key, with ``already_sent=True``; None if none."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM email_log WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
        return None if row is None else _send_result(row, already_sent=True)

    def sent_emails(self) -> list[SentEmail]:
        """The whole email log, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM email_log ORDER BY seq").fetchall()
        return [
            SentEmail(
                message_id=r["message_id"], idempotency_key=r["idempotency_key"],
                lead_crm_id=r["lead_crm_id"], to=r["to"], subject=r["subject"], body=r["body"],
                from_owner_id=r["from_owner_id"], sent_at=_parse_stamp(r["sent_at"]),
                headers=dict(json.loads(r["headers"] or "[]")),
            )
            for r in rows
        ]

    # -- internals ----------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the file's write lock up front.

        BEGIN IMMEDIATE rather than a deferred BEGIN: a deferred transaction that reads
        first and writes later can fail with SQLITE_BUSY when another process wrote in
        between, while an immediate one waits its turn (up to the busy timeout).
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _create_schema(self) -> None:
        with self._write() as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise SandboxError(
                    f"{self.path}: was made by a newer leadloop (schema {version}); "
                    "upgrade leadloop to open it"
                )
            if 1 <= version < SCHEMA_VERSION:
                # Schema 2 gave review tasks their email fields and leadloop's outcome and
                # note; 3 gave leads their sub-scores and grade; 4 leads their state and time
                # zone, logged emails their headers.
                steps = [s for v in range(version, SCHEMA_VERSION) for s in _UPGRADES[v]]
                for statement in steps:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif version < SCHEMA_VERSION:
                # Statement by statement: executescript() would commit the open transaction
                # and let a second process create the schema at the same time.
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _now(self) -> datetime:
        now = self._clock()
        return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)

    def _next_stamp(self, db: sqlite3.Connection) -> str:
        """A stamp later than every stamp in the file; call inside a write transaction."""
        now = self._now()
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        row = db.execute("SELECT value FROM meta WHERE key = 'last_stamp'").fetchone()
        if row is not None:
            last = _parse_stamp(row["value"])
            if now <= last:
                now = last + _STAMP_STEP
        text = _stamp_text(now)
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('last_stamp', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (text,),
        )
        return text

    def _ensure_owners(self, seed: int) -> None:
        with self._write() as db:
            self._ensure_owners_in(db, seed=seed)

    def _ensure_owners_in(self, db: sqlite3.Connection, *, seed: int) -> None:
        if _count(db, "owners"):
            return
        db.executemany(
            "INSERT INTO owners (seq, owner_id, name, email, manager_id) VALUES (?, ?, ?, ?, ?)",
            [
                (n, o["owner_id"], o["name"], o["email"], o["manager_id"])
                for n, o in enumerate(generate_owners(seed), start=1)
            ],
        )

    def _owner_resolver(self, db: sqlite3.Connection) -> Callable[[str], str]:
        """Map an export's owner cell (id, email or name) to an owner id, adding unknowns."""
        lookup: dict[str, str] = {}
        for row in db.execute("SELECT owner_id, name, email FROM owners"):
            for key in (row["owner_id"], row["email"], row["name"]):
                lookup.setdefault(key.casefold(), row["owner_id"])

        def resolve(value: str) -> str:
            known = lookup.get(value.casefold())
            if known:
                return known
            number = _next_seq(db, "owners")
            owner_id = f"U{number:06d}"
            if "@" in value:
                email = value
                name = " ".join(p.capitalize() for p in value.split("@")[0].split("."))
            else:
                name = value
                email = f"{'.'.join(value.lower().split())}@example.com"
            db.execute(
                "INSERT INTO owners (seq, owner_id, name, email) VALUES (?, ?, ?, ?)",
                (number, owner_id, name, email),
            )
            lookup[value.casefold()] = owner_id
            return owner_id

        return resolve

    def _insert_leads(self, db: sqlite3.Connection, records: Sequence[Mapping[str, Any]]) -> int:
        if not records:
            return 0
        stamp = self._next_stamp(db)
        reps = _rep_ids(db)
        first = _next_seq(db, "leads")
        rows = []
        for offset, record in enumerate(records):
            number = first + offset
            values = dict(record)
            if not values.get("owner_id"):
                # The sandbox's assignment rule: round robin over the reps.
                values["owner_id"] = reps[(number - 1) % len(reps)]
            values.setdefault("created_at", stamp)
            rows.append((
                number, f"L{number:06d}", *(_to_column(n, values.get(n)) for n in LEAD_FIELDS),
                stamp,
            ))
        placeholders = ", ".join("?" * (len(LEAD_FIELDS) + 3))
        db.executemany(
            f"INSERT INTO leads (seq, crm_id, {', '.join(LEAD_FIELDS)}, modified_at) "
            f"VALUES ({placeholders})",
            rows,
        )
        return len(rows)

    def _live_lead(self, db: sqlite3.Connection, crm_id: str) -> None:
        row = db.execute("SELECT deleted FROM leads WHERE crm_id = ?", (crm_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"lead {crm_id} not found in the sandbox CRM")
        if row["deleted"]:
            raise NotFoundError(f"lead {crm_id} is deleted in the sandbox CRM")

    def _known_owner(self, db: sqlite3.Connection, owner_id: str) -> None:
        if db.execute("SELECT 1 FROM owners WHERE owner_id = ?", (owner_id,)).fetchone() is None:
            raise NotFoundError(f"owner {owner_id} not found in the sandbox CRM")

    def _rep_edit(
        self,
        task_id: str,
        *,
        by: str,
        status: TaskStatusValue,
        decision: DecisionValue | None = None,
        description: str | None = None,
        final_score: int | None = None,
        reason: str | None = None,
        email_subject: str | None = None,
        email_body: str | None = None,
    ) -> SandboxTask:
        for name, text in (("description", description), ("reason", reason),
                           ("email_subject", email_subject), ("email_body", email_body)):
            if text is not None and (not isinstance(text, str) or unstorable(name, text)):
                raise InvalidValueError(f"task {task_id}: {name} must be valid text")
        with self._write() as db:
            row = db.execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"task {task_id} not found in the sandbox CRM")
            self._known_owner(db, by)
            if row["status"] == TaskStatusValue.COMPLETED:
                decided = ""
                if row["decision"]:
                    decided = f" ({row['decision']} by {row['completed_by']})"
                raise TaskAlreadyDecidedError(
                    f"task {task_id} is already completed{decided}; a completed task cannot "
                    "be changed"
                )
            completing = status is TaskStatusValue.COMPLETED
            db.execute(
                "UPDATE tasks SET status = ?, decision = ?, description = ?, final_score = ?, "
                "decision_reason = ?, completed_by = ?, modified_at = ?, email_subject = ?, "
                "email_body = ? WHERE task_id = ?",
                (
                    status.value,
                    decision.value if decision else None,
                    row["description"] if description is None else description,
                    _final_score(row, decision, final_score),
                    reason,
                    by if completing else None,
                    self._next_stamp(db),
                    row["email_subject"] if email_subject is None else email_subject,
                    row["email_body"] if email_body is None else email_body,
                    task_id,
                ),
            )
        return self.get_task(task_id)


# -- row mapping ------------------------------------------------------------------------

_DECISION_VALUE = {TaskDecision.APPROVED: "Approved", TaskDecision.REJECTED: "Rejected"}

_LEAD_COLUMNS = ", ".join(("crm_id", *LEAD_FIELDS, "score", "tier", "deleted", "modified_at",
                           "fit_score", "engagement_score", "grade"))


def _lead_from_row(row: sqlite3.Row) -> SandboxLead:
    fields: dict[str, Any] = {}
    for name in LEAD_FIELDS:
        value = row[name]
        if name == "events" and value is not None:
            value = json.loads(value)
        if value is not None or name == "email":
            fields[name] = value
    return SandboxLead(
        crm_id=row["crm_id"],
        fields=fields,
        score=row["score"],
        tier=row["tier"],
        deleted=bool(row["deleted"]),
        modified_at=_parse_stamp(row["modified_at"]),
        fit_score=row["fit_score"],
        engagement_score=row["engagement_score"],
        grade=row["grade"],
    )


def _lead_dict(row: sqlite3.Row) -> dict[str, Any]:
    events = row["events"]
    return {
        "crm_id": row["crm_id"],
        **{name: row[name] for name in LEAD_FIELDS},
        "events": None if events is None else json.loads(events),
        "score": row["score"],
        "tier": row["tier"],
        "fit_score": row["fit_score"],
        "engagement_score": row["engagement_score"],
        "grade": row["grade"],
        "deleted": bool(row["deleted"]),
        "modified_at": _parse_stamp(row["modified_at"]),
    }


def _task_from_row(row: sqlite3.Row) -> SandboxTask:
    return SandboxTask(
        task_id=row["task_id"],
        proposal_key=row["proposal_key"],
        kind=row["kind"],
        lead_crm_id=row["lead_crm_id"],
        owner_id=row["owner_id"],
        subject=row["subject"],
        description=row["description"],
        status=TaskStatusValue(row["status"]),
        decision=DecisionValue(row["decision"]) if row["decision"] else None,
        decision_reason=row["decision_reason"],
        proposed_score=row["proposed_score"],
        final_score=row["final_score"],
        due_date=date.fromisoformat(row["due_date"]) if row["due_date"] else None,
        completed_by=row["completed_by"],
        created_at=_parse_stamp(row["created_at"]),
        modified_at=_parse_stamp(row["modified_at"]),
        email_subject=row["email_subject"],
        email_body=row["email_body"],
        outcome=row["outcome"],
        note=row["leadloop_note"],
    )


def _send_result(row: sqlite3.Row, *, already_sent: bool) -> SendResult:
    return SendResult(
        idempotency_key=row["idempotency_key"],
        message_id=row["message_id"],
        sent_at=_parse_stamp(row["sent_at"]),
        already_sent=already_sent,
    )


def _final_score(
    row: sqlite3.Row, decision: DecisionValue | None, final_score: int | None
) -> int | None:
    current: int | None = row["final_score"]
    if final_score is not None:
        return final_score
    if decision is DecisionValue.APPROVED and current is None:
        proposed: int | None = row["proposed_score"]
        return proposed  # approved as proposed: the proposed score stands
    return current


# -- values -----------------------------------------------------------------------------


def _stamp_text(moment: datetime) -> str:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime(_STAMP_FORMAT)


def _parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, _STAMP_FORMAT).replace(tzinfo=UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _to_column(name: str, value: Any) -> Any:
    """A record value as the lead column stores it."""
    if value is None:
        return None
    if name == "events":
        if isinstance(value, str):
            # A CSV cell holds the events as JSON text; text that is not JSON is kept as a
            # string so the sync reports it instead of the import losing it.
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        return json.dumps(value, default=_json_default)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _storage_problem(values: Mapping[str, Any]) -> str | None:
    for name, value in values.items():
        problem = unstorable(name, value)
        if problem:
            return problem
        if name == "events":
            try:
                _to_column(name, value)
            except (TypeError, ValueError) as exc:
                return f"events cannot be stored as JSON ({exc})"
    return None


def _subject_problem(subject: str) -> str | None:
    if not isinstance(subject, str) or not subject.strip():
        return "subject is empty; every task needs one"
    if len(subject.strip()) > MAX_SUBJECT_CHARS:
        return f"subject is {len(subject.strip()):,} characters; at most {MAX_SUBJECT_CHARS}"
    return None


def _task_request_problem(
    request: ReviewTaskRequest, *, leads: Mapping[str, bool], owners: set[str]
) -> str | None:
    if not request.proposal_key or not request.proposal_key.strip():
        return "proposal_key is empty; every review task needs one"
    deleted = leads.get(request.lead_crm_id)
    if deleted is None:
        return f"lead {request.lead_crm_id} not found"
    if deleted:
        return f"lead {request.lead_crm_id} is deleted"
    if request.owner_id not in owners:
        return f"owner {request.owner_id} not found"
    problem = _subject_problem(request.subject)
    if problem:
        return problem
    for name, text in (("subject", request.subject), ("notes", request.notes),
                       ("email_subject", request.email_subject),
                       ("email_body", request.email_body)):
        if not isinstance(text, str):
            return f"{name} must be text"
        problem = unstorable(name, text)
        if problem:
            return problem
    if request.proposed_score is not None and (
        isinstance(request.proposed_score, bool) or not isinstance(request.proposed_score, int)
    ):
        return f"proposed_score must be a whole number, got {request.proposed_score!r}"
    return None


def _picklist_status(status: str) -> TaskStatusValue:
    try:
        return TaskStatusValue(status)
    except ValueError:
        allowed = ", ".join(repr(s.value) for s in TaskStatusValue)
        raise InvalidValueError(
            f"unknown task status {status!r}; expected one of {allowed}"
        ) from None


# -- queries ----------------------------------------------------------------------------


def _count(db: sqlite3.Connection, table: str) -> int:
    return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _next_seq(db: sqlite3.Connection, table: str) -> int:
    """The next row number; safe because every writer holds the file's write lock."""
    return int(db.execute(f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}").fetchone()[0])


def _rep_ids(db: sqlite3.Connection) -> list[str]:
    """Owners who report to someone are the reps; with no managers, every owner is one."""
    rows = db.execute("SELECT owner_id, manager_id FROM owners ORDER BY seq").fetchall()
    return [r["owner_id"] for r in rows if r["manager_id"]] or [r["owner_id"] for r in rows]


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _QUERY_CHUNK):
        yield items[start : start + _QUERY_CHUNK]


def _lead_states(db: sqlite3.Connection, crm_ids: Sequence[str]) -> dict[str, bool]:
    """Whether each known lead is deleted, by id; unknown ids are absent."""
    states: dict[str, bool] = {}
    for chunk in _chunks(sorted(set(crm_ids))):
        marks = ", ".join("?" * len(chunk))
        for row in db.execute(
            f"SELECT crm_id, deleted FROM leads WHERE crm_id IN ({marks})", list(chunk)
        ):
            states[row["crm_id"]] = bool(row["deleted"])
    return states


def _existing_keys(db: sqlite3.Connection, keys: Sequence[str]) -> dict[str, str]:
    """Task ids of the proposal keys that already have a task."""
    found: dict[str, str] = {}
    for chunk in _chunks(sorted({k for k in keys if k})):
        marks = ", ".join("?" * len(chunk))
        for row in db.execute(
            f"SELECT proposal_key, task_id FROM tasks WHERE proposal_key IN ({marks})",
            list(chunk),
        ):
            found[row["proposal_key"]] = row["task_id"]
    return found
