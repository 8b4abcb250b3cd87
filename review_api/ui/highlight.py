"""Where the guardrails' flags fall in a draft's text, as segments a template marks up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Field = Literal["subject", "body"]
FlagKind = Literal["risk", "claim", "injection"]


@dataclass(frozen=True, slots=True)
class Mark:
    """One flagged stretch of a text."""

    start: int
    end: int
    kind: FlagKind
    note: str


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of text, flagged (``kind`` and ``note``) or plain (``kind`` None)."""

    text: str
    kind: FlagKind | None = None
    note: str = ""


def _find_all(text: str, needle: str) -> list[tuple[int, int]]:
    if not needle.strip():
        return []
    low, want = text.lower(), needle.lower()
    found, at = [], low.find(want)
    while at >= 0:
        found.append((at, at + len(want)))
        at = low.find(want, at + len(want))
    return found


def marks_for(review: dict[str, Any], text: str, field: Field) -> list[Mark]:
    """The flags of a guardrail review that fall in ``text`` (the draft's ``field``):
    claims by their span, risk and injection flags wherever their evidence occurs."""
    marks: list[Mark] = []
    for claim in review.get("unverified_claims") or []:
        if claim.get("field", "body") != field:
            continue
        start, end = (list(claim.get("span") or []) + [0, 0])[:2]
        words = (f"unverified {claim.get('kind', 'claim')}: not in the lead's record or the "
                 "product facts")
        if 0 <= start < end <= len(text) and text[start:end] == claim.get("text", text[start:end]):
            marks.append(Mark(start, end, "claim", words))
        else:  # the span no longer fits (an older payload): look for the words instead
            marks += [Mark(s, e, "claim", words)
                      for s, e in _find_all(text, str(claim.get("text", "")))]
    for flag in review.get("risk_flags") or []:
        note = f"risk: {str(flag.get('code', '')).replace('_', ' ')}"
        marks += [Mark(s, e, "risk", note)
                  for s, e in _find_all(text, str(flag.get("evidence", "")))]
    for flag in review.get("injection_flags") or []:
        note = f"the lead's {flag.get('field', 'record')} read like instructions to the model"
        marks += [Mark(s, e, "injection", note)
                  for s, e in _find_all(text, str(flag.get("evidence", "")))]
    return marks


def segments(text: str, marks: list[Mark]) -> list[Segment]:
    """``text`` cut into plain and flagged runs; where marks overlap, the earlier one wins."""
    out: list[Segment] = []
    at = 0
    for mark in sorted(marks, key=lambda m: (m.start, -m.end)):
        if mark.start < at:
            continue
        if mark.start > at:
            out.append(Segment(text[at:mark.start]))
        out.append(Segment(text[mark.start:mark.end], mark.kind, mark.note))
        at = mark.end
    if at < len(text):
        out.append(Segment(text[at:]))
    return out


def unplaced(review: dict[str, Any], subject: str, body: str) -> list[str]:
    """Injection flags whose evidence is not in the draft (it was in the lead's fields)."""
    return [f"the lead's {f.get('field', 'record')} read like instructions to the model "
            f"({f.get('code', '')}): {f.get('evidence', '')!r}; treated as data only"
            for f in review.get("injection_flags") or []
            if not _find_all(subject + "\n" + body, str(f.get("evidence", "")))]
