"""Credential, payment and off-list link requests always escalate to the manager."""

from __future__ import annotations

import pytest

from drafting import LeadFacts, TemplateDrafter
from drafting.base import Draft
from drafting.guardrails import ProductFacts, parse_product_facts, review_draft
from drafting.policy import load_policy, parse_policy

SHEET = ProductFacts(company="Northwind Analytics", link_domains=("northwind.example",))
LEAD = LeadFacts(first_name="Ann", company="Acme Corp", rep_name="Sam Rep",
                 rep_email="sam@northwind-mail.example")


def llm_draft(body: str) -> Draft:
    return Draft("Hello", body, "llm", "v", None, "prompt", ())


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("Please reset your password at http://northwind-login.co/reset today.",
         "credential_request"),
        ("Could you send me your username and password so I can set up the trial?",
         "credential_request"),
        ("Reply with the one-time code we just sent you.", "credential_request"),
        ("Please confirm your card number and CVV to hold the price.", "payment_request"),
        ("Pay the deposit by wire transfer to DE44 5001 0517 5407 3249 31.", "payment_request"),
        ("Here is the deck: https://bit.ly/3xYz-deck", "off_list_link"),
        ("Grab a slot at www.my-calendar.xyz/sam", "off_list_link"),
    ],
)
def test_request_in_a_draft_always_requires_the_manager(body: str, code: str) -> None:
    review = review_draft(llm_draft(body), LEAD, SHEET)
    assert code in review.risk_codes
    # An empty rules file still requires the manager: no admin rule can switch it off.
    escalations = parse_policy("").after_draft(llm_draft(body), review, LEAD)
    assert [e.action for e in escalations] == ["require_manager"] * len(escalations)
    assert escalations and escalations[0].rule_line == 0


@pytest.mark.parametrize(
    "body",
    [
        "The docs are at https://docs.northwind.example/start and www.northwind.example.",
        "Book time at https://northwind-mail.example/sam, my own calendar.",
        "We will never ask for your password by email.",
        "Our SSO setup means no password reset emails from us.",
        "Write to me at sam@northwind-mail.example.",
    ],
)
def test_allowed_links_and_mere_mentions_do_not_escalate(body: str) -> None:
    review = review_draft(llm_draft(body), LEAD, SHEET)
    escalations = parse_policy("").after_draft(llm_draft(body), review, LEAD)
    assert escalations == [], review.risk_flags


def test_allow_list_is_read_from_the_sheet_in_canonical_form() -> None:
    sheet = parse_product_facts('link_domains = ["https://www.Northwind.example/x", "*.nw.io"]')
    assert sheet.link_domains == ("northwind.example", "nw.io")


def test_template_drafts_never_trigger_the_built_in_escalation() -> None:
    policy = load_policy()
    for company in ("Acme Corp", "Blue Fjord Ltd.", "Unionlake Medical Inc."):
        facts = LeadFacts(first_name="Bo", company=company, rep_name="Sam Rep",
                          rep_email="sam@example.com", recent_activity=("Visited pricing page",))
        draft = TemplateDrafter().draft(facts)
        review = review_draft(draft, facts)
        assert [e for e in policy.after_draft(draft, review, facts) if e.rule_line == 0] == []


def test_admin_may_also_write_rules_on_the_request_codes() -> None:
    policy = parse_policy("escalate when the draft mentions links off the allow-list")
    body = "See https://bit.ly/3xYz-deck"
    review = review_draft(llm_draft(body), LEAD, SHEET)
    actions = [(e.rule_line, e.action) for e in policy.after_draft(llm_draft(body), review, LEAD)]
    assert actions == [(0, "require_manager"), (1, "escalate")]
