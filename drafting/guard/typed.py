"""Claims by type: each is matched to the one fact it is about, not to any word in the record.

* team size against ``employees``, with "around", "over", "fewer than" ... understood;
* a role the draft gives the lead ("As CFO") against ``title``;
* purchases and customer status against ``past_purchases`` (and a status naming a customer);
* calls, meetings and replies against the activity history;
* places against ``country``; industries against ``industry``.

A claim whose fact the record does not hold (no employee count, no title, no country ...)
is unverified too: it matches no known fact.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from drafting.base import LeadFacts
from drafting.guard.vocab import (
    ORG_NOUNS,
    PLACE_RE,
    PLACES,
    ROLE_HEADS,
    ancestors,
    country_code,
    industry_families,
    industry_terms,
    role_words,
)


@dataclass(frozen=True, slots=True)
class TypedClaim:
    """One claim about the lead, where it is, and whether the lead's record backs it."""

    kind: str
    text: str
    start: int
    end: int
    backed: bool


# ----- team size ------------------------------------------------------------------------

_NUM = r"\d{1,3}(?:,\d{3})+|\d+"
_QUAL = (r"(?:well over|just over|just under|more than|fewer than|less than|at least|up to|"
         r"close to|north of|around|about|roughly|approximately|nearly|almost|some|over|under|"
         r"above|below|~)")
_WORD_NUM = (r"(?:a|one) (?:hundred|thousand)|several hundred|a few hundred|hundreds|thousands|"
             r"dozens")
_AMOUNT = rf"(?:{_QUAL}\s+)?(?:{_NUM}|{_WORD_NUM})(?:\+)?"
_PEOPLE = r"(?:people|employees|staff|team members|workers|colleagues|ftes|heads|person|people)"
_TEAM_RES = (
    re.compile(rf"\b(?:{_QUAL}\s+)?(?:{_NUM})\+?[- ](?:person|people|strong|employee|staff)\b"
               r"(?:\s+(?:team|company|org|organi[sz]ation|business|firm|outfit))?", re.I),
    re.compile(rf"(?<![\w$€£.,-]){_AMOUNT}(?:\s+of)?\s+{_PEOPLE}\b", re.I),
    re.compile(rf"\b(?:team|company|organi[sz]ation|business|firm|headcount|staff)\s+of\s+"
               rf"{_AMOUNT}(?!\s*(?:%|percent\b))", re.I),
)


def _team_value(text: str) -> tuple[float, float] | None:
    """The range of employee counts a team-size phrase allows; None when it has no number."""
    lowered = text.lower()
    match = re.search(_NUM, lowered)
    if match is not None:
        n = float(match.group(0).replace(",", ""))
    elif "thousands" in lowered:
        return 2_000, float("inf")
    elif "hundreds" in lowered or "several hundred" in lowered or "few hundred" in lowered:
        return 200, 999
    elif "dozens" in lowered:
        return 24, 150
    elif "thousand" in lowered:
        n = 1_000
    elif "hundred" in lowered:
        n = 100
    else:
        return None
    # The qualifier stands right before the number ("a company of over 300").
    qual = re.search(rf"\b({_QUAL})\s+(?:{_NUM}|{_WORD_NUM})", lowered)
    word = qual.group(1) if qual else ""
    if word in ("over", "more than", "above", "north of", "just over", "well over",
                "at least") or text.rstrip().endswith("+") or "+" in text:
        return n, float("inf")
    if word in ("under", "fewer than", "less than", "below", "up to", "just under"):
        return 0, n
    if word in ("nearly", "almost", "close to"):
        return n * 0.8, n
    if word:
        return n * 0.75, n * 1.3
    return n - max(1, n * 0.05), n + max(1, n * 0.05)


def _team_sizes(text: str, facts: LeadFacts) -> Iterator[TypedClaim]:
    for pattern in _TEAM_RES:
        for m in pattern.finditer(text):
            span = _team_value(m.group(0))
            if span is None:
                continue
            backed = facts.employees is not None and span[0] <= facts.employees <= span[1]
            yield TypedClaim("team_size", m.group(0), m.start(), m.end(), backed)


# ----- roles ----------------------------------------------------------------------------

_ROLE_INTRO_RE = re.compile(
    r"\b(?:in your (?:role|position|capacity) as|as|you're|you are)\s+(?:the\s+|a\s+|an\s+)?",
    re.I,
)
_TOKEN_RE = re.compile(r"[A-Za-z][\w&.'’-]*")
_ROLE_GLUE = {"of", "and", "&", "for"}


