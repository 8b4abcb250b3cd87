"""The one Celery app: the broker and the schedule come from the settings.

Start a worker with `leadloop worker` (or `celery -A leadloop.worker worker`) and the
schedule with `leadloop scheduler`. Tasks live beside the steps, in leadloop/steps/tasks.py.

A task is acknowledged only once it has finished (`task_acks_late`), each worker process
takes one at a time (prefetch 1), and a task whose worker died goes back on the queue;
a task that runs twice is harmless because every step is idempotent (proposal keys, the
outbox claim).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Celery

from leadloop.settings import Settings, load_settings

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
QUEUES = ("crm", "cpu", "llm")
"""Queues by what binds the work: the CRM's rate limits, the CPU, the LLM's latency."""

ROUTES = {
    "leadloop.sync": "crm", "leadloop.push_scores": "crm", "leadloop.write_back": "crm",
    "leadloop.reconcile": "crm", "leadloop.sweep": "crm", "leadloop.send": "crm",
    "leadloop.outcomes": "crm",
    "leadloop.score_batch": "cpu",
    "leadloop.propose_batch": "llm",
}


def is_redis(url: str) -> bool:
    """True for a Redis broker URL."""
    return url.startswith(("redis://", "rediss://"))


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery's settings, derived from ours."""
    broker = settings.broker_url or DEFAULT_BROKER
    config: dict[str, Any] = {
        "broker_url": broker,
        # Redis keeps results beside the queue; over RabbitMQ they travel back to the caller.
        "result_backend": broker if is_redis(broker) else "rpc://",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json", "result_serializer": "json", "accept_content": ["json"],
        "task_default_queue": "crm",
        "task_routes": {name: {"queue": queue} for name, queue in ROUTES.items()},
        "result_expires": 24 * 3600,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "beat_schedule": beat_schedule(settings),
    }
    if is_redis(broker):
        transport: dict[str, Any] = {"visibility_timeout": settings.broker_visibility_timeout}
        if settings.broker_key_prefix:
            transport["global_keyprefix"] = settings.broker_key_prefix
            config["result_backend_transport_options"] = {
                "global_keyprefix": settings.broker_key_prefix}
        config["broker_transport_options"] = transport
    return config


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """What `leadloop scheduler` runs, and how often."""
    every = {
        "leadloop.sync": settings.schedule_sync_minutes,
        "leadloop.reconcile": settings.schedule_reconcile_minutes,
        "leadloop.sweep": settings.schedule_sweep_minutes,
        "leadloop.send": settings.schedule_send_minutes,
    }
    return {name: {"task": name, "schedule": timedelta(minutes=minutes)}
            for name, minutes in every.items()}


def make_app(settings: Settings) -> Celery:
    """A Celery app configured from the settings, with the step tasks registered."""
    celery_app = Celery("leadloop")
    celery_app.conf.update(celery_config(settings))
    from leadloop.steps import tasks

    tasks.register(celery_app)
    return celery_app


_app: Celery | None = None


def get_app() -> Celery:
    """The process's Celery app, configured from the settings on first use."""
    global _app
    if _app is None:
        _app = make_app(load_settings())
    return _app


def __getattr__(name: str) -> Any:
    # `celery -A leadloop.worker` looks up `app` (or `celery`); building it lazily keeps a
    # plain `import leadloop.worker` from reading the settings.
    if name in ("app", "celery"):
        return get_app()
    raise AttributeError(f"module 'leadloop.worker' has no attribute {name!r}")
