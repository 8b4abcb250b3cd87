"""Events dated after the scoring moment (a bad date such as 2999) earn no recency points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scoring import build_frames, default_weights_path, load_weights, score_leads
from scoring.features import future_dated_events

from .conftest import NOW, lead_record

PRICING_2999 = {"kind": "page_view", "detail": "/pricing",
                "at": datetime(2999, 1, 1, tzinfo=UTC)}


@pytest.mark.parametrize("batch_size", [1, 20], ids=["one lead", "a batch"])
def test_an_event_dated_2999_earns_no_pricing_visit_points(batch_size: int) -> None:
    weights = load_weights(default_weights_path())
    leads = [lead_record(f"L{i}", events=[PRICING_2999]) for i in range(batch_size)]
    result = score_leads(leads, weights, now=NOW)[0]
    assert result.score == 0
    assert not any("pricing" in factor.label for factor in result.factors)


def test_an_event_dated_2999_earns_nothing_under_decay() -> None:
    weights = load_weights(default_weights_path())
    decayed = weights.model_copy(update={"decay": weights.decay.model_copy(
        update={"half_life_days": 14.0})})
    result = score_leads([lead_record(events=[PRICING_2999])], decayed, now=NOW)[0]
    assert result.score == 0 and result.factors == ()


def test_a_visit_a_few_minutes_ahead_of_our_clock_still_counts() -> None:
    # CRM and server clocks disagree by minutes; such an event is fresh, not future-dated.
    skewed = {"kind": "page_view", "detail": "/pricing", "at": NOW + timedelta(minutes=5)}
    result = score_leads([lead_record(events=[skewed])], load_weights(default_weights_path()),
                         now=NOW)[0]
    assert result.score == 25


def test_future_dated_events_are_left_out_of_recency_columns() -> None:
    fresh = {"kind": "page_view", "detail": "/pricing", "at": NOW - timedelta(days=2)}
    frames = build_frames([lead_record(events=[fresh, PRICING_2999])], now=NOW)
    row = frames.leads.iloc[0]
    assert row["pricing_views_14d"] == 1 and row["events_total"] == 1
    assert row["days_since_last_activity"] == pytest.approx(2)
    assert future_dated_events([fresh, PRICING_2999], now=NOW) == 1