def _roles(text: str, facts: LeadFacts) -> Iterator[TypedClaim]:
    for intro in _ROLE_INTRO_RE.finditer(text):
        pos = intro.end()
        tokens: list[re.Match[str]] = []
        while (m := _TOKEN_RE.match(text, pos)) is not None:
            word = m.group(0).rstrip(".")
            lowered = word.lower()
            if lowered.endswith(("'s", "’s")) and not tokens[1:]:
                tokens = []  # "Acme's CFO": the company is not part of the role
            elif word[0].isupper() or lowered in ROLE_HEADS or lowered in _ROLE_GLUE:
                tokens.append(m)
            else:
                break
            gap = text[m.end() : m.end() + 1]
            if gap != " ":
                break
            pos = m.end() + 1
        while tokens and tokens[-1].group(0).lower() in _ROLE_GLUE:
            tokens.pop()
        if not tokens or not any(t.group(0).lower().rstrip(".") in ROLE_HEADS for t in tokens):
            continue
        start, end = tokens[0].start(), tokens[-1].end()
        claimed, title = role_words(text[start:end]), role_words(facts.title)
        backed = bool(title) and claimed <= title
        yield TypedClaim("role", text[start:end], start, end, backed)


# ----- purchases, customer status, calls and meetings ----------------------------------

_BOUGHT = re.compile(
    r"\b(?:thanks?(?: you)? (?:again )?for (?:buying|purchasing|choosing|your (?:recent |latest |"
    r"earlier |last |previous |first )?(?:purchase|order|business)|being (?:a|an|our) "
    r"(?:\w+ )?customer)"
    r"|your (?:recent |latest |earlier |last |previous |first )(?:purchase|order)"
    r"|your (?:\w+ ){0,2}(?:subscription|renewal)"
    r"|(?:already|existing|current|valued|loyal|long-?time|returning) customers?"
    r"|(?:a|our) customer (?:already|again)|already (?:a|an|our) (?:\w+ )?customer"
    r"|welcome back)\b",
    re.I,
)


def _usage_re(products: tuple[str, ...]) -> re.Pattern[str]:
    """"you already use Northwind", "you've been using our ...": using us claims a purchase."""
    ours = "|".join([r"us\b", r"our\b", *(re.escape(p) + r"\b" for p in products)])
    return re.compile(
        rf"\byou(?:'ve| have| are)? (?:already |been )?(?:use|using|bought|purchased|chose|on)"
        rf" (?:{ours})", re.I)


_NOT_BOUGHT = re.compile(
    r"\b(?:(?:never|not yet|haven't|have not|hasn't|has not) (?:yet )?(?:bought|purchased|"
    r"tried|used|signed up)|haven't tried \w+ yet|not (?:yet )?a customer|your first purchase)\b",
    re.I,
)
_TALKED = re.compile(
    r"\b(?:(?:our|that|yesterday's|today's|last week's)\s+(?:recent |earlier |last |"
    r"discovery |intro |introductory |quick |phone |video |renewal |zoom |teams |follow-up )*"
    r"(?:call|chat|conversation|talk|discussion|meeting)"
    r"|the\s+(?:recent |earlier |last |discovery |intro |phone |video |renewal )*(?:call|meeting)"
    r"|(?:when |where )?we (?:spoke|talked|chatted|met|discussed)|as we discussed"
    r"|on the phone|met you|enjoyed (?:meeting|speaking|talking|our)"
    r"|(?:great|good|nice|lovely|a pleasure) (?:meeting|seeing|speaking with|talking to) you"
    r"|(?:was|were) (?:great|good|nice|lovely|a pleasure) (?:to meet|to see|to speak with) you"
    r"|thanks? (?:you )?for (?:meeting|speaking|talking|the call|your time on))\b",
    re.I,
)
_TALK_RECORD = re.compile(
    r"\b(?:call|called|phone|spoke|spoken|conversation|chat|chatted|talk|talked|meeting|met|"
    r"meet|booth|discovery)\b", re.I)
_REPLIED = re.compile(r"\bthanks? (?:you )?for (?:your|the) (?:reply|response|answer)\b", re.I)


def _is_customer(facts: LeadFacts) -> bool:
    return facts.past_purchases > 0 or "customer" in facts.status.lower()


def _history(text: str, facts: LeadFacts, products: tuple[str, ...]
             ) -> Iterator[TypedClaim]:
    history = [*facts.recent_activity, *facts.engagement]
    talked = any(_TALK_RECORD.search(line) for line in history)
    checks: tuple[tuple[str, re.Pattern[str], bool], ...] = (
        ("purchase", _BOUGHT, _is_customer(facts)),
        ("purchase", _usage_re(products), _is_customer(facts)),
        ("purchase", _NOT_BOUGHT, not _is_customer(facts)),
        ("interaction", _TALKED, talked),
        ("interaction", _REPLIED, facts.replied),
    )
    for kind, pattern, backed in checks:
        for m in pattern.finditer(text):
            yield TypedClaim(kind, m.group(0), m.start(), m.end(), backed)


