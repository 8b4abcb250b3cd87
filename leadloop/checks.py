"""Counts that must be zero, taken from the CRM's own records and from the store.

The demo prints them and the tests assert them: emails that left without an approval by an
entitled person, and CRM tasks that disagree with leadloop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from sqlalchemy import select

from connectors.base import TaskDecision, TaskOutcome
from connectors.sandbox.crm import DecisionValue, SandboxCRM, SandboxTask, TaskStatusValue
from review_api.authority import Decider, NotEntitledError, check
from review_api.store.db import Store
from review_api.store.models import Decision, Proposal
from review_api.tasksync import TaskShown, out_of_step

_DECISIONS = {DecisionValue.APPROVED: TaskDecision.APPROVED,
              DecisionValue.REJECTED: TaskDecision.REJECTED}


def _same(sandbox_id: str) -> str:
    return sandbox_id


def shown(task: SandboxTask, wire_id: Callable[[str], str] = _same) -> TaskShown:
    """A sandbox review task as the comparison needs it, its ids as the connector sees
    them (``wire_id`` maps a sandbox id to the id a CRM face shows for it)."""
    assert task.proposal_key is not None
    return TaskShown(
        task_id=wire_id(task.task_id), proposal_key=task.proposal_key,
        open=task.status is not TaskStatusValue.COMPLETED, owner_id=wire_id(task.owner_id),
        decision=_DECISIONS.get(task.decision) if task.decision else None,
        outcome=TaskOutcome(task.outcome) if task.outcome else None)


def tasks_out_of_step(store: Store, tasks: Iterable[TaskShown]) -> list[str]:
    """Every way the CRM's review tasks and leadloop's proposals disagree, one line each."""
    tasks = list(tasks)
    with store.session() as session:
        proposals = {p.key: p for p in session.scalars(select(Proposal))}
        decisions = {d.proposal_id: d for d in session.scalars(select(Decision))}
        problems = []
        per_key = Counter(t.proposal_key for t in tasks)
        problems += [f"{key} has {n} tasks in the CRM" for key, n in per_key.items() if n > 1]
        for task in tasks:
            proposal = proposals.get(task.proposal_key)
            why = out_of_step(task, proposal,
                              decisions.get(proposal.id) if proposal is not None else None)
            if why:
                problems.append(why)
        with_task = {t.proposal_key for t in tasks}
        problems += [f"{p.key} has task {p.crm_task_id} on record, which the CRM lacks"
                     for p in proposals.values() if p.crm_task_id and p.key not in with_task]
        session.expunge_all()
    return problems


def sandbox_tasks_out_of_step(store: Store, crm: SandboxCRM,
                              wire_id: Callable[[str], str] = _same) -> list[str]:
    """:func:`tasks_out_of_step` over every review task in the sandbox CRM.

    ``wire_id`` maps sandbox ids to the ids the connector stored: HubSpot's face shows
    ``T000007`` as ``7``; the sandbox and Salesforce faces keep the sandbox's ids.
    """
    return tasks_out_of_step(
        store, [shown(t, wire_id) for t in crm.list_tasks() if t.proposal_key])


def sent_without_entitled_approval(store: Store, sent_keys: Iterable[str]) -> list[str]:
    """The emails (by idempotency key) that left without an approval by an entitled person."""
    bad = []
    with store.session() as session:
        for key in sent_keys:
            proposal = session.scalars(select(Proposal).where(Proposal.key == key)).first()
            label = None if proposal is None else session.scalars(
                select(Decision).where(Decision.proposal_id == proposal.id)).first()
            if proposal is None or label is None or label.decision != "approved":
                bad.append(key)
                continue
            actor = label.decided_by or ""
            decider = (Decider(owner_id=None, admin=True) if actor.startswith("admin:")
                       else Decider(owner_id=actor))
            try:
                check(proposal, decider=decider, decision="approve")
            except NotEntitledError:
                bad.append(key)
    return bad
