"""One-click unsubscribe: RFC 8058 headers on every email, and the round trip from the link's
POST through the review API to the CRM's opt-out field, the suppression list and the outbox."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from connectors.sandbox import SandboxCRM
from leadloop.pipeline import Pipeline
from leadloop.settings import FooterConfig, SendingConfig
from leadloop.wiring import unsubscribe_runner
from review_api import suppression
from review_api.app import create_app
from review_api.store.db import Store
from review_api.store.models import AuditEvent, Decision, OutboxEmail, Proposal

from .conftest import NOW, RecordingConnector, Transport, make_pipeline

BASE = "https://leadloop.example.com"
ALWAYS: dict[str, Any] = {"window": "00:00-24:00", "days": "mon-sun", "holidays": []}
SENDING = SendingConfig(unsubscribe_base_url=BASE, unsubscribe_mailto="optout@northwind.example",
                        footer=FooterConfig(address="Northwind Ltd, 1 Dock Road, Leeds LS1 1AA"),
                        **ALWAYS)
# RFC 8058 section 3.1: an HTTPS URI in List-Unsubscribe (angle brackets, comma-separated
# with any mailto:) and exactly this List-Unsubscribe-Post value.
LIST_UNSUBSCRIBE = re.compile(
    r"^<(https://leadloop\.example\.com/unsubscribe/(\d+\.[A-Za-z0-9_-]{22}))>, "
    r"<mailto:optout@northwind\.example\?subject=unsubscribe%20\d+\.[A-Za-z0-9_-]{22}>$")


def _loop(store: Store, crm: SandboxCRM, transport: Transport,
          sending: SendingConfig = SENDING) -> Pipeline:
    pipeline = make_pipeline(store, crm, connector=RecordingConnector(crm, transport),
                             sending=sending)
    pipeline.sync()
    pipeline.score()
    pipeline.propose()
    return pipeline


def _approve_one(crm: SandboxCRM, body: str) -> Any:
    task = next(t for t in crm.list_tasks(status="Not Started") if t.kind == "draft")
    crm.approve_task(task.task_id, by=task.owner_id, email_body=body)
    return task


def _client(store: Store, pipeline: Pipeline) -> TestClient:
    return TestClient(create_app(store, clock=lambda: NOW,
                                 on_unsubscribe=unsubscribe_runner(pipeline)))


def test_every_sent_email_carries_rfc8058_headers_and_the_footer(
        sqlite_store: Store, crm: SandboxCRM) -> None:
    transport = Transport()
    pipeline = _loop(sqlite_store, crm, transport)
    task = _approve_one(crm, "Hi Ann,\n\nShall we talk on Tuesday?\n\nBest, Bo")
    pipeline.reconcile()
    assert pipeline.send().sent == 1
    sent = crm.sent_emails()[0]
    match = LIST_UNSUBSCRIBE.match(sent.headers["List-Unsubscribe"])
    assert match is not None, sent.headers
    assert sent.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert transport.calls[0].headers == tuple(sent.headers.items())
    text, _, footer = sent.body.rpartition("\n\n-- \n")
    assert text == "Hi Ann,\n\nShall we talk on Tuesday?\n\nBest, Bo"
    assert "Northwind Ltd, 1 Dock Road, Leeds LS1 1AA" in footer
    assert f"Unsubscribe: {match[1]}" in footer and "AI assistance" in footer
    # The label keeps the rep's text, not the footer.
    with sqlite_store.session() as session:
        proposal = session.scalars(select(Proposal).where(
            Proposal.key == task.proposal_key)).one()
        label = session.scalars(select(Decision).where(
            Decision.proposal_id == proposal.id)).one()
        assert label.final_text is not None and "Unsubscribe" not in label.final_text
        assert "Shall we talk on Tuesday?" in label.final_text


def test_one_click_post_opts_the_lead_out_in_the_crm_and_nothing_more_reaches_them(
        store: Store, crm: SandboxCRM) -> None:
    sqlite_store = store  # on SQLite and on PostgreSQL
    transport = Transport()
    pipeline = _loop(sqlite_store, crm, transport)
    task = _approve_one(crm, "Hi,\n\nA short note.\n\nBest")
    pipeline.reconcile()
    pipeline.send()
    sent = crm.sent_emails()[0]
    url = LIST_UNSUBSCRIBE.match(sent.headers["List-Unsubscribe"])[1]  # type: ignore[index]
    path = url.removeprefix(BASE)
    client = _client(sqlite_store, pipeline)
    # A link scanner's GET shows the page and changes nothing.
    page = client.get(path)
    assert page.status_code == 200 and '<form method="post"' in page.text
    assert not crm.get_lead(task.lead_crm_id)["email_opt_out"]
    with sqlite_store.session() as session:
        assert suppression.find(session=session, address=sent.to) is None
    # The mailbox provider's one-click POST (RFC 8058 section 3.2), twice.
    for _ in range(2):
        done = client.post(path, content=b"List-Unsubscribe=One-Click",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert done.status_code == 200 and "unsubscribed" in done.text
    assert bool(crm.get_lead(task.lead_crm_id)["email_opt_out"]) is True
    with sqlite_store.session() as session:
        assert suppression.find(session=session, address=sent.to) is not None
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.event == "unsubscribed")).all()
        assert len(events) == 1 and events[0].detail["via"] == "one-click"
    # A week on, the loop runs again: no draft for the lead, no email to them.
    later = NOW + timedelta(days=7)
    pipeline.clock = lambda: later
    pipeline.sync()
    pipeline.score()
    pipeline.propose()
    for other in crm.list_tasks(status="Not Started"):
        if other.kind == "draft":
            crm.approve_task(other.task_id, by=other.owner_id)
    pipeline.reconcile()
    pipeline.send()
    with sqlite_store.session() as session:
        fresh = session.scalars(select(Proposal).where(
            Proposal.crm_id == task.lead_crm_id, Proposal.created_at > NOW)).all()
        assert fresh == []
    assert [e.to for e in transport.calls].count(sent.to) == 1


def test_unsubscribe_cancels_the_leads_waiting_email_and_closes_its_task(
        sqlite_store: Store, crm: SandboxCRM) -> None:
    from leadloop.steps import mail
    from review_api.unsubscribe import signing_secret

    transport = Transport()
    held = SENDING.model_copy(update={"window": "03:00-04:00"})  # NOW (09:00 UTC) is outside
    for lead in crm.list_leads():
        crm.update_lead(lead["crm_id"], country="United Kingdom")
    pipeline = _loop(sqlite_store, crm, transport, sending=held)
    task = _approve_one(crm, "Hi,\n\nA short note.\n\nBest")
    pipeline.reconcile()
    assert pipeline.send().sent == 0
    with sqlite_store.session() as session:
        proposal = session.scalars(select(Proposal).where(
            Proposal.key == task.proposal_key)).one()
        proposal_id = proposal.id
    url = mail.unsubscribe_url(held, secret=signing_secret(sqlite_store), proposal_id=proposal_id)
    assert _client(sqlite_store, pipeline).post(url.removeprefix(BASE)).status_code == 200
    with sqlite_store.session() as session:
        assert session.get_one(Proposal, proposal_id).state == "cancelled"
        row = session.scalars(select(OutboxEmail).where(
            OutboxEmail.proposal_id == proposal_id)).one()
        assert row.state == "cancelled"
    closed = crm.get_task(task.task_id)
    assert closed.status == "Completed" and closed.outcome == "cancelled"
    assert "unsubscribed" in closed.note
    pipeline.sending = SENDING  # the window opens: still nothing goes to that lead
    pipeline.send()
    assert all(email.lead_crm_id != task.lead_crm_id for email in transport.calls)


@pytest.mark.parametrize("token", ["1.AAAAAAAAAAAAAAAAAAAAAA", "1", "x" * 40, "2.abc"])
def test_a_forged_or_cut_link_unsubscribes_nobody(sqlite_store: Store, crm: SandboxCRM,
                                                   token: str) -> None:
    pipeline = _loop(sqlite_store, crm, Transport())
    before = [lead["email_opt_out"] for lead in crm.list_leads()]
    client = _client(sqlite_store, pipeline)
    for method in (client.get, client.post):
        answer = method(f"/unsubscribe/{token}")
        assert answer.status_code == 404 and "not valid" in answer.text
    with sqlite_store.session() as session:
        assert suppression.entries(session=session) == []
    assert [lead["email_opt_out"] for lead in crm.list_leads()] == before
