"""One entry point: every guardrail on one draft."""

from __future__ import annotations

from drafting.base import Draft, LeadFacts
from drafting.guard.claims import unverified_claims
from drafting.guard.facts import ProductFacts, load_product_facts
from drafting.guard.injection import injection_flags
from drafting.guard.records import DraftReview
from drafting.guard.risk import risk_flags


def review_draft(
    draft: Draft, facts: LeadFacts, product_facts: ProductFacts | None = None
) -> DraftReview:
    """Run every guardrail on one draft.

    Args:
        draft: The draft, from any drafter.
        facts: The facts the draft was written from.
        product_facts: The admin's product facts sheet; the packaged default when None.

    Returns:
        The unverified claims, risk flags and injection flags; the draft itself is never
        changed or blocked here: flags are for the rep and the escalation policy.
    """
    sheet = product_facts if product_facts is not None else load_product_facts()
    return DraftReview(
        unverified_claims=unverified_claims(draft, facts, sheet),
        risk_flags=risk_flags(draft, facts, sheet),
        injection_flags=injection_flags(facts),
    )
