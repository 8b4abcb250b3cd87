"""The HubSpot connector against the sandbox's HubSpot face, with HubSpot's limits enforced.

Run with ``python -m benchmarks.bench_hubspot [--contacts 50000] [--window-scale 1.0]``.

For each phase it prints the API calls made, the 429s received and the wall time, beside
the fewest calls the API allows and a naive one-record-per-call client (its calls are
counted, its time estimated at the burst limit, not run). It also checks that no record
was lost or duplicated. It never fails on a time.

The face enforces the default app tier (100 requests per 10 s, search 5 per second);
``--window-scale 0.1`` shrinks both windows tenfold to keep large runs short, which keeps
the shape of the limits but not HubSpot's wall time, and the output says so.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from connectors.base import (
    ProposalKind,
    ReviewTaskRequest,
    ScoreWrite,
    SyncCursor,
    TaskOutcome,
    TaskUpdate,
)
from connectors.hubspot import HubSpotConnector
from connectors.sandbox import SandboxCRM, generate_leads
from connectors.sandbox.hubspot_face import HubSpotFace, sandbox_id
from tests.connectors.hubspot.contract import face_config

BURST, WINDOW_S = 100, 10.0


@dataclass
class Phase:
    name: str
    records: int
    calls: int
    minimum: int
    rate_limited: int
    seconds: float
    naive_calls: int
    intact: bool


def _measure(face: HubSpotFace, name: str, records: int, minimum: int, naive: int,
             work: object) -> Phase:
    print(f"{name} ...", flush=True)
    calls, limited = face.counters.calls, face.counters.rate_limited
    started = time.perf_counter()
    intact = bool(work() if callable(work) else work)
    return Phase(name, records, face.counters.calls - calls, minimum,
                 face.counters.rate_limited - limited, time.perf_counter() - started, naive,
                 intact)


def run(contacts: int, window_scale: float, big_change: int) -> list[Phase]:
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory() as folder:
        crm = SandboxCRM(Path(folder) / "bench.db")
        print(f"seeding {contacts:,} contacts ...", flush=True)
        crm.seed(0)
        owners = [{"owner_id": o.owner_id, "manager_id": o.manager_id}
                  for o in crm.list_owners()]
        records = generate_leads(contacts, seed=3, owners=owners)
        # 50 a transaction, like an import's batches: one seed call would give every
        # contact the same stamp, which no real account has.
        for start in range(0, contacts, 50):
            crm.add_leads(records[start : start + 50])
        with HubSpotFace(crm, tokens={"contract-token"}, window_scale=window_scale) as face:
            connector = HubSpotConnector(face_config(face, retry_backoff_s=0.2))
            connector.setup()
            full: list = []

            def full_sync() -> bool:
                full.extend(connector.fetch_leads(since=None))
                return len({r.crm_id for r in full}) == len(full) == contacts

            # A full sync searches in stamp order (200 a call; the 10,000-result cap
            # costs a restart every 50 calls) and lists the archived contacts once.
            phases.append(_measure(face, "full sync", contacts,
                                   math.ceil(contacts / 200) + 1, contacts, full_sync))
            last = full[-1]
            cursor = SyncCursor(last.modified_at, last.crm_id)

            def edit(n: int) -> None:  # reps' edits, one per transaction, not timed
                for record in full[:n]:
                    crm.update_lead(str(sandbox_id("L", record.crm_id)),
                                    title="Head of Operations")

            def incremental(n: int) -> bool:
                nonlocal cursor
                seen = list(connector.fetch_leads(since=cursor))
                if seen:
                    cursor = SyncCursor(seen[-1].modified_at, seen[-1].crm_id)
                return sorted(r.crm_id for r in seen) == sorted(r.crm_id for r in full[:n])

            small = max(1, contacts // 100)
            edit(small)
            phases.append(_measure(face, "incremental, 1 % changed", small,
                                   math.ceil(small / 200) + 1, small, lambda: incremental(small)))
            edit(big_change)
            phases.append(_measure(face, f"incremental, {big_change:,} changed", big_change,
                                   math.ceil(big_change / 200) + 1, big_change,
                                   lambda: incremental(big_change)))

            tasks = [ReviewTaskRequest(
                proposal_key=f"bench-{r.crm_id}", kind=ProposalKind.DRAFT, lead_crm_id=r.crm_id,
                owner_id=str(r.fields["owner_id"]), subject="Review the draft",
                notes="Score 80 (tier A)\nWhy: visited the pricing page",
                due_date=date(2025, 6, 3), email_subject="Quick question",
                email_body="Hi,\nshall we talk?") for r in full[:1000]]
            written: list[str] = []

            def write_tasks() -> bool:
                results = connector.upsert_review_tasks(tasks)
                written.extend(str(r.task_id) for r in results)
                keys = [t.proposal_key for t in crm.list_tasks() if t.proposal_key]
                return all(r.created for r in results) and len(keys) == len(set(keys)) == 1000

            phases.append(_measure(face, "write back 1,000 tasks", 1000, 10, 1000, write_tasks))

            def retry_tasks() -> bool:
                results = connector.upsert_review_tasks(tasks)
                return not any(r.created for r in results) and len(crm.list_tasks()) == 1000

            phases.append(_measure(face, "same 1,000 tasks again", 1000, 10, 1000, retry_tasks))

            def close_tasks() -> bool:
                updates = [TaskUpdate(task_id, t.proposal_key, t.owner_id, open=False,
                                      decision=None, outcome=TaskOutcome.EXPIRED,
                                      note="expired in leadloop; nothing was sent")
                           for task_id, t in zip(written, tasks, strict=True)]
                results = connector.update_review_tasks(updates)
                closed = crm.list_tasks(status="Completed")
                return all(r.ok for r in results) and len(closed) == 1000

            phases.append(_measure(face, "close 1,000 tasks", 1000, 10, 1000, close_tasks))
            scores = [ScoreWrite(r.crm_id, i % 100, "B") for i, r in enumerate(full[:5000])]

            def write_scores() -> bool:
                return all(r.ok for r in connector.write_scores(scores))

            phases.append(_measure(face, "write 5,000 scores", len(scores),
                                   math.ceil(len(scores) / 100), len(scores), write_scores))
            wanted = [r.crm_id for r in full[:1000]]
            for record in full[:10]:  # a few archived since: one more call reads them
                crm.delete_lead(str(sandbox_id("L", record.crm_id)))

            def read_by_id() -> bool:
                found = connector.fetch_leads_by_id(wanted)
                return ([r.crm_id for r in found] == wanted
                        and sum(r.deleted for r in found) == 10)

            phases.append(_measure(face, "read 1,000 leads by id", 1000, 11, 1000, read_by_id))
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--window-scale", type=float, default=1.0)
    parser.add_argument("--big-change", type=int, default=10_500,
                        help="changed records in the second incremental sync (> 10,000 "
                        "crosses search's result cap)")
    args = parser.parse_args()
    big = min(args.big_change, args.contacts)
    started = time.perf_counter()
    phases = run(args.contacts, args.window_scale, big)
    window = WINDOW_S * args.window_scale
    print(f"\n{args.contacts:,} contacts; limits enforced: {BURST} calls per {window:g} s, "
          f"search 5 per {args.window_scale:g} s"
          + ("" if args.window_scale == 1 else " (windows scaled: wall times are NOT "
             "HubSpot's; calls and 429s are)"))
    print(f"{'phase':<30}{'records':>8}{'calls':>7}{'min':>6}{'calls/min':>10}{'429s':>6}"
          f"{'429 %':>7}{'wall s':>8}{'naive calls':>12}{'naive s, est.':>14}  intact")
    for p in phases:
        naive_s = p.naive_calls / BURST * WINDOW_S  # at the real limit, whatever the scale
        print(f"{p.name:<30}{p.records:>8,}{p.calls:>7,}{p.minimum:>6,}"
              f"{p.calls / p.minimum:>10.2f}{p.rate_limited:>6}"
              f"{100 * p.rate_limited / max(p.calls, 1):>6.1f}%{p.seconds:>8.1f}"
              f"{p.naive_calls:>12,}{naive_s:>14,.0f}  {'yes' if p.intact else 'NO'}")
    print(f"total wall time {time.perf_counter() - started:.0f} s (seeding included)")


if __name__ == "__main__":
    main()
