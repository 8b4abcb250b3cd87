"""The sandbox CRM behind the :class:`connectors.base.CRMConnector` protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from connectors.base import (
    OutgoingEmail,
    Owner,
    RawLead,
    ReviewTaskRequest,
    ScoreWrite,
    SendResult,
    SyncCursor,
    TaskChange,
    TaskDecision,
    TaskOutcome,
    TaskStatus,
    TaskUpdate,
    TaskWriteResult,
    WriteResult,
)
from connectors.errors import NotFoundError
from connectors.outcomes import OutcomeEvent
from connectors.sandbox import outcomes as simulated
from connectors.sandbox.crm import DecisionValue, SandboxCRM, SandboxTask, TaskStatusValue

_STATUS = {
    TaskStatusValue.NOT_STARTED: TaskStatus.NOT_STARTED,
    TaskStatusValue.IN_PROGRESS: TaskStatus.IN_PROGRESS,
    TaskStatusValue.COMPLETED: TaskStatus.COMPLETED,
    TaskStatusValue.DEFERRED: TaskStatus.DEFERRED,
}


class SandboxConnector:
    """leadloop's connector to the sandbox CRM.

    Args:
        crm: the sandbox CRM to talk to; the connector does not own it (see ``close``).
        page_size: how many records one read fetches; reads are paged so that a large
            CRM is streamed, and so no read holds the file open while the caller works.
    """

    name = "sandbox"

    def __init__(self, crm: SandboxCRM, *, page_size: int = 500) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self.crm = crm
        self.page_size = page_size

    @classmethod
    def from_path(
        cls, path: str | Path, *, clock: Callable[[], datetime] | None = None
    ) -> SandboxConnector:
        """Open (or create) the sandbox CRM file at ``path`` and connect to it."""
        return cls(SandboxCRM(path, clock=clock))

    def close(self) -> None:
        """Close the sandbox CRM's file."""
        self.crm.close()

    def list_owners(self) -> list[Owner]:
        """Every user who can own leads.

        Returns:
            The sandbox's owners: its manager and reps, and any added by an import.
        """
        return self.crm.list_owners()

    def fetch_leads(self, *, since: SyncCursor | None) -> Iterator[RawLead]:
        """Leads changed after a cursor, in (modified_at, crm_id) order; all when None.

        Args:
            since: where the last read stopped. Leads stamped at ``since.modified_at`` are
                returned except those with ids up to ``since.last_id``, which that read
                already had; an empty ``last_id`` returns every lead at the stamp.

        Returns:
            Raw leads whose ``fields`` carry the Lead field names with the values as
            stored (malformed ones included, for :func:`connectors.base.parse_lead` to
            report). Deleted leads come back with ``deleted=True``.
        """
        after = None if since is None else (since.modified_at, since.last_id)
        while True:
            page = self.crm.leads_after(after, limit=self.page_size)
            for lead in page:
                yield RawLead(
                    crm_id=lead.crm_id,
                    modified_at=lead.modified_at,
                    fields=lead.fields,
                    deleted=lead.deleted,
                )
            if len(page) < self.page_size:
                return
            after = (page[-1].modified_at, page[-1].crm_id)

    def write_scores(self, scores: Sequence[ScoreWrite]) -> list[WriteResult]:
        """Write scores and tiers onto leads without moving their modification stamps.

        Args:
            scores: one score per lead.

        Returns:
            One result per score; an unknown or deleted lead gets an error, the rest are
            written.
        """
        return self.crm.set_scores(scores)

    def upsert_review_tasks(self, tasks: Sequence[ReviewTaskRequest]) -> list[TaskWriteResult]:
        """Create pending review tasks ('Not Started'), idempotently by proposal key.

        Args:
            tasks: the tasks to create.

        Returns:
            One result per task: a key that already has a task returns its id with
            ``created=False``; a task the CRM refuses (unknown lead, empty subject...)
            carries an error, and the others are still created.
        """
        return self.crm.create_review_tasks(tasks)

    def fetch_task_changes(self, *, since: SyncCursor | None) -> Iterator[TaskChange]:
        """Review tasks changed after a cursor, in (modified_at, task_id) order.

        Args:
            since: where the last read stopped, as for :meth:`fetch_leads`.

        Returns:
            Task changes, decided as :class:`connectors.base.TaskChange` says, with the
            email fields as they now stand, the final score, the owner and leadloop's
            outcome. Tasks without a proposal key (a rep's own to-dos) are not review tasks
            and are left out.
        """
        after = None if since is None else (since.modified_at, since.last_id)
        while True:
            page = self.crm.tasks_after(after, limit=self.page_size)
            for task in page:
                yield _task_change(task)
            if len(page) < self.page_size:
                return
            after = (page[-1].modified_at, page[-1].task_id)

    def update_review_tasks(self, updates: Sequence[TaskUpdate]) -> list[WriteResult]:
        """Set review tasks to the state leadloop holds, in one sandbox transaction.

        Args:
            updates: the states to set (see :class:`connectors.base.TaskUpdate`).

        Returns:
            One result per update, by task id; an unknown task or owner gets an error.
        """
        results: list[WriteResult] = []
        for start in range(0, len(updates), self.page_size):
            results.extend(self.crm.update_review_tasks(updates[start:start + self.page_size]))
        return results

    def fetch_leads_by_id(self, crm_ids: Sequence[str]) -> list[RawLead]:
        """The current record of each named lead.

        Args:
            crm_ids: the leads to read.

        Returns:
            Raw leads as :meth:`fetch_leads` gives them, deleted ones with ``deleted=True``;
            unknown ids are left out.
        """
        return [RawLead(crm_id=lead.crm_id, modified_at=lead.modified_at, fields=lead.fields,
                        deleted=lead.deleted)
                for lead in self.crm.leads_by_ids(crm_ids)]

    def find_sent_email(self, idempotency_key: str) -> SendResult | None:
        """The email already sent under this key, if any.

        Returns:
            The logged send with ``already_sent=True``, or None.
        """
        return self.crm.find_email(idempotency_key)

    def send_email(self, email: OutgoingEmail) -> SendResult:
        """Log the email on the lead once per idempotency key (the sandbox mails nobody).

        Args:
            email: the approved email.

        Returns:
            The send; a repeated key returns the first send with ``already_sent=True``
            and writes nothing.

        Raises:
            NotFoundError: the lead does not exist or is deleted.
        """
        return self.crm.log_email(email)

    def fetch_outcomes(self, *, since: SyncCursor | None) -> Iterator[OutcomeEvent]:
        """Replies, bounces and meetings recorded after a cursor, by (modified_at, event_id).

        Args:
            since: where the last read stopped, as for :meth:`fetch_leads`.

        Returns:
            The sandbox's simulated outcomes (see :mod:`connectors.sandbox.outcomes`), each
            naming the sent email it answers by its message id. Opt-outs come by sync.
        """
        after = None if since is None else (since.modified_at, since.last_id)
        while True:
            page = simulated.outcomes_after(self.crm, after, limit=self.page_size)
            for row in page:
                yield OutcomeEvent(
                    event_id=row.event_id, kind=row.kind, lead_crm_id=row.lead_crm_id,
                    occurred_at=row.occurred_at, modified_at=row.modified_at,
                    message_id=row.message_id, detail=row.detail)
            if len(page) < self.page_size:
                return
            after = (page[-1].modified_at, page[-1].event_id)
    def opt_out_of_email(self, crm_id: str, *, email: str) -> None:
        """Set the lead's ``email_opt_out``; a lead already opted out or deleted is left be.

        Args:
            crm_id: the lead.
            email: the address that asked (the sandbox keeps one address per lead).
        """
        try:
            lead = self.crm.get_lead(crm_id)
        except NotFoundError:
            return
        if lead["deleted"] or lead.get("email_opt_out"):
            return
        self.crm.update_lead(crm_id, email_opt_out=True)


def _task_change(task: SandboxTask) -> TaskChange:
    outcome = TaskOutcome(task.outcome) if task.outcome else None
    decision: TaskDecision | None = None
    if task.decision is DecisionValue.REJECTED:
        decision = TaskDecision.REJECTED
    elif task.decision is DecisionValue.APPROVED or (
        task.status is TaskStatusValue.COMPLETED and outcome is None
    ):
        # A rep who marks a review task Completed without rejecting it has approved it;
        # one leadloop closed (it carries an outcome) was not decided by a rep.
        decision = TaskDecision.APPROVED
    assert task.proposal_key is not None  # tasks_after returns review tasks only
    return TaskChange(
        task_id=task.task_id,
        proposal_key=task.proposal_key,
        status=_STATUS[task.status],
        modified_at=task.modified_at,
        decision=decision,
        email_subject=task.email_subject,
        email_body=task.email_body,
        final_score=task.final_score,
        reason=task.decision_reason,
        decided_by=task.completed_by,
        owner_id=task.owner_id,
        outcome=outcome,
    )
