"""Grounding: every concrete claim in a draft must trace to the lead's record or the sheet.

Numbers, amounts, percentages, dates, company and person names and product claims are
pulled out of the draft and traced; lead notes are not a source (they are untrusted text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from drafting.base import Draft, LeadFacts
from drafting.guard.facts import ProductFacts, load_product_facts
from drafting.guard.records import ClaimKind, UnverifiedClaim
from drafting.guard.typed import TypedClaim, typed_claims

# ----- claims ---------------------------------------------------------------------------

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_MONTH_NUMBERS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CLAIM_PATTERNS: tuple[tuple[ClaimKind, re.Pattern[str]], ...] = (
    (
        "amount",
        re.compile(
            rf"(?:[$€£]\s?(?:{_NUM})(?:\s?(?:k|K|m|M|bn)\b)?|\b(?:{_NUM})\s?(?:k|K|m|M)?\s?"
            r"(?:USD|EUR|GBP|dollars|euros|pounds)\b)"
        ),
    ),
    ("percent", re.compile(rf"\b(?:{_NUM})\s?(?:%|percent\b|per cent\b)")),
    (
        "date",
        re.compile(
            rf"\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b"
            rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b(?:,?\s+\d{{4}})?"
            rf"|\b{_MONTH}\s+\d{{4}}\b"
            r"|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|\bQ[1-4](?:\s+\d{4})?\b"
        ),
    ),
    ("number", re.compile(rf"\b(?:{_NUM})(?:x\b)?")),
)
_PRODUCT_CLAIM_RE = re.compile(
    r"\b(?:(?:our|the)\s+(?:platform|product|tool|software|solution|service|app|team)s?\s+"
    r"(?!can\b|could\b|may\b|might\b|would\b)\w+"
    r"|we\s+(?:guarantee|offer|provide|integrate|support|reduce|increase|cut|save|deliver|"
    r"have\s+helped|helped|are\s+(?:the|rated|certified|compliant|trusted|used)|power|serve)"
    r"|(?:customers|clients|companies|teams|brands)\s+(?:like|such\s+as|including)"
    r"(?!\s+(?:yours|you|your)\b)"
    r"|award-winning|industry-leading|market-leading|#1|number\s+one|trusted\s+by)\b"
    r"[^.!?\n]*",
    re.IGNORECASE,
)
_WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9'&.-]*[A-Za-z0-9]|[A-Za-z0-9]")
_CAP_TOKEN_RE = re.compile(r"[A-Z][A-Za-z'&.-]*[A-Za-z]|[A-Z]{2,}")
_SENTENCE_START_RE = re.compile(r"(?:^|[.!?:;\n]\s*|\"\s*|\(\s*)$")
_NAME_GLUE = {"&", "of", "de", "van", "von", "and"}

# Capitalised words that are not names: greetings, sign-offs, sentence starters, calendar
# words (dates are claims of their own) and acronyms any sales email uses.
_NOT_NAMES = frozenset(
    """
    a about after again all also although an and any are as at be because before best
    but by can cheers congratulations could dear did do does either even every few for
    from good great happy has have he hello her here hey hi his how however i i'd i'll
    i'm i've if in is it it's its just kind kindly let let's like looking many may maybe
    me most much my no not now of ok okay on once one only or other our out over p.s ps
    perhaps please quick re regards right she should since sincerely so some sorry still
    subject sure than thank thanks that that's the their them then there these they this
    those though thought to today tomorrow too two under unfortunately until up us very
    was we we'd we'll we're we've well were what what's when where whether which while
    who why will with would yes yet you you'd you'll you're you've your warm warmest
    kindest talk speak hope glad welcome following follow following-up just questions
    question pricing price reaching hoping wanted quick introduction intro next last
    monday tuesday wednesday thursday friday saturday sunday weekend morning afternoon
    january february march april june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec ceo cto cfo coo vp svp evp hr it
    ai api crm saas b2b roi faq usa eu uk us pdf q1 q2 q3 q4 am pm
    webinar demo call email meeting team sales
    """.split()
)


@dataclass(frozen=True, slots=True)
class _Claim:
    text: str
    kind: ClaimKind
    start: int
    end: int


def _number_value(text: str) -> str:
    """A number written any way ("1,200", "1200.0", "$1.2k") as one canonical string."""
    match = re.search(_NUM, text)
    if match is None:
        return text
    raw = match.group(0).replace(",", "")
    value = float(raw)
    tail = text[match.end() :].strip().lower()
    if tail.startswith("k"):
        value *= 1_000
    elif tail.startswith("bn"):
        value *= 1_000_000_000
    elif tail.startswith("m") and not tail.startswith("min"):
        value *= 1_000_000
    return f"{value:g}"


def _date_key(text: str) -> str:
    """A date as "month-day" (or the raw text lowered) so "March 5" matches "5 Mar"."""
    lowered = text.lower()
    month = re.search(r"[a-z]{3}", lowered)
    day = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", lowered)
    if month and month.group(0) in _MONTH_NUMBERS and day:
        return f"{_MONTH_NUMBERS[month.group(0)]}-{int(day.group(1))}"
    return " ".join(lowered.split())


def _claims(text: str) -> list[_Claim]:
    """Every concrete claim in one text, longest kinds first, with no overlaps."""
    found: list[_Claim] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for kind, pattern in _CLAIM_PATTERNS:
        for match in pattern.finditer(text):
            if free(match.start(), match.end()):
                found.append(_Claim(match.group(0).strip(), kind, match.start(), match.end()))
                taken.append((match.start(), match.end()))
    for match in _PRODUCT_CLAIM_RE.finditer(text):
        claim = match.group(0).strip().rstrip(",;:")
        found.append(_Claim(claim, "product_claim", match.start(), match.start() + len(claim)))
    found.extend(_names(text, taken))
    return sorted(found, key=lambda c: (c.start, c.end))


def _names(text: str, taken: Sequence[tuple[int, int]]) -> Iterator[_Claim]:
    """Runs of capitalised words that look like company or person names."""
    tokens = list(_WORD_RE.finditer(text))
    capitalised_later = {
        t.group(0).lower()
        for t in tokens
        if _CAP_TOKEN_RE.fullmatch(t.group(0)) and not _SENTENCE_START_RE.search(text[: t.start()])
    }
    run: list[re.Match[str]] = []

    def flush() -> Iterator[_Claim]:
        while run and run[-1].group(0).lower() in _NAME_GLUE:
            run.pop()
        words = [m for m in run if _name_word(m.group(0)) not in _NOT_NAMES]
        if words:
            start, end = words[0].start(), words[-1].end()
            if all(end <= s or start >= e for s, e in taken):
                yield _Claim(text[start:end], "name", start, end)
        run.clear()

    for token in tokens:
        word = token.group(0)
        is_cap = bool(_CAP_TOKEN_RE.fullmatch(word)) or (bool(run) and word.lower() in _NAME_GLUE)
        gap = text[run[-1].end() : token.start()] if run else " "
        if run and (not is_cap or gap not in (" ", " & ")):
            yield from flush()
        if not is_cap or word.lower() in _NAME_GLUE and not run:
            continue
        at_start = not run and bool(_SENTENCE_START_RE.search(text[: token.start()]))
        # A capitalised first word is a name only when it is capitalised elsewhere too or
        # begins a run ("Globex Corp"); otherwise "Looking forward" would be a name.
        if at_start and word.lower() not in capitalised_later:
            nxt = text[token.end() : token.end() + 2]
            if not (nxt.startswith(" ") and nxt[1:2].isupper()):
                continue
        run.append(token)
    yield from flush()


def _name_word(word: str) -> str:
    word = word.lower()
    return word[:-2] if word.endswith("'s") else word


# ----- tracing --------------------------------------------------------------------------

_LEAD_SOURCE_FIELDS = (
    "first_name",
    "last_name",
    "title",
    "company",
    "industry",
    "employees",
    "country",
    "lead_source",
    "past_purchases",
    "recent_activity",
    "rep_name",
    "rep_email",
    "rep_title",
)


@dataclass(frozen=True, slots=True)
class _Sources:
    """What a claim may trace to, indexed once per draft."""

    words: frozenset[str]
    numbers: frozenset[str]
    percents: frozenset[str]
    amounts: frozenset[str]
    dates: frozenset[str]
    text: str

    @classmethod
    def build(cls, texts: Iterable[str]) -> _Sources:
        text = "\n".join(t for t in texts if t)
        claims = _claims(text)
        numbers = {_number_value(c.text) for c in claims if c.kind != "date"}
        numbers |= {_number_value(m.group(0)) for m in re.finditer(_NUM, text)}
        return cls(
            words=frozenset(_stem(w) for w in _WORD_RE.findall(text.lower())),
            numbers=frozenset(numbers),
            percents=frozenset(_number_value(c.text) for c in claims if c.kind == "percent"),
            amounts=frozenset(_number_value(c.text) for c in claims if c.kind == "amount"),
            dates=frozenset(_date_key(c.text) for c in claims if c.kind == "date"),
            text=" ".join(text.lower().split()),
        )

    def traces(self, claim: _Claim) -> bool:
        if claim.kind == "amount":
            return _number_value(claim.text) in self.amounts
        if claim.kind == "percent":
            return _number_value(claim.text) in self.percents
        if claim.kind == "date":
            return (
                _date_key(claim.text) in self.dates
                or " ".join(claim.text.lower().split()) in self.text
            )
        if claim.kind == "number" and claim.text.endswith("x"):
            # "3x" is a multiplier: a "3" elsewhere ("3 times") does not back it.
            return re.search(rf"(?<!\w){re.escape(claim.text)}(?!\w)", self.text) is not None
        if claim.kind == "number":
            return _number_value(claim.text) in self.numbers
        words = [_stem(_name_word(w)) for w in _WORD_RE.findall(claim.text.lower())]
        if claim.kind == "name":
            return all(w in self.words for w in words if w not in _NOT_NAMES)
        # A product claim traces when its content words all come from the sources.
        content = [
            w
            for w in words
            if len(w) > 3 and w not in _NOT_NAMES and w not in _GENERIC and not w.isdigit()
        ]
        return all(w in self.words for w in content)


def _stem(word: str) -> str:
    """A crude stem, so "integrates"/"integrate" and "teams"/"team" meet."""
    word = word.strip(".'&-")
    for suffix in ("'s", "ies", "es", "s", "ed", "ing"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


# Words any product claim uses ("our platform ..."): they carry no claim of their own.
_GENERIC = frozenset(
    _stem(w)
    for w in """platform product tool software solution service app team customer client
    company brand help new offer provide support""".split()
)


def _lead_texts(facts: LeadFacts) -> list[str]:
    texts: list[str] = []
    for name in _LEAD_SOURCE_FIELDS:
        value = getattr(facts, name)
        if isinstance(value, tuple):
            texts.extend(value)
        elif value not in (None, ""):
            texts.append(str(value))
    return texts


def unverified_claims(
    draft: Draft, facts: LeadFacts, product_facts: ProductFacts | None = None
) -> tuple[UnverifiedClaim, ...]:
    """The draft's concrete claims that trace to neither the lead nor the product facts.

    A template draft may also use its template's own text (the admin wrote it); a model's
    draft may not use its prompt, since the prompt carries the untrusted notes.

    Args:
        draft: The draft to check.
        facts: The lead's facts (notes, score, tier and ids are not sources).
        product_facts: The admin's sheet; the packaged default when None.

    Returns:
        The unverified claims, subject first, each with its span in its field.
    """
    sheet = product_facts if product_facts is not None else load_product_facts()
    texts = [*_lead_texts(facts), sheet.grounding_text()]
    if draft.template_id is not None:
        texts.append(draft.prompt)
    sources = _Sources.build(texts)
    elsewhere = "\n".join([facts.company, *facts.recent_activity, *facts.engagement,
                           sheet.grounding_text()])
    out: list[UnverifiedClaim] = []
    for where, text in (("subject", draft.subject), ("body", draft.body)):
        typed = typed_claims(text, facts, elsewhere, (sheet.company, *sheet.products))
        found = [c for c in _claims(text) if not _judged_by_type(c, typed)
                 and not sources.traces(c)]
        found += [_Claim(t.text, t.kind, t.start, t.end) for t in typed  # type: ignore[arg-type]
                  if not t.backed]
        for claim in sorted(found, key=lambda c: (c.start, c.end)):
            out.append(
                UnverifiedClaim(claim.text, claim.kind, (claim.start, claim.end), where)  # type: ignore[arg-type]
            )
    return tuple(out)


def _judged_by_type(claim: _Claim, typed: Sequence[TypedClaim]) -> bool:
    """Whether a typed claim covers this one: "30" in "your 30-person team" is a team size,
    judged against the employee count alone, not against any 30 in the record. A product
    claim only gives way when it starts inside the typed claim, so one that merely runs on
    past an industry word is still traced."""
    for t in typed:
        if claim.kind == "product_claim":
            if t.start <= claim.start < t.end:
                return True
        elif claim.start < t.end and t.start < claim.end:
            return True
    return False
