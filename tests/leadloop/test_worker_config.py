"""The Celery app's settings, the scheduler's timetable, report merging and the compose file,
without a broker."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from leadloop.cli import app
from leadloop.cli.common import settings
from leadloop.errors import SettingsError
from leadloop.pipeline import ProposeReport, SendReport
from leadloop.settings import Settings, load_settings
from leadloop.steps import units
from leadloop.worker import celery_config

COMPOSE = Path(__file__).resolve().parents[2] / "docs" / "docker-compose.yml"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in [n for n in os.environ if n.startswith("LEADLOOP_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    settings.cache_clear()
    yield
    settings.cache_clear()


def test_tasks_are_acknowledged_when_done_one_at_a_time_and_routed_by_what_binds_them() -> None:
    config = celery_config(load_settings(broker_url="redis://127.0.0.1:6379/3",
                                         broker_visibility_timeout=30))
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert config["worker_prefetch_multiplier"] == 1
    assert config["broker_transport_options"]["visibility_timeout"] == 30
    assert config["result_backend"] == "redis://127.0.0.1:6379/3"
    routes = {name: route["queue"] for name, route in config["task_routes"].items()}
    assert routes["leadloop.score_batch"] == "cpu"
    assert routes["leadloop.propose_batch"] == "llm"
    assert {routes[n] for n in ("leadloop.sync", "leadloop.write_back", "leadloop.reconcile",
                                "leadloop.send")} == {"crm"}


def test_rabbitmq_results_travel_back_to_the_caller() -> None:
    config = celery_config(load_settings(broker_url="amqp://guest:guest@127.0.0.1:5672//"))
    assert config["result_backend"] == "rpc://"
    assert "broker_transport_options" not in config


def test_the_schedule_comes_from_the_settings() -> None:
    schedule = celery_config(load_settings(schedule_sync_minutes=7))["beat_schedule"]
    assert schedule["leadloop.sync"]["schedule"] == timedelta(minutes=7)
    assert set(schedule) == {"leadloop.sync", "leadloop.reconcile", "leadloop.sweep",
                             "leadloop.send"}


def test_a_wrong_broker_url_is_one_line_naming_the_setting() -> None:
    with pytest.raises(SettingsError, match="LEADLOOP_BROKER_URL"):
        load_settings(broker_url="http://127.0.0.1:6379")


def test_config_show_masks_the_broker_password() -> None:
    shown = load_settings(broker_url="amqp://guest:secret@127.0.0.1:5672//").masked()
    assert "secret" not in str(shown["broker_url"])


def test_worker_without_a_broker_says_what_to_set() -> None:
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 2  # a setting is missing: the CLI's code for settings
    assert "LEADLOOP_BROKER_URL" in result.output and "Traceback" not in result.output


def test_batch_reports_add_up() -> None:
    first = ProposeReport(drafts_proposed=2, not_drafted=[("L1", "policy")], tasks_created=1)
    second = ProposeReport(drafts_proposed=3, draft_errors=["L9: boom"], tasks_created=2)
    total = units.merge(ProposeReport, [first, second])
    assert (total.drafts_proposed, total.tasks_created) == (5, 3)
    assert total.not_drafted == [("L1", "policy")] and total.draft_errors == ["L9: boom"]
    sent = units.merge(SendReport, [SendReport(sent=1, held=Counter({"cap": 2})),
                                    SendReport(sent=2, held=Counter({"cap": 1}))])
    assert (sent.sent, sent.held) == (3, Counter({"cap": 3}))
    back = units.from_message(ProposeReport, units.to_message(first))
    assert back == first


def test_the_compose_file_runs_the_commands_the_tests_run() -> None:
    yaml = pytest.importorskip("yaml")
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    assert {"postgres", "redis", "api", "worker", "scheduler"} <= set(services)
    commands = {name: s["command"] for name, s in services.items() if "command" in s}
    # tests/leadloop/test_workers.py starts `leadloop worker --queues crm,cpu,llm ...`,
    # tests/leadloop/test_server.py `leadloop serve`; beat is `leadloop scheduler`.
    assert commands["worker"][:4] == ["leadloop", "worker", "--queues", "crm,cpu,llm"]
    assert commands["scheduler"] == ["leadloop", "scheduler"]
    assert commands["api"][:2] == ["leadloop", "serve"]
    click_app = get_command(app)
    assert isinstance(click_app, typer.core.TyperGroup)
    for name, command in commands.items():
        sub = click_app.commands[command[1]]
        known = {opt for param in sub.params for opt in param.opts}
        given = {arg for arg in command[2:] if arg.startswith("--")}
        assert given <= known, f"{name}: {given - known} are not options of {command[1]}"
    for name in ("api", "worker", "scheduler"):
        env = services[name]["environment"]
        assert set(env) <= {f"LEADLOOP_{f.upper()}" for f in Settings.model_fields}
        assert env["LEADLOOP_BROKER_URL"].startswith("redis://")


@pytest.mark.timeout(60)
def test_a_webhook_with_a_broker_enqueues_reconcile_then_send_on_the_crm_queue() -> None:
    redis = pytest.importorskip("redis")
    import base64
    import json
    import uuid

    from leadloop.wiring import enqueue_runner

    client = redis.Redis.from_url("redis://127.0.0.1:6379/11")
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    prefix = f"lltest-{uuid.uuid4().hex[:8]}:"
    try:
        enqueue_runner(load_settings(broker_url="redis://127.0.0.1:6379/11",
                                     broker_key_prefix=prefix))()
        queued = client.lrange(f"{prefix}crm", 0, -1)
        assert len(queued) == 1
        message = json.loads(queued[0])
        assert message["headers"]["task"] == "leadloop.reconcile"
        assert "leadloop.send" in base64.b64decode(message["body"]).decode()  # then send
    finally:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()
