"""Template text: placeholders, optional segments, rendering and tidy punctuation.

``{name}`` is a placeholder, ``{name|default}`` gives a default, ``[[ ... ]]`` is an optional
segment that drops out when a placeholder inside it is empty, ``{{``/``}}`` are literal
braces. Values are fetched by name from a fixed map (never ``str.format``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from drafting.errors import TemplateError

#: Placeholder name -> the LeadFacts field its value comes from (for ``facts_used``); None
#: for a placeholder filled from the template itself (a chosen variant).
PLACEHOLDERS: dict[str, str | None] = {
    "first_name": "first_name",
    "last_name": "last_name",
    "title": "title",
    "company": "company",
    "industry": "industry",
    "country": "country",
    "rep_name": "rep_name",
    "rep_title": "rep_title",
    "rep_email": "rep_email",
    "activity_line": "recent_activity",
    "topic": "engagement",
    "seats": "notes",
    "timeline": "notes",
    "opening": None,
    "ask": None,
    "sign_off": None,
}
#: Parts of a template with variants, used in its body as ``{opening}``, ``{ask}``, ...
PARTS = ("opening", "ask", "sign_off")

Fail = Callable[[str], TemplateError]

_NAME_RE = re.compile(r"^[a-z_]+$")
_TOKEN_RE = re.compile(r"\{\{|\}\}|\[\[|\]\]|\{([^{}\n]*)\}|[{}]")
_SPACES_RE = re.compile(r"[ \t\u00a0]+")
_SPACE_BEFORE_PUNCT_RE = re.compile(r" +([,.;:!?)])")
_BLANK_RUN_RE = re.compile(r"\n{3,}")
# A name's own stop ("Corp.", "S.A.") followed by the sentence's: one stop is enough.
_DOUBLE_STOP_RE = re.compile(r"(?<!\.)\.\.(?!\.)")
_FOUR_STOPS_RE = re.compile(r"(?<!\.)\.{4,}")
# "Yahoo!." / "Jeeves?." : the name's own mark ends the sentence.
_MARK_THEN_STOP_RE = re.compile(r"([!?])\.(?!\.)")
_REPEATED_COMMA_RE = re.compile(r"([,;:])(?:\s*[,;:])+")
_COMMA_THEN_STOP_RE = re.compile(r"[,;:]+([.?!])")
# Marks where an optional segment dropped out, so the line it leaves empty can go too.
# Control characters are stripped from values, so this can only come from a drop.
DROP = "\x00"


@dataclass(frozen=True, slots=True)
class Slot:
    name: str
    default: str | None


@dataclass(frozen=True, slots=True)
class OptionalSegment:
    parts: tuple[str | Slot, ...]


Part = str | Slot | OptionalSegment


def parse_text(
    text: str, field: str, fail: Fail, *, always_filled: Collection[str] = ()
) -> tuple[Part, ...]:
    """Parse a subject or body into literal text, placeholders and optional segments.

    ``always_filled`` names placeholders that can never be empty (the template's own
    parts), so they need no default.
    """
    expected = ", ".join(f"{{{name}}}" for name in sorted(PLACEHOLDERS))
    top: list[Part] = []
    segment: list[str | Slot] | None = None
    position = 0

    def add(part: str | Slot) -> None:
        (top if segment is None else segment).append(part)

    for match in _TOKEN_RE.finditer(text):
        if match.start() > position:
            add(text[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token == "{{":
            add("{")
        elif token == "}}":
            add("}")
        elif token == "[[":
            if segment is not None:
                raise fail(f"{field}: optional segments [[...]] cannot be nested")
            segment = []
        elif token == "]]":
            if segment is None:
                raise fail(f"{field}: ']]' closes no optional segment; expected '[[' before it")
            if not any(isinstance(part, Slot) for part in segment):
                raise fail(
                    f"{field}: optional segment [[{''.join(map(str, segment))}]] has no "
                    "placeholder, so it would never drop out; expected at least one {fact}"
                )
            top.append(OptionalSegment(tuple(segment)))
            segment = None
        elif match.group(1) is not None:
            top_or_segment_slot(match.group(1), field, fail, expected, segment is None,
                                always_filled, add)
        else:
            raise fail(f"{field}: unmatched {token!r}; write {token * 2!r} for a literal brace")
    if position < len(text):
        add(text[position:])
    if segment is not None:
        raise fail(f"{field}: '[[' is never closed; expected ']]' to end the optional segment")
    return tuple(top)


def top_or_segment_slot(
    inner: str, field: str, fail: Fail, expected: str, at_top: bool,
    always_filled: Collection[str], add: Callable[[str | Slot], None],
) -> None:
    """Validate one ``{name|default}`` and add its slot."""
    name, bar, default = inner.partition("|")
    name = name.strip()
    if name == "notes":
        raise fail(
            f"{field}: {{notes}} is not allowed: notes are never put in an email; "
            f"expected one of {expected}"
        )
    if not _NAME_RE.match(name) or name not in PLACEHOLDERS:
        raise fail(f"{field}: unknown placeholder {{{name}}}; expected one of {expected}")
    if name in PARTS and name not in always_filled:
        raise fail(f"{field}: {{{name}}} is used but the template has no {name!r} key; "
                   f"expected {name} = [\"...\", ...] in the template")
    if bar and not default.strip():
        raise fail(
            f"{field}: placeholder {{{name}|}} has an empty default; "
            f"expected text after '|' such as {{{name}|there}}"
        )
    if not bar and at_top and name not in always_filled:
        raise fail(
            f"{field}: placeholder {{{name}}} may be empty; expected a default such as "
            f"{{{name}|...}} or an optional segment [[... {{{name}}} ...]]"
        )
    add(Slot(name, default.strip() if bar else None))


def render(parts: tuple[Part, ...], values: dict[str, str]) -> tuple[str, set[str]]:
    """Fill the parts in; return the raw text and the placeholders filled from values."""
    out: list[str] = []
    used: set[str] = set()
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, Slot):
            value = values.get(part.name, "")
            if value:
                used.add(part.name)
            out.append(value or part.default or "")
        else:
            slots = [p for p in part.parts if isinstance(p, Slot)]
            if any(not values.get(s.name) and not s.default for s in slots):
                out.append(DROP)
                continue
            text, segment_used = render(part.parts, values)
            out.append(text)
            used |= segment_used
    return "".join(out), used


def tidy_line(line: str) -> str:
    """One line with clean spacing and punctuation, whatever the values held."""
    line = _SPACES_RE.sub(" ", line)
    line = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", line)
    line = line.replace("( ", "(")
    line = _REPEATED_COMMA_RE.sub(r"\1", line)
    line = _COMMA_THEN_STOP_RE.sub(r"\1", line)
    line = _FOUR_STOPS_RE.sub("...", line)
    line = _DOUBLE_STOP_RE.sub(".", line)
    line = _MARK_THEN_STOP_RE.sub(r"\1", line)
    return line.strip()


def tidy_body(text: str) -> str:
    """The body with clean lines, no line left empty by a dropped segment, no blank runs."""
    lines: list[str] = []
    for raw in text.split("\n"):
        line = tidy_line(raw.replace(DROP, ""))
        if not line and DROP in raw:
            continue
        lines.append(line)
    return _BLANK_RUN_RE.sub("\n\n", "\n".join(lines)).strip()


def tidy_subject(text: str) -> str:
    """The subject on one clean line."""
    return tidy_line(text.replace(DROP, "").replace("\n", " "))
