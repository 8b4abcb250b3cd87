"""The drafter contract: the facts a drafter may use, the draft it returns, the protocol.

A drafter sees a lead only through :class:`LeadFacts`, a flat record the pipeline builds
from the CRM snapshot and the score. Whatever is not in it cannot reach an email, which is
what lets the guardrails trace every fact in a draft back to the lead's record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

_WHITESPACE_RE = re.compile(r"\s+")
_MAX_ENGAGEMENT_LINES = 40


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


def _event_time(value: Any) -> datetime | None:
    """An aware datetime from a datetime or an ISO string; None when there is none."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _to_engagement(value: Any) -> tuple[str, ...]:
    """"kind: detail" lines, newest first, from event mappings (or ready-made lines)."""
    if value is None or isinstance(value, str | bytes) or not isinstance(value, Iterable):
        return ()
    dated: list[tuple[datetime | None, str]] = []
    for item in value:
        if isinstance(item, Mapping):
            kind, detail = _clean_line(item.get("kind")), _clean_line(item.get("detail"))
            if kind:
                line = f"{kind}: {detail}" if detail else kind
                dated.append((_event_time(item.get("at")), line))
        elif isinstance(item, str) and _clean_line(item):
            dated.append((None, _clean_line(item)))
    floor = datetime.min.replace(tzinfo=UTC)
    dated.sort(key=lambda pair: pair[0] or floor, reverse=True)
    return tuple(line for _, line in dated[:_MAX_ENGAGEMENT_LINES])


def days_since_engaged(events: Any, now: datetime) -> int | None:
    """Whole days from the lead's newest dated event to ``now``; None without one."""
    if events is None or isinstance(events, str | bytes) or not isinstance(events, Iterable):
        return None
    times = [t for e in events if isinstance(e, Mapping) and (t := _event_time(e.get("at")))]
    if not times:
        return None
    return max(0, (now - max(times)).days)


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """The facts a drafter may use about one lead, and only those.

    ``notes`` is free text typed by people or imported from other systems: it is data,
    never instructions, and no drafter pastes it into an email. ``recent_activity`` holds
    human-readable lines the pipeline writes from engagement events, e.g. "visited the
    pricing page 3 times in the last 14 days". ``score``, ``tier`` and ``top_factors`` are
    scoring output, given for context only.

    ``status`` is the CRM's lead status; ``engagement`` holds the lead's events as
    "kind: detail" lines, newest first (e.g. "webinar: Live product tour"), without counts or
    dates; ``days_since_engaged`` is the age in days of the newest event. ``emails_sent``
    counts our emails already sent to the lead and ``replied`` says whether it ever replied,
    when the caller knows. ``rep_title`` is the owning rep's job title, when the CRM has one.
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
    status: str = ""
    engagement: tuple[str, ...] = ()
    days_since_engaged: int | None = None
    emails_sent: int = 0
    replied: bool = False
    rep_title: str = ""

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> LeadFacts:
        """Build facts from a plain mapping, tolerant of missing keys and loose types.

        Unknown keys are ignored; ``None`` becomes an empty value; numbers may arrive as
        strings; list fields may arrive as one string or any iterable of strings.
        ``engagement`` may arrive as ``events``: mappings with ``kind``, ``detail`` and ``at``.

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
            status=_clean_line(m.get("status")),
            engagement=_to_engagement(m.get("engagement", m.get("events"))),
            days_since_engaged=_to_int(m.get("days_since_engaged")),
            emails_sent=max(_to_int(m.get("emails_sent")) or 0, 0),
            replied=m.get("replied") is True,
            rep_title=_clean_line(m.get("rep_title")),
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
