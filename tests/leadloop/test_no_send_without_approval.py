"""Property: whatever reps, retries and crashes do, no email leaves without an approval,
no email leaves twice, and no proposal gets a second CRM task."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import select

from connectors.base import OutgoingEmail, ReviewTaskRequest, SendResult, TaskWriteResult
from connectors.errors import ConnectorError
from connectors.sandbox import SandboxConnector, SandboxCRM
from review_api import service
from review_api.errors import ReviewError
from review_api.schemas import DecisionIn
from review_api.store.db import Store
from review_api.store.models import Decision, Proposal
from review_api.taskbody import MARKER

from .conftest import NOW, make_pipeline


class DiesBeforeSend(SandboxConnector):
    def send_email(self, email: OutgoingEmail) -> SendResult:
        raise ConnectorError("SMTP relay unreachable")


class DiesAfterSend(SandboxConnector):
    def send_email(self, email: OutgoingEmail) -> SendResult:
        super().send_email(email)
        raise ConnectorError("killed after sending")


class DiesAfterTaskCreate(SandboxConnector):
    def upsert_review_tasks(self, tasks: Sequence[ReviewTaskRequest]) -> list[TaskWriteResult]:
        super().upsert_review_tasks(tasks)
        raise ConnectorError("killed after creating tasks")


_TEMPLATE: dict[str, Path] = {}


def _template_dir() -> Path:
    """A seeded sandbox and a migrated store, made once and copied for every example."""
    if "dir" not in _TEMPLATE:
        root = Path(tempfile.mkdtemp(prefix="leadloop-prop-template-"))
        SandboxCRM(root / "sandbox.db").seed(30, seed=5, now=NOW)
        Store.open(f"sqlite:///{root / 'store.db'}").close()
        _TEMPLATE["dir"] = root
    return _TEMPLATE["dir"]


class ReviewLoop(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="leadloop-prop-"))
        shutil.copytree(_template_dir(), self.dir, dirs_exist_ok=True)
        self.crm = SandboxCRM(self.dir / "sandbox.db")
        self.store = Store.open(f"sqlite:///{self.dir / 'store.db'}")
        self.pipeline = make_pipeline(self.store, self.crm)
        self.now = NOW

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _with(self, connector: SandboxConnector) -> None:
        self.pipeline.connector = connector

    def _pending(self) -> list[object]:
        return self.crm.list_tasks(status="Not Started")

    @rule()
    def cycle(self) -> None:
        self._with(SandboxConnector(self.crm))
        self.pipeline.sync()
        self.pipeline.score()
        self.pipeline.propose()

    @rule()
    def cycle_dies_after_task_create(self) -> None:
        self._with(DiesAfterTaskCreate(self.crm))
        self.pipeline.sync()
        self.pipeline.score()
        try:
            self.pipeline.propose()
        except ConnectorError:
            pass

    @precondition(lambda self: bool(self._pending()))
    @rule(pick=st.integers(min_value=0), how=st.sampled_from(["approve", "edit", "reject"]))
    def rep_decides_in_crm(self, pick: int, how: str) -> None:
        tasks = self._pending()
        task = tasks[pick % len(tasks)]
        if how == "approve":
            self.crm.approve_task(task.task_id, by=task.owner_id)  # type: ignore[attr-defined]
        elif how == "edit":
            email, _, notes = task.description.partition(MARKER)  # type: ignore[attr-defined]
            self.crm.approve_task(task.task_id, by=task.owner_id,  # type: ignore[attr-defined]
                                  description=email + "P.S. edited\n" + MARKER + notes)
        else:
            self.crm.reject_task(task.task_id, by=task.owner_id,  # type: ignore[attr-defined]
                                 reason="not now")

    @rule(pick=st.integers(min_value=0), approve=st.booleans())
    def rep_decides_through_api(self, pick: int, approve: bool) -> None:
        with self.store.session() as session:
            pending = session.scalars(
                select(Proposal).where(Proposal.state == "pending").order_by(Proposal.id)
            ).all()
            if not pending:
                return
            proposal = pending[pick % len(pending)]
            decision = (DecisionIn(decision="approve", decided_by="api-rep") if approve
                        else DecisionIn(decision="reject", reason="no", decided_by="api-rep"))
            try:
                service.decide(session=session, proposal=proposal, decision=decision,
                               source="api", now=self.now)
            except ReviewError:
                pass

    @rule()
    def reconcile(self) -> None:
        self._with(SandboxConnector(self.crm))
        self.pipeline.reconcile()

    @rule(fault=st.sampled_from(["none", "before", "after"]))
    def send(self, fault: str) -> None:
        connector = {"none": SandboxConnector, "before": DiesBeforeSend,
                     "after": DiesAfterSend}[fault](self.crm)
        self._with(connector)
        self.pipeline.send()

    @rule()
    def time_passes_beyond_expiry(self) -> None:
        self.now = self.now + timedelta(hours=80)
        later = self.now
        self.pipeline.clock = lambda: later
        self._with(SandboxConnector(self.crm))
        self.pipeline.reconcile()

    @invariant()
    def nothing_sent_without_approval_or_twice(self) -> None:
        sent = self.crm.sent_emails()
        keys = Counter(email.idempotency_key for email in sent)
        assert all(n == 1 for n in keys.values()), keys
        with self.store.session() as session:
            approved = set(session.scalars(
                select(Proposal.key).join(Decision, Decision.proposal_id == Proposal.id)
                .where(Decision.decision == "approved", Proposal.kind == "draft")
            ))
            # dict(result) would take the Result for a mapping (it has .keys()).
            states = {row.key: row.state for row in session.execute(
                select(Proposal.key, Proposal.state))}
        assert set(keys) <= approved
        for key in keys:
            assert states[key] in ("approved", "sent", "send_failed")
        for key, state in states.items():
            if state == "sent":
                assert key in keys

    @invariant()
    def one_task_per_proposal(self) -> None:
        keys = Counter(task.proposal_key for task in self.crm.list_tasks())
        assert all(n == 1 for n in keys.values()), keys


ReviewLoop.TestCase.settings = settings(
    max_examples=25, stateful_step_count=15, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestReviewLoop = ReviewLoop.TestCase
