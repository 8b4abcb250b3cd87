"""Model quality on real lead data with leadloop's default training path.

Run with ``python -m benchmarks.scoring_quality [--folds 5] [--data DIR]``. For each data set
it reads the raw CSV export through the same reader as ``leadloop train --csv`` (no column
lists written for it, no tuning), and measures the default training path twice on leads the
model never saw: cross-validated (:func:`scoring.train.cross_validate`, leakage check and fit
inside every fold) and on the held-out split of :func:`scoring.train.train` (by time when
there is a date). It prints a quality table beside the issue's targets, as ratios, and which
fields the leakage check excluded and why. It never fails on a figure.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from connectors.csvfile import read_csv_frame
from scoring.metrics import Metrics
from scoring.train import cross_validate, train

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TARGETS = {"xeducation": 0.91, "olist": 0.72}
ECE_TARGET = 0.03


def xeducation(folder: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """The X Education leads: every column but the outcome ``Converted``."""
    frame = read_csv_frame(folder / "leads_xeducation.csv", expected="the X Education export")
    target = frame.pop("Converted").to_numpy(dtype=int)
    return frame, target


def olist(folder: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Olist MQLs joined with closed deals; converted = the MQL appears in closed deals.

    Every closed-deal column stays in the frame: telling them apart from the form fields is
    the leakage check's job.
    """
    leads = read_csv_frame(folder / "olist_marketing_qualified_leads_dataset.csv", expected="")
    deals = read_csv_frame(folder / "olist_closed_deals_dataset.csv", expected="")
    frame = leads.merge(deals, on="mql_id", how="left")
    target = frame["mql_id"].isin(set(deals["mql_id"])).to_numpy(dtype=int)
    return frame, target


def main(argv: Sequence[str] | None = None) -> None:
    """Cross-validate the default training path on each real data set and print figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"skipped: {args.data} is absent (real lead data lives in ../shared/data)")
        return
    rows: list[tuple[str, str, Metrics]] = []
    for name, load in (("xeducation", xeducation), ("olist", olist)):
        frame, target = load(args.data)
        start = time.perf_counter()
        # One OpenMP thread: boosting threads spin-wait badly on a shared 2-core machine.
        with threadpool_limits(limits=1):
            metrics, excluded = cross_validate(frame, target, folds=args.folds)
            held = train(frame, target, measure_suspects=False)
        seconds = time.perf_counter() - start
        print(f"== {name}: {len(frame):,} leads, {target.mean():.1%} converted, "
              f"{frame.shape[1]} columns, {args.folds}-fold CV and one holdout in {seconds:.0f}s")
        print(f"  holdout: {held.split}")
        print("  excluded by the leakage check:")
        for exclusion in excluded:
            print(f"    {exclusion.field!r:48} {exclusion.rule:22} {exclusion.reason}")
        print("  lift by decile (CV): " + " ".join(f"{lift:.2f}" for _, _, lift in metrics.lift))
        rows.append((name, f"{args.folds}-fold CV", metrics))
        rows.append((name, "holdout", held.metrics))
    print()
    print(f"{'dataset':<11} {'measured on':<11} {'ROC AUC':>8} {'target':>7} {'ratio':>6} "
          f"{'PR AUC':>7} {'base':>6} {'ECE':>7} {'target':>7} {'ratio':>6}")
    for name, how, m in rows:
        base = m.positives / m.rows if m.rows else float("nan")
        print(f"{name:<11} {how:<11} {m.roc_auc:>8.4f} {TARGETS[name]:>7.2f} "
              f"{m.roc_auc / TARGETS[name]:>6.3f} {m.pr_auc:>7.4f} {base:>6.3f} {m.ece:>7.4f} "
              f"{ECE_TARGET:>7.2f} {m.ece / ECE_TARGET:>6.2f}")
    print("ratios: ROC AUC / target (at least 1 meets it), ECE / target (at most 1 meets it)")


if __name__ == "__main__":
    main()
