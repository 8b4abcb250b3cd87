"""Risk flags: the risky topics in a draft that the admin has not already approved."""

from __future__ import annotations

import re

from drafting.base import Draft, LeadFacts
from drafting.guard.claims import _WORD_RE
from drafting.guard.facts import ProductFacts, load_product_facts
from drafting.guard.links import request_flags
from drafting.guard.records import RiskFlag

# ----- risk flags -----------------------------------------------------------------------

_RISK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(pattern, re.IGNORECASE))
    for code, pattern in (
        (
            "pricing",
            r"\b(?:pric(?:e|es|ing|ed)|costs?|quotes?|quotation|fees?|invoices?|per\s+(?:seat|user|"
            r"month|year|licen[cs]e)|subscription\s+(?:plan|tier)s?|budget)\b|[$€£]\s?\d",
        ),
        (
            "discount",
            r"\b(?:discount\w*|\d+\s?(?:%|percent)\s+off|free\s+(?:trial|month|months|upgrade|"
            r"licen[cs]es?)|promo(?:tion)?(?:\s+code)?|coupon|rebate|special\s+offer|waive\w*|"
            r"money[- ]back|half[- ]price|no\s+charge)\b",
        ),
        (
            "commitment",
            r"\b(?:contracts?|guarantee\w*|warrant(?:y|ies)|SLAs?|service[- ]level|"
            r"we\s+(?:will|'ll)\s+(?:deliver|have\s+you|get\s+you|ship|refund)|"
            r"commit(?:ment|ted)?|promise\w*|deadline|go[- ]live\s+(?:by|on|in)|"
            r"within\s+\d+\s+(?:days|weeks|hours)|by\s+(?:the\s+end\s+of|end\s+of)\s+"
            r"(?:the\s+)?(?:week|month|quarter|year)|refund\w*|cancel\s+any\s*time|"
            r"lock(?:ed)?\s+in|binding)\b",
        ),
        (
            "legal",
            r"\b(?:legal\w*|lawsuits?|litigation|liabilit(?:y|ies)|liable|indemn\w*|attorneys?|"
            r"lawyers?|terms\s+and\s+conditions|regulator\w*|complian(?:t|ce)|GDPR|CCPA|"
            r"court|subpoena|intellectual\s+property)\b",
        ),
        (
            "medical",
            r"\b(?:medical|medicine|diagnos\w*|patients?|HIPAA|prescri\w*|therap\w*|illness|"
            r"disease|symptoms?|clinical|health\s+(?:condition|record|data)s?|doctor)\b",
        ),
        (
            "financial",
            r"\b(?:invest\w*|ROI|returns?\s+on|tax(?:es)?|loans?|credit\s+(?:score|line|card)|"
            r"interest\s+rates?|financial\s+advice|stocks?|revenue|earnings|bank\s+account|"
            r"wire\s+transfer)\b",
        ),
        (
            "account_security",
            r"\b(?:passwords?|passcodes?|log[- ]?in\s+details|credentials|verify\s+your\s+account|"
            r"2FA|two[- ]factor|security\s+(?:code|question)s?|one[- ]time\s+code|reset\s+your|"
            r"account\s+(?:details|number)|PIN)\b",
        ),
        (
            "personal_data",
            r"\b(?:date\s+of\s+birth|birthday|home\s+address|social\s+security|SSN|passport|"
            r"salary|your\s+(?:family|kids|children|wife|husband|age|health)|personal\s+"
            r"(?:email|phone|address|details)|marital)\b",
        ),
    )
)
_EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE_RE = re.compile(r"(?<![\w+])\+?\d[\d ()./-]{7,}\d\b")
_SHINGLE = 6


def _evidence(text: str, start: int, end: int) -> str:
    """The matched words with a little context, on one line."""
    left = text.rfind("\n", 0, start) + 1
    left = max(left, start - 30)
    right = text.find("\n", end)
    right = min(right if right != -1 else len(text), end + 30)
    snippet = " ".join(text[left:right].split())
    return ("…" if left > 0 and text[left - 1] != "\n" else "") + snippet


