"""What the guardrails report: claims, risk flags, injection flags, one review."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

ClaimKind = Literal[
    "amount", "percent", "date", "number", "name", "product_claim",
    "team_size", "role", "purchase", "interaction", "place", "industry",
]


@dataclass(frozen=True, slots=True)
class UnverifiedClaim:
    """A concrete claim in a draft that traces to neither the lead nor the product facts.

    ``span`` is ``(start, end)`` in the draft's ``field`` (``"subject"`` or ``"body"``).
    """

    text: str
    kind: ClaimKind
    span: tuple[int, int]
    field: Literal["subject", "body"] = "body"


@dataclass(frozen=True, slots=True)
class RiskFlag:
    """A risky topic in a draft: ``code`` names it, ``evidence`` is the text that matched."""

    code: str
    evidence: str


@dataclass(frozen=True, slots=True)
class InjectionFlag:
    """A lead field that reads like instructions to the model rather than data."""

    field: str
    code: str
    evidence: str


@dataclass(frozen=True, slots=True)
class DraftReview:
    """What the guardrails found in one draft; empty tuples when nothing was found."""

    unverified_claims: tuple[UnverifiedClaim, ...] = ()
    risk_flags: tuple[RiskFlag, ...] = ()
    injection_flags: tuple[InjectionFlag, ...] = ()

    @property
    def clean(self) -> bool:
        """Whether nothing at all was flagged."""
        return not (self.unverified_claims or self.risk_flags or self.injection_flags)

    @property
    def risk_codes(self) -> tuple[str, ...]:
        """The distinct risk codes, in the order first flagged."""
        return tuple(dict.fromkeys(flag.code for flag in self.risk_flags))

    def summary_lines(self) -> list[str]:
        """One line per finding, worded for the rep reading the review task."""
        lines = [
            f"Unverified {_KIND_WORDS[c.kind]}: {c.text!r} (not in the lead's record "
            "or the product facts)"
            for c in self.unverified_claims
        ]
        lines += [
            f"Risk, {_RISK_WORDS.get(f.code, f.code)}: {f.evidence!r}" for f in self.risk_flags
        ]
        lines += [
            f"Lead {f.field} read like instructions to the model ({f.code}): {f.evidence!r}; "
            "treated as data only"
            for f in self.injection_flags
        ]
        return lines

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for proposal payloads and the audit trail."""
        return {
            "unverified_claims": [
                {**asdict(c), "span": list(c.span)} for c in self.unverified_claims
            ],
            "risk_flags": [asdict(f) for f in self.risk_flags],
            "injection_flags": [asdict(f) for f in self.injection_flags],
        }


_KIND_WORDS: dict[str, str] = {
    "amount": "amount",
    "percent": "percentage",
    "date": "date",
    "number": "number",
    "name": "name",
    "product_claim": "product claim",
    "team_size": "team size",
    "role": "role",
    "purchase": "purchase or customer status",
    "interaction": "call or meeting",
    "place": "place",
    "industry": "industry",
}
_RISK_WORDS: dict[str, str] = {
    "pricing": "pricing",
    "discount": "discount",
    "commitment": "contract or timeline commitment",
    "legal": "legal topic",
    "medical": "medical topic",
    "financial": "financial topic",
    "account_security": "account security",
    "personal_data": "personal data",
    "competitor": "competitor mention",
    "untrusted_text": "text copied from the lead's notes",
    "credential_request": "asks the lead for a password or login code",
    "payment_request": "asks the lead for a payment or payment details",
    "off_list_link": "link to a domain not on the allow-list",
}

#: Every risk code :func:`risk_flags` can give, for the policy grammar and the docs.
RISK_CODES: tuple[str, ...] = tuple(_RISK_WORDS)
