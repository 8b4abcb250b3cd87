"""The admin's weights file: shape, validation messages, version, tiers and approval."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scoring import (
    ScoringError,
    Weights,
    WeightsError,
    default_weights_path,
    load_weights,
    parse_weights,
    weights_from_mapping,
)

# Line numbers matter: the error tests below name them.
BASE = """\
name = "test"
base = 10

[tiers]
A = 70
B = 45
C = 25
approval_required = ["A"]

[[criteria]]
field = "employees"
between = [200, 1000]
points = 15

[[criteria]]
event = "page_view"
detail_contains = "/pricing"
within_days = 14
points = 20

[[criteria]]
field = "industry"
in = ["logistics", "retail"]
points = 10
"""


def _error(text: str) -> WeightsError:
    with pytest.raises(WeightsError) as caught:
        parse_weights(text, source="weights.toml")
    return caught.value


def test_base_example_parses_with_defaults_filled_in() -> None:
    weights = parse_weights(BASE)
    assert weights.name == "test"
    assert weights.base == 10
    assert [c.group for c in weights.criteria] == ["fit", "engagement", "fit"]
    assert weights.criteria[1].min_count == 1
    assert weights.criteria[2].in_ == ("logistics", "retail")
    assert [c.condition for c in weights.criteria] == ["between", "event", "in"]


def test_default_weights_file_loads_and_uses_every_condition() -> None:
    path = default_weights_path()
    assert path.name == "default_weights.toml" and path.is_file()
    weights = load_weights(path)
    assert 10 <= len(weights.criteria) <= 14
    conditions = {c.condition for c in weights.criteria}
    assert {"between", "at_least", "in", "equals", "is_true", "contains", "event"} <= conditions
    assert weights.tiers.approval_required == ("A",)
    assert any(c.points < 0 for c in weights.criteria)


def test_version_is_short_and_stable_across_layout_and_comments() -> None:
    version = parse_weights(BASE).version
    assert re.fullmatch(r"w-[0-9a-f]{10}", version)
    relaid = "# the admin's notes\n" + BASE.replace(" = ", "   =   ").replace(
        "points = 15", "points = 15   # mid-size"
    )
    assert parse_weights(relaid).version == version


def test_version_ignores_key_order_and_explicit_defaults() -> None:
    version = parse_weights(BASE).version
    reordered = BASE.replace(
        'field = "employees"\nbetween = [200, 1000]', 'between = [200, 1000]\nfield = "employees"'
    )
    explicit = BASE.replace(
        "within_days = 14\n", 'within_days = 14\nmin_count = 1\ngroup = "engagement"\n'
    )
    assert parse_weights(reordered).version == version
    assert parse_weights(explicit).version == version


def test_approval_required_is_a_set_in_tier_order() -> None:
    one = parse_weights(BASE.replace('approval_required = ["A"]', 'approval_required = ["D", "A"]'))
    two = parse_weights(
        BASE.replace('approval_required = ["A"]', 'approval_required = ["A", "D", "A"]')
    )
    assert one.tiers.approval_required == two.tiers.approval_required == ("A", "D")
    assert one.version == two.version


def test_version_changes_when_points_change() -> None:
    changed = BASE.replace("points = 15", "points = 16")
    assert parse_weights(changed).version != parse_weights(BASE).version


@pytest.mark.parametrize(
    ("score", "tier"),
    [(100, "A"), (70, "A"), (69, "B"), (45, "B"), (44, "C"), (25, "C"), (24, "D"), (0, "D")],
)
def test_tier_for_puts_exact_thresholds_in_the_higher_tier(score: int, tier: str) -> None:
    assert parse_weights(BASE).tier_for(score) == tier


def test_tier_thresholds_for_the_store_and_review_api() -> None:
    assert parse_weights(BASE).tier_thresholds() == {"A": 70, "B": 45, "C": 25}


@pytest.mark.parametrize(
    ("old", "new", "needed"),
    [
        (None, "A", False),
        ("A", "A", False),
        ("B", "A", True),
        ("A", "B", True),
        ("A", "D", True),
        ("B", "C", False),
        ("D", "B", False),
    ],
)
def test_needs_approval_into_or_out_of_guarded_tiers(
    old: str | None, new: str, needed: bool
) -> None:
    assert parse_weights(BASE).needs_approval(old, new) is needed


def test_needs_approval_with_several_guarded_tiers() -> None:
    weights = parse_weights(
        BASE.replace('approval_required = ["A"]', 'approval_required = ["A", "D"]')
    )
    assert weights.needs_approval("C", "D")
    assert not weights.needs_approval("C", "B")
    no_guard = parse_weights(BASE.replace('approval_required = ["A"]\n', ""))
    assert not no_guard.needs_approval("D", "A")


# (what to change, key path named, line named, words the message must contain)
INVALID = {
    "wrong type": (
        ("points = 15", 'points = "lots"'),
        "criteria[0].points",
        13,
        "expected a whole number, got 'lots'",
    ),
    "unknown top-level key": (("base = 10", "bsae = 10"), "bsae", 2, "did you mean 'base'"),
    "unknown criterion key": (
        ("within_days = 14", "within_day = 14"),
        "criteria[1].within_day",
        18,
        "unknown key",
    ),
    "unknown field": (
        ('field = "industry"', 'field = "industy"'),
        "criteria[2].field",
        22,
        "allowed fields are",
    ),
    "two conditions": (
        ("between = [200, 1000]", "between = [200, 1000]\nat_least = 5"),
        "criteria[0].at_least",
        13,
        "exactly one",
    ),
    "no condition": (("between = [200, 1000]\n", ""), "criteria[0]", 10, "needs one condition"),
    "no field or event": (('field = "industry"\n', ""), "criteria[2]", 21, "needs either a field"),
    "thresholds not descending": (("B = 45", "B = 75"), "tiers.B", 6, "must be below A"),
    "equal thresholds": (("C = 25", "C = 45"), "tiers.C", 7, "must be below B"),
    "unknown tier to approve": (
        ('approval_required = ["A"]', 'approval_required = ["E"]'),
        "tiers.approval_required[0]",
        8,
        "got 'E'",
    ),
    "missing points": (("points = 10\n", ""), "criteria[2].points", 21, "is missing"),
    "between reversed": (("[200, 1000]", "[1000, 200]"), "criteria[0].between", 12, "low <= high"),
    "between of three": (("[200, 1000]", "[1, 2, 3]"), "criteria[0].between", 12, "two numbers"),
    "condition for another kind of field": (
        ('in = ["logistics", "retail"]', "at_least = 3"),
        "criteria[2].at_least",
        23,
        "is a text field",
    ),
    "field condition on an event": (
        ("within_days = 14", "within_days = 14\nat_most = 3"),
        "criteria[1].at_most",
        19,
        "applies to field criteria",
    ),
    "event option on a field": (
        ("between = [200, 1000]", "between = [200, 1000]\nmin_count = 2"),
        "criteria[0].min_count",
        13,
        "event criteria only",
    ),
    "field and event together": (
        ('event = "page_view"', 'event = "page_view"\nfield = "title"'),
        "criteria[1].event",
        16,
        "not both",
    ),
    "bad group": (
        ('field = "industry"', 'field = "industry"\ngroup = "fitt"'),
        "criteria[2].group",
        23,
        "expected 'fit' or 'engagement'",
    ),
    "base out of range": (("base = 10", "base = 150"), "base", 2, "at most 100"),
    "negative window": (
        ("within_days = 14", "within_days = -1"),
        "criteria[1].within_days",
        18,
        "at least 1",
    ),
    "table instead of number": (
        ("A = 70", "A = { x = 1 }"),
        "tiers.A",
        5,
        "expected a whole number",
    ),
    "bad TOML syntax": (
        ("points = 20", "points = lots"),
        "criteria[1].points",
        19,
        "not valid TOML",
    ),
    "unclosed table header": (("[tiers]", "[tiers"), "", 4, "not valid TOML"),
    "duplicate key": (("C = 25", "C = 25\nC = 20"), "tiers.C", 8, "not valid TOML"),
}


@pytest.mark.parametrize("case", list(INVALID), ids=list(INVALID))
def test_invalid_weights_give_one_clear_error(case: str) -> None:
    (old, new), key_path, line, words = INVALID[case]
    assert old in BASE
    error = _error(BASE.replace(old, new, 1))
    assert len(error.problems) == 1, str(error)
    assert error.key_path == key_path
    assert error.line == line
    assert words in str(error)
    prefix = f"weights.toml, line {line}" + (f", {key_path}: " if key_path else ": ")
    assert str(error).startswith(prefix), str(error)
    assert error.code == "invalid_weights"
    assert isinstance(error, ScoringError)


def test_error_message_matches_the_documented_shape() -> None:
    error = _error(BASE.replace("points = 15", 'points = "lots"'))
    assert (
        str(error)
        == "weights.toml, line 13, criteria[0].points: expected a whole number, got 'lots'"
    )


def test_several_problems_are_all_reported_in_file_order() -> None:
    error = _error(BASE.replace("B = 45", "B = 80").replace("points = 10", 'points = "x"'))
    assert [p.line for p in error.problems] == [6, 24]
    assert "tiers.B" in str(error) and "criteria[2].points" in str(error)


def test_empty_document_names_every_missing_key() -> None:
    error = _error("")
    assert {p.key_path for p in error.problems} == {"name", "tiers", "criteria"}


def test_criteria_must_not_be_empty() -> None:
    error = _error('name = "x"\ncriteria = []\n[tiers]\nA = 3\nB = 2\nC = 1\n')
    assert error.key_path == "criteria" and error.line == 2
    assert "at least one" in str(error)


def test_inline_table_criteria_are_accepted_and_located() -> None:
    text = (
        'name = "x"\n'
        'criteria = [{ field = "title", contains = "vp", points = "a" }]\n'
        "[tiers]\nA = 3\nB = 2\nC = 1\n"
    )
    error = _error(text)
    assert error.key_path == "criteria[0].points" and error.line == 2


def test_multiline_strings_and_arrays_do_not_confuse_line_numbers() -> None:
    text = BASE.replace(
        'in = ["logistics", "retail"]',
        'name = """a\n[[criteria]]\npoints = 1"""\nin = [\n  "logistics",\n  "retail",\n]',
    ).replace("points = 10", "points = true")
    error = _error(text)
    assert error.key_path == "criteria[2].points"
    assert error.line == 30


def test_load_weights_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "weights.toml"
    path.write_text(BASE, encoding="utf-8")
    assert load_weights(path) == parse_weights(BASE)


def test_load_weights_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "weights.toml"
    path.write_text(BASE.replace("points = 20", "points = 2.5"), encoding="utf-8")
    with pytest.raises(WeightsError) as caught:
        load_weights(path)
    assert str(caught.value).startswith(f"{path}, line 19, criteria[1].points: ")


def test_load_weights_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="cannot read the weights file"):
        load_weights(tmp_path / "nope.toml")


def test_load_weights_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "weights.toml"
    path.write_bytes(BASE.replace("test", "t\xe9st").encode("latin-1"))
    with pytest.raises(WeightsError, match="not UTF-8"):
        load_weights(path)


def test_weights_from_mapping_validates_without_line_numbers() -> None:
    document = {
        "name": "api",
        "tiers": {"A": 70, "B": 45, "C": 25},
        "criteria": [{"field": "industry", "in": ["retail"], "points": 10}],
    }
    weights = weights_from_mapping(document)
    assert isinstance(weights, Weights)
    assert (
        weights.version
        == parse_weights(
            'name = "api"\n[tiers]\nA = 70\nB = 45\nC = 25\n'
            '[[criteria]]\nfield = "industry"\nin = ["retail"]\npoints = 10\n'
        ).version
    )
    document["criteria"][0]["points"] = "ten"  # type: ignore[index]
    with pytest.raises(WeightsError) as caught:
        weights_from_mapping(document, source="admin request")
    assert (
        str(caught.value) == "admin request, criteria[0].points: expected a whole number, got 'ten'"
    )


def test_weights_are_frozen() -> None:
    weights = parse_weights(BASE)
    with pytest.raises(ValueError):
        weights.base = 5  # type: ignore[misc]
