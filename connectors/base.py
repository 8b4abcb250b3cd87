"""The contract every CRM connector fulfils, and the plain records that cross it.

A connector knows one CRM's wire format and nothing of leadloop's store, scoring or
drafting. It hands out raw lead changes (validated by :func:`parse_lead`), creates
review tasks idempotently by proposal key, reads task changes back, writes scores, and
sends email exactly once per idempotency key.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Protocol, runtime_checkable

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from connectors.errors import BadRecordError
from connectors.outcomes import OutcomeEvent
from connectors.storable import Count, EventDate, Money, RecordId, StoredDate, no_control

MAX_NOTE_CHARS = 20_000
MAX_TEXT_CHARS = 255
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ProposalKind(StrEnum):
    """What a review task asks the rep to decide on."""

    DRAFT = "draft"
    SCORE_OVERRIDE = "score_override"


class TaskStatus(StrEnum):
    """CRM-neutral task status, mapped from each CRM's own picklist."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    DEFERRED = "deferred"


class TaskDecision(StrEnum):
    """The rep's decision as read back from a task."""

    APPROVED = "approved"
    REJECTED = "rejected"


class TaskOutcome(StrEnum):
    """What became of a review task's proposal in leadloop, as leadloop marks it on the task.

    An open (pending) task carries no outcome. A task that leadloop closed carries one, so a
    connector can tell a task the rep completed (approval) from one leadloop closed.
    """

    APPROVED = "approved"  # decided: the email is queued to send, or the score applied
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"  # not sent: the lead opted out, was deleted or changed address
    SENT = "sent"


@dataclass(frozen=True, slots=True)
class SyncCursor:
    """Where an incremental read resumes: the CRM's modification stamp plus record id.

    ``read_at`` is when the last complete read began, by leadloop's clock (None when
    unknown); a connector may use it to do rarer work once per period, not every run.
    """

    modified_at: datetime
    last_id: str = ""
    read_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RawLead:
    """One lead as the CRM returned it, before validation."""

    crm_id: str
    modified_at: datetime
    fields: Mapping[str, Any]
    deleted: bool = False


