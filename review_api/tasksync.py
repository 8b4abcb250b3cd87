"""The CRM task follows its proposal: what the task must show, and the outbox that gets it there.

Every change to a proposal that the CRM did not make (a decision through the API, expiry,
supersession, escalation, cancellation, a send, a refused or overruled CRM decision) queues a
row in ``task_updates`` in the same transaction. The push (``leadloop.steps.task_updates``)
then sets each task to the state its proposal holds at that moment, so a crash loses nothing
and a late push never writes a stale state. :func:`out_of_step` is the same rule read the
other way: it says whether a task, as the CRM shows it, agrees with leadloop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from connectors.base import TaskDecision, TaskOutcome, TaskUpdate
from review_api.store.models import Decision, Proposal, TaskUpdateRow
from review_api.workflow import ProposalState

_OUTCOME = {
    ProposalState.APPROVED: TaskOutcome.APPROVED,
    ProposalState.SEND_FAILED: TaskOutcome.APPROVED,
    ProposalState.SENT: TaskOutcome.SENT,
    ProposalState.REJECTED: TaskOutcome.REJECTED,
    ProposalState.EXPIRED: TaskOutcome.EXPIRED,
    ProposalState.SUPERSEDED: TaskOutcome.SUPERSEDED,
    ProposalState.CANCELLED: TaskOutcome.CANCELLED,
}
_DECISION = {"approved": TaskDecision.APPROVED, "rejected": TaskDecision.REJECTED}
_INSERT = insert(TaskUpdateRow)


@dataclass(frozen=True, slots=True)
class TaskShown:
    """A review task as the CRM shows it: the parts that must agree with leadloop."""

    task_id: str
    proposal_key: str
    open: bool
    owner_id: str
    decision: TaskDecision | None
    outcome: TaskOutcome | None


def enqueue(*, session: Session, proposal_id: int, event: str, note: str, at: datetime
            ) -> None:
    """Queue a push of this proposal's state to its CRM task, with a note for the rep."""
    session.execute(_INSERT, {"proposal_id": proposal_id, "event": event, "note": note[:2000],
                              "state": "queued", "attempts": 0, "created_at": at})


def decider_of(proposal: Proposal) -> str:
    """Who must decide a pending proposal now: whom it was escalated to, else its owner."""
    return proposal.assignee_id or proposal.owner_id


def wanted(proposal: Proposal, decision: Decision | None, *, note: str) -> TaskUpdate:
    """The state the proposal's CRM task must be in."""
    state = ProposalState(proposal.state)
    assert proposal.crm_task_id, "only a proposal with a CRM task has a state to push"
    if state is ProposalState.PENDING:
        return TaskUpdate(task_id=proposal.crm_task_id, proposal_key=proposal.key,
                          owner_id=decider_of(proposal), open=True, decision=None,
                          outcome=None, note=note)
    return TaskUpdate(
        task_id=proposal.crm_task_id, proposal_key=proposal.key,
        owner_id=decider_of(proposal), open=False,
        decision=_DECISION.get(decision.decision) if decision is not None else None,
        outcome=_OUTCOME[state], note=note)


def out_of_step(task: TaskShown, proposal: Proposal | None, decision: Decision | None
                ) -> str | None:
    """Why a CRM task disagrees with leadloop, or None when they agree."""
    if proposal is None:
        return f"task {task.task_id} names {task.proposal_key}, which leadloop does not hold"
    if proposal.crm_task_id and proposal.crm_task_id != task.task_id:
        return (f"task {task.task_id} is a second task for {proposal.key} "
                f"(its task is {proposal.crm_task_id})")
    state = ProposalState(proposal.state)
    if state is ProposalState.PENDING:
        if not task.open:
            return f"task {task.task_id} is closed but {proposal.key} is pending"
        if task.owner_id != decider_of(proposal):
            return (f"task {task.task_id} is with {task.owner_id} but "
                    f"{decider_of(proposal)} must decide {proposal.key}")
        return None
    if task.open:
        return f"task {task.task_id} is open but {proposal.key} is {state}"
    want = wanted(proposal, decision, note="")
    if (task.decision, task.outcome) != (want.decision, want.outcome):
        shown = f"{task.decision or 'no decision'}/{task.outcome or 'no outcome'}"
        return (f"task {task.task_id} shows {shown} but {proposal.key} is {state}"
                f"{' (' + decision.decision + ')' if decision else ''}")
    return None
