"""Risk flags read topics, not the names of companies and products."""

from __future__ import annotations

import pytest

from drafting import LeadFacts
from drafting.base import Draft
from drafting.guardrails import ProductFacts, risk_flags

SHEET = ProductFacts(company="Northwind Legal Analytics", products=("Northwind Finance Hub",))


def llm_draft(body: str, subject: str = "Hello") -> Draft:
    return Draft(subject, body, "llm", "v", None, "prompt", ())


@pytest.mark.parametrize(
    ("company", "code"),
    [
        ("Unionlake Medical Inc.", "medical"),
        ("Harbor Legal LLP", "legal"),
        ("Summit Investment Partners", "financial"),
    ],
)
def test_the_leads_company_name_raises_no_topic_flag(company: str, code: str) -> None:
    facts = LeadFacts(first_name="Ann", company=company)
    short = company.rsplit(" ", 1)[0]
    draft = llm_draft(f"Hi Ann, how is the team at {company} doing? {short} looks busy.",
                      subject=f"Reporting at {company}")
    assert code not in {f.code for f in risk_flags(draft, facts, SHEET)}


@pytest.mark.parametrize(
    ("company", "sentence", "code"),
    [
        ("Unionlake Medical Inc.", "We can store your patients' medical records.", "medical"),
        ("Harbor Legal LLP", "Our lawyers will review the liability terms.", "legal"),
        ("Summit Investment Partners", "It is a great investment for you.", "financial"),
    ],
)
def test_the_same_topic_in_a_sentence_is_still_flagged(
    company: str, sentence: str, code: str
) -> None:
    facts = LeadFacts(first_name="Ann", company=company)
    draft = llm_draft(f"Hi Ann, greetings to {company}. {sentence}")
    assert code in {f.code for f in risk_flags(draft, facts, SHEET)}


def test_our_company_and_product_names_raise_no_topic_flag() -> None:
    draft = llm_draft("Northwind Legal Analytics built Northwind Finance Hub for teams like yours.")
    assert risk_flags(draft, LeadFacts(company="Acme Corp"), SHEET) == ()