class EngagementEvent(BaseModel):
    """A dated touch point: a page view, an email open, a form fill, a webinar."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Annotated[str, BeforeValidator(no_control)] = Field(min_length=1, max_length=40)
    detail: Annotated[str, BeforeValidator(no_control)] = Field(default="", max_length=255)
    at: EventDate

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


def _clean_text(value: str, *, limit: int) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL byte")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("is not valid unicode (lone surrogate)") from exc
    bad = [ch for ch in value if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t"]
    if bad:
        raise ValueError(f"contains control character U+{ord(bad[0]):04X}")
    value = unicodedata.normalize("NFC", value).strip()
    if len(value) > limit:
        raise ValueError(f"is {len(value):,} characters; at most {limit:,} are accepted")
    return value


class Lead(BaseModel):
    """A validated lead: the record scoring and drafting work from."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    crm_id: RecordId
    email: str
    first_name: str = ""
    last_name: str = ""
    title: str = ""
    company: str = ""
    industry: str = ""
    employees: int | None = Field(default=None, ge=0, le=5_000_000)
    country: str = ""
    state: str = ""  # state or province, for the lead's time zone
    time_zone: str = ""  # the CRM's time-zone field as it spells it (IANA or HubSpot's)
    lead_source: str = ""
    status: str = "open"
    owner_id: RecordId
    past_purchases: Count = 0
    lifetime_value: Money = 0.0
    email_opt_out: bool = False
    notes: str = ""
    events: tuple[EngagementEvent, ...] = ()
    created_at: StoredDate | None = None
    modified_at: StoredDate

    @field_validator(
        "first_name", "last_name", "title", "company", "industry", "country", "state",
        "time_zone", "lead_source", "status", mode="before",
    )
    @classmethod
    def _short_text(cls, value: Any) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValueError("expected text")
        return _clean_text(value, limit=MAX_TEXT_CHARS)

    @field_validator("notes", mode="before")
    @classmethod
    def _notes(cls, value: Any) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValueError("expected text")
        return _clean_text(value, limit=MAX_NOTE_CHARS)

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> str:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError("is missing; every lead needs an email address")
        if not isinstance(value, str):
            raise ValueError("expected text")
        text = _clean_text(value, limit=254).lower()
        if not _EMAIL_RE.match(text):
            raise ValueError(f"{text!r} is not an email address")
        return text

    @field_validator("employees", mode="before")
    @classmethod
    def _employees(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise ValueError("expected a whole number of employees")
        if isinstance(value, str):
            text = value.replace(",", "").strip()
            if not text.isdigit():
                raise ValueError(f"expected a whole number of employees, got {value!r}")
            return int(text)
        return value

    @field_validator("created_at", "modified_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def parse_lead(raw: RawLead) -> Lead:
    """Validate a raw lead into a :class:`Lead`.

    Args:
        raw: the lead as the connector read it.

    Returns:
        The validated lead.

    Raises:
        BadRecordError: one message naming every field that is wrong and what is expected.
    """
    try:
        return Lead.model_validate(
            {**raw.fields, "crm_id": raw.crm_id, "modified_at": raw.modified_at}
        )
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in err["loc"]) or "lead"
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {message}")
        raise BadRecordError(raw.crm_id, "; ".join(problems)) from None


@dataclass(frozen=True, slots=True)
class Owner:
    """A CRM user who owns leads: a rep, optionally with a manager and a job title."""

    owner_id: str
    name: str
    email: str
    manager_id: str | None = None
    title: str = ""


@dataclass(frozen=True, slots=True)
class ReviewTaskRequest:
    """A pending task to create on a lead; ``proposal_key`` makes creation idempotent.

    The email a draft proposes travels in its own fields (``email_subject``, ``email_body``),
    which the rep edits; ``notes`` (score, reasons, flags) go in the task's free text and
    are never read back as part of the email. A score override has no email fields.
    """

    proposal_key: str
    kind: ProposalKind
    lead_crm_id: str
    owner_id: str
    subject: str
    notes: str
    due_date: date
    proposed_score: int | None = None
    email_subject: str = ""
    email_body: str = ""


@dataclass(frozen=True, slots=True)
class TaskWriteResult:
    """The outcome of creating one review task; ``error`` is set instead of ``task_id``."""

    proposal_key: str
    task_id: str | None
    created: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TaskChange:
    """A review task as it stands now in the CRM, read back during reconcile.

    ``decision`` is REJECTED when the task's decision field says Rejected; APPROVED when it
    says Approved, or when the task is completed with neither a decision nor a leadloop
    outcome on it (a rep who completes a review task approves it); None otherwise (open, or
    closed by leadloop without a decision). ``email_subject`` and ``email_body`` are the
    email fields as the task holds them now (empty on a score override unless a rep typed
    into them); ``final_score`` is the rep's own score field.
    """

    task_id: str
    proposal_key: str
    status: TaskStatus
    modified_at: datetime
    decision: TaskDecision | None = None
    email_subject: str | None = None
    email_body: str | None = None
    final_score: int | None = None
    reason: str | None = None
    decided_by: str | None = None
    owner_id: str | None = None
    outcome: TaskOutcome | None = None


@dataclass(frozen=True, slots=True)
class TaskUpdate:
    """The state leadloop wants a review task in, set whole: applying it twice is harmless.

    ``open`` True makes the task 'Not Started' with no decision (a reassignment to whoever
    must decide now, or a refused approval handed back); False completes it with
    ``decision`` (None clears the field) and ``outcome``. ``owner_id`` is who the task is
    assigned to; ``note`` is what the rep reads about why leadloop changed the task (it is
    written to its own field, replacing the last note, never appended to the rep's text).
    """

    task_id: str
    proposal_key: str
    owner_id: str
    open: bool
    decision: TaskDecision | None
    outcome: TaskOutcome | None
    note: str


@dataclass(frozen=True, slots=True)
class ScoreWrite:
    """A score and tier to write onto a lead's record, with the fit and engagement
    sub-scores and the grade (e.g. "A1") when known (None: leave those fields alone)."""

    lead_crm_id: str
    score: int
    tier: str
    fit_score: int | None = None
    engagement_score: int | None = None
    grade: str | None = None


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The outcome of one record write; ``error`` names what the CRM refused."""

    crm_id: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """An approved email; ``idempotency_key`` guarantees at most one send."""

    idempotency_key: str
    lead_crm_id: str
    to: str
    subject: str
    body: str
    from_owner_id: str
    # Extra message headers, in order: List-Unsubscribe and List-Unsubscribe-Post (RFC 8058).
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class SendResult:
    """A sent email as the CRM's email log records it."""

    idempotency_key: str
    message_id: str
    sent_at: datetime
    already_sent: bool = False


@runtime_checkable
class CRMConnector(Protocol):
    """What leadloop needs from a CRM."""

    name: str

    def list_owners(self) -> list[Owner]:
        """Every user who can own leads."""
        ...

    def fetch_leads(self, *, since: SyncCursor | None) -> Iterator[RawLead]:
        """Leads changed at or after ``since`` in (modified_at, crm_id) order; all when None."""
        ...

    def write_scores(self, scores: Sequence[ScoreWrite]) -> list[WriteResult]:
        """Write scores onto leads; one result per score, errors per record."""
        ...

    def upsert_review_tasks(self, tasks: Sequence[ReviewTaskRequest]) -> list[TaskWriteResult]:
        """Create pending tasks; a task whose proposal key exists is returned, not duplicated."""
        ...

    def fetch_task_changes(self, *, since: SyncCursor | None) -> Iterator[TaskChange]:
        """Review tasks changed at or after ``since``, in (modified_at, task_id) order."""
        ...

    def update_review_tasks(self, updates: Sequence[TaskUpdate]) -> list[WriteResult]:
        """Set review tasks to the given state, in batches; one result (by task id) each."""
        ...

    def fetch_leads_by_id(self, crm_ids: Sequence[str]) -> list[RawLead]:
        """The current record of each named lead (deleted ones with ``deleted=True``), read
        from the CRM now, in batches; ids the CRM does not know are left out."""
        ...

    def find_sent_email(self, idempotency_key: str) -> SendResult | None:
        """The email already sent under this key, if any."""
        ...

    def send_email(self, email: OutgoingEmail) -> SendResult:
        """Send once per idempotency key and log it on the lead; a repeat returns the first."""
        ...

    def fetch_outcomes(self, *, since: SyncCursor | None) -> Iterator[OutcomeEvent]:
        """Replies, bounces, meetings, opt-outs after ``since``, by (modified_at, event_id)."""
    def opt_out_of_email(self, crm_id: str, *, email: str) -> None:
        """Record in the CRM that the lead (at ``email``) opted out of email; idempotent."""
        ...
