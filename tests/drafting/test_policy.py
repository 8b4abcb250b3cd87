"""Plain-language escalation rules: parsing, errors naming the line, evaluation, explain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drafting import LeadFacts, TemplateDrafter
from drafting.base import Draft
from drafting.errors import PolicyError
from drafting.guardrails import DraftReview, RiskFlag, UnverifiedClaim, review_draft
from drafting.policy import Escalation, explain, load_policy, parse_policy

RULES = """\
# the issue's examples
escalate when the draft mentions pricing
escalate when confidence is below 0.6
never draft for leads who opted out of email
require the manager when the company has more than 1000 employees
never draft when the industry is one of Government, Defence
escalate when the draft has unverified claims and the tier is A
"""


def draft(confidence: float | None = None, body: str = "Hi") -> Draft:
    return Draft("S", body, "llm", "v", None, "", (), confidence=confidence)


def test_the_issue_examples_parse_into_rules() -> None:
    policy = parse_policy(RULES, "rules.txt")
    assert [(r.line_no, r.action) for r in policy.rules] == [
        (2, "escalate"),
        (3, "escalate"),
        (4, "never_draft"),
        (5, "require_manager"),
        (6, "never_draft"),
        (7, "escalate"),
    ]


def test_default_policy_parses() -> None:
    assert load_policy().rules


@pytest.mark.parametrize(
    "rules",
    ["", "never draft for leads in tier D", "escalate when the draft mentions pricing"],
)
def test_opted_out_leads_never_get_a_draft_whatever_the_rules(rules: str) -> None:
    policy = parse_policy(rules)
    for flag in (True, "true", "yes", 1):
        decision = policy.before_draft({"email_opt_out": flag, "tier": "A"})
        assert decision.draft is False
        assert "opted out" in decision.reasons[0]
    assert policy.before_draft({"email_opt_out": False}).draft is True


def test_never_draft_rule_gives_its_line_as_reason() -> None:
    policy = parse_policy(RULES)
    decision = policy.before_draft({"industry": "government", "employees": 10})
    assert decision.draft is False
    assert decision.reasons == (
        "line 6: never draft when the industry is one of Government, Defence",
    )
    assert policy.before_draft(LeadFacts(industry="Retail")).draft is True


def test_after_draft_escalations() -> None:
    policy = parse_policy(RULES)
    review = DraftReview(
        unverified_claims=(UnverifiedClaim("$5", "amount", (0, 2)),),
        risk_flags=(RiskFlag("pricing", "price"),),
    )
    found = policy.after_draft(draft(0.4), review, {"employees": "5,000", "tier": "A"})
    assert [(e.action, e.rule_line) for e in found] == [
        ("escalate", 2),
        ("escalate", 3),
        ("require_manager", 5),
        ("escalate", 7),
    ]
    assert found[2] == Escalation(
        "require_manager",
        "the company has more than 1000 employees",
        5,
        "require the manager when the company has more than 1000 employees",
    )
    assert policy.after_draft(draft(0.9), DraftReview(), {"employees": 10, "tier": "A"}) == []


def test_confidence_rule_does_not_fire_for_drafters_without_confidence() -> None:
    policy = parse_policy("escalate when confidence is below 0.6")
    assert policy.after_draft(draft(None), DraftReview(), {}) == []
    assert len(policy.after_draft(draft(0.59), DraftReview(), {})) == 1


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("escalte when the draft mentions pricing", "unknown action 'escalte when the'"),
        ("escalate when the draft mentions cats", "unknown topic 'cats'; expected one of pricing"),
        ("escalate when", "the condition is missing"),
        ("escalate when the colour is red", "unknown field 'colour'"),
        ("escalate when the moon is full and", "unknown"),
        ("never draft when the draft mentions pricing", "is about the draft"),
        ("escalate when confidence is below 6", "confidence is between 0 and 1"),
        ("escalate when the lead seems grumpy", "unknown condition"),
    ],
)
def test_errors_name_the_file_line_and_what_is_expected(line: str, expected: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(f"# ok\n\n{line}\n", "rules.txt")
    message = str(caught.value)
    assert message.startswith("rules.txt: line 3: ")
    assert expected in message
    assert caught.value.line_no == 3 and caught.value.code == "policy_invalid"


def test_unknown_condition_lists_what_is_allowed() -> None:
    with pytest.raises(PolicyError, match="the draft mentions <topic>"):
        parse_policy("escalate when it rains")


def test_missing_rules_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.txt")


def test_explain_says_what_each_rule_does_on_the_leads() -> None:
    policy = parse_policy(RULES)
    leads: list[dict[str, Any]] = [
        {
            "crm_id": "a",
            "employees": 5000,
            "tier": "A",
            "recent_activity": ["visited the pricing page"],
        },
        {"crm_id": "b", "email_opt_out": True},
        {"crm_id": "c", "industry": "Defence"},
    ]
    effects = explain(policy, leads, drafter=TemplateDrafter(), review=review_draft)
    by_line = {e.line_no: e for e in effects}
    assert by_line[0].matched == 1 and by_line[0].examples == ("b",)
    # The pricing template's own wording is the admin's: it does not count as "mentions".
    assert by_line[2].matched == 0 and "judged on 1 drafts" in by_line[2].note
    assert by_line[5].matched == 1 and by_line[6].examples == ("c",)
    assert "1 of 3 leads (e.g. a)" in by_line[5].line()
    blind = explain(policy, leads)
    assert "depends on each draft" in {e.line_no: e for e in blind}[2].note
