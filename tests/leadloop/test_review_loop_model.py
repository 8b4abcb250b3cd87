"""A model-based test of the whole review loop on the sandbox CRM, on SQLite and PostgreSQL.

Hypothesis drives the loop with every kind of step a team produces: sync, score and propose;
reps deciding in the CRM (approve, edit, reject, a score, a damaged notes line, an empty
edit, the wrong action, by the wrong person); decisions through the HTTP API, single and bulk,
by the owner, another rep, the manager and an admin; escalation and expiry on a moving clock;
supersession; opt-outs and deletions; sends; and a crash at any step. After every step it
checks what the loop promises, counted where harm would happen:

- every email handed to the send call had an approval by an entitled person (judged by this
  file's own oracle, not by the code under test), went out once, and says exactly what was
  approved, with no line of leadloop's internal notes;
- nothing went to a lead after they opted out or were deleted in the CRM;
- once reconcile has run, the CRM's tasks agree with leadloop: no open task for a decided
  proposal, no closed task for a pending one, the right owner, one task per proposal;
- every decision and every send has its audit chain.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import create_engine, select, text

from connectors.base import (
    OutgoingEmail,
    ReviewTaskRequest,
    SendResult,
    TaskUpdate,
    TaskWriteResult,
    WriteResult,
)
from connectors.errors import ConnectorError
from connectors.sandbox import SandboxCRM
from connectors.sandbox.crm import SandboxTask
from connectors.sandbox.errors import SandboxError
from drafting.policy import parse_policy
from leadloop.checks import sandbox_tasks_out_of_step
from review_api.app import create_app
from review_api.keys import Role, create_key
from review_api.store.db import Store
from review_api.store.models import AuditEvent, Decision, Proposal
from tests.conftest import PG_SERVER

from .conftest import NOW, RecordingConnector, Transport, make_pipeline, rep_text

# Examples per backend; with these, each safety check was seen to fail when broken on
# purpose (see the closing note of the issue). PostgreSQL runs half as many: it is slower.
EXAMPLES = int(os.environ.get("LEADLOOP_MODEL_EXAMPLES", "60"))
STEPS = 30
# The default rules, with the manager required from 150 employees so the loop meets it often.
POLICY = (resources.files("drafting") / "default_policy.txt").read_text(encoding="utf-8").replace(
    "more than 1000 employees", "more than 150 employees")


class Killed(BaseException):
    """The process dies here: no handler of ours catches it."""


class Faulty(RecordingConnector):
    """The sandbox connector, dying or failing at one named point."""

    def __init__(self, crm: SandboxCRM, transport: Transport, fault: str = "none") -> None:
        super().__init__(crm, transport)
        self.fault = fault

    def upsert_review_tasks(self, tasks: Sequence[ReviewTaskRequest]) -> list[TaskWriteResult]:
        results = super().upsert_review_tasks(tasks)
        if self.fault == "after_task_create":
            raise Killed
        return results

    def update_review_tasks(self, updates: Sequence[TaskUpdate]) -> list[WriteResult]:
        results = super().update_review_tasks(updates)
        if self.fault == "after_task_update":
            raise Killed
        return results

    def send_email(self, email: OutgoingEmail) -> SendResult:
        if self.fault == "send_refused":
            raise ConnectorError("SMTP relay unreachable")  # nothing left
        result = super().send_email(email)
        if self.fault == "after_send":
            raise Killed
        return result


_TEMPLATE: dict[str, Path] = {}


def _template() -> Path:
    """A seeded sandbox, made once and copied for every example."""
    if "dir" not in _TEMPLATE:
        root = Path(tempfile.mkdtemp(prefix="leadloop-model-template-"))
        crm = SandboxCRM(root / "sandbox.db")
        crm.seed(30, seed=5, now=NOW)
        crm.close()  # the write-ahead log is folded into the file, which is what is copied
        _TEMPLATE["dir"] = root
    return _TEMPLATE["dir"]


class ReviewLoopModel(RuleBasedStateMachine):
    """The loop, driven step by step; ``backend`` is set per test."""

    backend = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="leadloop-model-"))
        shutil.copy(_template() / "sandbox.db", self.dir / "sandbox.db")
        self.crm = SandboxCRM(self.dir / "sandbox.db")
        self.schema: str | None = None
        if self.backend == "sqlite":
            url = f"sqlite:///{self.dir / 'store.db'}"
        else:
            self.schema = f"m_{uuid.uuid4().hex[:12]}"
            with create_engine(PG_SERVER).begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            url = f"{PG_SERVER}?options=-csearch_path%3D{self.schema}"
        self.store = Store.open(url)
        self.transport = Transport()
        self.now = NOW
        self.pipeline = make_pipeline(
            self.store, self.crm, connector=Faulty(self.crm, self.transport),
            policy=parse_policy(POLICY), escalate_after=timedelta(hours=30))
        self.pipeline.clock = lambda: self.now
        self.owners = {o.owner_id: o for o in self.crm.list_owners()}
        self.manager = next(o.owner_id for o in self.owners.values() if o.manager_id is None)
        with self.store.session() as session:
            self.keys = {owner: create_key(session=session, role=Role.REP, owner_id=owner)[1]
                         for owner in self.owners}
            self.keys["admin"] = create_key(session=session, role=Role.ADMIN)[1]
        self.api = TestClient(create_app(self.store, clock=lambda: self.now))
        # From which send call on a lead may no longer be emailed (opted out or deleted).
        self.no_consent_from: dict[str, int] = {}
        self.settled = True  # the CRM and the store have been reconciled since the last change

    def teardown(self) -> None:
        with self.store.session() as session:
            for state in session.scalars(select(Proposal.state)):
                event(f"proposal ends {state}")
            refused = session.scalars(select(AuditEvent.event).where(
                AuditEvent.event.in_(["decision_refused", "reconcile_refused",
                                      "crm_decision_overruled", "send_refused"]))).all()
            for name in refused:
                event(f"audit: {name}")
        event(f"emails sent: {min(len(self.transport.calls), 5)}+")
        self.store.close()
        self.crm.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.schema is not None:
            engine = create_engine(PG_SERVER)
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            engine.dispose()

    # -- helpers ------------------------------------------------------------------------

    def _connect(self, fault: str = "none") -> None:
        self.pipeline.connector = Faulty(self.crm, self.transport, fault)

    def _open_tasks(self) -> list[SandboxTask]:
        return [t for t in self.crm.list_tasks() if t.proposal_key
                and t.status.value != "Completed"]

    def _pending(self) -> list[Proposal]:
        with self.store.session() as session:
            rows = session.scalars(select(Proposal).where(Proposal.state == "pending")
                                   .order_by(Proposal.id)).all()
            session.expunge_all()
        return list(rows)

    def _person(self, who: str, *, owner: str, assignee: str) -> str:
        reps = sorted(o for o in self.owners if o != self.manager)
        return {"task_owner": assignee, "lead_owner": owner, "manager": self.manager,
                "other_rep": next(r for r in reps if r not in (owner, assignee))}[who]

    def _run(self, step: str, fault: str = "none") -> None:
        self._connect(fault)
        try:
            getattr(self.pipeline, step)()
        except Killed:
            self.settled = False
            return
        finally:
            self._connect()
        if step == "reconcile":
            self.settled = True

    # -- rules: the pipeline ------------------------------------------------------------

    @rule(fault=st.sampled_from(["none", "none", "after_task_create"]))
    def sync_score_propose(self, fault: str) -> None:
        self._connect(fault)
        try:
            self.pipeline.sync()
            self.pipeline.score()
            self.pipeline.propose()
        except Killed:
            pass
        finally:
            self._connect()
        self.settled = False  # new tasks, or supersessions, wait for the next reconcile

    @rule(fault=st.sampled_from(["none", "none", "after_task_update", "after_task_create"]))
    def reconcile(self, fault: str) -> None:
        self._run("reconcile", fault)

    @rule(fault=st.sampled_from(["none", "none", "send_refused", "after_send",
                                 "after_task_update"]))
    def send(self, fault: str) -> None:
        settled = self.settled
        self._run("send", fault)
        self.settled = self.settled and settled

    @rule(hours=st.sampled_from([1, 20, 40, 80]))
    def time_passes(self, hours: int) -> None:
        self.now = self.now + timedelta(hours=hours)
        self.settled = False  # escalation and expiry wait for the next reconcile

    # -- rules: reps in the CRM ---------------------------------------------------------

    @precondition(lambda self: bool(self._open_tasks()))
    @rule(pick=st.integers(min_value=0),
          how=st.sampled_from(["approve", "approve", "edit", "reject", "score",
                               "damaged_notes", "damaged_notes", "empty_edit",
                               "email_on_score"]),
          who=st.sampled_from(["task_owner", "task_owner", "task_owner", "lead_owner",
                               "manager", "other_rep"]))
    def rep_decides_in_crm(self, pick: int, how: str, who: str) -> None:
        tasks = self._open_tasks()
        task = tasks[pick % len(tasks)]
        owner = self.crm.get_lead(task.lead_crm_id)["owner_id"]
        by = self._person(who, owner=owner, assignee=task.owner_id)
        if how == "approve":
            self.crm.approve_task(task.task_id, by=by)
        elif how == "edit":
            self.crm.approve_task(task.task_id, by=by, email_subject="A better subject",
                                  email_body=task.email_body + "\nP.S. edited by the rep")
        elif how == "reject":
            self.crm.reject_task(task.task_id, by=by, reason="not now")
        elif how == "score":  # on a draft task, the wrong action
            self.crm.set_final_score(task.task_id, by=by, score=55)
        elif how == "damaged_notes":
            # The rep rewrites the notes (dashes and all) and pastes one of them into the
            # email: the notes never become the email, and the pasted line is refused.
            notes = task.description.replace("-", "=")
            pasted = task.description.splitlines()[0] if task.description else ""
            self.crm.approve_task(task.task_id, by=by, description=notes,
                                  email_body=task.email_body + "\n" + pasted)
        elif how == "empty_edit":
            self.crm.approve_task(task.task_id, by=by, email_body="  ")
        else:  # an email typed into a score task (or a plain edit on a draft)
            self.crm.approve_task(task.task_id, by=by, email_subject="Hello",
                                  email_body="Hi there, shall we talk?")
        self.settled = False

    # -- rules: reps and admins through the API -----------------------------------------

    @precondition(lambda self: bool(self._pending()))
    @rule(pick=st.integers(min_value=0), approve=st.booleans(),
          who=st.sampled_from(["lead_owner", "task_owner", "manager", "other_rep", "admin"]),
          edit=st.booleans())
    def decides_through_api(self, pick: int, approve: bool, who: str, edit: bool) -> None:
        pending = self._pending()
        proposal = pending[pick % len(pending)]
        body = self._decision_body(proposal, approve=approve, edit=edit)
        response = self.api.post(f"/proposals/{proposal.id}/decision", json=body,
                                 headers=self._auth(who, proposal))
        assert response.status_code in (200, 403, 409, 422), response.text
        self.settled = False

    @precondition(lambda self: bool(self._pending()))
    @rule(picks=st.lists(st.integers(min_value=0), min_size=1, max_size=4),
          who=st.sampled_from(["lead_owner", "manager", "other_rep", "admin"]))
    def bulk_approves_through_api(self, picks: list[int], who: str) -> None:
        pending = self._pending()
        chosen = [pending[p % len(pending)] for p in picks]
        items = [{"proposal_id": p.id, **self._decision_body(p, approve=True, edit=False)}
                 for p in chosen]
        response = self.api.post("/decisions", json={"items": items},
                                 headers=self._auth(who, chosen[0]))
        assert response.status_code == 200, response.text
        receipts = response.json()
        assert [r["proposal_id"] for r in receipts] == [p.id for p in chosen]
        for receipt in receipts:  # a refused item says why, in words and a code
            assert receipt["ok"] or (receipt["code"] and receipt["message"])
        self.settled = False

    def _decision_body(self, proposal: Proposal, *, approve: bool, edit: bool
                       ) -> dict[str, Any]:
        if not approve:
            return {"decision": "reject", "reason": "not a fit"}
        if proposal.kind == "draft":
            return {"decision": "approve", **({"final_body": "Hi,\n\nA short note from me."}
                                              if edit else {})}
        return {"decision": "approve", **({"final_score": 61} if edit else {})}

    def _auth(self, who: str, proposal: Proposal) -> dict[str, str]:
        if who == "admin":
            key = self.keys["admin"]
        else:
            person = self._person(who, owner=proposal.owner_id,
                                  assignee=proposal.assignee_id or proposal.owner_id)
            key = self.keys[person]
        return {"Authorization": f"Bearer {key}"}

    # -- rules: the leads change in the CRM ---------------------------------------------

    @rule(pick=st.integers(min_value=0))
    def lead_shows_new_interest(self, pick: int) -> None:
        leads = self.crm.list_leads(include_deleted=False)
        lead = leads[pick % len(leads)]
        events = list(lead.get("events") or [])
        events += [{"kind": "page_view", "detail": "/pricing",
                    "at": (self.now - timedelta(days=d)).isoformat()} for d in (1, 2, 3)]
        self.crm.update_lead(lead["crm_id"], events=events)

    @rule(pick=st.integers(min_value=0), delete=st.booleans(), busy=st.booleans())
    def lead_opts_out_or_is_deleted(self, pick: int, delete: bool, busy: bool) -> None:
        leads = self.crm.list_leads(include_deleted=False)
        if busy:  # most often a lead with a draft in flight, where consent matters
            with self.store.session() as session:
                live = set(session.scalars(select(Proposal.crm_id).where(
                    Proposal.state.in_(["pending", "approved", "send_failed"]))))
            leads = [lead for lead in leads if lead["crm_id"] in live] or leads
        lead = leads[pick % len(leads)]
        if delete:
            self.crm.delete_lead(lead["crm_id"])
        else:
            try:
                self.crm.update_lead(lead["crm_id"], email_opt_out=True)
            except SandboxError:
                return
        self.no_consent_from.setdefault(lead["crm_id"], len(self.transport.calls))

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def every_send_was_approved_by_an_entitled_person_once_as_approved(self) -> None:
        calls = self.transport.calls
        assert all(n == 1 for n in Counter(self.transport.keys()).values()), \
            Counter(self.transport.keys())
        with self.store.session() as session:
            for email in calls:
                proposal = session.scalars(
                    select(Proposal).where(Proposal.key == email.idempotency_key)).one()
                label = session.scalars(
                    select(Decision).where(Decision.proposal_id == proposal.id)).one()
                assert label.decision == "approved"
                assert _entitled(proposal, label.decided_by or ""), (
                    proposal.key, label.decided_by, proposal.approver_id)
                # What the rep approved leaves as is; the footer follows it.
                assert f"Subject: {email.subject}\n\n{rep_text(email.body)}" == (
                    label.final_text)
                notes = [line.strip() for line in proposal.payload["description"].splitlines()
                         if len(line.strip()) >= 12]
                lines = {line.strip() for line in (email.subject + "\n" + email.body)
                         .splitlines()}
                assert not [n for n in notes if n in lines], email.body

    @invariant()
    def every_approval_in_force_was_given_by_an_entitled_person(self) -> None:
        with self.store.session() as session:
            for proposal, label in session.execute(
                    select(Proposal, Decision).join(Decision, Decision.proposal_id == Proposal.id)
                    .where(Decision.decision == "approved")):
                assert _entitled(proposal, label.decided_by or ""), (
                    proposal.key, label.decided_by, proposal.owner_id, proposal.assignee_id,
                    proposal.approver_id)

    @invariant()
    def nothing_went_to_a_lead_without_consent(self) -> None:
        for index, email in enumerate(self.transport.calls):
            since = self.no_consent_from.get(email.lead_crm_id)
            assert since is None or index < since, (email.lead_crm_id, index, since)

    @invariant()
    def crm_tasks_agree_with_leadloop_once_reconciled(self) -> None:
        if self.settled:
            assert sandbox_tasks_out_of_step(self.store, self.crm) == []

    @invariant()
    def every_decision_and_send_has_its_audit_chain(self) -> None:
        with self.store.session() as session:
            events: dict[int, set[str]] = {}
            for proposal_id, event in session.execute(
                    select(AuditEvent.proposal_id, AuditEvent.event)):
                events.setdefault(proposal_id, set()).add(event)
            for label in session.scalars(select(Decision)):
                chain = events.get(label.proposal_id, set())
                assert {"proposed", f"decision_{label.decision}"} <= chain, chain
            for proposal in session.scalars(select(Proposal)):
                chain = events.get(proposal.id, set())
                if proposal.state == "sent":
                    assert "sent" in chain
                if proposal.state == "cancelled":
                    assert "cancelled" in chain


def _entitled(proposal: Proposal, decided_by: str) -> bool:
    """This test's own reading of who may approve (not the code under test's)."""
    if decided_by.startswith("admin:"):
        return True
    if proposal.approver_id is not None:
        return decided_by == proposal.approver_id != ""
    return decided_by in (proposal.owner_id, proposal.assignee_id)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_review_loop_keeps_its_word(backend: str, _pg_up: bool) -> None:
    if backend == "postgresql" and not _pg_up:
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432 (.ci/run starts it)")
    machine = type(f"ReviewLoop_{backend}", (ReviewLoopModel,), {"backend": backend})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=EXAMPLES if backend == "sqlite" else max(1, EXAMPLES // 2),
        stateful_step_count=STEPS, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        derandomize=False,
    ))
