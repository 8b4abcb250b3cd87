"""The guardrails' public names, where other code has always imported them from.

The checks themselves live in :mod:`drafting.guard`, one module per kind of guardrail.
"""

from __future__ import annotations

from drafting.guard import (
    ALWAYS_ESCALATE,
    RISK_CODES,
    ClaimKind,
    DraftReview,
    InjectionFlag,
    ProductFacts,
    RiskFlag,
    UnverifiedClaim,
    injection_flags,
    load_product_facts,
    parse_product_facts,
    review_draft,
    risk_flags,
    unverified_claims,
)

__all__ = [
    "ALWAYS_ESCALATE",
    "RISK_CODES",
    "ClaimKind",
    "DraftReview",
    "InjectionFlag",
    "ProductFacts",
    "RiskFlag",
    "UnverifiedClaim",
    "injection_flags",
    "load_product_facts",
    "parse_product_facts",
    "review_draft",
    "risk_flags",
    "unverified_claims",
]
