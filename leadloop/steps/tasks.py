"""Celery tasks: each unpacks its ids and calls one step of leadloop/steps/units.py.

The steps know nothing of Celery; a task's result is the step's report as JSON.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from leadloop.pipeline import Pipeline
from leadloop.steps import units

log = logging.getLogger(__name__)
_pipeline: Pipeline | None = None


def pipeline() -> Pipeline:
    """This worker process's pipeline, wired from the settings on its first task."""
    global _pipeline
    if _pipeline is None:
        from leadloop.settings import load_settings
        from leadloop.wiring import build_pipeline

        _pipeline = build_pipeline(load_settings())
    return _pipeline


def sync() -> dict[str, Any]:
    return units.to_message(units.sync_leads(pipeline()))


def score_batch(crm_ids: list[str]) -> dict[str, Any]:
    log.info("scoring a batch", extra={"batch": len(crm_ids), "first": crm_ids[:1]})
    return units.to_message(units.score_batch(pipeline(), crm_ids))


def push_scores() -> dict[str, Any]:
    return units.to_message(units.push_scores(pipeline()))


def propose_batch(crm_ids: list[str]) -> dict[str, Any]:
    log.info("drafting a batch", extra={"batch": len(crm_ids), "first": crm_ids[:1]})
    return units.to_message(units.propose_batch(pipeline(), crm_ids))


def write_back() -> dict[str, Any]:
    return units.to_message(units.write_back(pipeline()))


def reconcile() -> dict[str, Any]:
    return units.to_message(units.reconcile(pipeline()))


def sweep() -> dict[str, Any]:
    return units.to_message(units.sweep(pipeline()))


def send() -> dict[str, Any]:
    return units.to_message(units.send(pipeline()))


def outcomes() -> dict[str, Any]:
    return units.to_message(units.outcomes(pipeline()))


TASKS = {
    "leadloop.sync": sync, "leadloop.score_batch": score_batch,
    "leadloop.push_scores": push_scores, "leadloop.propose_batch": propose_batch,
    "leadloop.write_back": write_back, "leadloop.reconcile": reconcile,
    "leadloop.sweep": sweep, "leadloop.send": send, "leadloop.outcomes": outcomes,
}


def register(app: Celery) -> None:
    """Add the step tasks to the app, by the names `leadloop.worker.ROUTES` routes."""
    for name, step in TASKS.items():
        app.task(name=name)(step)
