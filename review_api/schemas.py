"""Pydantic schemas: what the HTTP API and the flows accept and return."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

MAX_FINAL_TEXT = 20_000


class DecisionIn(BaseModel):
    """A rep's decision on one proposal."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    final_text: str | None = Field(
        default=None,
        max_length=MAX_FINAL_TEXT,
        description="Approve a draft with this edited email as one text ('Subject: ...' first "
        "line optional). Prefer final_subject and final_body.",
    )
    final_subject: str | None = Field(
        default=None, max_length=998,
        description="Approve a draft with this subject (the proposed one when left out).",
    )
    final_body: str | None = Field(
        default=None, max_length=MAX_FINAL_TEXT,
        description="Approve a draft with this body (the proposed one when left out).",
    )
    final_score: int | None = Field(
        default=None, ge=0, le=100, description="Approve a score override with this score."
    )
    reason: str | None = Field(default=None, max_length=2_000)
    decided_by: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="Ignored by the API, which records the caller's key instead.",
    )
    expected_version: int | None = Field(
        default=None, ge=1, description="The proposal version you saw; a stale one gets 409."
    )

    @model_validator(mode="after")
    def _reason_for_reject(self) -> DecisionIn:
        if self.decision == "reject" and not (self.reason and self.reason.strip()):
            raise ValueError("a rejection needs a reason")
        edits = (self.final_text, self.final_subject, self.final_body)
        if self.decision == "reject" and (
            any(e is not None for e in edits) or self.final_score is not None):
            raise ValueError("a rejection takes a reason, not an edited email or a score")
        if self.final_text is not None and (
            self.final_subject is not None or self.final_body is not None):
            raise ValueError("give final_text, or final_subject and final_body, not both")
        return self


class DecisionOut(BaseModel):
    """A stored decision: the label."""

    model_config = ConfigDict(from_attributes=True)

    proposal_id: int
    decision: str
    original_text: str | None
    final_text: str | None
    diff: str | None
    edit_distance: int | None
    original_score: int | None
    final_score: int | None
    reason: str | None
    decided_by: str | None
    decided_at: datetime
    source: str


class ProposalOut(BaseModel):
    """A proposal as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    kind: str
    crm_id: str
    owner_id: str
    state: str
    payload: dict[str, Any]
    crm_task_id: str | None
    weights_version: str | None
    model_version: str | None
    drafter_version: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    assignee_id: str | None = None
    approver_id: str | None = None
    version: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fit_score(self) -> int | None:
        """The lead's fit sub-score (0-100) the proposal was made with."""
        value = self.payload.get("fit_score")
        return value if isinstance(value, int) else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def engagement_score(self) -> int | None:
        """The lead's engagement sub-score (0-100) the proposal was made with."""
        value = self.payload.get("engagement_score")
        return value if isinstance(value, int) else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def grade(self) -> str | None:
        """The lead's fit x engagement grade, e.g. "A1"."""
        value = self.payload.get("grade")
        return value if isinstance(value, str) else None


class PlannedSendOut(BaseModel):
    """An approved email in the outbox: when it may leave (None until the send step plans
    it), what holds it back, and when it left."""

    model_config = ConfigDict(from_attributes=True)

    state: str
    not_before: datetime | None
    held_because: str | None
    sent_at: datetime | None


class ProposalDetail(ProposalOut):
    """A proposal with its decision, if any, and its planned send once approved."""

    decision: DecisionOut | None = None
    planned_send: PlannedSendOut | None = None


class ErrorOut(BaseModel):
    """Every error response: a stable code and one clear message."""

    code: str
    message: str
