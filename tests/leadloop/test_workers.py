"""The loop on real Celery worker processes, over the real Redis and RabbitMQ, with the store
on PostgreSQL: the same results as in one process, and a worker killed with -9 mid-batch
loses and duplicates nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from connectors.sandbox import SandboxCRM
from review_api.store.db import Store
from review_api.store.models import Decision, Proposal
from tests.conftest import PG_SERVER, pg_available

REDIS = "redis://127.0.0.1:6379/11"
RABBIT = "amqp://guest:guest@127.0.0.1:5672//"
SEEDED_AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LEADS = 300
HERE = Path(__file__).parent


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(params=["redis", "amqp"])
def broker(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A broker URL and a key prefix of this test's own; cleaned up after."""
    prefix = f"lltest-{uuid.uuid4().hex[:8]}:"
    if request.param == "redis":
        if not _listening(6379):
            pytest.skip("Redis is not running on 127.0.0.1:6379")
        yield REDIS, prefix
        import redis

        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()
        return
    if not _listening(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    _purge(RABBIT)
    yield RABBIT, prefix
    _purge(RABBIT)


def _purge(url: str) -> None:
    from kombu import Connection

    with Connection(url) as conn:
        channel = conn.channel()
        for queue in ("crm", "cpu", "llm"):
            try:
                channel.queue_purge(queue)
            except Exception:  # a queue not declared yet: nothing to purge
                channel = conn.channel()


@pytest.fixture
def pg_schemas() -> Iterator[list[str]]:
    """Two fresh PostgreSQL schemas: one for the in-process run, one for the workers'."""
    if not pg_available():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    names = [f"w_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    admin = create_engine(PG_SERVER)
    with admin.begin() as conn:
        for name in names:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield [f"{PG_SERVER}?options=-csearch_path%3D{name}" for name in names]
    finally:
        with admin.begin() as conn:
            for name in names:
                conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


class Workers:
    """Worker processes, each in its own process group, all killed in teardown."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, env: dict[str, str], *args: str, slow: float = 0.0) -> subprocess.Popen[str]:
        if slow:
            cmd = [sys.executable, str(HERE / "slow_worker.py"), str(slow), *args]
        else:
            cmd = [sys.executable, "-m", "leadloop", "worker", *args]
        log = Path(env["LEADLOOP_DATA_DIR"]) / f"worker-{len(self.procs)}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(cmd, env=env, cwd=env["LEADLOOP_DATA_DIR"], stdout=out,
                                    stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)
        self.procs.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[str]) -> None:
        """SIGKILL the worker and its pool processes."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)

    def kill_all(self) -> None:
        for proc in self.procs:
            self.kill(proc)


@pytest.fixture
def workers() -> Iterator[Workers]:
    started = Workers()
    try:
        yield started
    finally:
        started.kill_all()


def _env(tmp: Path, store_url: str, broker: tuple[str, str] | None) -> dict[str, str]:
    tmp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
    env.update({
        "LEADLOOP_DATA_DIR": str(tmp), "LEADLOOP_DATABASE_URL": store_url,
        "LEADLOOP_SANDBOX_PATH": str(tmp / "sandbox.db"),
        "LEADLOOP_SENDING__WINDOW": "00:00-24:00", "LEADLOOP_SENDING__DAYS": "mon-sun",
        "LEADLOOP_SENDING__HOLIDAYS": "[]",
        # No look-back: whether a sync re-reads the leads the last run's score write stamped
        # depends on how many seconds passed since (leadloop.steps.cursor), not on workers.
        "LEADLOOP_SYNC_LOOKBACK_SECONDS": "0",
        "PYTHONPATH": str(HERE.parents[1]),
    })
    if broker is not None:
        env.update({"LEADLOOP_BROKER_URL": broker[0], "LEADLOOP_BROKER_KEY_PREFIX": broker[1],
                    "LEADLOOP_BROKER_VISIBILITY_TIMEOUT": "3"})
    SandboxCRM(tmp / "sandbox.db").seed(LEADS, seed=7, now=SEEDED_AT)
    return env


def _run(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "leadloop", "run"], env=env,
                          cwd=env["LEADLOOP_DATA_DIR"], capture_output=True, text=True,
                          timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _reps_decide(sandbox: Path) -> None:
    """The same decisions on both sides, whatever order the tasks were made in."""
    crm = SandboxCRM(sandbox)
    for task in crm.list_tasks(status="Not Started"):
        if task.kind == "draft" and zlib.crc32(task.lead_crm_id.encode()) % 3 == 0:
            crm.reject_task(task.task_id, by=task.owner_id, reason="not now")
        else:
            crm.approve_task(task.task_id, by=task.owner_id)


def _outcome(store_url: str, sandbox: Path) -> dict[str, Any]:
    """What a user sees: proposals, their CRM tasks, the labels, the emails sent."""
    store = Store.open(store_url)
    try:
        with store.session() as session:
            proposals = sorted(
                (p.key, p.kind, str(p.state), p.payload.get("subject"), p.payload.get("body"))
                for p in session.scalars(select(Proposal)))
            labels = sorted(
                (key, str(decision)) for key, decision in session.execute(
                    select(Proposal.key, Decision.decision)
                    .join(Decision, Decision.proposal_id == Proposal.id)))
    finally:
        store.close()
    crm = SandboxCRM(sandbox)
    tasks = sorted((t.proposal_key or "", str(t.kind), str(t.status), str(t.decision))
                   for t in crm.list_tasks())
    sent = sorted(e.idempotency_key for e in crm.sent_emails())
    return {"proposals": proposals, "labels": labels, "tasks": tasks, "sent": sent}


@pytest.mark.timeout(480)
def test_two_workers_give_the_same_results_as_one_process(
    tmp_path: Path, broker: tuple[str, str], pg_schemas: list[str], workers: Workers,
) -> None:
    alone = _env(tmp_path / "alone", pg_schemas[0], None)
    spread = _env(tmp_path / "spread", pg_schemas[1], broker)
    for _ in range(2):
        workers.start(spread, "--queues", "crm,cpu,llm", "--concurrency", "1")

    reports = []
    for env in (alone, spread):
        first = _run(env)
        _reps_decide(Path(env["LEADLOOP_SANDBOX_PATH"]))
        reports.append((first, _run(env)))

    assert reports[0] == reports[1]
    one = _outcome(pg_schemas[0], tmp_path / "alone" / "sandbox.db")
    two = _outcome(pg_schemas[1], tmp_path / "spread" / "sandbox.db")
    assert one["proposals"] and one["labels"] and one["sent"]
    assert one == two


@pytest.mark.timeout(480)
def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(
    tmp_path: Path, broker: tuple[str, str], pg_schemas: list[str], workers: Workers,
) -> None:
    many = {"LEADLOOP_DRAFT_TIERS": '["A","B","C"]'}  # several drafting batches
    alone = {**_env(tmp_path / "alone", pg_schemas[0], None), **many}
    _run(alone)
    expected = _outcome(pg_schemas[0], tmp_path / "alone" / "sandbox.db")

    spread = {**_env(tmp_path / "spread", pg_schemas[1], broker), **many}
    workers.start(spread, "--queues", "crm,cpu", "--concurrency", "1")
    doomed = workers.start(spread, "--queues", "llm", "--concurrency", "1", slow=0.04)
    run = subprocess.Popen([sys.executable, "-m", "leadloop", "run"], env=spread,
                           cwd=spread["LEADLOOP_DATA_DIR"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        drafts = 0
        deadline = time.monotonic() + 120
        while drafts == 0:  # the first batch of 50 drafts is in: the second is being drafted
            assert time.monotonic() < deadline, "no draft was ever made"
            time.sleep(0.2)
            drafts = _count_drafts(pg_schemas[1])
        time.sleep(0.5)
        workers.kill(doomed)
        assert _count_drafts(pg_schemas[1]) < len(
            [p for p in expected["proposals"] if p[1] == "draft"]), "killed too late"
        workers.start(spread, "--queues", "llm", "--concurrency", "1")
        out, err = run.communicate(timeout=180)
    finally:
        run.kill()
        run.wait()
    assert run.returncode == 0, err
    got = _outcome(pg_schemas[1], tmp_path / "spread" / "sandbox.db")
    assert got == expected
    keys = [t[0] for t in got["tasks"]]
    assert len(keys) == len(set(keys))  # one CRM task per proposal, none twice


def _count_drafts(store_url: str) -> int:
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            try:
                return int(conn.execute(
                    text("SELECT count(*) FROM proposals WHERE kind = 'draft'")).scalar() or 0)
            except Exception:  # the tables are not made yet
                return 0
    finally:
        engine.dispose()
