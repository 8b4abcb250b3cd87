"""The points score: each criterion kind, clamping, tiers, reasons, and real lead data."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import (
    Factor,
    LeadScore,
    Weights,
    build_frames,
    default_weights_path,
    load_weights,
    parse_weights,
    score_leads,
    weights_from_mapping,
)
from scoring.errors import LeadDataError
from scoring.points import score_frame
from scoring.weights import Criterion

from .conftest import NOW, event, lead_record

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TIERS = {"A": 70, "B": 45, "C": 25, "approval_required": ["A"]}


def weights_with(*criteria: dict[str, Any], base: int = 0) -> Weights:
    return weights_from_mapping(
        {"name": "test", "base": base, "tiers": TIERS, "criteria": list(criteria)}
    )


def score_one(criterion: dict[str, Any], **lead_fields: Any) -> LeadScore:
    [result] = score_leads([lead_record(**lead_fields)], weights_with(criterion), now=NOW)
    return result


def fires(criterion: dict[str, Any], **lead_fields: Any) -> bool:
    result = score_one({**criterion, "points": 10}, **lead_fields)
    assert result.score in (0, 10)
    return result.score == 10


EMPLOYEES_200_1000 = {"field": "employees", "between": [200, 1000]}


@pytest.mark.parametrize(
    ("criterion", "lead_fields", "expected"),
    [
        (EMPLOYEES_200_1000, {"employees": 450}, True),
        (EMPLOYEES_200_1000, {"employees": 200}, True),
        (EMPLOYEES_200_1000, {"employees": 1000}, True),
        (EMPLOYEES_200_1000, {"employees": 199}, False),
        (EMPLOYEES_200_1000, {"employees": 1001}, False),
        (EMPLOYEES_200_1000, {"employees": None}, False),
        ({"field": "employees", "at_least": 1000}, {"employees": 1000}, True),
        ({"field": "employees", "at_least": 1000}, {"employees": 999}, False),
        ({"field": "employees", "at_least": 1000}, {"employees": None}, False),
        ({"field": "employees", "at_most": 50}, {"employees": 50}, True),
        ({"field": "employees", "at_most": 50}, {"employees": 51}, False),
        ({"field": "employees", "at_most": 50}, {"employees": None}, False),
        ({"field": "lifetime_value", "at_least": 999.5}, {"lifetime_value": 999.5}, True),
        ({"field": "past_purchases", "equals": 0}, {"past_purchases": 0}, True),
        ({"field": "past_purchases", "equals": 0}, {"past_purchases": 2}, False),
        ({"field": "industry", "in": ["logistics", "retail"]}, {"industry": "Logistics"}, True),
        ({"field": "industry", "in": ["logistics", "retail"]}, {"industry": " RETAIL "}, True),
        ({"field": "industry", "in": ["logistics", "retail"]}, {"industry": "finance"}, False),
        ({"field": "industry", "in": ["logistics", "retail"]}, {"industry": ""}, False),
        ({"field": "industry", "in": ["logistics", "retail"]}, {"industry": None}, False),
        ({"field": "status", "equals": "Disqualified"}, {"status": "disqualified"}, True),
        ({"field": "status", "equals": "disqualified"}, {"status": "open"}, False),
        ({"field": "title", "contains": "vp"}, {"title": "SVP, Sales"}, True),
        ({"field": "title", "contains": "vp"}, {"title": "Engineer"}, False),
        ({"field": "title", "contains": "vp"}, {"title": ""}, False),
        ({"field": "title", "contains": ["chief", "head of"]}, {"title": "Head of Ops"}, True),
        ({"field": "title", "contains": ["chief", "head of"]}, {"title": "Analyst"}, False),
        ({"field": "title", "contains": "c++"}, {"title": "Senior C++ Developer"}, True),
        ({"field": "title", "contains": "v.p"}, {"title": "VIP host"}, False),
        ({"field": "email_domain", "in": ["gmail.com"]}, {"email": "ada@GMail.com"}, True),
        ({"field": "email_domain", "in": ["gmail.com"]}, {"email": "ada@acme.com"}, False),
        ({"field": "email_opt_out", "is_true": True}, {"email_opt_out": True}, True),
        ({"field": "email_opt_out", "is_true": True}, {"email_opt_out": False}, False),
        ({"field": "email_opt_out", "is_true": True}, {"email_opt_out": None}, False),
        ({"field": "email_opt_out", "is_true": False}, {"email_opt_out": False}, True),
        ({"field": "email_opt_out", "is_true": False}, {"email_opt_out": None}, False),
        ({"field": "account_age_days", "at_most": 30}, {}, True),
        ({"field": "account_age_days", "at_most": 30}, {"created_at": None}, False),
        (
            {"field": "days_since_last_activity", "at_most": 7},
            {"events": [event("x", days_ago=3)]},
            True,
        ),
        ({"field": "days_since_last_activity", "at_most": 7}, {"events": []}, False),
    ],
)
def test_field_criterion_fires_only_when_it_matches(
    criterion: dict[str, Any], lead_fields: dict[str, Any], expected: bool
) -> None:
    assert fires(criterion, **lead_fields) is expected


PRICING = {"event": "page_view", "detail_contains": "/pricing", "within_days": 14}


@pytest.mark.parametrize(
    ("criterion", "events", "expected"),
    [
        (PRICING, [event("page_view", "/pricing", days_ago=2)], True),
        (PRICING, [event("Page_View", "https://x.io/PRICING/teams", days_ago=2)], True),
        (PRICING, [event("page_view", "/pricing", days_ago=14)], True),
        (PRICING, [event("page_view", "/pricing", days_ago=14.01)], False),
        (PRICING, [event("page_view", "/blog", days_ago=2)], False),
        (PRICING, [event("email_click", "/pricing", days_ago=2)], False),
        (PRICING, [], False),
        ({**PRICING, "min_count": 2}, [event("page_view", "/pricing")], False),
        ({**PRICING, "min_count": 2}, [event("page_view", "/pricing")] * 2, True),
        (
            {**PRICING, "min_count": 2},
            [event("page_view", "/pricing"), event("page_view", "/pricing", days_ago=20)],
            False,
        ),
        ({"event": "webinar"}, [event("webinar", days_ago=400)], True),
        ({"event": "webinar", "within_days": 90}, [event("webinar", days_ago=400)], False),
        ({"event": "never_seen"}, [event("webinar")], False),
    ],
)
def test_event_criterion_counts_matching_events_in_the_window(
    criterion: dict[str, Any], events: list[dict[str, Any]], expected: bool
) -> None:
    assert fires(criterion, events=events) is expected


def test_score_is_clamped_to_0_and_100() -> None:
    high = weights_with(
        {"field": "industry", "in": ["retail"], "points": 80},
        {"field": "employees", "at_least": 1, "points": 80},
        base=10,
    )
    low = weights_with({"field": "email_opt_out", "is_true": True, "points": -100}, base=20)
    [top] = score_leads([lead_record(industry="retail", employees=5)], high, now=NOW)
    [bottom] = score_leads([lead_record(email_opt_out=True)], low, now=NOW)
    assert (top.score, top.tier) == (100, "A")
    assert (bottom.score, bottom.tier) == (0, "D")
    assert sum(f.points for f in top.factors) == 160


def test_base_points_apply_to_every_lead() -> None:
    weights = weights_with({"field": "industry", "in": ["retail"], "points": 10}, base=40)
    results = score_leads([lead_record("a", industry="retail"), lead_record("b")], weights, now=NOW)
    assert [(r.crm_id, r.score, r.tier) for r in results] == [("a", 50, "B"), ("b", 40, "C")]
    assert results[1].factors == ()


@pytest.mark.parametrize(
    ("points", "tier"), [(70, "A"), (69, "B"), (45, "B"), (25, "C"), (24, "D")]
)
def test_tier_follows_the_thresholds(points: int, tier: str) -> None:
    weights = weights_with({"field": "industry", "in": ["retail"], "points": points})
    [result] = score_leads([lead_record(industry="retail")], weights, now=NOW)
    assert result.tier == tier == weights.tier_for(points)


def test_reasons_read_like_a_rep_would_say_them() -> None:
    weights = parse_weights(
        """
        name = "labels"
        [tiers]
        A = 70
        B = 45
        C = 25
        [[criteria]]
        name = "visited the pricing page"
        event = "page_view"
        detail_contains = "/pricing"
        within_days = 14
        points = 20
        [[criteria]]
        field = "employees"
        between = [200, 1000]
        points = 15
        [[criteria]]
        field = "industry"
        in = ["logistics", "retail"]
        points = 10
        [[criteria]]
        field = "email_opt_out"
        is_true = true
        points = -100
        [[criteria]]
        event = "webinar"
        within_days = 90
        points = 5
        """
    )
    lead = lead_record(
        employees=450,
        industry="logistics",
        email_opt_out=True,
        events=[event("page_view", "/pricing", days_ago=d) for d in (1, 2, 3, 4)]
        + [event("webinar", days_ago=10)],
    )
    [result] = score_leads([lead], weights, now=NOW)
    assert [str(f) for f in result.factors] == [
        "opted out of email: -100",
        "visited the pricing page 4 times in the last 14 days: +20",
        "company size 450 employees (200-1,000): +15",
        "industry is logistics: +10",
        "attended a webinar once in the last 90 days: +5",
    ]
    assert result.factors[1] == Factor(
        "visited the pricing page 4 times in the last 14 days", 20, "engagement"
    )
    assert [f.group for f in result.factors] == ["fit", "engagement", "fit", "fit", "engagement"]


def test_named_field_criteria_show_the_lead_value() -> None:
    weights = load_weights(default_weights_path())
    lead = lead_record(
        employees=450, title="VP of Sales", email="ada@gmail.com", status="Disqualified"
    )
    [result] = score_leads([lead], weights, now=NOW)
    labels = {f.label for f in result.factors}
    assert {"mid-size company (450 employees)", "senior title (VP of Sales)"} <= labels
    assert {"personal email address (gmail.com)", "marked disqualified"} <= labels
    assert result.score == 0


def test_factors_are_ordered_by_size_with_file_order_for_ties_and_skip_zero_points() -> None:
    weights = weights_with(
        {"name": "small", "field": "industry", "in": ["retail"], "points": 5},
        {"name": "tie one", "field": "employees", "at_least": 1, "points": -10},
        {"name": "zero", "field": "title", "contains": "vp", "points": 0},
        {"name": "tie two", "field": "past_purchases", "at_least": 1, "points": 10},
        {"name": "big", "field": "email_opt_out", "is_true": False, "points": 30},
    )
    lead = lead_record(industry="retail", employees=3, title="VP", past_purchases=1)
    [result] = score_leads([lead], weights, now=NOW)
    assert [f.label.split(" (")[0] for f in result.factors] == [
        "big",
        "tie one",
        "tie two",
        "small",
    ]
    assert result.score == 35


def test_lead_without_optional_fields_scores_without_crashing() -> None:
    bare = {"crm_id": "bare", "email": "x@y.io", "owner_id": "rep", "modified_at": NOW}
    [result] = score_leads([bare], load_weights(default_weights_path()), now=NOW)
    assert (result.crm_id, result.score, result.tier, result.factors) == ("bare", 0, "D", ())


def test_results_keep_input_order_and_carry_the_weights_version() -> None:
    weights = load_weights(default_weights_path())
    leads = (lead_record(f"L{i}", employees=i * 100) for i in range(20, 0, -1))
    results = score_leads(leads, weights, now=NOW)
    assert [r.crm_id for r in results] == [f"L{i}" for i in range(20, 0, -1)]
    assert {r.weights_version for r in results} == {weights.version}
    assert score_leads([], weights, now=NOW) == []


def test_events_may_be_objects_or_iso_strings_and_naive_times_are_utc() -> None:
    class Event:
        def __init__(self, kind: str, detail: str, at: Any) -> None:
            self.kind, self.detail, self.at = kind, detail, at

    naive = (NOW - timedelta(days=2)).replace(tzinfo=None)
    weights = weights_with({**PRICING, "min_count": 3, "points": 20})
    lead = lead_record(
        events=[
            Event("page_view", "/pricing", naive),
            {
                "kind": "page_view",
                "detail": "/pricing",
                "at": (NOW - timedelta(days=1)).isoformat(),
            },
            {
                "kind": "page_view",
                "detail": "/pricing",
                "at": NOW.astimezone(UTC) - timedelta(hours=5),
            },
        ]
    )
    [result] = score_leads([lead], weights, now=NOW.replace(tzinfo=None))
    assert result.score == 20


def test_json_mode_leads_with_iso_text_dates_score_the_same() -> None:
    weights = load_weights(default_weights_path())
    leads = [
        lead_record(
            f"L{i}",
            employees=300,
            events=[event("page_view", "/pricing", days_ago=d) for d in range(i)]
            + [event("webinar", days_ago=40)],
        )
        for i in range(5)
    ]

    def as_json(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat().replace("+00:00", "Z")
        if isinstance(value, list):
            return [as_json(item) for item in value]
        if isinstance(value, dict):
            return {key: as_json(item) for key, item in value.items()}
        return value

    assert score_leads([as_json(lead) for lead in leads], weights, now=NOW) == score_leads(
        leads, weights, now=NOW
    )


def test_unreadable_lead_values_raise_lead_data_error() -> None:
    weights = load_weights(default_weights_path())
    with pytest.raises(LeadDataError, match="lead b: employees should be a number"):
        score_leads([lead_record("a"), lead_record("b", employees="lots")], weights, now=NOW)
    with pytest.raises(LeadDataError, match="lead a: appears twice"):
        score_leads([lead_record("a"), lead_record("a")], weights, now=NOW)
    with pytest.raises(LeadDataError, match="event has no kind"):
        score_leads([lead_record("a", events=[{"detail": "x", "at": NOW}])], weights, now=NOW)
    with pytest.raises(LeadDataError, match="no readable date"):
        score_leads([lead_record("a", events=[{"kind": "x", "at": "soon"}])], weights, now=NOW)


def test_score_frame_matches_score_leads() -> None:
    weights = load_weights(default_weights_path())
    leads = [
        lead_record(f"L{i}", employees=i * 50, events=[event("webinar")] * (i % 3))
        for i in range(30)
    ]
    assert score_frame(build_frames(leads, now=NOW), weights) == score_leads(
        leads, weights, now=NOW
    )


def test_lead_score_and_factor_are_frozen() -> None:
    [result] = score_leads([lead_record()], load_weights(default_weights_path()), now=NOW)
    with pytest.raises(FrozenInstanceError):
        result.score = 99  # type: ignore[misc]


# -- property: the score is always base + reasons, clamped, whatever the lead -----------------

CRITERIA_POOL: list[dict[str, Any]] = [
    {"field": "employees", "between": [200, 1000]},
    {"field": "employees", "at_least": 1000},
    {"field": "employees", "at_most": 50},
    {"field": "past_purchases", "equals": 0},
    {"field": "industry", "in": ["retail", "logistics"]},
    {"field": "industry", "equals": "finance"},
    {"field": "title", "contains": ["vp", "head of"]},
    {"field": "email_opt_out", "is_true": True},
    {"field": "email_opt_out", "is_true": False},
    {"event": "page_view", "detail_contains": "/pricing", "within_days": 14, "min_count": 2},
    {"event": "webinar"},
    {"event": "form_submit", "within_days": 30},
]

events_strategy = st.builds(
    event,
    st.sampled_from(["page_view", "Page_View", "webinar", "form_submit", "email_click"]),
    st.sampled_from(["", "/pricing", "/PRICING/teams", "/blog"]),
    days_ago=st.floats(min_value=0, max_value=60, allow_nan=False),
)

leads_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "employees": st.one_of(st.none(), st.integers(0, 5000)),
            "past_purchases": st.integers(0, 3),
            "industry": st.sampled_from(["", "Retail", " logistics ", "Finance", "farming"]),
            "title": st.sampled_from(["", "VP Sales", "Engineer", "head of ops"]),
            "email_opt_out": st.one_of(st.booleans(), st.none()),
            "events": st.lists(events_strategy, max_size=6),
        }
    ),
    min_size=1,
    max_size=8,
)

weights_strategy = st.builds(
    lambda base, points, chosen: weights_with(
        *(
            {**criterion, "points": p}
            for criterion, p, keep in zip(CRITERIA_POOL, points, chosen, strict=True)
            if keep
        ),
        {"field": "country", "equals": "nowhere", "points": 1},
        base=base,
    ),
    st.integers(0, 100),
    st.lists(st.integers(-150, 150), min_size=len(CRITERIA_POOL), max_size=len(CRITERIA_POOL)),
    st.lists(st.booleans(), min_size=len(CRITERIA_POOL), max_size=len(CRITERIA_POOL)),
)


def reference_fires(criterion: Criterion, lead: dict[str, Any]) -> bool:
    """A deliberately plain, one-lead-at-a-time reading of a criterion."""
    if criterion.event is not None:
        count = 0
        for item in lead["events"]:
            age = (NOW - item["at"]).total_seconds() / 86_400
            if item["kind"].lower() != criterion.event:
                continue
            if criterion.within_days is not None and age > criterion.within_days:
                continue
            if (
                criterion.detail_contains
                and criterion.detail_contains not in item["detail"].lower()
            ):
                continue
            count += 1
        return count >= (criterion.min_count or 1)
    assert criterion.field is not None
    value = lead.get(criterion.field)
    if value is None or value == "":
        return False
    if criterion.is_true is not None:
        return bool(value is criterion.is_true)
    if criterion.between is not None:
        return bool(criterion.between[0] <= value <= criterion.between[1])
    if criterion.at_least is not None:
        return bool(value >= criterion.at_least)
    if criterion.at_most is not None:
        return bool(value <= criterion.at_most)
    if criterion.contains is not None:
        return any(needle in value.lower() for needle in criterion.contains)
    if criterion.in_ is not None:
        return value.strip().lower() in criterion.in_
    if isinstance(criterion.equals, str):
        return bool(value.strip().lower() == criterion.equals.lower())
    return bool(value == criterion.equals)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=leads_strategy, weights=weights_strategy)
def test_score_is_base_plus_reasons_clamped_and_matches_a_plain_reading(
    rows: list[dict[str, Any]], weights: Weights
) -> None:
    leads = [lead_record(f"L{i}", **row) for i, row in enumerate(rows)]
    results = score_leads(leads, weights, now=NOW)
    for lead, result in zip(leads, results, strict=True):
        assert 0 <= result.score <= 100
        total = weights.base + sum(f.points for f in result.factors)
        assert result.score == min(100, max(0, total))
        fired = [c.points for c in weights.criteria if c.points and reference_fires(c, lead)]
        assert result.score == min(100, max(0, weights.base + sum(fired)))
        assert sorted(f.points for f in result.factors) == sorted(fired)
        assert [abs(f.points) for f in result.factors] == sorted(
            (abs(p) for p in fired), reverse=True
        )
        assert result.tier == weights.tier_for(result.score)
        # Scoring a lead alone gives what it got in the batch.
        assert score_leads([lead], weights, now=NOW) == [result]


# -- real leads: the points score should rank converters first ----------------------------------

X_EDUCATION_WEIGHTS = """
name = "x-education"
[tiers]
A = 60
B = 40
C = 20

