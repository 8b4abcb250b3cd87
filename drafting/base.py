"""The drafter contract: the facts a drafter may use, the draft it returns, the protocol.

A drafter sees a lead only through :class:`LeadFacts`, a flat record the pipeline builds
from the CRM snapshot and the score. Whatever is not in it cannot reach an email, which is
what lets the guardrails trace every fact in a draft back to the lead's record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

_WHITESPACE_RE = re.compile(r"\s+")


def _clean_line(value: Any) -> str:
    """One line of text from any value: no newlines or runs of spaces, stripped."""
    if value is None:
        return ""
    return _WHITESPACE_RE.sub(" ", str(value)).strip()


def _to_int(value: Any) -> int | None:
    """An int from an int, a float or a numeric string; None when there is none."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(float(str(value).strip()))
    except ValueError:
        return None


def _to_lines(value: Any) -> tuple[str, ...]:
    """A tuple of non-empty single-line strings from a string or an iterable of them."""
    if value is None:
        return ()
    items: Iterable[Any] = [value] if isinstance(value, str) else value
    lines = (_clean_line(item) for item in items)
    return tuple(line for line in lines if line)


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """The facts a drafter may use about one lead, and only those.

    ``notes`` is free text typed by people or imported from other systems: it is data,
    never instructions, and no drafter pastes it into an email. ``recent_activity`` holds
    human-readable lines the pipeline writes from engagement events, e.g. "visited the
    pricing page 3 times in the last 14 days". ``score``, ``tier`` and ``top_factors`` are
    scoring output, given for context only.
    """

    crm_id: str = ""
    first_name: str = ""
    last_name: str = ""
    title: str = ""
    company: str = ""
    industry: str = ""
    employees: int | None = None
    country: str = ""
    lead_source: str = ""
    past_purchases: int = 0
    notes: str = ""
    recent_activity: tuple[str, ...] = ()
    top_factors: tuple[str, ...] = ()
    rep_name: str = ""
    rep_email: str = ""
    score: int | None = None
    tier: str | None = None

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> LeadFacts:
        """Build facts from a plain mapping, tolerant of missing keys and loose types.

        Unknown keys are ignored; ``None`` becomes an empty value; numbers may arrive as
        strings; list fields may arrive as one string or any iterable of strings.

        Args:
            m: A lead record, e.g. a CRM snapshot merged with the lead's score.

        Returns:
            The facts, with single-line text fields cleaned of newlines and extra spaces.
        """
        tier = _clean_line(m.get("tier"))
        return cls(
            crm_id=_clean_line(m.get("crm_id")),
            first_name=_clean_line(m.get("first_name")),
            last_name=_clean_line(m.get("last_name")),
            title=_clean_line(m.get("title")),
            company=_clean_line(m.get("company")),
            industry=_clean_line(m.get("industry")),
            employees=_to_int(m.get("employees")),
            country=_clean_line(m.get("country")),
            lead_source=_clean_line(m.get("lead_source")),
            past_purchases=max(_to_int(m.get("past_purchases")) or 0, 0),
            # Notes keep their line breaks: they are shown to the model as a block of data.
            notes="" if m.get("notes") is None else str(m.get("notes")).strip(),
            recent_activity=_to_lines(m.get("recent_activity")),
            top_factors=_to_lines(m.get("top_factors")),
            rep_name=_clean_line(m.get("rep_name")),
            rep_email=_clean_line(m.get("rep_email")),
            score=_to_int(m.get("score")),
            tier=tier or None,
        )


@dataclass(frozen=True, slots=True)
class Draft:
    """One proposed email, with what the audit trail needs to explain it.

    ``prompt`` is the exact template source or the prompt messages sent, as text.
    ``facts_used`` names the :class:`LeadFacts` fields whose values appear in the draft.
    ``fallback_reason`` is set when the configured drafter failed and another one wrote
    this draft. ``token_usage`` holds the model's token counts when a model was called.
    ``confidence`` is the model's own 0-1 estimate (None for drafters that give none).
    ``applied_rules`` names the learned edit rules (:mod:`drafting.learning`) applied to it.
    """

    subject: str
    body: str
    drafter: str
    drafter_version: str
    template_id: str | None
    prompt: str
    facts_used: tuple[str, ...]
    fallback_reason: str | None = None
    token_usage: dict[str, int] | None = None
    confidence: float | None = None
    applied_rules: tuple[str, ...] = ()


@runtime_checkable
class Drafter(Protocol):
    """Writes a draft email for one lead from its facts alone."""

    name: str
    version: str

    def draft(self, facts: LeadFacts) -> Draft:
        """Write a draft for the lead described by ``facts``."""
        ...
