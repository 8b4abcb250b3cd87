"""The review API under load: `leadloop serve`'s app on loopback, a load generator in another
process listing pending proposals and posting decisions, on SQLite and on PostgreSQL.

Run with ``python -m benchmarks.bench_api_load [--db sqlite postgresql] [--seconds 60]``.
Prints requests per second and p50/p99 latency beside the target (300 decisions/s at p99 under
100 ms on PostgreSQL), then checks the store: every acknowledged decision is there and no
proposal was decided twice. Never fails on a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, insert, select, text

from review_api.keys import Role, create_key
from review_api.store.db import Store
from review_api.store.models import Decision, Proposal

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_DECISIONS_PER_S = 300
TARGET_P99_MS = 100.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _seed(url: str, proposals: int) -> str:
    store = Store.open(url)
    now = datetime.now(UTC)
    rows = [{"key": f"draft:B{i}:1", "kind": "draft", "crm_id": f"B{i}", "owner_id": "U1",
             "state": "pending", "payload": {"subject": "Hello", "body": "Hi,\n\nA short note.",
                                             "to": f"lead{i}@bench.example"},
             "expires_at": now + timedelta(days=3), "created_at": now, "updated_at": now,
             "version": 1} for i in range(proposals)]
    with store.session() as session:
        for start in range(0, len(rows), 5_000):
            session.execute(insert(Proposal), rows[start:start + 5_000])
        _, key = create_key(session=session, role=Role.ADMIN, name="bench")
    store.close()
    return key


async def _load(base: str, key: str, seconds: float, concurrency: int,
                first_id: int, last_id: int) -> dict[str, Any]:
    next_id = first_id
    latencies: dict[str, list[float]] = {"decide": [], "list": []}
    statuses: dict[str, int] = {}
    acked: list[int] = []
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=30) as client:

        async def worker(n: int) -> None:
            nonlocal next_id
            turn = 0
            while time.perf_counter() < deadline:
                turn += 1
                started = time.perf_counter()
                if (turn + n) % 5 == 0:
                    kind = "list"
                    response = await client.get("/proposals",
                                                params={"state": "pending", "limit": 20})
                else:
                    kind = "decide"
                    if next_id > last_id:
                        return
                    proposal_id, next_id = next_id, next_id + 1
                    response = await client.post(f"/proposals/{proposal_id}/decision",
                                                 json={"decision": "approve"})
                    if response.status_code == 200:
                        acked.append(proposal_id)
                latencies[kind].append(time.perf_counter() - started)
                statuses[f"{kind} {response.status_code}"] = (
                    statuses.get(f"{kind} {response.status_code}", 0) + 1)

        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "latencies": latencies, "statuses": statuses, "acked": acked}


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def _run_one(db: str, *, seconds: float, concurrency: int, workers: int,
             proposals: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="leadloop-load-"))
    schema = None
    if db == "sqlite":
        url = f"sqlite:///{folder / 'load.db'}"
    else:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_SERVER)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    key = _seed(url, proposals)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
    env |= {"LEADLOOP_DATABASE_URL": url, "LEADLOOP_DATA_DIR": str(folder)}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "leadloop.asgi:create", "--port",
         str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"],
        env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            reason = server.stderr.read() if server.stderr else b""
            raise SystemExit(f"server did not start: {reason!r}")
        # The load generator runs in its own process, as the issue asks.
        generator = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_api_load", "--generate", base, key,
             str(seconds), str(concurrency), "1", str(proposals)],
            capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
        result: dict[str, Any] = json.loads(generator.stdout)
    finally:
        server.terminate()
        server.wait(timeout=30)
    store = Store.open(url, migrate=False)
    with store.session() as session:
        stored = set(session.scalars(select(Decision.proposal_id)))
        doubles = session.scalar(select(func.count()).select_from(
            select(Decision.proposal_id).group_by(Decision.proposal_id)
            .having(func.count() > 1).subquery())) or 0
    store.close()
    if schema is not None:
        with create_engine(PG_SERVER).begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    acked = set(result["acked"])
    result.update(lost=len(acked - stored), doubles=doubles, stored=len(stored))
    return result


def _report(db: str, result: dict[str, Any]) -> None:
    elapsed = result["elapsed"]
    decide, listing = result["latencies"]["decide"], result["latencies"]["list"]
    rate = len(result["acked"]) / elapsed
    p99 = _percentile(decide, 0.99)
    print(f"\n{db}: {elapsed:.1f} s, {(len(decide) + len(listing)) / elapsed:,.0f} requests/s")
    print(f"  decisions: {rate:,.0f}/s acknowledged (target {TARGET_DECISIONS_PER_S}/s, "
          f"ratio {rate / TARGET_DECISIONS_PER_S:.2f}); p50 {_percentile(decide, 0.5):.1f} ms, "
          f"p99 {p99:.1f} ms (target {TARGET_P99_MS:.0f} ms, ratio {p99 / TARGET_P99_MS:.2f})")
    print(f"  list pending: {len(listing) / elapsed:,.0f}/s; p50 "
          f"{_percentile(listing, 0.5):.1f} ms, p99 {_percentile(listing, 0.99):.1f} ms")
    print(f"  statuses: {json.dumps(result['statuses'], sort_keys=True)}")
    print(f"  store: {len(result['acked'])} acknowledged, {result['stored']} stored, "
          f"{result['lost']} acknowledged but missing, {result['doubles']} decided twice")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        base, key, seconds, concurrency, first, last = sys.argv[2:8]
        print(json.dumps(asyncio.run(_load(base, key, float(seconds), int(concurrency),
                                           int(first), int(last)))))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", nargs="*", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--proposals", type=int, default=60_000)
    args = parser.parse_args()
    print(f"{args.workers} server workers, {args.concurrency} concurrent clients in one "
          f"generator process, 4 decisions to 1 listing, {args.seconds:.0f} s per database; "
          f"{os.cpu_count()} cores shared by server, generator and database")
    for db in args.db:
        result = _run_one(db, seconds=args.seconds, concurrency=args.concurrency,
                          workers=args.workers, proposals=args.proposals)
        _report(db, result)


if __name__ == "__main__":
    main()
