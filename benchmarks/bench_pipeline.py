"""The loop's wall time: the demo against its one-minute limit, and each step per lead.

Run with ``python -m benchmarks.bench_pipeline [--demo-runs 3] [--sizes 2000 10000]``.
Prints medians and ratios; never fails on a time (this machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from connectors.sandbox import SandboxConnector, SandboxCRM
from drafting import TemplateDrafter
from leadloop.demo import run_demo
from leadloop.pipeline import Pipeline
from leadloop.settings import Settings
from review_api.store.db import Store
from scoring import default_weights_path, load_weights

DEMO_LIMIT_S = 60.0
STEPS = ("sync", "score", "propose", "reconcile", "send")


def bench_demo(runs: int) -> None:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            summary = run_demo(Settings(data_dir=Path(folder)), leads=500, seed=7)
            times.append(summary.seconds)
            assert summary.sent_without_approval == 0
    median = statistics.median(times)
    print(f"demo, 500 leads: median {median:.2f} s over {runs} runs "
          f"(min {min(times):.2f}, max {max(times):.2f}); "
          f"limit {DEMO_LIMIT_S:.0f} s; median/limit = {median / DEMO_LIMIT_S:.3f}")


def bench_steps(size: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        crm = SandboxCRM(root / "sandbox.db")
        crm.seed(size, seed=1)
        store = Store.open(f"sqlite:///{root / 'store.db'}")
        pipeline = Pipeline(store=store, connector=SandboxConnector(crm),
                            weights=load_weights(default_weights_path()),
                            drafter=TemplateDrafter(), clock=lambda: datetime.now(UTC))
        timings: dict[str, float] = {}
        for step in STEPS:
            started = time.perf_counter()
            getattr(pipeline, step)()
            timings[step] = time.perf_counter() - started
        for step in ("sync", "score"):
            started = time.perf_counter()
            getattr(pipeline, step)()
            timings[f"re-{step} (nothing changed)"] = time.perf_counter() - started
        store.close()
    print(f"\n{size:,} leads, one run each")
    print(f"{'step':>28} {'seconds':>8} {'ms/lead':>8}")
    for step, seconds in timings.items():
        print(f"{step:>28} {seconds:8.2f} {1000 * seconds / size:8.3f}")
    ratio = timings["re-sync (nothing changed)"] / timings["sync"]
    print(f"{'re-sync / first sync':>28} {ratio:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo-runs", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="*", default=[2_000, 10_000])
    args = parser.parse_args()
    bench_demo(args.demo_runs)
    for size in args.sizes:
        bench_steps(size)


if __name__ == "__main__":
    main()