# ----- places and industries ------------------------------------------------------------


def _places(text: str, facts: LeadFacts, elsewhere: str) -> Iterator[TypedClaim]:
    code = country_code(facts.country)
    for m in PLACE_RE.finditer(text):
        word = m.group(1)
        backed = (code in PLACES[word] if code else
                  bool(facts.country) and word.lower() == facts.country.lower())
        # A place in the company's name, the activity lines or the product facts is theirs.
        backed = backed or re.search(rf"(?<!\w){re.escape(word)}(?!\w)", elsewhere) is not None
        yield TypedClaim("place", word, m.start(1), m.end(1), backed)


def _industry_pattern() -> re.Pattern[str]:
    strong = "|".join(re.escape(t).replace(r"\?", "?") for t, _, s in industry_terms() if s)
    every = "|".join(re.escape(t).replace(r"\?", "?") for t, _, _ in industry_terms())
    return re.compile(
        rf"(?<![\w-])(?:(?P<weak>{every})\s+(?:{ORG_NOUNS})|(?P<strong>{strong}))(?![\w-])",
        re.I,
    )


_INDUSTRY_RE = _industry_pattern()
_TERM_FAMILY = {t.rstrip("?").lower(): f for t, f, _ in industry_terms()}


def _family(term: str) -> str | None:
    lowered = term.lower()
    for candidate in (lowered, lowered.rstrip("s"), re.sub(r"ies$", "y", lowered)):
        if candidate in _TERM_FAMILY:
            return _TERM_FAMILY[candidate]
    for t, f, _ in industry_terms():
        if re.fullmatch(t, lowered):
            return f
    return None


def _industries(text: str, facts: LeadFacts) -> Iterator[TypedClaim]:
    lead = industry_families(facts.industry)
    for m in _INDUSTRY_RE.finditer(text):
        term = m.group("weak") or m.group("strong")
        family = _family(term)
        if family is None:
            continue
        backed = any(family in ancestors(own) for own in lead)
        yield TypedClaim("industry", m.group(0), m.start(), m.end(), backed)


# ----- all of them ----------------------------------------------------------------------

_SUFFIX_RE = re.compile(r"[\s,]+(?:inc|llc|ltd|gmbh|ag|sa|plc|corp|co|bv|nv|llp|pty)\.?$", re.I)


def _name_spans(text: str, company: str) -> list[tuple[int, int]]:
    """Where the lead's company is named: "Unionlake Freight" names no industry."""
    names = {company.strip(), _SUFFIX_RE.sub("", company.strip())} - {""}
    return [(m.start(), m.end()) for name in names
            for m in re.finditer(rf"(?<!\w){re.escape(name)}(?:'s|’s)?(?!\w)", text, re.I)]



def typed_claims(text: str, facts: LeadFacts, elsewhere: str = "",
                 products: tuple[str, ...] = ()) -> list[TypedClaim]:
    """Every typed claim in one text, judged against its fact; overlaps keep the longest.

    Args:
        text: A draft's subject or body.
        facts: The lead's record.
        elsewhere: Text whose places belong to the lead or to us (company name, activity
            lines, the product facts sheet).
        products: Our product names ("you already use Northwind" claims a purchase).
    """
    finders: tuple[Callable[[], Iterator[TypedClaim]], ...] = (
        lambda: _team_sizes(text, facts),
        lambda: _roles(text, facts),
        lambda: _history(text, facts, products),
        lambda: _places(text, facts, elsewhere),
        lambda: _industries(text, facts),
    )
    names = _name_spans(text, facts.company)
    found = [claim for finder in finders for claim in finder()
             if not any(s <= claim.start and claim.end <= e for s, e in names)]
    found.sort(key=lambda c: (c.start, -(c.end - c.start)))
    kept: list[TypedClaim] = []
    for claim in found:
        same = [k for k in kept if k.kind == claim.kind and k.start < claim.end
                and claim.start < k.end]
        if not same:
            kept.append(claim)
        elif not claim.backed and all(k.backed for k in same):
            # Two readings of one phrase: an unbacked one wins, so no wrong fact hides.
            kept = [k for k in kept if k not in same] + [claim]
    return sorted(kept, key=lambda c: c.start)
