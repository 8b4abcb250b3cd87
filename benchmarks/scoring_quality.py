"""Model quality on real lead data with leadloop's default training path.

Run with ``python -m benchmarks.scoring_quality [--folds 5] [--data DIR]``. For each data set
it reads the raw CSV export (no column lists written for it, no tuning), runs the leakage
check and the model of :func:`scoring.train.cross_validate`, and prints cross-validated
ROC AUC, PR AUC, Brier score and expected calibration error beside the issue's targets, and
which fields the leakage check excluded and why. It never fails on a figure.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from scoring.train import cross_validate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TARGETS = {"xeducation": 0.91, "olist": 0.72}
ECE_TARGET = 0.03
NOT_CHOSEN = ("Select",)
"""Placeholders CRM forms store for "not chosen"; read as missing like empty cells."""


def xeducation(folder: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """The X Education leads: every column but the outcome ``Converted``."""
    frame = pd.read_csv(folder / "leads_xeducation.csv", na_values=list(NOT_CHOSEN))
    target = frame.pop("Converted").to_numpy(dtype=int)
    return frame, target


def olist(folder: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Olist MQLs joined with closed deals; converted = the MQL appears in closed deals.

    Every closed-deal column stays in the frame: telling them apart from the form fields is
    the leakage check's job.
    """
    leads = pd.read_csv(folder / "olist_marketing_qualified_leads_dataset.csv")
    deals = pd.read_csv(folder / "olist_closed_deals_dataset.csv")
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
    for name, load in (("xeducation", xeducation), ("olist", olist)):
        frame, target = load(args.data)
        start = time.perf_counter()
        # One OpenMP thread: boosting threads spin-wait badly on a shared 2-core machine.
        with threadpool_limits(limits=1):
            metrics, excluded = cross_validate(frame, target, folds=args.folds)
        seconds = time.perf_counter() - start
        print(f"== {name}: {len(frame):,} leads, {target.mean():.1%} converted, "
              f"{frame.shape[1]} columns, {args.folds}-fold CV in {seconds:.0f}s")
        auc_ok = "meets" if metrics.roc_auc >= TARGETS[name] else "misses"
        ece_ok = "meets" if metrics.ece <= ECE_TARGET else "misses"
        print(f"  ROC AUC {metrics.roc_auc:.4f}  ({auc_ok} target {TARGETS[name]})")
        print(f"  PR AUC  {metrics.pr_auc:.4f}  (base rate {target.mean():.3f})")
        print(f"  Brier   {metrics.brier:.4f}")
        print(f"  ECE     {metrics.ece:.4f}  ({ece_ok} target {ECE_TARGET})")
        print("  excluded by the leakage check:")
        for exclusion in excluded:
            print(f"    {exclusion.field!r:48} {exclusion.rule:20} {exclusion.reason}")
        print("  lift by decile: " + " ".join(f"{lift:.2f}" for _, _, lift in metrics.lift))


if __name__ == "__main__":
    main()
