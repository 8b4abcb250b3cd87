"""Guardrails, one module per kind: is every claim grounded, what is risky, is a field hostile?

* :mod:`~drafting.guard.claims`: grounding; every concrete claim traces to the lead's record
  or to the admin's product facts sheet (:mod:`~drafting.guard.facts`).
* :mod:`~drafting.guard.risk`: risky topics (pricing, discounts, commitments, legal, medical
  ...), ignoring company and product names; :mod:`~drafting.guard.links`: requests for
  credentials or payment and links off the allow-list, which always escalate.
* :mod:`~drafting.guard.injection`: lead fields that try to instruct the model, by rules and
  by a classifier (:mod:`~drafting.guard.classifier`) trained on the shipped corpus, after
  disguises are undone (:mod:`~drafting.guard.disguise`).

:func:`review_draft` runs them all. ``drafting.guardrails`` re-exports the same names.
"""

from __future__ import annotations

from drafting.guard.claims import unverified_claims
from drafting.guard.facts import ProductFacts, load_product_facts, parse_product_facts
from drafting.guard.injection import injection_flags
from drafting.guard.links import ALWAYS_ESCALATE
from drafting.guard.records import (
    RISK_CODES,
    ClaimKind,
    DraftReview,
    InjectionFlag,
    RiskFlag,
    UnverifiedClaim,
)
from drafting.guard.review import review_draft
from drafting.guard.risk import risk_flags

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
