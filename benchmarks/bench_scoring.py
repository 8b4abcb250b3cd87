"""Points scoring: the vectorised scorer against a plain per-lead, per-criterion loop.

Run with ``python -m benchmarks.bench_scoring [--sizes 10000 100000] [--runs 5]``.
Builds synthetic leads (about ten events each), checks that both scorers give identical
results, and prints the median throughput of each side by side. It never fails on a time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from scoring import (
    Factor,
    LeadScore,
    Weights,
    build_frames,
    default_weights_path,
    load_weights,
    score_frame,
    score_leads,
)
from scoring.features import FIELD_KINDS
from scoring.points import _bool_label, _event_label, _number_label, _text_label
from scoring.weights import Criterion

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
INDUSTRIES = ("Software", "Logistics", "Retail", "Manufacturing", "Healthcare", "Education", "")
TITLES = ("VP Sales", "Head of Operations", "CEO", "Analyst", "IT Manager", "Intern", "")
DOMAINS = ("acme.example", "globex.example", "initech.example", "gmail.com", "yahoo.com")
KINDS = (
    "page_view",
    "page_view",
    "page_view",
    "email_open",
    "email_click",
    "form_submit",
    "webinar",
)
PAGES = ("/pricing", "/", "/docs", "/blog/lead-scoring-101", "/pricing/enterprise", "/careers")


def synthetic_leads(n: int, *, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` lead mappings shaped like ``Lead.model_dump()``, about ten events each."""
    rng = random.Random(seed)
    leads = []
    for number in range(n):
        events = []
        for _ in range(rng.randint(5, 15)):
            kind = rng.choice(KINDS)
            detail = rng.choice(PAGES) if kind == "page_view" else f"{kind} #{rng.randint(1, 9)}"
            # Whole seconds, as CRMs report them.
            at = NOW - timedelta(seconds=rng.randint(0, 90 * 86_400))
            events.append({"kind": kind, "detail": detail, "at": at})
        leads.append(
            {
                "crm_id": f"L{number:07d}",
                "email": f"lead{number}@{rng.choice(DOMAINS)}",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "title": rng.choice(TITLES),
                "company": f"Company {number // 3}",
                "industry": rng.choice(INDUSTRIES),
                "employees": None if rng.random() < 0.1 else int(rng.lognormvariate(5, 1.7)),
                "country": "United States",
                "lead_source": rng.choice(("Web", "Referral", "Partner")),
                "status": rng.choices(("open", "disqualified", "nurture"), (90, 5, 5))[0],
                "owner_id": f"U{number % 7}",
                "past_purchases": rng.choices((0, 1, 3), (80, 15, 5))[0],
                "lifetime_value": 0.0,
                "email_opt_out": rng.random() < 0.05,
                "notes": "",
                "events": events,
                "created_at": NOW - timedelta(days=rng.randint(1, 400)),
                "modified_at": NOW,
            }
        )
    return leads


# -- the baseline: one lead at a time, one criterion at a time ---------------------------------


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _field_value(lead: Mapping[str, Any], field: str) -> Any:
    if field == "email_domain":
        email = lead.get("email")
        return email.rpartition("@")[2].strip().lower() if isinstance(email, str) else None
    return lead.get(field)


def _naive_field(criterion: Criterion, lead: Mapping[str, Any]) -> tuple[bool, Any]:
    assert criterion.field is not None
    value = _field_value(lead, criterion.field)
    if not _present(value):
        return False, None
    if criterion.is_true is not None:
        return value is criterion.is_true, value
    if criterion.between is not None:
        return criterion.between[0] <= value <= criterion.between[1], value
    if criterion.at_least is not None:
        return value >= criterion.at_least, value
    if criterion.at_most is not None:
        return value <= criterion.at_most, value
    folded = str(value).strip().lower()
    if criterion.contains is not None:
        return any(needle.lower() in folded for needle in criterion.contains), value
    if criterion.in_ is not None:
        return folded in {item.strip().lower() for item in criterion.in_}, value
    if isinstance(criterion.equals, str):
        return folded == criterion.equals.strip().lower(), value
    return value == criterion.equals, value


