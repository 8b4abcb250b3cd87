"""The pipeline steps as commands: sync, score, propose, reconcile, send, run, serve."""

from __future__ import annotations

import typer
from rich.table import Table
from rich.text import Text

from leadloop.cli.common import console, progress_bars, settings
from leadloop.cli.outcomes import print_outcomes
from leadloop.pipeline import (
    Pipeline,
    ProposeReport,
    ReconcileReport,
    ScoreReport,
    SendReport,
    SyncReport,
)
from leadloop.steps.schedule import held_summary
from leadloop.wiring import build_pipeline, check_user_files


def _pipeline_run(step: str) -> object:
    with progress_bars() as progress:
        pipeline: Pipeline = build_pipeline(settings(), progress=progress)
        try:
            return getattr(pipeline, step)()
        finally:
            pipeline.store.close()


def print_sync(report: SyncReport, *, full: bool) -> None:
    console.print(
        f"sync run {report.run_id}: fetched {report.fetched}, stored {report.stored}, "
        f"unchanged {report.unchanged}, deleted {report.deleted}, skipped {len(report.skipped)}"
    )
    if report.skipped:
        shown = report.skipped if full else report.skipped[:5]
        table = Table("lead", "why it was skipped", title="skipped leads")
        for crm_id, reason in shown:
            table.add_row(crm_id, reason)
        console.print(table)
        if not full and len(report.skipped) > len(shown):
            console.print(f"... {len(report.skipped) - len(shown)} more: leadloop sync --report")
    if report.future_dated:
        console.print(Text(
            f"{len(report.future_dated)} lead(s) have events dated in the future "
            f"(e.g. {report.future_dated[0]}): left out of recency and decay until then"
        ))


def print_score(report: ScoreReport) -> None:
    if report.model_note:
        console.print(report.model_note)
    console.print(
        f"scored {report.scored} lead(s): {report.changed} changed, "
        f"{report.overrides_proposed} score override(s) proposed for approval, "
        f"{report.written_back} written back to the CRM"
    )
    for error in report.write_errors[:10]:
        console.print(f"  write refused: {error}")


def print_propose(report: ProposeReport) -> None:
    console.print(
        f"proposed {report.drafts_proposed} draft(s), {report.flagged} with something for the "
        f"rep to check; {len(report.not_drafted)} lead(s) not drafted by policy; "
        f"CRM tasks created {report.tasks_created}, "
        f"already there {report.tasks_existing}, failed {len(report.task_errors)}"
        + (f"; {report.fallbacks} draft(s) fell back to templates" if report.fallbacks else "")
    )
    for error in report.task_errors[:10]:
        console.print(f"  task not created: {error}")
    for error in report.draft_errors[:10]:
        console.print(f"  draft failed: {error}")


def print_reconcile(report: ReconcileReport) -> None:
    console.print(
        f"reconciled {report.changes} task change(s): {report.approved} approved, "
        f"{report.rejected} rejected, {report.refused} refused, {report.overruled} overruled "
        f"(already decided otherwise), {report.already_decided} already taken, "
        f"{report.unknown} unknown; {report.expired} proposal(s) expired, "
        f"{report.escalated} escalated to a manager; {report.tasks_updated} CRM task(s) updated"
    )
    for error in report.errors[:10]:
        console.print(f"  {error}")


def print_send(report: SendReport) -> None:
    console.print(
        f"sent {report.sent} email(s); {report.already_sent} found already sent, "
        f"{report.failed} failed (will retry), {report.refused} refused, "
        f"{report.cancelled} cancelled (no consent now)"
        + (f", {report.not_checked} held (consent could not be checked in the CRM)"
           if report.not_checked else "")
    )
    if report.held:
        console.print(held_summary(report.held))


def _run_on_workers() -> None:
    """`run` fanned out to the workers (LEADLOOP_BROKER_URL set); the same report."""
    from leadloop.fanout import run_on_workers
    from leadloop.worker import make_app

    with progress_bars() as progress:
        pipeline = build_pipeline(settings())
        try:
            reports = run_on_workers(make_app(settings()), pipeline, progress)
        finally:
            pipeline.store.close()
    print_sync(reports["sync"], full=False)
    print_score(reports["score"])
    print_propose(reports["propose"])
    print_reconcile(reports["reconcile"])
    print_send(reports["send"])
    print_outcomes(reports["outcomes"])


