from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.sandbox import SandboxCRM
from leadloop.demo import MESSY_LEADS, run_demo
from leadloop.errors import LeadloopError
from leadloop.settings import Settings
from review_api.store.db import Store
from review_api.store.models import Decision, Lead, OutboxEmail, OutcomeEventRow, Proposal


def test_demo_summary_matches_the_store_and_the_crm(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    summary = run_demo(settings, leads=150, seed=3)

    crm = SandboxCRM(settings.sandbox_file)
    store = Store.open(settings.store_url)
    with store.session() as session:
        count = lambda model, *w: session.scalar(  # noqa: E731
            select(func.count()).select_from(model).where(*w))
        # Rounds 3 and 4 (of the default 4) each bring max(20, 150 // 10) new leads.
        assert summary.leads_synced == count(Lead) == 150 + 2 * 20
        assert summary.leads_skipped == len(MESSY_LEADS)
        assert summary.leads_in_crm == 150 + 2 * 20 + len(MESSY_LEADS)
        assert sum(summary.proposals.values()) == count(Proposal)
        assert summary.proposals["draft"] > 0 and summary.proposals["score_override"] > 0
        assert summary.labels_logged == count(Decision) == sum(summary.decisions.values())
        for kind in ("draft approved", "draft rejected", "score_override approved"):
            assert summary.decisions.get(kind, 0) > 0, kind
        edited = count(Decision, Decision.edit_distance > 0)
        assert edited > 0
        sent = count(OutboxEmail, OutboxEmail.state == "sent")
        assert summary.emails_sent == sent == len(crm.sent_emails())
        assert sent == summary.decisions["draft approved"]
        # The funnel is counted from the outcomes stored against the sent proposals.
        answered = session.scalar(select(func.count(func.distinct(
            OutcomeEventRow.proposal_id))).where(
            OutcomeEventRow.kind.in_(["replied", "meeting_booked"]))) or 0
        assert summary.funnel["sent"] == sent and summary.funnel["replied"] == answered
        assert sent >= answered >= summary.funnel["meeting_booked"]
    store.close()
    assert summary.sent_without_approval == 0


def test_demo_rounds_show_learning_from_the_reps_edits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from leadloop.cli import app
    from leadloop.cli.common import settings

    summary = run_demo(Settings(data_dir=tmp_path / "data"), leads=300, seed=7, rounds=4)
    assert [r.round for r in summary.rounds] == [1, 2, 3, 4]
    first, last = summary.rounds[0], summary.rounds[-1]
    assert first.drafts_decided > 0 and last.drafts_decided > 0
    assert first.rules_applied == 0 and last.rules_applied > 0
    # The target: edit distance falls at least 40% from round 1 to round 4.
    assert last.mean_edit_distance <= 0.6 * first.mean_edit_distance, summary.rounds
    assert last.approved_unedited > first.approved_unedited
    assert summary.rules_learned > 0
    for name in [n for n in os.environ if n.startswith("LEADLOOP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LEADLOOP_DATA_DIR", str(tmp_path / "data"))
    settings.cache_clear()
    try:
        listed = CliRunner().invoke(app, ["drafts", "rules"], catch_exceptions=False)
    finally:
        settings.cache_clear()
    assert f"{summary.rules_learned} learned rule(s)" in " ".join(listed.output.split())


@pytest.mark.parametrize("crm_name", ["sandbox", "salesforce", "hubspot"])
def test_through_every_crm_face_the_crm_and_leadloop_agree(tmp_path: Path, crm_name: str
                                                          ) -> None:
    # The demo's reps approve tasks that need the manager in round one; through each
    # connector those approvals are refused, and at the end every CRM task shows what
    # leadloop holds, with its ids as that connector spells them.
    summary = run_demo(Settings(data_dir=tmp_path / "data"), leads=120, seed=5,
                       crm_name=crm_name)
    assert summary.emails_sent > 0
    assert summary.sent_without_approval == 0
    assert summary.tasks_out_of_step == 0, summary.out_of_step_examples
    assert summary.approvals_refused > 0
    # Every email in the CRM's log offers one-click unsubscribe, except through Salesforce's
    # emailSimple, which cannot carry headers (docs/salesforce.md: one-click needs SMTP).
    assert summary.one_click_in_log == (0 if crm_name == "salesforce" else summary.emails_sent)


def test_demo_refuses_to_touch_an_external_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql+psycopg://u@h/db")
    with pytest.raises(LeadloopError, match="unset LEADLOOP_DATABASE_URL"):
        run_demo(settings, leads=50, seed=1)


@pytest.mark.slow
def test_leadloop_demo_command_runs_and_reports_zero_unapproved_sends(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
    env["LEADLOOP_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "leadloop", "demo", "--leads", "60"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "emails sent without approval" in done.stdout
    line = next(row for row in done.stdout.splitlines() if "without approval" in row)
    assert line.rstrip(" │|").endswith("0")


def test_demo_with_a_cap_of_10_sends_at_most_10_per_rep_per_utc_day(tmp_path: Path) -> None:
    from collections import Counter

    from leadloop.settings import SendingConfig

    settings = Settings(data_dir=tmp_path / "data",
                        sending=SendingConfig(max_per_mailbox_per_day=10))
    summary = run_demo(settings, leads=500, seed=7)
    # Counted from the CRM's own email log: what left, per rep and UTC day.
    log = SandboxCRM(settings.sandbox_file).sent_emails()
    per_rep_day = Counter((email.from_owner_id, email.sent_at.date()) for email in log)
    assert max(per_rep_day.values()) == summary.most_sent_by_a_rep_in_a_day <= 10
    assert len(log) == summary.emails_sent == summary.decisions["draft approved"]
    assert sum(summary.held.values()) > 0
    assert summary.sent_without_approval == 0 and summary.tasks_out_of_step == 0
