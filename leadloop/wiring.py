"""Builds the parts named by the settings: store, CRM connector, weights, drafter, pipeline."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.base import CRMConnector
from connectors.sandbox import SandboxConnector, SandboxCRM
from drafting import Drafter, build_drafter
from drafting.guardrails import load_product_facts
from drafting.policy import load_policy
from leadloop.pipeline import Pipeline, Progress, _no_progress
from leadloop.settings import Settings
from review_api.store.db import Store
from scoring import Weights

if TYPE_CHECKING:
    from scoring.blend import ScoringModel
from scoring.weights_registry import weights_in_force


def open_store(settings: Settings, *, for_api: bool = False) -> Store:
    """The store, migrated to the newest schema; the API's keeps a connection open for each
    request a worker serves at once, and retries a dropped one instead of pinging."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    if for_api:
        return Store.open(settings.store_url, connections=settings.api_concurrency,
                          pre_ping=False)
    return Store.open(settings.store_url)


def open_sandbox(settings: Settings) -> SandboxCRM:
    """The sandbox CRM's file, created if new."""
    path: Path = settings.sandbox_file
    path.parent.mkdir(parents=True, exist_ok=True)
    return SandboxCRM(path)


def open_connector(settings: Settings) -> CRMConnector:
    """The CRM connector the settings name."""
    if settings.crm == "salesforce":
        from connectors.salesforce import SalesforceConnector

        connector: CRMConnector = SalesforceConnector.from_config(
            settings.salesforce, smtp=settings.smtp)
        return connector
    if settings.crm == "hubspot":
        from connectors.hubspot import HubSpotConnector

        connector = HubSpotConnector.from_config(settings.hubspot, smtp=settings.smtp)
        return connector
    return SandboxConnector(open_sandbox(settings))


def load_admin_weights(settings: Settings) -> Weights:
    """The weights in force: a file the settings name, else the newest published version,
    else the shipped defaults."""
    return weights_in_force(settings.data_dir, settings.weights_path)[0]


def open_drafter(settings: Settings) -> Drafter:
    """The drafter the settings name."""
    extra = {}
    if settings.llm_api_key is not None:
        extra["api_key"] = settings.llm_api_key.get_secret_value()
    return build_drafter(settings.drafter, templates_path=settings.templates_path,
                         note_facts=settings.draft_note_facts, **extra)


def _champion(settings: Settings) -> tuple[ScoringModel | None, str]:
    """The champion model and "", or None and why scoring falls back to the points."""
    if not (settings.data_dir / "models").is_dir():
        return None, ""  # no model was ever trained here: no need to load scikit-learn at all
    # scikit-learn loads only when there may be a model, not for every CLI command.
    from scoring.registry import ModelRegistry
    from scoring.train import MODEL_FIELDS_FROM_LEADS

    return ModelRegistry(settings.data_dir).champion_for_leads(MODEL_FIELDS_FROM_LEADS)


def build_pipeline(
    settings: Settings, *, store: Store | None = None, connector: CRMConnector | None = None,
    progress: Progress = _no_progress,
) -> Pipeline:
    """A pipeline wired as the settings say."""
    from datetime import timedelta

    model, model_note = _champion(settings)
    return Pipeline(
        store=store or open_store(settings),
        connector=connector or open_connector(settings),
        weights=load_admin_weights(settings),
        drafter=open_drafter(settings),
        draft_tiers=settings.draft_tiers,
        max_drafts_per_run=settings.max_drafts_per_run,
        proposal_ttl=timedelta(hours=settings.proposal_ttl_hours),
        task_due=timedelta(days=settings.task_due_days),
        lookback=timedelta(seconds=settings.sync_lookback_seconds),
        escalate_after=(timedelta(hours=settings.escalate_after_hours)
                        if settings.escalate_after_hours else None),
        policy=load_policy(settings.policy_path),
        product_facts=load_product_facts(settings.product_facts_path),
        learn_from_edits=settings.learn_from_edits,
        draft_concurrency=settings.draft_concurrency,
        model=model,
        model_note=model_note,
        blend=settings.score_blend,
        min_labels=settings.min_labels,
        progress=progress,
        sending=settings.sending,
    )


def webhook_runner(pipeline: Pipeline) -> Callable[[], object]:
    """What a verified CRM webhook triggers: reconcile, then send; one run at a time.

    The lock keeps two webhook calls in one process from reconciling the same batch
    twice; across processes the outbox claim keeps sends exactly-once.
    """
    lock = threading.Lock()

    def run() -> object:
        with lock:
            reconciled = pipeline.reconcile()
            pipeline.send()
            return reconciled

    return run


def enqueue_runner(settings: Settings) -> Callable[[], object]:
    """What a verified CRM webhook triggers when a broker is set: reconcile, then send, as
    one chain of tasks on the workers, so the API answers at once."""
    from leadloop.worker import make_app

    celery_app = make_app(settings)

    def run() -> object:
        chain = (celery_app.signature("leadloop.reconcile", immutable=True)
                 | celery_app.signature("leadloop.send", immutable=True))
        return chain.apply_async()

    return run