def _naive_event(criterion: Criterion, lead: Mapping[str, Any], now: datetime) -> tuple[bool, int]:
    assert criterion.event is not None
    wanted = criterion.event.strip().lower()
    count = 0
    for event in lead.get("events") or ():
        if event["kind"].strip().lower() != wanted:
            continue
        if criterion.within_days is not None:
            age_days = (now - event["at"]).total_seconds() / 86_400
            if age_days > criterion.within_days:
                continue
        if criterion.detail_contains is not None:
            if criterion.detail_contains.lower() not in (event.get("detail") or "").lower():
                continue
        count += 1
    return count >= (criterion.min_count or 1), count


def _naive_label(criterion: Criterion, value: Any) -> str:
    # The wording is shared with the scorer on purpose: only the evaluation strategy differs.
    if criterion.event is not None:
        return _event_label(criterion, int(value))
    assert criterion.field is not None
    kind = FIELD_KINDS[criterion.field]
    if kind == "bool":
        return _bool_label(criterion, bool(criterion.is_true))
    if kind == "number":
        return _number_label(criterion, float(value))
    return _text_label(criterion, value)


def naive_score_leads(
    leads: Sequence[Mapping[str, Any]], weights: Weights, *, now: datetime
) -> list[LeadScore]:
    """The obvious implementation: a Python loop over leads, and over criteria inside it."""
    order = sorted(
        range(len(weights.criteria)), key=lambda i: (-abs(weights.criteria[i].points), i)
    )
    version = weights.version
    results = []
    for lead in leads:
        total = weights.base
        groups = {"fit": 0, "engagement": 0}
        factors = []
        for index in order:
            criterion = weights.criteria[index]
            if criterion.event is not None:
                fired, value = _naive_event(criterion, lead, now)
            else:
                fired, value = _naive_field(criterion, lead)
            if fired:
                total += criterion.points
                groups[criterion.group] += criterion.points
                if criterion.points:
                    label = _naive_label(criterion, value)
                    factors.append(Factor(label, criterion.points, criterion.group))
        score = min(100, max(0, total))
        fit, engagement = (min(100, max(0, groups[g])) for g in ("fit", "engagement"))
        results.append(
            LeadScore(
                str(lead["crm_id"]), score, weights.tier_for(score), tuple(factors), version,
                points_score=score, fit_score=fit, engagement_score=engagement,
                grade=weights.grid.grade(fit, engagement),
            )
        )
    return results


# -- timing -------------------------------------------------------------------------------------


def _median_seconds(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _row(cells: Sequence[str]) -> str:
    widths = (9, 11, 14, 14, 14, 10, 10)
    return " ".join(f"{cell:>{width}}" for cell, width in zip(cells, widths, strict=True)).rstrip()


def main(argv: Sequence[str] | None = None) -> None:
    """Time the scorers on each size and print leads per second side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    weights = load_weights(default_weights_path())
    print(f"weights: {default_weights_path().name} ({len(weights.criteria)} criteria)")
    print(f"median of {args.runs} runs, leads per second (seconds per run below)")
    print("  score_leads: from lead mappings (as Lead.model_dump()), frames built each run")
    print("  score_frame: frames built once, e.g. previewing several weights on one batch")
    print("  naive loop:  Python loop over leads, and over criteria inside it")
    header = _row(
        ("leads", "events", "score_leads", "score_frame", "naive loop", "x (leads)", "x (frame)")
    )
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        leads = synthetic_leads(size)
        events = sum(len(lead["events"]) for lead in leads)
        frames = build_frames(leads, now=NOW)
        expected = naive_score_leads(leads, weights, now=NOW)
        assert score_leads(leads, weights, now=NOW) == expected, "score_leads disagrees"
        assert score_frame(frames, weights) == expected, "score_frame disagrees"
        leads_s = _median_seconds(partial(score_leads, leads, weights, now=NOW), args.runs)
        frame_s = _median_seconds(partial(score_frame, frames, weights), args.runs)
        naive_s = _median_seconds(partial(naive_score_leads, leads, weights, now=NOW), args.runs)
        rates = (f"{size / leads_s:,.0f}", f"{size / frame_s:,.0f}", f"{size / naive_s:,.0f}")
        ratios = (f"{naive_s / leads_s:.1f}x", f"{naive_s / frame_s:.1f}x")
        print(_row((f"{size:,}", f"{events:,}", *rates, *ratios)))
        print(_row(("", "", f"{leads_s:.2f}s", f"{frame_s:.2f}s", f"{naive_s:.2f}s", "", "")))


if __name__ == "__main__":
    main()
