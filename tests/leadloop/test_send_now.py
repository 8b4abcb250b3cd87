"""Send now: a rep moves an approved email's not-before to now only when policy allows it
right now (window, holidays, caps); otherwise one line says what holds it, nothing leaves."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from connectors.sandbox import SandboxCRM
from leadloop.pipeline import Pipeline
from leadloop.settings import SendingConfig
from leadloop.steps.send_now import send_now
from leadloop.wiring import send_now_runner
from review_api.app import create_app
from review_api.keys import Role, create_key
from review_api.send_now_views import SendNowRefusedError
from review_api.store.db import Store
from review_api.store.models import AuditEvent, OutboxEmail, Proposal

from .conftest import NOW, RecordingConnector, Transport, make_pipeline

ALWAYS: dict[str, Any] = {"window": "00:00-24:00", "days": "mon-sun", "holidays": []}


def _approved(store: Store, crm: SandboxCRM, sending: SendingConfig, transport: Transport,
              country: str, approve: int = 1) -> tuple[Pipeline, list[int]]:
    for lead in crm.list_leads():
        crm.update_lead(lead["crm_id"], country=country)
    pipeline = make_pipeline(store, crm, connector=RecordingConnector(crm, transport),
                             sending=sending)
    pipeline.sync()
    pipeline.score()
    pipeline.propose()
    tasks = [t for t in crm.list_tasks(status="Not Started") if t.kind == "draft"]
    owner = tasks[0].owner_id
    chosen = [t for t in tasks if t.owner_id == owner][:approve]
    assert len(chosen) == approve
    for task in chosen:
        crm.approve_task(task.task_id, by=task.owner_id)
    pipeline.reconcile()
    with store.session() as session:
        ids = [session.scalars(select(Proposal.id).where(Proposal.key == t.proposal_key)).one()
               for t in chosen]
    return pipeline, ids


def _client(store: Store, pipeline: Pipeline, *, owner: str | None) -> TestClient:
    with store.session() as session:
        key = create_key(session=session, role=Role.REP if owner else Role.ADMIN,
                         owner_id=owner)[1]
    return TestClient(create_app(store, clock=lambda: NOW, send_now=send_now_runner(pipeline)),
                      headers={"Authorization": f"Bearer {key}"})


def test_send_now_outside_the_leads_window_is_refused_with_what_holds_it(
        store: Store, crm: SandboxCRM) -> None:
    # NOW is Monday 09:00 UTC: 18:00 in Tokyo, after the window there.
    transport = Transport()
    pipeline, [proposal_id] = _approved(store, crm, SendingConfig(holidays=[]), transport,
                                        "Japan")
    assert pipeline.send().sent == 0
    with store.session() as session:
        owner = session.get_one(Proposal, proposal_id).owner_id
    answer = _client(store, pipeline, owner=owner).post(f"/proposals/{proposal_id}/send-now")
    assert answer.status_code == 409, answer.text
    assert answer.json() == {"code": "held", "message": (
        f"proposal {proposal_id} cannot be sent now: outside 09:00-17:00 mon-fri Asia/Tokyo; "
        "it opens at 2026-11-03 00:00 UTC")}
    assert transport.calls == []
    with store.session() as session:
        row = session.scalars(select(OutboxEmail).where(
            OutboxEmail.proposal_id == proposal_id)).one()
        assert row.state == "queued" and row.not_before is not None and row.not_before > NOW


def test_send_now_within_policy_sends_at_once_and_is_audited(store: Store,
                                                              crm: SandboxCRM) -> None:
    # NOW is 09:00 in London (GMT in November): the window is open, so send-now may send.
    transport = Transport()
    early = SendingConfig(window="09:00-17:00", holidays=[])
    pipeline, [proposal_id] = _approved(store, crm, early, transport, "United Kingdom")
    with store.session() as session:
        owner = session.get_one(Proposal, proposal_id).owner_id
    # Someone else's rep key may not.
    other = _client(store, pipeline, owner="U999999").post(f"/proposals/{proposal_id}/send-now")
    assert other.status_code in (403, 404) and transport.calls == []
    answer = _client(store, pipeline, owner=owner).post(f"/proposals/{proposal_id}/send-now")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"proposal_id": proposal_id, "sent": True, "message": "sent"}
    assert len(transport.calls) == 1
    with store.session() as session:
        assert session.get_one(Proposal, proposal_id).state == "sent"
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.event == "send_now"))
        assert event.actor == owner
    # Asked again: nothing waits any more, and nothing is sent twice.
    again = _client(store, pipeline, owner=None).post(f"/proposals/{proposal_id}/send-now")
    assert again.status_code == 409 and "no approved email waiting" in again.json()["message"]
    assert len(transport.calls) == 1


def test_send_now_past_the_mailbox_cap_is_refused(sqlite_store: Store,
                                                  crm: SandboxCRM) -> None:
    transport = Transport()
    capped = SendingConfig(max_per_mailbox_per_day=1, **ALWAYS)
    pipeline, ids = _approved(sqlite_store, crm, capped, transport, "United Kingdom",
                              approve=2)
    assert pipeline.send().sent == 1
    waiting = next(i for i in ids if i not in {_sent_id(sqlite_store)})
    owner = transport.calls[0].from_owner_id
    with pytest.raises(SendNowRefusedError, match=rf"cannot be sent now: 1/day cap for {owner}$"):
        send_now(store=sqlite_store, connector=pipeline.connector, config=capped,
                 proposal_id=waiting, actor=owner, clock=lambda: NOW)
    assert len(transport.calls) == 1


def test_send_now_on_the_leads_public_holiday_is_refused(sqlite_store: Store,
                                                         crm: SandboxCRM) -> None:
    transport = Transport()
    config = SendingConfig(holidays=["lead"])
    pipeline, [proposal_id] = _approved(sqlite_store, crm, config, transport, "Germany")
    christmas = datetime(2026, 12, 25, 11, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # a Friday
    with pytest.raises(SendNowRefusedError, match="public holiday in DE; it opens at "
                                                  "2026-12-28 08:00 UTC"):
        send_now(store=sqlite_store, connector=pipeline.connector, config=config,
                 proposal_id=proposal_id, actor="U1", clock=lambda: christmas)
    assert transport.calls == []


def _sent_id(store: Store) -> int:
    with store.session() as session:
        return int(session.scalars(select(OutboxEmail.proposal_id).where(
            OutboxEmail.state == "sent")).one())
