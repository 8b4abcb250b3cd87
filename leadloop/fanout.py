"""`leadloop run` over workers: every step as tasks on the broker, in the loop's order.

Sync, then score batches, then drafting batches, then write-back, reconcile, send and the
outcomes the CRM sent back; each
stage waits for the one before. The reports add up to the in-process run's reports.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, TypeVar

from celery import Celery
from celery.result import AsyncResult

from leadloop.errors import LeadloopError
from leadloop.pipeline import (
    Pipeline,
    Progress,
    ProposeReport,
    ReconcileReport,
    ScoreReport,
    SendReport,
    SyncReport,
)
from leadloop.steps import units
from leadloop.steps.outcomes import OutcomeReport

R = TypeVar("R")
POLL = 0.1


def run_on_workers(
    app: Celery, pipeline: Pipeline, progress: Progress, *, timeout: float = 3600.0,
) -> dict[str, Any]:
    """Every step once through the workers; the same reports as `Pipeline.run`.

    ``pipeline`` only reads the store here (which leads to batch); the workers do the work.
    """
    deadline = time.monotonic() + timeout

    def stage(label: str, kind: type[R], name: str, batches: Sequence[list[str]] | None) -> R:
        if batches is None:
            sent = [app.send_task(name)]
        else:
            sent = [app.send_task(name, args=[ids]) for ids in batches]
        return units.merge(kind, _wait(label, kind, sent, progress, deadline))

    sync = stage("sync", SyncReport, "leadloop.sync", None)
    scored = stage("score", ScoreReport, "leadloop.score_batch",
                   units.batches(units.live_lead_ids(pipeline), units.SCORE_BATCH))
    pushed = stage("push scores", ScoreReport, "leadloop.push_scores", None)
    scored.written_back, scored.write_errors = pushed.written_back, pushed.write_errors
    proposed = stage("draft", ProposeReport, "leadloop.propose_batch",
                     units.batches(units.draft_candidate_ids(pipeline), units.DRAFT_BATCH))
    written = stage("write back", ProposeReport, "leadloop.write_back", None)
    proposed = units.merge(ProposeReport, [proposed, written])
    return {
        "sync": sync, "score": scored, "propose": proposed,
        "reconcile": stage("reconcile", ReconcileReport, "leadloop.reconcile", None),
        "send": stage("send", SendReport, "leadloop.send", None),
        "outcomes": stage("outcomes", OutcomeReport, "leadloop.outcomes", None),
    }


def _wait(label: str, kind: type[R], sent: list[AsyncResult], progress: Progress,
          deadline: float) -> list[R]:
    """The reports of ``sent`` tasks, ticking the bar as each batch completes."""
    tick = progress(label, len(sent))
    done: dict[int, R] = {}
    while len(done) < len(sent):
        for i, result in enumerate(sent):
            if i in done or not result.ready():
                continue
            if result.failed():
                raise LeadloopError(f"{label}: a task failed on a worker: {result.result!r}")
            done[i] = units.from_message(kind, result.get(timeout=10))
            tick(1)
        if len(done) < len(sent):
            if time.monotonic() > deadline:
                raise LeadloopError(
                    f"{label}: {len(sent) - len(done)} of {len(sent)} batch(es) not done in "
                    "time; are workers running for every queue (leadloop worker)?")
            time.sleep(POLL)
    return [done[i] for i in range(len(sent))]
