"""Reconcile: read the reps' decisions from CRM tasks into leadloop, or say on the task why not.

A decision on a pending proposal takes effect only if it fits the proposal's kind, the person
is entitled to it (``review_api.authority``) and, for a draft, the approved email has a
subject and a body. Otherwise it is refused: the refusal is audited and the task is handed
back open, with a note saying what is wrong and who must decide. A decision on a proposal
already decided differently in leadloop is overruled the same way: the task is set back to
leadloop's state with a note saying who decided what, and when. Nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from connectors.base import TaskChange, TaskDecision
from review_api import service, tasksync
from review_api.authority import Decider, NotEntitledError
from review_api.errors import ReviewError
from review_api.schemas import DecisionIn
from review_api.store.models import Proposal
from review_api.workflow import ProposalState


@dataclass
class ReconcileReport:
    changes: int = 0
    approved: int = 0
    rejected: int = 0
    already_decided: int = 0
    refused: int = 0
    overruled: int = 0
    unknown: int = 0
    expired: int = 0
    escalated: int = 0
    scores_written: int = 0
    tasks_updated: int = 0
    errors: list[str] = field(default_factory=list)


def apply_change(session: Session, change: TaskChange, now: datetime,
                 report: ReconcileReport) -> None:
    """Take one task change into the store (one decision, a refusal, or an overruling)."""
    if change.decision is None:
        return
    proposal = service.get_by_key(session=session, key=change.proposal_key)
    if proposal is None:
        report.unknown += 1
        return
    if proposal.state != ProposalState.PENDING:
        _already_decided(session, proposal, change, now, report)
        return
    problem = _wrong_action(proposal, change)
    if problem is not None:
        _refuse(session, proposal, change, problem, now, report)
        return
    decided_by = change.decided_by or change.owner_id or proposal.owner_id
    if change.decision is TaskDecision.APPROVED:
        draft = proposal.kind == service.DRAFT
        decision = DecisionIn(
            decision="approve",
            final_subject=(change.email_subject or "") if draft else None,
            final_body=(change.email_body or "") if draft else None,
            final_score=None if draft else change.final_score,
            decided_by=decided_by,
        )
    else:
        decision = DecisionIn(decision="reject", reason=change.reason or "no reason given",
                              decided_by=decided_by)
    try:
        # decide() checks everything before it changes anything, so a refusal leaves
        # the session clean and the rest of the batch goes on.
        service.decide(session=session, proposal=proposal, decision=decision, source="crm",
                       now=now, decider=Decider(owner_id=decided_by))
    except NotEntitledError as exc:
        _refuse(session, proposal, change, f"{exc}", now, report,
                event="decision_refused", must_decide=exc.must_decide)
        return
    except (ReviewError, ValueError) as exc:
        _refuse(session, proposal, change, str(exc), now, report)
        return
    if decision.decision == "approve":
        report.approved += 1
    else:
        report.rejected += 1


def _wrong_action(proposal: Proposal, change: TaskChange) -> str | None:
    """Why the rep's action does not fit the proposal's kind, or None when it does."""
    if proposal.kind == service.DRAFT:
        if change.final_score is not None:
            return ("this task is an email draft: a score cannot be set on it. Edit the email "
                    "and complete the task, or reject it")
        return None
    if (change.email_subject or "").strip() or (change.email_body or "").strip():
        return ("this task is a score change: it takes a score, not an email. Clear the "
                "email fields, then complete it (with your own score if you like) or reject it")
    return None


def _refuse(session: Session, proposal: Proposal, change: TaskChange, why: str, now: datetime,
            report: ReconcileReport, *, event: str = "reconcile_refused",
            must_decide: str | None = None) -> None:
    """Nothing takes effect: audit the refusal and hand the task back open, saying why."""
    report.refused += 1
    report.errors.append(f"{change.proposal_key}: {why}")
    service.audit(session=session, proposal_id=proposal.id, event=event, actor="leadloop",
                  at=now, detail={"error": why, "task": change.task_id,
                                  "decision": str(change.decision),
                                  "by": change.decided_by, "must_decide": must_decide})
    tasksync.enqueue(session=session, proposal_id=proposal.id, event="refused",
                     note=f"not taken at {service.stamp(now)}: {why}", at=now)


def _already_decided(session: Session, proposal: Proposal, change: TaskChange, now: datetime,
                     report: ReconcileReport) -> None:
    """A decision read on a proposal leadloop already closed: an echo, or overruled."""
    label = service.decision_for(session=session, proposal_id=proposal.id)
    said = "approved" if change.decision is TaskDecision.APPROVED else "rejected"
    if label is not None and label.decision == said:
        report.already_decided += 1  # the same decision, read again
        return
    report.overruled += 1
    if label is not None:
        where = "in the CRM" if label.source == "crm" else "in leadloop"
        what = f"already {label.decision} {where} by {label.decided_by} at " \
               f"{service.stamp(label.decided_at)}"
    else:
        what = f"already {proposal.state} in leadloop"
    sent = proposal.state == ProposalState.SENT
    tail = "the email was sent" if sent else (
        "nothing was sent" if proposal.kind == service.DRAFT else "the score was not changed")
    note = f"your {said} at {service.stamp(now)} was not taken: {what}; {tail}"
    service.audit(session=session, proposal_id=proposal.id, event="crm_decision_overruled",
                  actor="leadloop", at=now,
                  detail={"task": change.task_id, "crm_decision": said, "by": change.decided_by,
                          "state": proposal.state})
    tasksync.enqueue(session=session, proposal_id=proposal.id, event="overruled", note=note,
                     at=now)
    report.errors.append(f"{change.proposal_key}: {note}")
