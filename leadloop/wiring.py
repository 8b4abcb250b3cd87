"""Builds the parts named by the settings: store, CRM connector, weights, drafter, pipeline."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.base import CRMConnector
from connectors.sandbox import SandboxConnector, SandboxCRM
from drafting import Drafter, build_drafter
from drafting.guard.facts import ProductFacts, parse_product_facts
from drafting.guardrails import load_product_facts
from drafting.limits import DraftLimits
from drafting.policy import Policy, load_policy, parse_policy
from drafting.policy_registry import PolicyRegistry, policy_in_force
from drafting.template import load_templates
from leadloop.files import read_user_text
from leadloop.pipeline import Pipeline, Progress, _no_progress
from leadloop.settings import Settings
from review_api.store.db import Store
from review_api.unsubscribe import OptOut
from scoring import Weights, parse_weights

if TYPE_CHECKING:
    from scoring.blend import ScoringModel
from scoring.weights_registry import weights_in_force

# Salesforce and the sandbox: a SystemModstamp committed late is rare and seconds late.
DEFAULT_SYNC_LOOKBACK_S = 5


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

        connector = HubSpotConnector.from_config(settings.hubspot, smtp=settings.smtp,
                                                 limits_url=settings.limits_url)
        return connector
    return SandboxConnector(open_sandbox(settings))


def load_admin_weights(settings: Settings) -> Weights:
    """The weights in force: a file the settings name, else the newest published version,
    else the shipped defaults."""
    if settings.weights_path is not None:
        text = read_user_text(settings.weights_path, what="weights file",
                              expected="a TOML weights file (LEADLOOP_WEIGHTS_PATH)")
        return parse_weights(text, source=str(settings.weights_path))
    return weights_in_force(settings.data_dir, None)[0]


def load_settings_policy(settings: Settings) -> Policy:
    """The escalation rules in force: the version published on the admin page, else the
    file the settings name (read through the one file reader), else the shipped rules."""
    if PolicyRegistry(settings.data_dir).latest() is not None:
        return policy_in_force(settings.data_dir)[0]
    if settings.policy_path is None:
        return load_policy(None)
    text = read_user_text(settings.policy_path, what="policy file",
                          expected="a rules file (LEADLOOP_POLICY_PATH)")
    return parse_policy(text, str(settings.policy_path))


def load_settings_facts(settings: Settings) -> ProductFacts:
    """The product facts sheet the settings name, read through the one file reader."""
    if settings.product_facts_path is None:
        return load_product_facts(None)
    text = read_user_text(settings.product_facts_path, what="product facts file",
                          expected="a TOML facts sheet (LEADLOOP_PRODUCT_FACTS_PATH)")
    return parse_product_facts(text, str(settings.product_facts_path))


def check_templates(settings: Settings) -> None:
    """Read and validate the templates file the settings name, if any."""
    if settings.templates_path is not None:
        text = read_user_text(settings.templates_path, what="templates file",
                              expected="a TOML templates file (LEADLOOP_TEMPLATES_PATH)")
        load_templates(text, str(settings.templates_path))


def check_user_files(settings: Settings) -> None:
    """Read every file the settings name, so a bad one stops a command before it starts."""
    load_admin_weights(settings)
    load_settings_policy(settings)
    load_settings_facts(settings)
    check_templates(settings)


def open_drafter(settings: Settings) -> Drafter:
    """The drafter the settings name."""
    check_templates(settings)
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


def sync_lookback(settings: Settings) -> timedelta:
    """How far before its cursor a sync re-reads: the setting, else the CRM's default."""
    if settings.sync_lookback_seconds is not None:
        return timedelta(seconds=settings.sync_lookback_seconds)
    if settings.crm == "hubspot":
        from connectors.hubspot.config import SYNC_LOOKBACK_S

        return timedelta(seconds=SYNC_LOOKBACK_S)
    return timedelta(seconds=DEFAULT_SYNC_LOOKBACK_S)


def build_pipeline(
    settings: Settings, *, store: Store | None = None, connector: CRMConnector | None = None,
    progress: Progress = _no_progress,
) -> Pipeline:
    """A pipeline wired as the settings say."""
    model, model_note = _champion(settings)
    pipeline = Pipeline(
        store=store or open_store(settings),
        connector=connector or open_connector(settings),
        weights=load_admin_weights(settings),
        drafter=open_drafter(settings),
        draft_tiers=settings.draft_tiers,
        max_drafts_per_run=settings.max_drafts_per_run,
        proposal_ttl=timedelta(hours=settings.proposal_ttl_hours),
        task_due=timedelta(days=settings.task_due_days),
        lookback=sync_lookback(settings),
        escalate_after=(timedelta(hours=settings.escalate_after_hours)
                        if settings.escalate_after_hours else None),
        # The rules published on the admin page, else LEADLOOP_POLICY_PATH, else shipped.
        policy=load_settings_policy(settings),
        product_facts=load_settings_facts(settings),
        learn_from_edits=settings.learn_from_edits,
        draft_concurrency=settings.draft_concurrency,
        # With a shared store for limits, the cap holds for every worker together.
        draft_limits=(DraftLimits(url=settings.limits_url, concurrency=settings.draft_concurrency)
                      if settings.limits_url else None),
        model=model,
        model_note=model_note,
        blend=settings.score_blend,
        min_labels=settings.min_labels,
        progress=progress,
        sending=settings.sending,
    )
    pipeline.no_reply_days = settings.outcome_no_reply_days
    return pipeline


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


def unsubscribe_runner(pipeline: Pipeline) -> Callable[[OptOut], None]:
    """What an unsubscribe does after the store has it: the CRM's opt-out field is set,
    and the tasks of the drafts it cancelled are closed in the CRM at once."""

    def run(done: OptOut) -> None:
        pipeline.connector.opt_out_of_email(done.crm_id, email=done.address)
        pipeline.push_task_updates()

    return run


def send_now_runner(pipeline: Pipeline) -> Callable[[int, str], tuple[bool, str]]:
    """A rep's "send now": within policy only (see leadloop.steps.send_now)."""
    from leadloop.settings import SendingConfig
    from leadloop.steps.send_now import outcome, send_now

    def run(proposal_id: int, actor: str) -> tuple[bool, str]:
        report = send_now(store=pipeline.store, connector=pipeline.connector,
                          config=pipeline.sending or SendingConfig(), proposal_id=proposal_id,
                          actor=actor, clock=pipeline.clock)
        pipeline.push_task_updates()
        return outcome(report)

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
