"""Fit and engagement apart: the two sub-scores, the grade grid and its settings."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import (
    LeadScore,
    WeightsError,
    default_weights_path,
    load_weights,
    parse_weights,
    score_leads,
    weights_from_mapping,
)
from scoring.grid import GRADES, Grid
from scoring.points import FEW_LEADS, score_few

from .conftest import NOW, event, lead_record

DEFAULT = load_weights(default_weights_path())
TIERS = {"A": 70, "B": 45, "C": 25}


def _group_sum(result: LeadScore, group: str) -> int:
    return sum(f.points for f in result.factors if f.group == group)


def test_default_weights_split_fit_from_engagement() -> None:
    lead = lead_record(employees=450, industry="Logistics", title="VP Sales",
                       events=[event("page_view", "/pricing", days_ago=2)])
    [result] = score_leads([lead], DEFAULT, now=NOW)
    # mid-size 15 + target industry 10 + senior title 15; the pricing visit is engagement.
    assert (result.fit_score, result.engagement_score) == (40, 25)
    assert result.score == 65
    assert result.grade == "A2"


def test_negative_points_lower_their_own_group_and_never_go_below_zero() -> None:
    lead = lead_record(email="x@gmail.com", employees=10,
                       events=[event("form_submit", days_ago=3)])
    [result] = score_leads([lead], DEFAULT, now=NOW)
    assert result.fit_score == 0  # -10 personal address, -5 very small company
    assert result.engagement_score == 15
    assert result.grade == "C2"


def test_a_cap_limits_its_group_sub_score() -> None:
    weights = weights_from_mapping({
        "name": "t", "tiers": TIERS, "caps": {"fit": 20},
        "criteria": [{"field": "employees", "at_least": 1, "points": 15},
                     {"field": "industry", "equals": "retail", "points": 15},
                     {"event": "webinar", "points": 30}],
    })
    leads = [lead_record(f"L{i}", employees=5, industry="retail", events=[event("webinar")])
             for i in range(FEW_LEADS + 1)]
    for result in (score_leads(leads, weights, now=NOW)[0],
                   score_few(leads[:1], weights, now=NOW)[0]):
        assert (result.fit_score, result.engagement_score, result.score) == (20, 30, 50)
        assert _group_sum(result, "fit") == 20


CRITERIA = [
    {"field": "employees", "at_least": 100, "points": 30},
    {"field": "industry", "equals": "retail", "points": 25},
    {"field": "title", "contains": "vp", "points": 40},
    {"field": "email_opt_out", "is_true": True, "points": -20},
    {"event": "page_view", "points": 35},
    {"event": "webinar", "within_days": 30, "points": 45},
    {"event": "email_click", "points": -10, "group": "fit"},
    {"field": "past_purchases", "at_least": 1, "points": 20, "group": "engagement"},
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    leads=st.lists(
        st.fixed_dictionaries({
            "employees": st.sampled_from([None, 5, 500]),
            "industry": st.sampled_from(["", "retail", "banking"]),
            "title": st.sampled_from(["", "VP Sales"]),
            "email_opt_out": st.booleans(),
            "past_purchases": st.sampled_from([0, 2]),
            "events": st.lists(st.sampled_from(["page_view", "webinar", "email_click"]),
                               max_size=3),
        }),
        min_size=1, max_size=2 * FEW_LEADS,
    ),
    caps=st.fixed_dictionaries({"fit": st.sampled_from([None, 30]),
                                "engagement": st.sampled_from([None, 50]),
                                "total": st.sampled_from([None, 60])}),
)
def test_a_sub_score_is_its_groups_reasons_in_both_paths(
    leads: list[dict[str, Any]], caps: dict[str, int | None]
) -> None:
    weights = weights_from_mapping({"name": "t", "tiers": TIERS, "criteria": CRITERIA,
                                    "caps": {k: v for k, v in caps.items() if v is not None},
                                    "grid": {"fit_A": 50, "fit_B": 25,
                                             "engagement_1": 60, "engagement_2": 30}})
    records = [lead_record(f"L{i}", **{**lead, "events": [event(k) for k in lead["events"]]})
               for i, lead in enumerate(leads)]
    batch = score_leads(records, weights, now=NOW)
    assert score_few(records, weights, now=NOW) == batch
    for result in batch:
        for group, value in (("fit", result.fit_score), ("engagement", result.engagement_score)):
            assert value == min(100, max(0, _group_sum(result, group)))
        assert result.grade == weights.grid.grade(result.fit_score or 0,
                                                  result.engagement_score or 0)
        assert result.grade in GRADES


@pytest.mark.parametrize(("fit", "engagement", "grade"), [
    (40, 35, "A1"), (39, 34, "B2"), (20, 10, "B2"), (19, 9, "C3"), (100, 0, "A3"),
    (0, 100, "C1"),
])
def test_grade_thresholds_are_the_lowest_of_their_band(fit: int, engagement: int,
                                                         grade: str) -> None:
    assert Grid().grade(fit, engagement) == grade


BASE = """name = "t"
[tiers]
A = 70
B = 45
C = 25
[grid]
fit_A = 50
fit_B = 20
engagement_1 = 40
engagement_2 = 15
[[criteria]]
field = "employees"
at_least = 1
points = 60
"""


def test_grid_thresholds_come_from_the_weights_file() -> None:
    weights = parse_weights(BASE)
    [result] = score_leads([lead_record(employees=3)], weights, now=NOW)
    assert (result.fit_score, result.grade) == (60, "A3")
    lower = parse_weights(BASE.replace("fit_A = 50", "fit_A = 70"))
    assert score_leads([lead_record(employees=3)], lower, now=NOW)[0].grade == "B3"
    assert lower.version != weights.version


def test_a_file_without_a_grid_keeps_its_version() -> None:
    head, tail = BASE.split("[grid]")[0], BASE.split("[[criteria]]")[1]
    without = parse_weights(head + "[[criteria]]" + tail)
    explicit = parse_weights(BASE.replace("fit_A = 50", "fit_A = 40")
                             .replace("engagement_1 = 40", "engagement_1 = 35")
                             .replace("engagement_2 = 15", "engagement_2 = 10"))
    assert without.grid == Grid()
    assert explicit.version == without.version


@pytest.mark.parametrize(("old", "new", "key", "line", "words"), [
    ("fit_B = 20", "fit_B = 60", "grid.fit_B", 8, "must be below fit_A (50)"),
    ("engagement_2 = 15", "engagement_2 = 0", "grid.engagement_2", 10, "must be at least 1"),
    ("fit_A = 50", 'fit_A = "high"', "grid.fit_A", 7, "expected a whole number"),
    ("fit_A = 50", "fit_C = 50", "grid.fit_C", 7, "allowed keys are fit_A, fit_B"),
    ("engagement_1 = 40", "engagement_1 = 140", "grid.engagement_1", 9, "at most 100"),
])
def test_bad_grid_values_give_one_clear_line(old: str, new: str, key: str, line: int,
                                             words: str) -> None:
    with pytest.raises(WeightsError) as caught:
        parse_weights(BASE.replace(old, new), source="weights.toml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"weights.toml, line {line}, {key}: "), message
    assert words in message


def test_a_grid_change_is_described_in_words() -> None:
    from scoring.preview import diff_weights

    old = parse_weights(BASE)
    new = parse_weights(BASE.replace("fit_A = 50", "fit_A = 60")
                        .replace("engagement_2 = 15", "engagement_2 = 12"))
    assert diff_weights(old, new) == [
        "fit letter A now starts at fit sub-score 60 instead of 50",
        "engagement number 2 now starts at engagement sub-score 12 instead of 15",
    ]
