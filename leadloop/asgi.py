"""The review API as an ASGI app factory, for `leadloop serve` and any ASGI server:
``uvicorn --factory leadloop.asgi:create``. Each worker process builds its own."""

from __future__ import annotations

from fastapi import FastAPI

from leadloop.logs import configure_json_logging
from leadloop.settings import load_settings
from leadloop.wiring import (
    build_pipeline,
    enqueue_runner,
    open_store,
    send_now_runner,
    unsubscribe_runner,
    webhook_runner,
)
from review_api.admin import AdminFiles
from review_api.app import create_app
from review_api.ui.session import load_or_create_secret
from review_api.webhooks import Webhooks


def create() -> FastAPI:
    """The review API wired as the settings say, with webhooks that reconcile at once."""
    configure_json_logging()
    settings = load_settings()
    pipeline = build_pipeline(settings, store=open_store(settings, for_api=True))
    # The store remembers the webhook deliveries taken, for every worker at once.
    # With a broker, the workers reconcile and send; the API only enqueues.
    runner = enqueue_runner(settings) if settings.broker_url else webhook_runner(pipeline)
    hooks = Webhooks.from_settings(settings.webhooks, on_task_change=runner,
                                   store=pipeline.store)
    files = AdminFiles(data_dir=settings.data_dir, weights_file=settings.weights_path,
                       policy_file=settings.policy_path,
                       product_facts_file=settings.product_facts_path,
                       templates_file=settings.templates_path)
    return create_app(pipeline.store, webhooks=hooks, admin_files=files,
                      concurrency=settings.api_concurrency,
                      ui_secret=load_or_create_secret(settings.data_dir / "ui_session.key"),
                      on_unsubscribe=unsubscribe_runner(pipeline),
                      send_now=send_now_runner(pipeline))
