"""Scoring at scale: a million leads from records to score, tier and top three factors.

Run with ``python -m benchmarks.bench_scoring_scale [--leads 1000000] [--sample 20000]``.
First times a reference in the same run: scikit-learn's HistGradientBoostingClassifier
``predict_proba`` on 1,000,000 x 20 floats (median of three). Then prints the time and the
memory added (process RSS peak) of scoring the leads beside that reference and beside a
naive per-row loop timed on a sample (and scaled up), then the median latency of scoring
one lead, with the points alone and blended with a small trained model, beside 5 ms.
Targets from issue 16: within 1.25x of the reference, at most 1 GB added, at most 5 ms for
one blended lead. It never fails on a time.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from benchmarks.bench_scoring import NOW, naive_score_leads, synthetic_leads
from scoring import default_weights_path, load_weights, score_leads
from scoring.blend import ScoringModel, score_leads_blended
from scoring.train import labelled_leads, train


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _latency_ms(run: object, leads: list[dict[str, object]], repeats: int) -> float:
    times = []
    for index in range(repeats):
        lead = leads[index % len(leads)]
        start = time.perf_counter()
        run([lead])  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def reference_seconds(rows: int = 1_000_000, columns: int = 20, runs: int = 3) -> float:
    """Median seconds of HistGradientBoosting ``predict_proba`` on ``rows`` x ``columns``."""
    rng = np.random.default_rng(0)
    train_x = rng.random((20_000, columns))
    train_y = (train_x[:, 0] + 0.5 * train_x[:, 1] + rng.normal(0, 0.3, 20_000)) > 0.75
    model = HistGradientBoostingClassifier(random_state=0).fit(train_x, train_y)
    batch = rng.random((rows, columns))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.predict_proba(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> None:
    """Time scoring a large batch and single leads, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args(argv)
    weights = load_weights(default_weights_path())
    reference = reference_seconds()
    print(f"reference: HistGradientBoosting predict_proba 1,000,000 x 20: {reference:.2f} s")
    start = time.perf_counter()
    leads = synthetic_leads(args.leads)
    built = time.perf_counter() - start
    events = sum(len(lead["events"]) for lead in leads)
    rss_records = _rss_gb()
    print(f"{args.leads:,} synthetic sandbox leads, {events:,} events "
          f"(built in {built:.0f}s; process peak {rss_records:.2f} GB holding the records)")
    start = time.perf_counter()
    results = score_leads(leads, weights, now=NOW)
    top3 = [result.factors[:3] for result in results]
    seconds = time.perf_counter() - start
    peak = _rss_gb()
    print(f"score_leads: {seconds:.1f}s for score, tier and top three factors "
          f"({args.leads / seconds:,.0f} leads/s)")
    print(f"score_leads / reference: {seconds / reference:.2f} (target at most 1.25)")
    print(f"peak memory (process RSS, records included): {peak:.2f} GB; "
          f"added by scoring: {peak - rss_records:.2f} GB (target at most 1 GB)")
    assert len(top3) == len(leads)
    sample = leads[: args.sample]
    start = time.perf_counter()
    naive = naive_score_leads(sample, weights, now=NOW)
    naive_s = (time.perf_counter() - start) * len(leads) / len(sample)
    assert naive == results[: len(sample)], "the naive loop disagrees"
    print(f"naive per-row loop: {naive_s:.1f}s scaled from {len(sample):,} leads; "
          f"naive / score_leads: {naive_s / seconds:.2f}")
    del results, top3, naive, leads

    few = synthetic_leads(2_000, seed=11)
    rng = np.random.default_rng(0)
    for lead in few:
        hot = sum("/pricing" in e["detail"] for e in lead["events"])  # type: ignore[index,union-attr]
        lead["status"] = "converted" if rng.random() < 0.1 + 0.15 * hot else "disqualified"
    labelled = labelled_leads(few, now=NOW)
    with threadpool_limits(limits=1):
        model = ScoringModel(
            train(labelled.frame.reset_index(drop=True), labelled.target).model, "m-bench",
            labels=len(labelled.target),
        )

        def points(batch: list[dict[str, object]]) -> object:
            return score_leads(batch, weights, now=NOW)

        def blended(batch: list[dict[str, object]]) -> object:
            return score_leads_blended(batch, weights, now=NOW, model=model, blend=0.5)

        print(f"one lead, points only: median {_latency_ms(points, few, args.repeats):.2f} ms "
              "(target < 5 ms)")
        one_lead = _latency_ms(blended, few, args.repeats // 3)
        print(f"one lead, blended with a model and its contributions: median "
              f"{one_lead:.2f} ms; / 5 ms target: {one_lead / 5.0:.2f}")


if __name__ == "__main__":
    main()
