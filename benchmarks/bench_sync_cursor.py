"""What a sync with nothing changed reads: the old look-back rule beside leadloop's.

Run with ``python -m benchmarks.bench_sync_cursor [--leads 3000]``.

Each CRM (the sandbox, the Salesforce face and the HubSpot face, each over a sandbox
file) holds ``--leads`` leads written an hour ago in batches of 100 within a second, as a
bulk import or a score write-back leaves them (one stamp per batch). A full sync reads
them; then nothing changes and the CRM is asked again:

- naive: the old rule, which looked back from the cursor by the CRM's look-back and
  dropped the cursor's id tie-break (and, on HubSpot, listed every archived contact on
  every run). Counted by calling the connector as that rule would, not run through the
  pipeline.
- ours: ``Pipeline.sync()`` as it now is: the cursor remembers when the last sync began,
  so once the look-back has passed it keeps its (stamp, id) tie-break.

It prints leads fetched and CRM calls for each, side by side with their ratio. HubSpot's
search can only filter on the stamp, so a tie-broken sync still reads the cursor's own
stamp (one call for its batch of 100) and drops what it had. It never fails on a time.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.base import CRMConnector, SyncCursor
from connectors.sandbox import SandboxConnector, SandboxCRM, generate_leads
from drafting import TemplateDrafter
from leadloop.pipeline import Pipeline
from leadloop.settings import Settings
from leadloop.wiring import sync_lookback
from review_api.store.db import Store
from review_api.store.models import SyncCursor as CursorRow
from scoring import default_weights_path, load_weights


@dataclass
class Row:
    crm: str
    lookback_s: float
    naive_fetched: int
    naive_calls: int
    ours_fetched: int
    ours_calls: int


@contextmanager
def _connector(kind: str, crm: SandboxCRM) -> Iterator[tuple[CRMConnector, Callable[[], int]]]:
    """The connector of ``kind`` over ``crm``, and a count of the CRM calls made so far."""
    with ExitStack() as stack:
        if kind == "sandbox":
            calls = [0]
            page = crm.leads_after

            def counted(*args: Any, **kwargs: Any) -> Any:
                calls[0] += 1
                return page(*args, **kwargs)

            crm.leads_after = counted  # type: ignore[method-assign]
            stack.callback(setattr, crm, "leads_after", page)
            yield SandboxConnector(crm), lambda: calls[0]
        elif kind == "salesforce":
            from connectors.salesforce.sandbox_link import connect_to_sandbox

            sf = stack.enter_context(connect_to_sandbox(crm))
            yield sf, lambda: sf.face.api_used
        else:
            from connectors.hubspot import HubSpotConnector
            from connectors.sandbox.hubspot_face import HubSpotFace
            from tests.connectors.hubspot.contract import TOKEN, face_config

            face = stack.enter_context(HubSpotFace(crm, tokens={TOKEN}, burst_per_10s=10_000,
                                                   search_per_second=1_000))
            hs = HubSpotConnector(face_config(face))
            hs.setup()
            yield hs, lambda: face.counters.calls


def measure(kind: str, leads: int, work: Path) -> Row:
    """One CRM's no-change sync, the naive way and ours."""
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    crm = SandboxCRM(work / f"{kind}.db", clock=lambda: an_hour_ago)
    crm.seed(0)
    owners = [{"owner_id": o.owner_id, "manager_id": o.manager_id} for o in crm.list_owners()]
    records = generate_leads(leads, seed=11, now=an_hour_ago, owners=owners)
    for start in range(0, leads, 100):  # batches of 100, as an import or write-back makes
        crm.add_leads(records[start : start + 100])
    store = Store.open(f"sqlite:///{work / f'{kind}-store.db'}")
    lookback = sync_lookback(Settings(crm=kind))  # type: ignore[arg-type]
    try:
        with _connector(kind, crm) as (connector, calls):
            pipeline = Pipeline(store=store, connector=connector,
                                weights=load_weights(default_weights_path()),
                                drafter=TemplateDrafter(), lookback=lookback)
            first = pipeline.sync()
            with store.session() as session:
                newest = session.get_one(CursorRow, "leads").modified_at
            before = calls()
            naive = sum(1 for _ in connector.fetch_leads(
                since=SyncCursor(newest - lookback, "")))
            naive_calls = calls() - before
            before = calls()
            ours = pipeline.sync()
            ours_calls = calls() - before
            assert first.fetched == leads and ours.stored == 0
    finally:
        store.close()
        crm.close()
    return Row(kind, lookback.total_seconds(), naive, naive_calls, ours.fetched, ours_calls)


def _ratio(a: int, b: int) -> str:
    return f"{a / b:,.0f}x" if b else ("=" if a == 0 else "inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(kind, args.leads, Path(tmp)) for kind in
                ("sandbox", "salesforce", "hubspot")]
    print(f"A sync with nothing changed: {args.leads:,} leads written an hour ago in batches "
          "of 100 within a second")
    print(f"{'crm':<11}{'look-back':>10}{'fetched: naive':>16}{'ours':>7}{'ratio':>8}"
          f"{'calls: naive':>14}{'ours':>6}{'ratio':>8}")
    for r in rows:
        print(f"{r.crm:<11}{r.lookback_s:>9.0f}s{r.naive_fetched:>16,}{r.ours_fetched:>7,}"
              f"{_ratio(r.naive_fetched, r.ours_fetched):>8}{r.naive_calls:>14,}"
              f"{r.ours_calls:>6,}{_ratio(r.naive_calls, r.ours_calls):>8}")
    print("naive: the old rule (look back from the cursor, no id tie-break; HubSpot also "
          "listed every archived contact). ours: Pipeline.sync() now.")


if __name__ == "__main__":
    main()
