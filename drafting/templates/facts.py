"""Structured facts read from a lead's notes, for the kinds an admin allows.

Notes are free text and are never pasted into an email. A small, conservative parser may
still read a few structured facts out of them, which a template can state in its own words:

* ``seats``: "Wants pricing for 120 seats", "needs 40 licences", "quote for 25 users";
* ``timeline``: a labelled line such as "timeline: Q3" or "- timeline: next quarter".

Anything less clear gives nothing. A note the guardrails flag as instructions gives nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

#: The fact kinds a template may use, when an admin allows them.
FACT_KINDS: tuple[str, ...] = ("seats", "timeline")
MAX_SEATS = 100_000

_SEATS_RE = re.compile(
    r"\b(?:wants?|needs?|asked\s+for|asking\s+for|looking\s+for|requested|requires?|"
    r"pricing\s+for|quote\s+for|budget\s+for|plans?\s+for|interested\s+in)\b"
    r"[^.\n\d]{0,30}?\b(\d{1,6})\s+(?:seats|users|licen[cs]es)\b",
    re.IGNORECASE,
)
_ANY_SEATS_RE = re.compile(r"\b(\d{1,6})\s+(?:seats|users|licen[cs]es)\b", re.IGNORECASE)
_NEGATION_RE = re.compile(r"\b(?:not|no\s+longer|never|don't|doesn't|won't|without)\b",
                          re.IGNORECASE)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_TIMELINE_RE = re.compile(
    r"^\s*(?:[-*•]\s*)?timeline\s*[:=]\s*(Q[1-4]|next\s+quarter|this\s+quarter|"
    rf"{'|'.join(_MONTHS)})\s*\.?\s*$",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class NoteFacts:
    """Facts read from notes; None where nothing clear was found or the kind is not allowed."""

    seats: int | None = None
    timeline: str | None = None


def _timeline_words(raw: str) -> str:
    raw = " ".join(raw.split())
    if raw[0] in "qQ" and len(raw) == 2:
        return raw.upper()
    month = next((m for m in _MONTHS if m.lower() == raw.lower()), None)
    return month or raw.lower()


def read_note_facts(
    notes: str, allowed: Collection[str], *, hostile: Callable[[str], bool]
) -> NoteFacts:
    """The allowed facts the notes state plainly.

    Args:
        notes: The lead's notes.
        allowed: The fact kinds an admin allows (see :data:`FACT_KINDS`).
        hostile: Whether a line reads like instructions (the guardrails' check).

    Returns:
        The facts found; empty when none are allowed, found, or the notes are hostile.
    """
    if not notes.strip() or not allowed or hostile(notes):
        return NoteFacts()
    seats: int | None = None
    timeline: str | None = None
    if "seats" in allowed:
        found = set()
        for line in notes.splitlines():
            for match in _SEATS_RE.finditer(line):
                if not _NEGATION_RE.search(line[: match.end()]):
                    found.add(int(match.group(1)))
        # Two different figures in one record: which one holds is a rep's call, not ours.
        figures = {int(m.group(1)) for m in _ANY_SEATS_RE.finditer(notes)}
        if len(found) == 1 and figures == found and 0 < (number := found.pop()) <= MAX_SEATS:
            seats = number
    if "timeline" in allowed:
        timelines = {_timeline_words(m.group(1)) for m in _TIMELINE_RE.finditer(notes)}
        if len(timelines) == 1:
            timeline = timelines.pop()
    return NoteFacts(seats=seats, timeline=timeline)
