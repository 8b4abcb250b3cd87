"""The rep's queue as rows: who sees what, in which order, with which filters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from review_api import service
from review_api.keys import Principal, Role
from review_api.store.models import Lead, LeadSnapshot, Proposal
from review_api.workflow import ProposalState

TIER_RANK = {"A": 0, "B": 1, "C": 2, "D": 3}
QUEUE_LIMIT = 500
Kind = Literal["", "draft", "score_override"]
Flagged = Literal["", "flagged", "clean"]
Whose = Literal["", "own", "escalated"]


@dataclass(frozen=True, slots=True)
class Filters:
    """What the rep narrowed the queue to; empty strings mean "any"."""

    kind: Kind = ""
    tier: Literal["", "A", "B", "C", "D"] = ""
    flagged: Flagged = ""
    whose: Whose = ""

    @property
    def active(self) -> bool:
        return any((self.kind, self.tier, self.flagged, self.whose))


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One pending proposal as the queue lists it."""

    id: int
    kind: str
    crm_id: str
    owner_id: str
    lead_name: str
    company: str
    subject: str
    tier: str | None
    score: int | None
    created_at: datetime
    expires_at: datetime | None
    flags: int
    escalated: bool  # a rule requires the manager's approval
    to_me_as_manager: bool

    @property
    def clean(self) -> bool:
        """A draft with nothing flagged and no rule requiring anyone else: bulk-approvable."""
        return self.kind == service.DRAFT and self.flags == 0 and not self.escalated

    def order(self) -> tuple[Any, ...]:
        """Priority: tier, then score (high first), then age (old first), then expiry."""
        far = datetime.max.replace(tzinfo=self.created_at.tzinfo)
        return (TIER_RANK.get(self.tier or "", 4), -(self.score or 0), self.created_at,
                self.expires_at or far, self.id)


def tier_and_score(proposal: Proposal) -> tuple[str | None, int | None]:
    """The tier and score a proposal is about: the draft's lead's, or the proposed ones."""
    payload = proposal.payload
    if proposal.kind == service.SCORE_OVERRIDE:
        return payload.get("new_tier"), _int(payload.get("new_score"))
    return payload.get("tier"), _int(payload.get("score"))


def flag_count(proposal: Proposal) -> int:
    """How many things the guardrails and rules flagged on this proposal."""
    payload = proposal.payload
    return len(payload.get("flags") or []) + (0 if payload.get("flags") else
                                              len(payload.get("escalations") or []))


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def lead_names(*, session: Session, crm_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The last synced record of each lead, by CRM id."""
    ids = sorted(set(crm_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Lead.crm_id, LeadSnapshot.payload)
        .join(LeadSnapshot, Lead.snapshot_id == LeadSnapshot.id).where(Lead.crm_id.in_(ids)))
    return {crm_id: payload or {} for crm_id, payload in rows}


def row_for(proposal: Proposal, who: Principal, lead: dict[str, Any]) -> QueueRow:
    """A queue row for ``proposal`` as ``who`` sees it."""
    tier, score = tier_and_score(proposal)
    name = f"{lead.get('first_name', '')} {lead.get('last_name', '')}".strip()
    return QueueRow(
        id=proposal.id, kind=proposal.kind, crm_id=proposal.crm_id, owner_id=proposal.owner_id,
        lead_name=name or proposal.crm_id, company=str(lead.get("company") or ""),
        subject=str(proposal.payload.get("subject") or ""), tier=tier, score=score,
        created_at=proposal.created_at, expires_at=proposal.expires_at,
        flags=flag_count(proposal), escalated=proposal.approver_id is not None,
        to_me_as_manager=(who.owner_id is not None and proposal.owner_id != who.owner_id
                          and who.owner_id in (proposal.assignee_id, proposal.approver_id)),
    )


def queue(*, session: Session, who: Principal, now: datetime, filters: Filters
          ) -> list[QueueRow]:
    """The pending proposals ``who`` may see (a rep: their own and those escalated or
    assigned to them, as ``service.can_see`` says), awake at ``now``, filtered, in
    priority order."""
    proposals: Sequence[Proposal] = service.list_proposals(
        session=session, state=ProposalState.PENDING, kind=filters.kind or None,
        visible_to=who.owner_id if who.role is Role.REP else None, awake_at=now,
        limit=QUEUE_LIMIT)
    leads = lead_names(session=session, crm_ids=(p.crm_id for p in proposals))
    rows = [row_for(p, who, leads.get(p.crm_id, {})) for p in proposals]
    rows = [r for r in rows if _keep(r, filters)]
    return sorted(rows, key=QueueRow.order)


def _keep(row: QueueRow, filters: Filters) -> bool:
    if filters.kind and row.kind != filters.kind:
        return False
    if filters.tier and row.tier != filters.tier:
        return False
    if filters.flagged == "flagged" and row.clean:
        return False
    if filters.flagged == "clean" and not row.clean:
        return False
    if filters.whose == "own" and row.to_me_as_manager:
        return False
    return not (filters.whose == "escalated" and not row.to_me_as_manager)