[[criteria]]
field = "lead_source"
in = ["reference", "welingak website"]
points = 30

[[criteria]]
field = "title"
equals = "working professional"
points = 30

[[criteria]]
event = "form_submit"
points = 30

[[criteria]]
name = "read course pages"
event = "page_view"
detail_contains = "/courses"
min_count = 2
points = 20

[[criteria]]
name = "read course pages at length"
event = "page_view"
detail_contains = "/courses"
min_count = 4
points = 20

[[criteria]]
field = "email_opt_out"
is_true = true
points = -20
"""


def _x_education_lead(row: dict[str, str], clean: Callable[[str], str | None]) -> dict[str, Any]:
    def number(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return 0.0

    day = NOW - timedelta(days=1)
    visits = min(int(number(row["TotalVisits"])), 50)
    reading_blocks = int(number(row["Total Time Spent on Website"]) // 300)  # 5-minute blocks
    events = [{"kind": "page_view", "detail": "/", "at": day}] * visits
    events += [{"kind": "page_view", "detail": "/courses", "at": day}] * reading_blocks
    if row["Lead Origin"] in {"Lead Add Form", "Quick Add Form"}:
        events.append({"kind": "form_submit", "detail": row["Lead Origin"], "at": day})
    return lead_record(
        row["Prospect ID"],
        email=f"lead{row['Lead Number']}@example.com",
        lead_source=clean(row["Lead Source"]),
        title=clean(row["What is your current occupation"]),
        country=clean(row["Country"]),
        email_opt_out=row["Do Not Email"] == "Yes",
        events=events,
    )


@pytest.mark.shared_data
def test_points_rank_x_education_converters_above_non_converters() -> None:
    path = SHARED_DATA / "leads_xeducation.csv"
    if not path.is_file():
        pytest.skip(f"real lead data not found at {path} (../shared/data is not in a fresh clone)")
    roc_auc_score = pytest.importorskip("sklearn.metrics").roc_auc_score

    def clean(value: str) -> str | None:
        value = value.strip()
        return None if value in {"", "Select"} else value  # "Select" means not chosen

    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    leads = [_x_education_lead(row, clean) for row in rows]
    converted = [int(row["Converted"]) for row in rows]
    results = score_leads(leads, parse_weights(X_EDUCATION_WEIGHTS), now=NOW)
    auc = roc_auc_score(converted, [r.score for r in results])
    # Measured 0.812 with these six criteria (no leaky columns used); a learned model on the
    # same data reaches about 0.86-0.90 (see shared/data/SOURCES.md).
    assert auc > 0.79, f"ROC AUC {auc:.3f}"
    tier_a = [c for c, r in zip(converted, results, strict=True) if r.tier == "A"]
    assert sum(tier_a) / len(tier_a) > 2 * sum(converted) / len(converted)
