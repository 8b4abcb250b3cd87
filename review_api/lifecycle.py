"""A proposal's life after it is made, other than a decision: it expires, is superseded by
a newer one, is cancelled when consent goes, or is escalated to the owner's manager.

Each change is audited and queued for the CRM task (:mod:`review_api.tasksync`), in the same
transaction, so the task always ends up saying what happened and why.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from review_api import tasksync
from review_api.service import DRAFT, audit, stamp
from review_api.store.models import Proposal
from review_api.workflow import ProposalEvent, ProposalState, transition


def expire_due(*, session: Session, now: datetime) -> int:
    """Expire every pending proposal past its time; an expired draft is never sent."""
    due = session.scalars(
        select(Proposal).where(
            Proposal.state == ProposalState.PENDING, Proposal.expires_at <= now
        )
    ).all()
    for proposal in due:
        proposal.state = transition(ProposalState.PENDING, ProposalEvent.EXPIRE)
        audit(session=session, proposal_id=proposal.id, event="expired", actor="leadloop",
              detail={"expires_at": proposal.expires_at.isoformat() if proposal.expires_at
                      else None}, at=now)
        then = "nothing was sent" if proposal.kind == DRAFT else "the score stays as it was"
        tasksync.enqueue(session=session, proposal_id=proposal.id, event="expired",
                         note=f"expired in leadloop at {stamp(now)}: nobody decided in time; "
                              f"{then}", at=now)
    return len(due)


def supersede(*, session: Session, proposal: Proposal, why: str, now: datetime) -> None:
    """A newer proposal replaces a pending one; its task is closed, saying why."""
    proposal.state = transition(ProposalState(proposal.state), ProposalEvent.SUPERSEDE)
    audit(session=session, proposal_id=proposal.id, event="superseded", actor="leadloop",
          detail={"reason": why}, at=now)
    tasksync.enqueue(session=session, proposal_id=proposal.id, event="superseded",
                     note=f"superseded in leadloop at {stamp(now)}: {why}", at=now)


def cancel(*, session: Session, proposal: Proposal, why: str, now: datetime) -> None:
    """Consent is gone before the email left: the proposal is cancelled, its task closed."""
    proposal.state = transition(ProposalState(proposal.state), ProposalEvent.CANCEL)
    audit(session=session, proposal_id=proposal.id, event="cancelled", actor="leadloop",
          detail={"reason": why}, at=now)
    tasksync.enqueue(session=session, proposal_id=proposal.id, event="cancelled",
                     note=f"not sent: {why} (seen at {stamp(now)})", at=now)


def escalate_due(
    *, session: Session, now: datetime, after: timedelta, managers: dict[str, str | None],
) -> int:
    """Reassign proposals pending longer than ``after`` to the owner's manager.

    Only proposals still with their owner move, once; ones whose owner has no manager stay.
    The manager's rep key then sees and may decide them; each move is audited.
    """
    stale = session.scalars(
        select(Proposal).where(
            Proposal.state == ProposalState.PENDING, Proposal.assignee_id.is_(None),
            Proposal.created_at <= now - after,
            (Proposal.expires_at.is_(None)) | (Proposal.expires_at > now),
        )
    ).all()
    moved = 0
    for proposal in stale:
        manager = managers.get(proposal.owner_id)
        if not manager:
            continue
        proposal.assignee_id = manager
        audit(session=session, proposal_id=proposal.id, event="escalated", actor="leadloop",
              detail={"from": proposal.owner_id, "to": manager,
                      "reason": f"pending for more than {after}"}, at=now)
        tasksync.enqueue(session=session, proposal_id=proposal.id, event="escalated",
                         note=f"escalated to {manager} at {stamp(now)}: pending for more "
                              f"than {after}; {manager} or {proposal.owner_id} may decide",
                         at=now)
        moved += 1
    return moved