def risk_flags(
    draft: Draft, facts: LeadFacts, product_facts: ProductFacts | None = None
) -> tuple[RiskFlag, ...]:
    """The risky topics in a draft, one flag per code and distinct evidence.

    Args:
        draft: The draft to check.
        facts: The lead's facts: the rep's own address is not personal data, and text
            lifted from the notes is flagged.
        product_facts: For the competitor list; the packaged default when None.

    Returns:
        The flags, in a stable order (by code, then position).
    """
    sheet = product_facts if product_facts is not None else load_product_facts()
    text = f"{draft.subject}\n{draft.body}"
    approved = _approved_spans(text, draft, facts, sheet) + _name_spans(text, facts, sheet)
    flags: list[RiskFlag] = []
    for code, pattern in _RISK_PATTERNS:
        seen: set[str] = set()
        for match in pattern.finditer(text):
            if any(start <= match.start() and match.end() <= end for start, end in approved):
                continue
            evidence = _evidence(text, match.start(), match.end())
            if evidence not in seen and len(seen) < 3:
                seen.add(evidence)
                flags.append(RiskFlag(code, evidence))
    own = {facts.rep_email.lower()} - {""}
    for match in _EMAIL_RE.finditer(text):
        if match.group(0).lower() not in own:
            flags.append(RiskFlag("personal_data", match.group(0)))
    for match in _PHONE_RE.finditer(text):
        if sum(ch.isdigit() for ch in match.group(0)) >= 8:
            flags.append(RiskFlag("personal_data", match.group(0)))
    for name in sheet.competitors:
        named = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE)
        if named:
            flags.append(RiskFlag("competitor", _evidence(text, named.start(), named.end())))
    lifted = _lifted_from(facts.notes, text)
    if lifted:
        flags.append(RiskFlag("untrusted_text", lifted))
    return tuple(flags) + request_flags(draft, facts, sheet)


_LEGAL_SUFFIX = re.compile(
    r"[\s,]+(?:inc|incorporated|ltd|limited|llc|llp|plc|corp|corporation|co|gmbh|ag|sa|sas|"
    r"srl|bv|nv|oy|ab|pty|kk|group|holdings|partners|associates)\.?$",
    re.IGNORECASE,
)


def _name_spans(text: str, facts: LeadFacts, sheet: ProductFacts) -> list[tuple[int, int]]:
    """Where the draft names the lead's company, ours or our products.

    A name is not a topic: "Unionlake Medical Inc." is a company, not a medical subject, and
    "Summit Financial" is not financial advice. The same word elsewhere in the draft still
    counts. The name without its legal suffix ("Unionlake Medical") is a name too.
    """
    names = {facts.company, sheet.company, *sheet.products}
    names |= {_LEGAL_SUFFIX.sub("", n) for n in names}
    spans = []
    for name in names:
        name = name.strip(" .,")
        if len(name) < 3:
            continue
        pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE)
        spans += [(m.start(), m.end()) for m in pattern.finditer(text)]
    return spans


_TEMPLATE_MARKUP = re.compile(r"\{[^{}]*\}|\[\[|\]\]")
_MIN_APPROVED = 12


def _approved_spans(
    text: str, draft: Draft, facts: LeadFacts, sheet: ProductFacts
) -> list[tuple[int, int]]:
    """Stretches of the draft an admin already approved, or that state the lead's own record.

    A template's literal wording was written by the admin, the product facts sheet is theirs,
    and a recent-activity line ("visited the pricing page twice") is what the lead did: a
    risky word there is no new risk. Without this every pricing-page follow-up would carry a
    pricing flag, and reps learn to ignore flags that are always there. Text a model wrote,
    or anything lifted from the notes, is never approved.
    """
    pieces: list[str] = [*facts.recent_activity, *sheet.claims, *sheet.allowed_phrases]
    if draft.drafter == "template" and draft.prompt:
        pieces += [p.strip() for line in draft.prompt.splitlines()
                   for p in _TEMPLATE_MARKUP.split(line.removeprefix("Subject:"))]
    lowered = text.lower()
    spans = []
    for piece in pieces:
        piece = piece.strip(" .,;:!?\"'").lower()
        if len(piece) < _MIN_APPROVED:
            continue
        start = lowered.find(piece)
        while start != -1:
            spans.append((start, start + len(piece)))
            start = lowered.find(piece, start + 1)
    return spans


def _lifted_from(notes: str, text: str) -> str:
    """The first run of ``_SHINGLE`` words that the text shares with the notes, if any."""
    note_words = _WORD_RE.findall(notes.lower())
    if len(note_words) < _SHINGLE:
        return ""
    shingles = {tuple(note_words[i : i + _SHINGLE]) for i in range(len(note_words) - _SHINGLE + 1)}
    words = _WORD_RE.findall(text.lower())
    for i in range(len(words) - _SHINGLE + 1):
        if tuple(words[i : i + _SHINGLE]) in shingles:
            return " ".join(words[i : i + _SHINGLE])
    return ""
