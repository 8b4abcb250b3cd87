"""Values fit to put in an email, and variants chosen the same way every time for a lead."""

from __future__ import annotations

import hashlib
import re

from drafting.base import LeadFacts
from drafting.guardrails import injection_flags

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_LEADING_JUNK = " \t,;:.!?-–—/|"
_TRAILING_JUNK = " \t,;:-–—/|"
# Person names take no stop of their own: "Ann." before "," reads as a typo.
_NAME_FIELDS = frozenset({"first_name", "last_name", "rep_name"})
#: A value longer than this is more likely junk than a name; it counts as empty, so the
#: sentence that needs it drops out rather than carrying a wall of text into the email.
MAX_VALUE_CHARS = 120
MIN_NOTE_LINE_CHARS = 12


def clean_value(value: str, field: str = "", limit: int = MAX_VALUE_CHARS) -> str:
    """One clean line: no control characters, single spaces, no stray edge punctuation."""
    value = " ".join(_CONTROL_RE.sub(" ", value).split())
    if len(value) > limit:
        return ""
    value = value.lstrip(_LEADING_JUNK).rstrip(_TRAILING_JUNK)
    if field in _NAME_FIELDS:
        value = value.rstrip(".!?").rstrip(_TRAILING_JUNK)
    # A value left with only punctuation would render as "at ." or "Hi ,".
    return value if any(ch.isalnum() for ch in value) else ""


def screen(field: str, value: str) -> str:
    """The value, or "" when the guardrails flag it as instructions rather than data."""
    if value and injection_flags({field: value}):
        return ""
    return value


def holds_note_line(value: str, notes: str) -> bool:
    """Whether the value carries a whole line of the notes (the send step refuses those)."""
    if not value or not notes:
        return False
    lowered = value.lower()
    return any(
        len(line.strip()) >= MIN_NOTE_LINE_CHARS and line.strip().lower() in lowered
        for line in notes.splitlines()
    )


def lead_key(facts: LeadFacts) -> str:
    """What identifies the lead for choosing variants: its CRM id, else its name."""
    return facts.crm_id or f"{facts.first_name}|{facts.last_name}|{facts.company}"


def pick(count: int, *key: str) -> int:
    """A stable index in ``range(count)`` for the key (not Python's per-run ``hash``)."""
    digest = hashlib.sha256("\x1f".join(key).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count