def register(app: typer.Typer) -> None:
    """Add the step commands to the top-level app."""

    @app.command()
    def sync(
        report: bool = typer.Option(False, "--report", help="List every skipped lead."),
    ) -> None:
        """Read new and changed leads from the CRM."""
        result = _pipeline_run("sync")
        assert isinstance(result, SyncReport)
        print_sync(result, full=report)

    @app.command()
    def score() -> None:
        """Score every lead with the admin's weights; guarded tier changes await approval."""
        result = _pipeline_run("score")
        assert isinstance(result, ScoreReport)
        print_score(result)

    @app.command()
    def propose() -> None:
        """Draft emails and write every proposal to the CRM as a pending task."""
        result = _pipeline_run("propose")
        assert isinstance(result, ProposeReport)
        print_propose(result)

    @app.command()
    def reconcile() -> None:
        """Read the reps' decisions back from the CRM and log them as labels."""
        result = _pipeline_run("reconcile")
        assert isinstance(result, ReconcileReport)
        print_reconcile(result)

    @app.command()
    def send() -> None:
        """Send approved drafts from the outbox, exactly once each."""
        result = _pipeline_run("send")
        assert isinstance(result, SendReport)
        print_send(result)

    @app.command("send-now")
    def send_now(
        proposal: str = typer.Argument(..., help="The proposal id, or its CRM task id."),
        by: str = typer.Option("cli", "--by", help="Who asks (for the audit trail)."),
    ) -> None:
        """Send one approved email now, only if its window, holidays and caps allow it now."""
        from leadloop.wiring import send_now_runner
        from review_api.send_now_views import SendNowRefusedError

        pipeline = build_pipeline(settings())
        try:
            sent, message = send_now_runner(pipeline)(_proposal_id(pipeline, proposal), by)
        except SendNowRefusedError as exc:
            console.print(Text(str(exc)))
            raise typer.Exit(1) from None
        finally:
            pipeline.store.close()
        console.print(Text(message))
        if not sent:
            raise typer.Exit(1)

    @app.command()
    def run() -> None:
        """Every step once: sync, score, propose, reconcile, send, outcomes."""
        if settings().broker_url:
            _run_on_workers()
            return
        with progress_bars() as progress:
            pipeline = build_pipeline(settings(), progress=progress)
            try:
                print_sync(pipeline.sync(), full=False)
                print_score(pipeline.score())
                print_propose(pipeline.propose())
                print_reconcile(pipeline.reconcile())
                print_send(pipeline.send())
                print_outcomes(pipeline.outcomes())
            finally:
                pipeline.store.close()

    @app.command()
    def serve(
        host: str = typer.Option(None, help="Address to listen on (default from settings)."),
        port: int = typer.Option(None, min=1, max=65535, help="Port (default from settings)."),
        workers: int = typer.Option(1, min=1, max=64, help="Worker processes."),
        access_log: bool = typer.Option(True, help="Log every request (method, path, status)."),
    ) -> None:
        """Run the review API (uvicorn; JSON logs; CRM webhooks reconcile at once)."""
        from leadloop.server import serve as run_server

        current = settings()  # read now, so a bad setting stops here with one clear line
        check_user_files(current)  # and a bad weights, rules or templates file
        run_server(host=host or current.api_host, port=port or current.api_port,
                   workers=workers, access_log=access_log)


def _proposal_id(pipeline: Pipeline, given: str) -> int:
    """A proposal id from its number or its CRM task id; one line and exit 2 if neither."""
    from sqlalchemy import select

    from review_api.store.models import Proposal

    if given.isdigit():
        return int(given)
    with pipeline.store.session() as session:
        found = session.scalar(select(Proposal.id).where(Proposal.crm_task_id == given))
    if found is None:
        console.print(Text(f"{given!r} is neither a proposal id nor the CRM task of one"))
        raise typer.Exit(2)
    return int(found)
