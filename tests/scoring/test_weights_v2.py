"""Weights v2: caps, decay and profiles; versions of v1 files unchanged; errors with lines."""

from __future__ import annotations

import pytest

from scoring import WeightsError, default_weights_path, load_weights, parse_weights, score_leads
from scoring.preview import diff_weights, preview
from scoring.weights import Weights

from .conftest import NOW, event, lead_record

V1 = """\
name = "v1"
[tiers]
A = 70
B = 45
C = 25

[[criteria]]
field = "employees"
at_least = 100
points = 30

[[criteria]]
name = "senior title"
field = "title"
contains = ["vp"]
points = 30

[[criteria]]
name = "visited the pricing page"
event = "page_view"
detail_contains = "/pricing"
points = 40
"""


def v2(extra: str) -> Weights:
    return parse_weights(V1.replace('name = "v1"\n', 'name = "v1"\n' + extra))


def test_v1_file_keeps_its_version_and_scores() -> None:
    weights = parse_weights(V1)
    again = parse_weights(V1 + "\n[caps]\n[decay]\n")
    assert again.version == weights.version
    assert load_weights(default_weights_path()).version.startswith("w-")


def test_group_cap_limits_points_and_is_a_reason() -> None:
    weights = v2("[caps]\nfit = 40\n")
    lead = lead_record(employees=500, title="VP Sales")
    [result] = score_leads([lead], weights, now=NOW)
    assert result.score == 40
    assert any(f.label == "fit points capped at 40" and f.points == -20 for f in result.factors)
    assert weights.version != parse_weights(V1).version


def test_total_cap_applies_after_group_caps() -> None:
    weights = v2("[caps]\nfit = 50\ntotal = 60\n")
    lead = lead_record(employees=500, title="VP Sales",
                       events=[event("page_view", "/pricing", days_ago=1)])
    [result] = score_leads([lead], weights, now=NOW)
    assert result.score == 60
    labels = {f.label: f.points for f in result.factors}
    assert labels["fit points capped at 50"] == -10
    assert labels["points capped at 60 in total"] == -30


def test_negative_points_are_never_capped() -> None:
    weights = parse_weights(V1.replace("points = 30\n\n[[criteria]]\nname = \"senior",
                                       "points = -30\n\n[[criteria]]\nname = \"senior")
                            .replace('name = "v1"\n', 'name = "v1"\n[caps]\nfit = 10\n'))
    [result] = score_leads([lead_record(employees=500, title="VP")], weights, now=NOW)
    assert result.score == 0  # +30 capped at 10, then -30: clamped at 0
    assert {f.points for f in result.factors} >= {-30, -20}


@pytest.mark.parametrize(("days_ago", "expected"), [(0.0, 40), (7.0, 20), (14.0, 10), (70.0, 0)])
def test_engagement_points_halve_every_half_life(days_ago: float, expected: int) -> None:
    weights = v2("[decay]\nhalf_life_days = 7\n")
    lead = lead_record(events=[event("page_view", "/pricing", days_ago=days_ago)])
    [result] = score_leads([lead], weights, now=NOW)
    assert result.score == expected
    if expected:
        [factor] = result.factors
        assert factor.points == expected
        assert "latest" in factor.label


def test_decay_counts_from_the_latest_matching_event() -> None:
    weights = v2("[decay]\nhalf_life_days = 7\n")
    lead = lead_record(events=[event("page_view", "/pricing", days_ago=30),
                               event("page_view", "/pricing", days_ago=7),
                               event("page_view", "/docs", days_ago=0)])
    [result] = score_leads([lead], weights, now=NOW)
    assert result.score == 20
    assert result.factors[0].label.endswith("twice, latest 7 days ago")


PROFILE = """
[[profiles]]
name = "enterprise"
[profiles.when]
field = "employees"
at_least = 1000
[profiles.tiers]
A = 90
B = 60
C = 30
[[profiles.criteria]]
name = "enterprise lead"
field = "country"
equals = "Germany"
points = 95
"""


def test_profile_scores_matching_leads_with_its_own_criteria_and_tiers() -> None:
    weights = parse_weights(V1 + PROFILE)
    big = lead_record("L1", employees=5000, country="Germany", title="VP")
    small = lead_record("L2", employees=500, country="Germany", title="VP")
    first, second = score_leads([big, small], weights, now=NOW)
    assert (first.profile, first.score, first.tier) == ("enterprise", 95, "A")
    assert [f.label for f in first.factors] == ["enterprise lead"]
    assert (second.profile, second.score, second.tier) == (None, 60, "B")
    assert weights.for_profile("enterprise").tier_for(80) == "B"
    assert first.weights_version == second.weights_version == weights.version


def _error(text: str) -> WeightsError:
    with pytest.raises(WeightsError) as caught:
        parse_weights(text)
    return caught.value


def test_profile_errors_name_line_and_key() -> None:
    error = _error(V1 + PROFILE.replace('at_least = 1000', 'at_leest = 1000'))
    assert error.key_path == "profiles[0].when.at_leest"
    assert error.line == V1.count("\n") + 6
    assert "did you mean 'at_least'" in str(error)
    error = _error(V1 + PROFILE.replace("points = 95", "points = 'lots'"))
    assert error.key_path == "profiles[0].criteria[0].points"
    assert error.line == (V1 + PROFILE).splitlines().index("points = 95") + 1


def test_cap_and_decay_errors_name_the_key() -> None:
    error = _error(V1 + "\n[caps]\nfit = -5\n")
    assert error.key_path == "caps.fit" and error.line == V1.count("\n") + 3
    error = _error(V1 + "\n[decay]\nhalf_life = 7\n")
    assert error.key_path == "decay.half_life" and "half_life_days" in str(error)


def test_profile_chosen_by_an_event_is_refused() -> None:
    bad = PROFILE.replace('field = "employees"\nat_least = 1000', 'event = "webinar"')
    assert "not an event" in str(_error(V1 + bad))


def test_diff_says_what_changed_in_words() -> None:
    old = parse_weights(V1)
    new = parse_weights(
        V1.replace("points = 40", "points = 25").replace("C = 25", "C = 20")
        + "\n[caps]\nengagement = 30\n[decay]\nhalf_life_days = 14\n" + PROFILE
    )
    lines = diff_weights(old, new)
    assert "tier C now starts at 20 instead of 25" in lines
    assert "'visited the pricing page' now gives +25 instead of +40" in lines
    assert "engagement points are now capped at 30" in lines
    assert "engagement points now halve every 14 days since the latest matching event" in lines
    assert any(line.startswith("added profile 'enterprise'") for line in lines)
    assert diff_weights(old, old) == []


def test_preview_counts_tier_changes_and_lists_movers_with_reasons() -> None:
    old = parse_weights(V1)
    new = parse_weights(V1.replace("points = 40", "points = 10"))
    leads = [
        lead_record(f"L{i}", employees=500, events=[event("page_view", "/pricing")] if i % 2
                    else [])
        for i in range(10)
    ]
    result = preview(leads, old, new, now=NOW)
    assert result.leads == 10
    assert result.tier_changes == 5 and result.tier_moves == {"A -> C": 5}
    assert sum(result.before) == sum(result.after) == 10
    assert len(result.movers) == 5
    mover = result.movers[0]
    assert (mover.old_score, mover.new_score) == (70, 40)
    assert [f.points for f in mover.gained] == [10] and [f.points for f in mover.lost] == [40]
