"""The CLI prints lead text and error text literally, never as rich console markup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.sandbox import SandboxCRM
from leadloop.cli import app
from leadloop.demo import DemoSummary, print_summary

runner = CliRunner()

BAD_EMAIL = "bad[/x]@b"
COMPANY = "Acme [/bold] Inc"
TITLE = "[link=http://evil.example]CTO[/link]"


@pytest.fixture(autouse=True)
def data_dir(cli_home: Path) -> Path:
    return cli_home


def leadloop(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{result.exception!r}\n{result.output}")
    assert result.exit_code == 0, result.output
    return result.output


def sandbox_with(data_dir: Path, **lead: object) -> tuple[SandboxCRM, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    crm = SandboxCRM(data_dir / "sandbox.db")
    crm.add_leads([{"first_name": "Ann", "last_name": "Lee", "employees": 250, **lead}])
    return crm, crm.list_lead_ids()[-1]


def test_sync_skipped_table_shows_a_bracketed_email_verbatim(data_dir: Path) -> None:
    sandbox_with(data_dir, email=BAD_EMAIL, company="Brackets Ltd")
    out = leadloop("sync")
    assert "skipped 1" in out
    reasons = [line for line in out.splitlines() if "not an email address" in line]
    assert len(reasons) == 1, out
    assert BAD_EMAIL in reasons[0]


@pytest.mark.parametrize(
    ("field", "text"),
    [("company", COMPANY), ("title", TITLE)],
    ids=["closing-tag-crashes", "link-tag-hides-text"],
)
def test_review_list_and_show_print_bracketed_lead_text_verbatim(
    data_dir: Path, field: str, text: str
) -> None:
    crm, lead_id = sandbox_with(data_dir, email="cto@acme.example", **{field: text})
    subject = f"Call about {text}"
    description = f"{field}: {text}\nNote: [red]not red[/red] [bold]"
    task_id = crm.create_task(lead_id, owner_id=crm.get_lead(lead_id)["owner_id"],
                              subject=subject, description=description)

    listed = leadloop("review", "list")
    assert task_id in listed and subject in listed

    shown = leadloop("review", "show", task_id)
    assert f"{task_id} · {subject}" in shown
    assert f"{field}: {text}" in shown
    assert "Note: [red]not red[/red] [bold]" in shown


def test_bad_weights_error_keeps_its_brackets(tmp_path: Path) -> None:
    weights = tmp_path / "weights.toml"
    weights.write_text('name = "x"\n[tiers]\nA = 70\nB = 45\nC = 25\n\n[[criteria]]\n'
                       'field = "employees"\nbetween = [500, 10]\npoints = 5\n')
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
    done = subprocess.run(
        [sys.executable, "-m", "leadloop", "score"], cwd=tmp_path, capture_output=True,
        text=True, timeout=120, check=False,
        env={**clean, "LEADLOOP_DATA_DIR": str(tmp_path / "data"),
             "LEADLOOP_WEIGHTS_PATH": str(weights), "COLUMNS": "400"},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ")
    assert "expected [low, high] with low <= high, got [500, 10]" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_demo_summary_prints_lead_text_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    summary = DemoSummary(
        store_url="sqlite:///[data]/store.db",
        skipped_examples=[("00Q1", f"email: {BAD_EMAIL!r} is not an email address")],
    )
    print_summary(summary)
    out = capsys.readouterr().out
    assert f"skipped 00Q1: email: {BAD_EMAIL!r} is not an email address" in out
    assert "the store is sqlite:///[data]/store.db" in out
    row = next(line for line in out.splitlines() if "emails sent without approval" in line)
    assert "0" in row and "[" not in row
