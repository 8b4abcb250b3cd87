"""The weights form and its TOML: round trips keep the version; problems are one line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import ImmutableMultiDict

from review_api.ui import svg
from review_api.ui.weights_form import (
    FormProblems,
    WeightsForm,
    form_from_post,
    form_from_weights,
    weights_from_form,
)
from review_api.ui.weights_toml import weights_toml
from scoring.weights import Weights, default_weights_path, load_weights, parse_weights

PROFILED = '''
name = "with profiles"
base = 5
[tiers]
A = 80
B = 50
C = 20
approval_required = ["A", "D"]
[caps]
fit = 40
total = 90
[decay]
half_life_days = 10.5
[[criteria]]
name = "big \\"quoted\\" firm"
field = "employees"
between = [200.5, 1000]
points = 15
[[criteria]]
field = "email_opt_out"
is_true = false
points = 3
[[criteria]]
event = "page_view"
detail_contains = "/pricing"
within_days = 14
min_count = 2
points = 20
[[profiles]]
name = "enterprise"
base = 10
[profiles.when]
field = "industry"
in = ["software", "retail"]
[profiles.tiers]
A = 90
B = 60
C = 30
[[profiles.criteria]]
field = "title"
contains = ["vp", "chief"]
points = 25
'''


def posted(form: WeightsForm, **changes: str) -> ImmutableMultiDict[str, str]:
    pairs = list(form.top.items()) + [("approval_required", t) for t in form.approval]
    for index, row in enumerate(form.criteria):
        pairs += [(f"c{index}_{key}", value) for key, value in row.items()]
    for index, row in enumerate(form.profiles):
        pairs += [(f"p{index}_{key}", value) for key, value in row.items()]
    pairs = [(key, changes.get(key, value)) for key, value in pairs]
    pairs += [(key, value) for key, value in changes.items() if key not in dict(pairs)]
    return ImmutableMultiDict(pairs)


@pytest.mark.parametrize("weights", [load_weights(default_weights_path()),
                                     parse_weights(PROFILED)], ids=["default", "profiles"])
def test_form_and_toml_round_trips_keep_the_version(weights: Weights) -> None:
    form, removed = form_from_post(posted(form_from_weights(weights).with_blank_rows(2)))
    assert removed == set()
    assert weights_from_form(form).version == weights.version
    assert parse_weights(weights_toml(weights)).version == weights.version


def test_removing_a_row_and_filling_a_blank_one_edit_the_criteria() -> None:
    form = form_from_weights(parse_weights(PROFILED)).with_blank_rows()
    blank = len(form.criteria) - 1
    edited = weights_from_form(form_from_post(posted(
        form, c1_remove="1", **{f"c{blank}_on": "industry", f"c{blank}_test": "equals",
                                f"c{blank}_value": "retail", f"c{blank}_points": "-4",
                                f"c{blank}_profile": "enterprise"}))[0])
    assert [c.field for c in edited.criteria] == ["employees", None]
    assert [(c.field, c.equals, c.points) for c in edited.profiles[0].criteria] == [
        ("title", None, 25), ("industry", "retail", -4)]
    assert edited.profiles[0].tiers is not None and edited.profiles[0].tiers.A == 90


@pytest.mark.parametrize(("changes", "line"), [
    ({"c0_value": "lots"}, "criterion 1 (big \"quoted\" firm), between: expected two numbers"),
    ({"c2_event": ""}, "criterion 3: name the event kind (e.g. page_view)"),
    ({"c2_within": "1.5"}, "criterion 3, within_days: expected a whole number, got '1.5'"),
    ({"c1_value": "maybe"}, "criterion 2, is_true: expected true or false, got 'maybe'"),
    ({"c0_test": "contains", "c0_value": "x"}, "criterion 1 (big \"quoted\" firm), contains: "
     "'employees' is a number field; use between or at_least or at_most or equals"),
    ({"c3_profile": "nobody"}, "criterion 4: no profile is named 'nobody'"),
    ({"tier_C": "60"}, "tier C: must be below B (50)"),
    ({"cap_fit": "-1"}, "cap fit: must be at least 0, got -1"),
    ({"p0_on": ""}, "profile 1 (enterprise): choose a lead field or 'event'"),
])
def test_each_problem_is_one_line_naming_the_row(changes: dict[str, str], line: str) -> None:
    form = form_from_weights(parse_weights(PROFILED))
    with pytest.raises(FormProblems) as caught:
        weights_from_form(form_from_post(posted(form, **changes))[0])
    assert any(found.startswith(line) or line in found for found in caught.value.lines), (
        caught.value.lines)
    assert all("\n" not in found for found in caught.value.lines)


@settings(max_examples=40, deadline=None)
@given(name=st.text(min_size=1, max_size=60).filter(lambda s: s.strip() and "\x00" not in s),
       points=st.integers(-1000, 1000))
def test_any_criterion_name_survives_publishing_as_toml(name: str, points: int) -> None:
    weights = load_weights(default_weights_path())
    first = weights.criteria[0].model_copy(update={"name": name, "points": points})
    edited = weights.model_copy(update={"criteria": (first, *weights.criteria[1:])})
    assert parse_weights(weights_toml(edited)).version == edited.version


def test_plots_escape_every_label() -> None:
    hostile = "<script>alert(1)</script>"
    drawn = [svg.grouped_bars(hostile, [hostile], [(hostile, [1.0])]),
             svg.horizontal_bars(hostile, [(hostile, 3)]),
             svg.lines(hostile, [(hostile, [(0.0, 0.0), (1.0, 1.0)])], x_label=hostile,
                       y_label=hostile)]
    for markup in drawn:
        assert "<script>" not in markup and "&lt;script&gt;" in markup
        assert markup.startswith("<svg") and markup.count("<title>") >= 1
