"""A sandbox CRM and a store wired into a pipeline, for the app's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import CRMConnector, OutgoingEmail, SendResult
from connectors.sandbox import SandboxConnector, SandboxCRM
from drafting import TemplateDrafter
from leadloop.cli.common import settings
from leadloop.pipeline import Pipeline
from review_api.store.db import Store
from scoring import default_weights_path, load_weights

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Transport:
    """Every email handed to the CRM's send call, in order: counted where the harm happens,
    before the CRM's own log could drop a repeat."""

    def __init__(self) -> None:
        self.calls: list[OutgoingEmail] = []

    def keys(self) -> list[str]:
        return [email.idempotency_key for email in self.calls]


class RecordingConnector(SandboxConnector):
    """The sandbox connector with its send calls recorded on a :class:`Transport`."""

    def __init__(self, crm: SandboxCRM, transport: Transport) -> None:
        super().__init__(crm)
        self.transport = transport

    def send_email(self, email: OutgoingEmail) -> SendResult:
        self.transport.calls.append(email)
        return super().send_email(email)


def rep_text(body: str) -> str:
    """A sent body without the footer leadloop adds at send time: what the rep approved."""
    from leadloop.steps.mail import SEPARATOR

    text, separator, _footer = body.rpartition(SEPARATOR)
    assert separator, f"no footer in {body!r}"
    return text


def make_pipeline(store: Store, crm: SandboxCRM, *, connector: CRMConnector | None = None,
                  **kw: object) -> Pipeline:
    return Pipeline(
        store=store, connector=connector or SandboxConnector(crm),
        weights=load_weights(default_weights_path()), drafter=TemplateDrafter(),
        clock=lambda: NOW, **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def crm(tmp_path: Path) -> SandboxCRM:
    sandbox = SandboxCRM(tmp_path / "sandbox.db")
    sandbox.seed(80, seed=11, now=NOW)
    return sandbox


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.close()


@pytest.fixture
def pipeline(store: Store, crm: SandboxCRM) -> Pipeline:
    """The pipeline over a store on SQLite and on PostgreSQL."""
    return make_pipeline(store, crm)


@pytest.fixture
def cli_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A clean place for the CLI: no LEADLOOP_* from the caller, a data dir of its own, and
    a console wide enough that no table cell wraps a string a test looks for (the console
    reads COLUMNS each time it prints; setting its `width` would pin it for later tests)."""
    for name in [n for n in os.environ if n.startswith("LEADLOOP_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADLOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "400")
    settings.cache_clear()
    yield tmp_path / "data"
    settings.cache_clear()
