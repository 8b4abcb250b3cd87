"""API calls and wall time of the Salesforce connector against the sandbox's Salesforce face.

Run: ``python -m benchmarks.bench_salesforce [--leads 50000]``. For each operation it prints
the calls the connector made beside the minimum the API allows (2,000 records a query page,
200 records a collection call) and beside a naive client that spends one call per record.
The naive client's wall time is estimated (not run): its calls times the measured round
trip of a light call (``limits``) to the face.
It never fails on a time.
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from connectors.base import (
    ProposalKind,
    ReviewTaskRequest,
    ScoreWrite,
    SyncCursor,
    TaskOutcome,
    TaskUpdate,
)
from connectors.salesforce.sandbox_link import connect_to_sandbox
from connectors.sandbox import SandboxCRM

PAGE = 2_000
COLLECTION = 200


def _measure(connector: Any, action: Callable[[], Any]) -> tuple[int, float, Any]:
    before = connector.face.api_used
    started = time.perf_counter()
    result = action()
    return connector.face.api_used - before, time.perf_counter() - started, result


def main() -> None:
    """Seed a sandbox, run each operation through the real connector, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=1_000)
    parser.add_argument("--scores", type=int, default=5_000)
    parser.add_argument("--changed", type=float, default=0.01, help="share changed")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        crm = SandboxCRM(Path(folder) / "bench.db")
        started = time.perf_counter()
        crm.seed(args.leads, seed=3, now=datetime(2025, 6, 1, tzinfo=UTC))
        print(f"seeded {args.leads:,} leads in {time.perf_counter() - started:.1f} s")
        rows: list[tuple[str, int, int, int, float, float]] = []
        with connect_to_sandbox(crm, bulk_threshold=0) as rest:
            rest.list_owners()  # log in outside the figures
            # The naive client's time per call: the round trip of a light call.
            _, seconds, _ = _measure(rest, lambda: [rest._call("limits", lambda sf: sf.limits())
                                                    for _ in range(30)])
            per_call = seconds / 30
            calls, seconds, leads = _measure(rest, lambda: list(rest.fetch_leads(since=None)))
            n = len(leads)
            rows.append(("full sync, REST query", calls, math.ceil(n / PAGE), n, seconds,
                         n * per_call))
            cursor = SyncCursor(leads[-1].modified_at, leads[-1].crm_id)

            rng = random.Random(3)
            changed = rng.sample([r.crm_id for r in leads], k=max(1, int(n * args.changed)))
            for crm_id in changed:
                crm.update_lead(crm_id, title="VP Sales")
            calls, seconds, again = _measure(rest, lambda: list(rest.fetch_leads(since=cursor)))
            rows.append((f"incremental sync, {len(changed):,} changed", calls,
                         math.ceil(len(again) / PAGE), len(again), seconds,
                         len(again) * per_call))

            targets = leads[:args.tasks]
            requests = [ReviewTaskRequest(
                proposal_key=f"bench:{r.crm_id}", kind=ProposalKind.DRAFT,
                lead_crm_id=r.crm_id, owner_id=str(r.fields["owner_id"]),
                subject="Review draft: Quick question", notes="Score 80 (tier A)",
                due_date=date(2025, 6, 3), email_subject="Quick question",
                email_body="Hi,\nshall we talk?") for r in targets]
            calls, seconds, _ = _measure(rest, lambda: rest.upsert_review_tasks(requests))
            rows.append((f"write back {len(requests):,} review tasks", calls,
                         math.ceil(len(requests) / COLLECTION), len(requests), seconds,
                         len(requests) * per_call))
            calls, seconds, created = _measure(rest, lambda: rest.upsert_review_tasks(requests))
            rows.append((f"retry of those {len(requests):,} tasks", calls,
                         math.ceil(len(requests) / COLLECTION), len(requests), seconds,
                         len(requests) * per_call))
            updates = [TaskUpdate(str(t.task_id), t.proposal_key, req.owner_id, open=False,
                                  decision=None, outcome=TaskOutcome.EXPIRED,
                                  note="expired in leadloop")
                       for t, req in zip(created, requests, strict=True)]
            calls, seconds, _ = _measure(rest, lambda: rest.update_review_tasks(updates))
            rows.append((f"close those {len(updates):,} tasks", calls,
                         math.ceil(len(updates) / COLLECTION), len(updates), seconds,
                         len(updates) * per_call))
            wanted = [r.crm_id for r in targets]
            calls, seconds, _ = _measure(rest, lambda: rest.fetch_leads_by_id(wanted))
            rows.append((f"read {len(wanted):,} leads by id", calls,
                         math.ceil(len(wanted) / COLLECTION), len(wanted), seconds,
                         len(wanted) * per_call))

            scores = [ScoreWrite(r.crm_id, 50, "B") for r in leads[:args.scores]]
            calls, seconds, _ = _measure(rest, lambda: rest.write_scores(scores))
            rows.append((f"write {len(scores):,} scores", calls,
                         math.ceil(len(scores) / COLLECTION), len(scores), seconds,
                         len(scores) * per_call))
        with connect_to_sandbox(crm) as bulk:
            bulk.list_owners()
            calls, seconds, leads = _measure(bulk, lambda: list(bulk.fetch_leads(since=None)))
            rows.append((f"full sync, Bulk 2.0 above {bulk.config.bulk_threshold:,}", calls,
                         math.ceil(len(leads) / PAGE), len(leads), seconds,
                         len(leads) * per_call))
        crm.close()

    print(f"{'operation':<38} {'calls':>6} {'minimum':>8} {'ratio':>6} {'naive calls':>12} "
          f"{'wall s':>7} {'naive s (est.)':>15}")
    for name, calls, minimum, naive, seconds, naive_seconds in rows:
        ratio = calls / minimum if minimum else float("nan")
        print(f"{name:<38} {calls:>6} {minimum:>8} {ratio:>6.2f} {naive:>12,} "
              f"{seconds:>7.2f} {naive_seconds:>15.1f}")
    print("minimum: records / 2,000 per query page, records / 200 per collection call and "
          "per read by id (200 ids an IN list); a bulk "
          "sync's minimum is the REST one, which it beats; its first call is the REST page "
          "that tells the size.")


if __name__ == "__main__":
    main()
