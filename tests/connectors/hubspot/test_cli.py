"""`leadloop hubspot check` and `setup` against the face."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.sandbox.hubspot_face import HubSpotFace
from leadloop.cli import app
from leadloop.cli.common import settings
from tests.connectors.hubspot.contract import TOKEN

runner = CliRunner()


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, face: HubSpotFace) -> Iterator[None]:
    for name in [n for n in os.environ if n.startswith("LEADLOOP_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADLOOP_HUBSPOT__ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("LEADLOOP_HUBSPOT__BASE_URL", face.base_url)
    settings.cache_clear()
    yield
    settings.cache_clear()


def test_check_lists_what_is_missing_then_setup_creates_it_once() -> None:
    before = runner.invoke(app, ["hubspot", "check"])
    assert before.exit_code == 1 and "tasks.leadloop_proposal_id" in before.output
    assert "contacts.leadloop_rep_score (number)" in before.output
    assert "tasks.leadloop_outcome (enumeration)" in before.output
    assert "tasks.leadloop_email_subject (string)" in before.output
    made = runner.invoke(app, ["hubspot", "setup"])
    assert made.exit_code == 0 and "created tasks.leadloop_proposal_id" in made.output
    assert "created contacts.leadloop_rep_score" in made.output
    for name in ("leadloop_email_subject", "leadloop_review_notes", "leadloop_outcome",
                 "leadloop_note"):
        assert f"created tasks.{name}" in made.output
    assert "nothing to do" in runner.invoke(app, ["hubspot", "setup"]).output
    after = runner.invoke(app, ["hubspot", "check"])
    assert after.exit_code == 0 and "every property" in after.output


def test_a_bad_token_is_an_error_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADLOOP_HUBSPOT__ACCESS_TOKEN", "wrong")
    settings.cache_clear()
    result = runner.invoke(app, ["hubspot", "check"])
    # The CLI's boundary prints it as one line and exits 1: a CRM refusing is a run-time failure.
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("error: ") and "scopes" in result.output
    assert len(result.output.strip().splitlines()) == 1
