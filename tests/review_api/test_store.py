from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from review_api import service
from review_api.authority import Decider
from review_api.errors import ConflictError
from review_api.schemas import DecisionIn
from review_api.store.db import Store, is_current
from review_api.store.models import AuditEvent, Base, Decision, OutboxEmail, Proposal

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _proposal(store: Store, key: str = "draft:L1:1") -> int:
    with store.session() as session:
        proposal, created = service.create_proposal(
            session=session, key=key, kind="draft", crm_id="L1", owner_id="U1",
            payload={"subject": "s", "body": "b"}, expires_at=NOW + timedelta(hours=1),
        )
        assert created
        return proposal.id


def test_migrations_build_exactly_the_models(store: Store) -> None:
    assert is_current(store.engine)
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_sqlite_store_runs_in_wal_mode(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'wal.db'}")
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    store.close()


def test_opening_twice_is_harmless(store_url: str) -> None:
    Store.open(store_url).close()
    again = Store.open(store_url)
    assert is_current(again.engine)
    assert "proposals" in inspect(again.engine).get_table_names()
    again.close()


def test_datetimes_come_back_aware_utc(store: Store) -> None:
    proposal_id = _proposal(store)
    with store.session() as session:
        proposal = session.get_one(Proposal, proposal_id)
        assert proposal.expires_at == NOW + timedelta(hours=1)
        assert proposal.expires_at is not None and proposal.expires_at.tzinfo is not None


def test_proposal_key_is_unique(store: Store) -> None:
    first = _proposal(store)
    with store.session() as session:
        again, created = service.create_proposal(
            session=session, key="draft:L1:1", kind="draft", crm_id="L1", owner_id="U1",
            payload={}, expires_at=NOW,
        )
        assert (again.id, created) == (first, False)
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(Proposal(key="draft:L1:1", kind="draft", crm_id="L1", owner_id="U1",
                             payload={}, state="pending"))


def test_audit_trail_refuses_updates_and_deletes(store: Store) -> None:
    _proposal(store)
    with pytest.raises(DBAPIError, match="append-only"), store.session() as session:
        session.execute(update(AuditEvent).values(actor="someone else"))
    with pytest.raises(DBAPIError, match="append-only"), store.session() as session:
        session.execute(text("DELETE FROM audit_events"))
    with store.session() as session:
        assert session.scalars(select(AuditEvent.actor)).all() == ["leadloop"]


def test_two_writers_on_one_proposal_cannot_both_win(store: Store) -> None:
    proposal_id = _proposal(store)
    first, second = store.sessions(), store.sessions()
    a = first.get_one(Proposal, proposal_id)
    b = second.get_one(Proposal, proposal_id)
    a.state = "approved"
    first.commit()
    b.state = "rejected"
    with pytest.raises(StaleDataError):
        second.commit()
    second.rollback()
    first.close()
    second.close()
    with store.session() as session:
        assert session.get_one(Proposal, proposal_id).state == "approved"


def test_two_reps_deciding_one_proposal_at_once_leave_one_decision(store: Store) -> None:
    """Both read it pending; the first to commit wins, the second writes nothing at all."""
    with store.session() as session:
        proposal, _ = service.create_proposal(
            session=session, key="draft:L1:1", kind="draft", crm_id="L1", owner_id="U1",
            payload={"subject": "s", "body": "b", "to": "a@b.example"},
            expires_at=NOW + timedelta(hours=1))
        proposal_id = proposal.id
    with store.sessions() as first, store.sessions() as second:
        seen_by_first = first.get_one(Proposal, proposal_id)
        seen_by_second = second.get_one(Proposal, proposal_id)
        service.decide(session=first, proposal=seen_by_first, now=NOW, source="api",
                       decision=DecisionIn(decision="approve", decided_by="U1"),
                       decider=Decider(owner_id="U1"))
        first.commit()
        with pytest.raises(ConflictError):
            # The UPDATE is guarded by the state and version read: PostgreSQL re-checks
            # them on the row as committed; SQLite starts its write transaction only now.
            service.decide(session=second, proposal=seen_by_second, now=NOW, source="api",
                           decision=DecisionIn(decision="reject", reason="no", decided_by="U1"),
                           decider=Decider(owner_id="U1"))
        second.rollback()
    with store.session() as session:
        assert session.get_one(Proposal, proposal_id).state == "approved"
        assert [d.decided_by for d in session.scalars(select(Decision))] == ["U1"]
        assert len(session.scalars(select(OutboxEmail)).all()) == 1
        events = session.scalars(select(AuditEvent.event).where(
            AuditEvent.proposal_id == proposal_id)).all()
        assert events == ["proposed", "decision_approved"]
