"""Write back: create the CRM task of every new proposal, and push every queued task update.

Creating a task marks the proposal first (``crm_task_id = ""``: asked for, id not yet known)
in a transaction of its own, so a crash between the CRM's answer and our commit is repaired
by asking again (creation is idempotent by proposal key), even if the proposal was decided
meanwhile. Updates are pushed as the state each proposal holds when the push runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from connectors.base import CRMConnector, ProposalKind, ReviewTaskRequest, TaskUpdate
from connectors.errors import ConnectorError
from review_api import service
from review_api.store.db import Store
from review_api.store.models import Decision, Proposal, TaskUpdateRow
from review_api.tasksync import decider_of, wanted
from review_api.workflow import ProposalState

BATCH = 200
MAX_PUSH_ATTEMPTS = 10
Tick = Callable[[int], None]


@dataclass
class WriteBackReport:
    """Tasks created, found already there, or refused by the CRM."""

    tasks_created: int = 0
    tasks_existing: int = 0
    task_errors: list[str] = field(default_factory=list)


@dataclass
class TaskPushReport:
    """Task updates pushed to the CRM, and those the CRM refused."""

    pushed: int = 0
    dropped: int = 0  # for proposals that never had a task: nothing to update
    errors: list[str] = field(default_factory=list)


def _request(proposal: Proposal, due: date) -> ReviewTaskRequest:
    payload = proposal.payload
    draft = proposal.kind == service.DRAFT
    return ReviewTaskRequest(
        proposal_key=proposal.key, kind=ProposalKind(proposal.kind), lead_crm_id=proposal.crm_id,
        owner_id=decider_of(proposal), subject=payload["subject"],
        notes=payload["description"], due_date=due,
        proposed_score=payload.get("new_score"),
        email_subject=payload["subject"] if draft else "",
        email_body=payload["body"] if draft else "")


def write_back(*, store: Store, connector: CRMConnector, due: date, tick: Tick,
               report: WriteBackReport) -> WriteBackReport:
    """Create a pending CRM task for every pending proposal without one (idempotent)."""
    with store.session() as session:
        waiting = session.scalars(
            select(Proposal).where(or_(
                (Proposal.crm_task_id.is_(None)) & (Proposal.state == ProposalState.PENDING),
                Proposal.crm_task_id == "",
            )).order_by(Proposal.id)
        ).all()
        requests = [(p.id, _request(p, due)) for p in waiting]
    for start in range(0, len(requests), BATCH):
        batch = requests[start:start + BATCH]
        ids = [proposal_id for proposal_id, _ in batch]
        with store.session() as session:  # asked for: a crash from here on is repaired
            session.execute(update(Proposal).where(Proposal.id.in_(ids),
                                                   Proposal.crm_task_id.is_(None))
                            .values(crm_task_id="").execution_options(synchronize_session=False))
        results = connector.upsert_review_tasks([r for _, r in batch])
        with store.session() as session:
            for proposal_id, result in zip(ids, results, strict=True):
                if result.task_id is None:
                    report.task_errors.append(f"{result.proposal_key}: {result.error}")
                    session.execute(update(Proposal).where(Proposal.id == proposal_id)
                                    .values(crm_task_id=None)
                                    .execution_options(synchronize_session=False))
                    service.audit(session=session, proposal_id=proposal_id,
                                  event="task_write_failed", actor="leadloop",
                                  detail={"error": result.error})
                    continue
                session.execute(update(Proposal).where(Proposal.id == proposal_id)
                                .values(crm_task_id=result.task_id)
                                .execution_options(synchronize_session=False))
                if result.created:
                    report.tasks_created += 1
                else:
                    report.tasks_existing += 1
                service.audit(session=session, proposal_id=proposal_id, event="task_written",
                              actor="leadloop",
                              detail={"task_id": result.task_id, "created": result.created})
        tick(len(batch))
    return report


def push_task_updates(*, store: Store, connector: CRMConnector, now: datetime,
                      report: TaskPushReport | None = None) -> TaskPushReport:
    """Set every CRM task with a queued update to the state its proposal holds now."""
    report = report or TaskPushReport()
    after = 0  # each proposal is tried once per run, even if the CRM refuses it
    while True:
        with store.session() as session:
            _drop_taskless(session, now=now, report=report)
            todo = _next_updates(session, after=after)
        if not todo:
            return report
        after = max(last_id for _, (_, last_id) in todo)
        updates = [update_ for update_, _ in todo]
        try:
            results = connector.update_review_tasks(updates)
        except ConnectorError as exc:
            with store.session() as session:
                for _, (proposal_id, last_id) in todo:
                    _failed(session, proposal_id, last_id, str(exc))
            report.errors.append(f"task updates: {exc}")
            return report
        with store.session() as session:
            for (task_update, (proposal_id, last_id)), result in zip(todo, results, strict=True):
                if result.ok:
                    session.execute(
                        update(TaskUpdateRow)
                        .where(TaskUpdateRow.proposal_id == proposal_id,
                               TaskUpdateRow.id <= last_id, TaskUpdateRow.state == "queued")
                        .values(state="done", done_at=now)
                        .execution_options(synchronize_session=False))
                    report.pushed += 1
                else:
                    _failed(session, proposal_id, last_id, result.error or "refused")
                    report.errors.append(f"{task_update.task_id}: {result.error}")
        if len(todo) < BATCH:
            return report


def _next_updates(session: Session, *, after: int
                  ) -> list[tuple[TaskUpdate, tuple[int, int]]]:
    """Up to BATCH proposals with queued updates (the newest after ``after``) and a task."""
    newest = (
        select(TaskUpdateRow.proposal_id, func.max(TaskUpdateRow.id).label("last_id"))
        .where(TaskUpdateRow.state == "queued", TaskUpdateRow.attempts < MAX_PUSH_ATTEMPTS)
        .group_by(TaskUpdateRow.proposal_id).subquery()
    )
    rows = session.execute(
        select(Proposal, newest.c.last_id, TaskUpdateRow.note)
        .join(newest, newest.c.proposal_id == Proposal.id)
        .join(TaskUpdateRow, TaskUpdateRow.id == newest.c.last_id)
        .where(Proposal.crm_task_id.is_not(None), Proposal.crm_task_id != "",
               newest.c.last_id > after)
        .order_by(newest.c.last_id).limit(BATCH)
    ).all()
    decisions = {d.proposal_id: d for d in session.scalars(
        select(Decision).where(Decision.proposal_id.in_([p.id for p, _, _ in rows])))}
    return [(wanted(p, decisions.get(p.id), note=note), (p.id, last_id))
            for p, last_id, note in rows]


def _drop_taskless(session: Session, *, now: datetime, report: TaskPushReport) -> None:
    """Updates for proposals never written to the CRM have no task to go to."""
    dropped = session.execute(
        update(TaskUpdateRow)
        .where(TaskUpdateRow.state == "queued", TaskUpdateRow.proposal_id.in_(
            select(Proposal.id).where(Proposal.crm_task_id.is_(None))))
        .values(state="dropped", done_at=now)
        .execution_options(synchronize_session=False))
    report.dropped += int(dropped.rowcount or 0)  # type: ignore[attr-defined]


def _failed(session: Session, proposal_id: int, last_id: int, error: str) -> None:
    session.execute(
        update(TaskUpdateRow)
        .where(TaskUpdateRow.proposal_id == proposal_id, TaskUpdateRow.id <= last_id,
               TaskUpdateRow.state == "queued")
        .values(attempts=TaskUpdateRow.attempts + 1, last_error=error[:2000])
        .execution_options(synchronize_session=False))

