"""The sender is killed at each step of a send; after a restart every approved draft has
been sent exactly once, and nothing unapproved has been sent."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from connectors.base import OutgoingEmail, SendResult
from connectors.sandbox import SandboxCRM
from leadloop.steps.send import SEND_LEASE
from review_api.store.db import Store
from review_api.store.models import OutboxEmail, Proposal

from .conftest import NOW, RecordingConnector, Transport, make_pipeline


class Killed(BaseException):
    """The process dies: nothing after this point runs, no handler catches it."""


class KillAt(RecordingConnector):
    """Dies at one named step of the send."""

    def __init__(self, crm: SandboxCRM, transport: Transport, step: str) -> None:
        super().__init__(crm, transport)
        self.step = step

    def find_sent_email(self, idempotency_key: str) -> SendResult | None:
        if self.step == "before_log_check":
            raise Killed
        found = super().find_sent_email(idempotency_key)
        if self.step == "after_log_check":
            raise Killed
        return found

    def send_email(self, email: OutgoingEmail) -> SendResult:
        result = super().send_email(email)
        if self.step == "after_send":
            raise Killed
        return result


@pytest.mark.parametrize("step", ["before_log_check", "after_log_check", "after_send"])
def test_sender_killed_at_each_step_sends_each_approved_draft_once(
    sqlite_store: Store, crm: SandboxCRM, step: str
) -> None:
    pipeline = make_pipeline(sqlite_store, crm)
    pipeline.sync()
    pipeline.score()
    pipeline.propose()
    drafts = [t for t in crm.list_tasks(status="Not Started") if t.kind == "draft"]
    approved = drafts[:3]
    for task in approved:
        crm.approve_task(task.task_id, by=task.owner_id)
    crm.reject_task(drafts[3].task_id, by=drafts[3].owner_id, reason="no")
    pipeline.reconcile()

    transport = Transport()
    pipeline.connector = KillAt(crm, transport, step)
    with pytest.raises(Killed):
        pipeline.send()

    # Restarted at once, while the dead sender's lease still holds: nothing is resent.
    restarted = make_pipeline(sqlite_store, crm, connector=RecordingConnector(crm, transport))
    restarted.send()
    assert all(n == 1 for n in Counter(transport.keys()).values())

    # After the lease, the restarted sender finishes the job, asking the CRM's log first.
    later = NOW + SEND_LEASE + timedelta(seconds=1)
    restarted.clock = lambda: later
    restarted.send()
    # Counted at the send call itself, not at the CRM's log (which drops a repeated key).
    assert Counter(transport.keys()) == Counter({t.proposal_key: 1 for t in approved})
    assert Counter(e.idempotency_key for e in crm.sent_emails()) == Counter(transport.keys())
    with sqlite_store.session() as session:
        states = {p.key: p.state for p in session.scalars(select(Proposal))}
        outbox = session.scalars(select(OutboxEmail.state)).all()
    assert all(states[t.proposal_key] == "sent" for t in approved)
    assert states[drafts[3].proposal_key] == "rejected"
    assert sorted(outbox) == ["sent"] * 3


def test_two_senders_at_once_send_once(sqlite_store: Store, crm: SandboxCRM) -> None:
    """A second sender started while the first is mid-send leaves the row alone."""
    pipeline = make_pipeline(sqlite_store, crm)
    pipeline.sync()
    pipeline.score()
    pipeline.propose()
    task = next(t for t in crm.list_tasks(status="Not Started") if t.kind == "draft")
    crm.approve_task(task.task_id, by=task.owner_id)
    pipeline.reconcile()
    transport = Transport()
    second = make_pipeline(sqlite_store, crm, connector=RecordingConnector(crm, transport))

    class SecondSenderStartsMidSend(RecordingConnector):
        def send_email(self, email: OutgoingEmail) -> SendResult:
            assert second.send().sent == 0  # the row is claimed: the second sender skips it
            return super().send_email(email)

    pipeline.connector = SecondSenderStartsMidSend(crm, transport)
    assert pipeline.send().sent == 1
    assert transport.keys() == [task.proposal_key]
