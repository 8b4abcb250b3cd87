"""Leads to feature frames: typed plain columns, derived engagement columns, events frame."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from scoring import build_frames, lead_frame
from scoring.errors import LeadDataError
from scoring.features import (
    ENGAGEMENT_COLUMNS,
    EVENT_COLUMNS,
    FIELD_KINDS,
    LEAD_COLUMNS,
)

from .conftest import NOW, event, lead_record


def test_one_row_per_lead_indexed_by_crm_id_in_input_order() -> None:
    frame = lead_frame([lead_record("b"), lead_record("a"), lead_record("c")], now=NOW)
    assert frame.index.name == "crm_id"
    assert frame.index.tolist() == ["b", "a", "c"]


def test_plain_columns_are_typed_and_empty_text_is_missing() -> None:
    frame = lead_frame(
        [
            lead_record("a", employees=450, industry="Logistics", email_opt_out=True),
            lead_record("b", employees=None, industry="", email_opt_out=None),
        ],
        now=NOW,
    )
    assert frame["employees"].dtype == np.float64
    assert frame["past_purchases"].dtype == np.float64
    assert frame["email_opt_out"].dtype == "boolean"
    assert str(frame["created_at"].dtype).startswith("datetime64") and "UTC" in str(
        frame["created_at"].dtype
    )
    assert frame.loc["a", "employees"] == 450
    assert np.isnan(frame.loc["b", "employees"])
    assert frame.loc["a", "industry"] == "Logistics"
    assert pd.isna(frame.loc["b", "industry"])
    assert pd.isna(frame.loc["b", "email_opt_out"])


def test_every_field_a_criterion_may_test_is_a_column() -> None:
    frame = lead_frame([lead_record()], now=NOW)
    assert set(FIELD_KINDS) <= set(frame.columns)
    assert set(ENGAGEMENT_COLUMNS) <= set(frame.columns)


def test_email_domain_is_derived_lower_case() -> None:
    frame = lead_frame([lead_record("a", email="Ada@Example.COM")], now=NOW)
    assert frame.loc["a", "email_domain"] == "example.com"


def test_engagement_counts_windows_and_recency() -> None:
    lead = lead_record(
        "a",
        created_at=NOW - timedelta(days=100),
        events=[
            event("page_view", "/pricing", days_ago=2),
            event("page_view", "https://acme.io/Pricing?plan=team", days_ago=20),
            event("page_view", "/blog", days_ago=3),
            event("Email_Open", days_ago=40),
            event("webinar", days_ago=10),
            event("chat", "hello", days_ago=5),
        ],
    )
    row = lead_frame([lead, lead_record("b")], now=NOW).loc["a"]
    assert row["events_total"] == 6
    assert row["events_page_view"] == 3
    assert row["events_email_open"] == 1
    assert row["events_webinar"] == 1
    assert row["events_form_submit"] == 0
    assert row["events_other"] == 1
    assert row["events_last_14d"] == 4
    assert row["events_last_30d"] == 5
    assert row["pricing_views_14d"] == 1
    assert row["pricing_views_30d"] == 2
    assert row["days_since_last_activity"] == pytest.approx(2)
    assert row["account_age_days"] == pytest.approx(100)


def test_lead_without_events_or_dates_gets_zero_counts_and_missing_recency() -> None:
    row = lead_frame([lead_record("a", events=[], created_at=None)], now=NOW).loc["a"]
    assert row["events_total"] == 0
    assert row["pricing_views_14d"] == 0
    assert np.isnan(row["days_since_last_activity"])
    assert np.isnan(row["account_age_days"])


def test_events_frame_is_long_with_lower_case_kinds_and_ages() -> None:
    frames = build_frames(
        [
            lead_record("a", events=[event("Page_View", "/x", days_ago=1.5)]),
            lead_record("b", events=[]),
            lead_record("c", events=[event("webinar", None, days_ago=3), event("form_submit")]),  # type: ignore[arg-type]
        ],
        now=NOW,
    )
    events = frames.events
    assert tuple(events.columns) == EVENT_COLUMNS
    assert events["lead"].tolist() == [0, 2, 2]
    assert events["kind"].tolist() == ["page_view", "webinar", "form_submit"]
    assert events["detail"].tolist() == ["/x", "", ""]
    assert events["age_days"].tolist() == pytest.approx([1.5, 3, 1])
    assert frames.now == NOW


def test_empty_batch_gives_empty_frames_with_the_columns() -> None:
    frames = build_frames([], now=NOW)
    assert len(frames.leads) == 0 and len(frames.events) == 0
    assert set(FIELD_KINDS) <= set(frames.leads.columns)
    assert tuple(frames.events.columns) == EVENT_COLUMNS


def test_leads_may_be_any_iterable_and_minimal_mappings() -> None:
    leads = ({"crm_id": f"L{i}", "email": "x@y.io"} for i in range(3))
    frame = lead_frame(leads, now=NOW)
    assert frame.index.tolist() == ["L0", "L1", "L2"]
    assert frame["events_total"].tolist() == [0, 0, 0]


def test_naive_now_is_taken_as_utc() -> None:
    lead = lead_record("a", events=[event("webinar", days_ago=1)])
    aware = lead_frame([lead], now=NOW)
    naive = lead_frame([lead], now=NOW.replace(tzinfo=None))
    pd.testing.assert_frame_equal(aware, naive)


@pytest.mark.parametrize(
    ("lead", "message"),
    [
        ({"email": "x@y.io"}, "has no crm_id"),
        (lead_record("a", employees="many"), "lead a: employees should be a number"),
        (lead_record("a", email_opt_out="yes"), "lead a: email_opt_out should be true or false"),
        (lead_record("a", created_at="last week"), "lead a: created_at should be a date"),
        (lead_record("a", events=[{"kind": "", "at": NOW}]), "lead a: an event has no kind"),
        (lead_record("a", events=[{"kind": "x", "at": None}]), "lead a: an event has no readable"),
    ],
)
def test_unreadable_values_name_the_lead(lead: dict[str, object], message: str) -> None:
    with pytest.raises(LeadDataError, match=message):
        lead_frame([lead_record("ok"), lead], now=NOW)


def test_many_leads_are_aggregated_correctly() -> None:
    rng = np.random.default_rng(7)
    kinds = ["page_view", "email_open", "webinar", "form_submit", "email_click"]
    leads = []
    expected_pricing = []
    for i in range(2_000):
        ages = rng.uniform(0, 60, size=int(rng.integers(0, 12)))
        picked = rng.integers(0, len(kinds), size=len(ages))
        events = [
            event(kinds[k], "/pricing" if k == 0 and age % 2 < 1 else "/home", days_ago=float(age))
            for k, age in zip(picked, ages, strict=True)
        ]
        expected_pricing.append(
            sum(
                1
                for e, age in zip(events, ages, strict=True)
                if e["detail"] == "/pricing" and age <= 14
            )
        )
        leads.append(lead_record(f"L{i}", events=events))
    frame = lead_frame(leads, now=NOW)
    assert frame["pricing_views_14d"].tolist() == expected_pricing
    assert frame["events_total"].tolist() == [len(lead["events"]) for lead in leads]


def test_a_subset_of_columns_can_be_built() -> None:
    leads = [lead_record("a", industry="Retail", events=[event("webinar")])]
    frames = build_frames(leads, now=NOW, columns=["industry", "email_domain"], with_events=False)
    assert list(frames.leads.columns) == ["email_domain", "industry"]
    assert len(frames.events) == 0
    with pytest.raises(ValueError, match="unknown lead-frame columns"):
        build_frames(leads, now=NOW, columns=["industri"])
    with pytest.raises(ValueError, match="need with_events=True"):
        build_frames(leads, now=NOW, columns=["events_total"], with_events=False)
    full = lead_frame(leads, now=NOW)
    assert list(full.columns) == list(LEAD_COLUMNS)
