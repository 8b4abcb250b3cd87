"""Shared fixtures for the scoring tests: a fixed clock and a lead-record factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from threadpoolctl import threadpool_limits

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

LeadFactory = Callable[..., dict[str, Any]]


def event(kind: str, detail: str = "", *, days_ago: float = 1.0) -> dict[str, Any]:
    """An engagement event dated ``days_ago`` before NOW, shaped like Lead.model_dump()."""
    return {"kind": kind, "detail": detail, "at": NOW - timedelta(days=days_ago)}


def lead_record(crm_id: str = "L1", **fields: Any) -> dict[str, Any]:
    """A lead mapping with every key of ``Lead.model_dump()``, overridable by keyword."""
    record: dict[str, Any] = {
        "crm_id": crm_id,
        "email": f"{crm_id.lower()}@acme.example",
        "first_name": "Ada",
        "last_name": "Byron",
        "title": "",
        "company": "Acme",
        "industry": "",
        "employees": None,
        "country": "",
        "lead_source": "",
        "status": "open",
        "owner_id": "rep-1",
        "past_purchases": 0,
        "lifetime_value": 0.0,
        "email_opt_out": False,
        "notes": "",
        "events": [],
        "created_at": NOW - timedelta(days=30),
        "modified_at": NOW,
    }
    record.update(fields)
    return record


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture(scope="session")
def make_lead() -> LeadFactory:
    return lead_record


@pytest.fixture(scope="session")
def make_event() -> Callable[..., dict[str, Any]]:
    return event


@pytest.fixture(autouse=True, scope="session")
def one_thread_per_model() -> Iterator[None]:
    # Gradient boosting's OpenMP threads spin while waiting; on a shared 2-core machine
    # that turns seconds into minutes, and one thread is plenty for test-sized data.
    with threadpool_limits(limits=1):
        yield
