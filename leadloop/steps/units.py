"""The steps over one unit of work each, as a worker runs them; plain functions, no Celery.

Each reuses the pipeline's own code, commits its own work and is safe to run twice: a score
or a draft already stored is not stored again, a proposal's key is the CRM task's
idempotency key, and the outbox claim sends an email once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any, TypeVar

from sqlalchemy import select

from leadloop.pipeline import (
    Pipeline,
    ProposeReport,
    ReconcileReport,
    ScoreReport,
    SendReport,
    SyncReport,
)
from leadloop.steps.outcomes import OutcomeReport
from review_api import lifecycle
from review_api.store.models import Lead

R = TypeVar("R")
SCORE_BATCH = 1000
DRAFT_BATCH = 50


def sync_leads(pipeline: Pipeline) -> SyncReport:
    """Read every changed lead since the cursor (a page at a time, the cursor moving with
    each page), so snapshot ids come in the order the CRM lists them."""
    return pipeline.sync()


def live_lead_ids(pipeline: Pipeline) -> list[str]:
    """The leads to score, in a stable order."""
    with pipeline.store.session() as session:
        return list(session.scalars(
            select(Lead.crm_id).where(Lead.deleted.is_(False)).order_by(Lead.crm_id)))


def score_batch(pipeline: Pipeline, crm_ids: Sequence[str]) -> ScoreReport:
    """Score these leads; writing scores to the CRM is `push_scores`, once, after all."""
    return pipeline.score(crm_ids, push=False)


def push_scores(pipeline: Pipeline) -> ScoreReport:
    """Write to the CRM every effective score it does not show yet."""
    report = ScoreReport()
    report.written_back, report.write_errors = pipeline.push_scores()
    return report


def draft_candidate_ids(pipeline: Pipeline) -> list[str]:
    """The leads this run drafts for, best first, at most `max_drafts_per_run`."""
    with pipeline.store.session() as session:
        return [lead.crm_id for lead, _, _ in pipeline._draft_candidates(session)]


def propose_batch(pipeline: Pipeline, crm_ids: Sequence[str]) -> ProposeReport:
    """Draft and store proposals for these leads; their CRM tasks are `write_back`'s."""
    return pipeline.propose(crm_ids, write_back=False)


def write_back(pipeline: Pipeline) -> ProposeReport:
    """Create the pending CRM task of every proposal that has none yet."""
    return pipeline.write_back()


def reconcile(pipeline: Pipeline) -> ReconcileReport:
    """Read the reps' decisions from the CRM, expire and escalate, update tasks."""
    return pipeline.reconcile()


def sweep(pipeline: Pipeline) -> ReconcileReport:
    """Expire and escalate what is due, without reading the CRM's task changes."""
    report = ReconcileReport()
    now = pipeline.clock()
    with pipeline.store.session() as session:
        report.expired = lifecycle.expire_due(session=session, now=now)
        if pipeline.escalate_after is not None:
            managers = {o.owner_id: o.manager_id for o in pipeline.connector.list_owners()}
            report.escalated = lifecycle.escalate_due(
                session=session, now=now, after=pipeline.escalate_after, managers=managers)
    pushed = pipeline.push_task_updates()
    report.tasks_updated = pushed.pushed
    report.errors.extend(pushed.errors)
    return report


def send(pipeline: Pipeline) -> SendReport:
    """Send the approved drafts that are due, exactly once each."""
    return pipeline.send()


def outcomes(pipeline: Pipeline) -> OutcomeReport:
    """Import what became of sent emails (replies, bounces, meetings) from the CRM."""
    return pipeline.outcomes()


def batches(ids: Sequence[str], size: int) -> list[list[str]]:
    """``ids`` in lists of at most ``size``."""
    return [list(ids[i:i + size]) for i in range(0, len(ids), size)]


def to_message(report: Any) -> dict[str, Any]:
    """A report as JSON-ready values, for a task's result."""
    return asdict(report)


def from_message(kind: type[R], message: dict[str, Any]) -> R:
    """A report back from a task's result."""
    values = dict(message)
    for name in ("skipped", "not_drafted"):
        if name in values:
            values[name] = [tuple(item) for item in values[name]]
    if "held" in values:
        values["held"] = Counter(values["held"])
    return kind(**values)


def merge(kind: type[R], parts: Sequence[R]) -> R:
    """One report from the reports of several batches: counts add up, lists join, the
    first note stands."""
    total = kind()
    for part in parts:
        for spec in fields(part):  # type: ignore[arg-type]
            mine, theirs = getattr(total, spec.name), getattr(part, spec.name)
            if isinstance(theirs, str):
                setattr(total, spec.name, mine or theirs)
            elif isinstance(theirs, Counter):
                mine.update(theirs)
            elif isinstance(theirs, list):
                mine.extend(theirs)
            elif isinstance(theirs, dict):  # counts by name, e.g. an outcome funnel
                for name, n in theirs.items():
                    mine[name] = mine.get(name, 0) + n
            else:
                setattr(total, spec.name, mine + theirs)
    return total
