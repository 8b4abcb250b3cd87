"""`leadloop worker` and `leadloop scheduler`: the loop on Celery workers and beat."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

from leadloop.cli.common import settings
from leadloop.errors import LeadloopError

if TYPE_CHECKING:
    from celery import Celery

QUEUES_HELP = "Comma-separated queues: crm (sync, write-back, reconcile, send), cpu (score), " \
    "llm (drafting)."


def _broker_app() -> Celery:
    current = settings()  # read now, so a bad setting stops here with one clear line
    if not current.broker_url:
        raise LeadloopError("no broker: set LEADLOOP_BROKER_URL (redis://127.0.0.1:6379/0 "
                            "or amqp://user:pass@host:5672//)")
    from leadloop.worker import make_app

    return make_app(current)


def register(app: typer.Typer) -> None:
    """Add the worker commands to the top-level app."""

    @app.command()
    def worker(
        queues: str = typer.Option("crm,cpu,llm", help=QUEUES_HELP),
        concurrency: int = typer.Option(2, min=1, max=256, help="Worker processes."),
        loglevel: str = typer.Option("INFO", help="Celery's log level."),
    ) -> None:
        """Run a Celery worker for the loop's steps (needs LEADLOOP_BROKER_URL)."""
        from leadloop.worker import QUEUES

        wanted = [q.strip() for q in queues.split(",") if q.strip()]
        unknown = [q for q in wanted if q not in QUEUES]
        if unknown or not wanted:
            raise LeadloopError(f"--queues {queues!r}: expected some of {', '.join(QUEUES)}")
        # A name of its own: two workers on one host would fight over one control queue.
        name = f"leadloop-{os.getpid()}@%h"
        _broker_app().worker_main(["worker", "-Q", ",".join(wanted), "-c", str(concurrency),
                                   "-n", name,
                                   f"--loglevel={loglevel}", "--without-gossip",
                                   "--without-mingle"])

    @app.command()
    def scheduler(
        loglevel: str = typer.Option("INFO", help="Celery's log level."),
    ) -> None:
        """Run Celery beat: sync, reconcile, the expiry sweep and send, on the schedule the
        settings give (LEADLOOP_SCHEDULE_*_MINUTES)."""
        celery_app = _broker_app()
        current = settings()
        current.data_dir.mkdir(parents=True, exist_ok=True)
        celery_app.start(["beat", f"--loglevel={loglevel}",
                          "-s", str(current.data_dir / "celerybeat-schedule")])
