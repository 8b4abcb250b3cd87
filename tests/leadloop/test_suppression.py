"""The suppression list: no draft at propose, no email at send (counted at the transport)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.sandbox import SandboxCRM
from review_api import suppression
from review_api.store.db import Store

from .conftest import NOW, RecordingConnector, Transport, make_pipeline


def test_a_suppressed_domain_gets_no_draft(store: Store, crm: SandboxCRM) -> None:
    pipeline = make_pipeline(store, crm)
    pipeline.sync()
    pipeline.score()
    domain = crm.list_leads()[0]["email"].split("@")[1]
    with store.session() as session:
        suppression.add(session=session, entry=domain, reason="admin", now=NOW)
    pipeline.propose()
    drafted = {t.lead_crm_id for t in crm.list_tasks() if t.kind == "draft"}
    on_domain = {lead["crm_id"] for lead in crm.list_leads()
                 if lead["email"].endswith("@" + domain)}
    assert drafted and not drafted & on_domain


def test_an_address_suppressed_after_approval_is_not_sent(store: Store, crm: SandboxCRM
                                                         ) -> None:
    transport = Transport()
    pipeline = make_pipeline(store, crm, connector=RecordingConnector(crm, transport))
    pipeline.sync()
    pipeline.score()
    pipeline.propose()
    task = next(t for t in crm.list_tasks(status="Not Started") if t.kind == "draft")
    crm.approve_task(task.task_id, by=task.owner_id)
    pipeline.reconcile()
    address = crm.get_lead(task.lead_crm_id)["email"]
    with store.session() as session:
        suppression.add(session=session, entry=address.upper(), reason="complaint", now=NOW)
    report = pipeline.send()
    assert transport.calls == [] and report.cancelled == 1
    assert crm.get_task(task.task_id).outcome is not None  # the task is closed, saying so


@pytest.mark.parametrize("entry", ["not an address", "@", "ann@", "a b@c.d"])
def test_a_bad_entry_is_one_clear_line(tmp_path: Path, entry: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
    env["LEADLOOP_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run([sys.executable, "-m", "leadloop", "suppress", "add", entry],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr  # bad input
    assert "is neither an email address" in done.stderr + done.stdout


def test_entries_are_addresses_or_domains() -> None:
    assert suppression.entry_for(" Ann@Acme.Example ") == "ann@acme.example"
    assert suppression.entry_for("acme.example") == "@acme.example"
    assert suppression.entry_for("@acme.example") == "@acme.example"
