from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.sandbox import SandboxCRM
from leadloop.cli import app
from leadloop.cli.common import settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for name in [n for n in os.environ if n.startswith("LEADLOOP_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADLOOP_DATA_DIR", str(tmp_path / "data"))
    # These commands run on the wall clock; the window is open at every hour unless a test
    # says otherwise (tests/leadloop/test_schedule.py is about the window).
    monkeypatch.setenv("LEADLOOP_SENDING__WINDOW", "00:00-24:00")
    monkeypatch.setenv("LEADLOOP_SENDING__DAYS", "mon-sun")
    monkeypatch.setenv("LEADLOOP_SENDING__HOLIDAYS", "[]")
    settings.cache_clear()
    yield tmp_path / "data"
    settings.cache_clear()


def leadloop(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def leadloop_process(tmp_path: Path, *args: str,
                     env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
    clean["LEADLOOP_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([sys.executable, "-m", "leadloop", *args], cwd=tmp_path,
                          env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=120, check=False)


def test_sync_report_lists_every_skipped_lead(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "First Name,Last Name,Email,Company,Employees,Owner\n"
        "Ann,Lee,ann@acme.example,Acme,250,Dana Rep\n"
        "Bob,Ray,,NoMail Ltd,40,Dana Rep\n"
        "Cy,Po,cy@vague.example,Vague,lots,Dana Rep\n",
        encoding="utf-8",
    )
    assert "imported 3 lead(s)" in leadloop("sandbox", "import", str(export))
    out = leadloop("sync", "--report")
    assert "stored 1" in out and "skipped 2" in out
    assert "every lead needs an email address" in out
    assert "got 'lots'" in out


def test_rep_decides_in_the_sandbox_and_the_loop_picks_it_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A sending day three days from today's, in every time zone: the approved email waits.
    from datetime import UTC, datetime

    from leadloop.settings import WEEKDAYS

    closed_day = WEEKDAYS[(datetime.now(UTC).weekday() + 3) % 7]
    monkeypatch.setenv("LEADLOOP_SENDING__DAYS", closed_day)
    monkeypatch.setenv("LEADLOOP_SENDING__WINDOW", "09:00-17:00")
    leadloop("sandbox", "seed", "--leads", "60", "--seed", "2")
    leadloop("run")
    crm = SandboxCRM(tmp_path / "data" / "sandbox.db")
    pending = [t for t in crm.list_tasks(status="Not Started") if t.kind == "draft"]
    assert len(pending) >= 2
    first, second = pending[0], pending[1]
    assert first.task_id in leadloop("review", "list")
    shown = leadloop("review", "show", first.task_id)
    assert f"email: {first.email_subject}" in shown and "notes for you" in shown

    edit = tmp_path / "edit.txt"
    edit.write_text("Subject: Quick question\n\nHi,\n\nMay I call you on Tuesday?\n\nBest")
    leadloop("review", "approve", first.task_id, "--edit-file", str(edit))
    leadloop("review", "reject", second.task_id, "--reason", "wrong contact")
    assert "1 approved, 1 rejected" in leadloop("reconcile")
    held = leadloop("send")
    assert "sent 0 email(s)" in held and f"held 1: 1 outside 09:00-17:00 {closed_day}" in held
    assert crm.sent_emails() == []
    monkeypatch.setenv("LEADLOOP_SENDING__DAYS", "mon-sun")
    monkeypatch.setenv("LEADLOOP_SENDING__WINDOW", "00:00-24:00")
    settings.cache_clear()
    assert "sent 1 email(s)" in leadloop("send")
    sent = crm.sent_emails()
    # The rep's text leaves as approved; the footer (AI note, unsubscribe link) follows it.
    assert [(e.subject, e.body.rpartition("\n\n-- \n")[0]) for e in sent] == [
        ("Quick question", "Hi,\n\nMay I call you on Tuesday?\n\nBest")]
    assert "\nUnsubscribe: http://127.0.0.1:8000/unsubscribe/" in sent[0].body
    assert sent[0].headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADLOOP_LLM_API_KEY", "sk-live-123")
    out = leadloop("config", "show")
    assert "sk-live-123" not in out
    assert "LEADLOOP_DRAFTER" in out and "**********" in out


@pytest.mark.parametrize(
    ("args", "env", "code", "fragment"),
    [
        (["sync"], {"LEADLOOP_MAX_DRAFTS_PER_RUN": "many"}, 2, "setting max_drafts_per_run"),
        (["send"], {"LEADLOOP_SENDING__WINDOW": "9 to 5"}, 2,
         "setting sending.window (LEADLOOP_SENDING__WINDOW): expected HH:MM-HH:MM"),
        (["send"], {"LEADLOOP_SENDING__HOLIDAYS": '["XX"]'}, 2,
         "setting sending.holidays (LEADLOOP_SENDING__HOLIDAYS): expected 'lead' or a"),
        (["sandbox", "import", "missing.csv"], {}, 2, "missing.csv"),
        (["review", "approve", "T999999"], {}, 2, "T999999"),
    ],
)
def test_bad_input_is_one_line_without_traceback(
    tmp_path: Path, args: list[str], env: dict[str, str], code: int, fragment: str
) -> None:
    done = leadloop_process(tmp_path, *args, env=env)
    assert done.returncode == code, done.stderr
    assert fragment in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) == 1


def test_bad_weights_file_is_named(tmp_path: Path) -> None:
    weights = tmp_path / "weights.toml"
    weights.write_text('name = "x"\n[tiers]\nA = 70\nB = 45\nC = 25\n\n[[criteria]]\n'
                       'field = "employees"\nat_least = 10\npoints = "lots"\n')
    done = leadloop_process(tmp_path, "score", env={"LEADLOOP_WEIGHTS_PATH": str(weights)})
    assert done.returncode == 2
    assert "weights.toml" in done.stderr and "points" in done.stderr
    assert "Traceback" not in done.stderr


def test_decision_through_the_api_is_sent_by_the_pipeline(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from leadloop.wiring import open_store
    from review_api.app import create_app

    leadloop("sandbox", "seed", "--leads", "40")
    leadloop("run")
    out = leadloop("keys", "create", "--role", "admin", "--name", "ops")
    key = out.strip().splitlines()[-1]
    store = open_store(settings())
    client = TestClient(create_app(store), headers={"Authorization": f"Bearer {key}"})
    proposals = client.get("/proposals", params={"kind": "draft", "state": "pending"}).json()
    assert proposals
    chosen = proposals[0]
    response = client.post(f"/proposals/{chosen['id']}/decision",
                           json={"decision": "approve", "decided_by": chosen["owner_id"],
                                 "expected_version": chosen["version"]})
    assert response.status_code == 200, response.text
    store.close()
    assert "sent 1 email(s)" in leadloop("send")
    crm = SandboxCRM(tmp_path / "data" / "sandbox.db")
    assert [e.idempotency_key for e in crm.sent_emails()] == [chosen["key"]]


def test_train_then_promote_puts_the_model_into_the_next_scores(tmp_path: Path) -> None:
    from sqlalchemy import select

    from leadloop.wiring import open_store
    from review_api.store.models import Score

    leadloop("demo", "--leads", "700", "--seed", "5")
    trained = leadloop("train")
    version = trained.split("saved model version ")[1].split()[0]
    assert "not yet the champion" in trained
    assert f"{version} is the champion" in leadloop("model", "promote", version)
    from scoring.registry import ModelRegistry

    assert ModelRegistry(settings().data_dir).champion() == version
    leadloop("sandbox", "seed", "--leads", "5", "--seed", "99")  # new leads to score
    out = leadloop("score")
    assert "points score alone" not in out
    store = open_store(settings())
    with store.session() as session:
        newest = session.scalars(select(Score).order_by(Score.id.desc()).limit(5)).all()
        assert {s.model_version for s in newest} == {version}
        assert all(any(f["group"] == "model" for f in s.factors["items"]) for s in newest)
    store.close()


def test_sync_output_names_a_lead_with_future_dated_events(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "First Name,Last Name,Email,Company,Owner,Events\n"
        'Ann,Lee,ann@acme.example,Acme,Dana Rep,"[{""kind"": ""page_view"", '
        '""detail"": ""/pricing"", ""at"": ""2999-01-01T00:00:00Z""}]"\n'
        "Bob,Ray,bob@ray.example,Ray Ltd,Dana Rep,\n",
        encoding="utf-8",
    )
    leadloop("sandbox", "import", str(export))
    [ann] = [lead["crm_id"] for lead in SandboxCRM(tmp_path / "data" / "sandbox.db").list_leads()
             if lead["company"] == "Acme"]
    out = " ".join(leadloop("sync").split())
    assert f"1 lead(s) have events dated in the future (e.g. {ann})" in out


def test_policy_check_judges_draft_rules_on_real_drafts(tmp_path: Path) -> None:
    # Before: drafts were built without activity or the rep's name, and "longer than 60
    # words" matched none; real drafts carry activity and the rep's signature.
    leadloop("sandbox", "seed", "--leads", "40", "--seed", "3")
    leadloop("sync")
    leadloop("score")
    rules = tmp_path / "rules.txt"
    rules.write_text("escalate when the draft is longer than 60 words\n"
                     "escalate when the draft is shorter than 20 words\n", encoding="utf-8")
    out = " ".join(leadloop("policy", "check", str(rules)).split())
    assert "draft rules judged on 39 fresh draft(s) from template and 0 stored draft(s)" in out
    longer = out.split("longer than 60 words: ")[1]
    assert int(longer.split(" of ")[0]) > 0, out  # one lead opted out: never drafted
    assert "shorter than 20 words: 0 of 40 leads" in out, out

    leadloop("propose")
    stored = " ".join(leadloop("policy", "check", "--latest", str(rules)).split())
    fresh = int(stored.split("draft rules judged on ")[1].split(" fresh")[0])
    read = int(stored.split(" and ")[1].split(" stored")[0])
    assert read > 0 and fresh + read == 39, stored
