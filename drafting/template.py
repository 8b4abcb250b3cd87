"""The grounded default drafter: admin-editable templates filled from the lead's facts.

No model is involved, so a draft holds nothing but the template's own text and the lead's
facts: it is grounded by construction. Templates live in a TOML file (see
``default_templates.toml`` for the syntax an ops admin edits):

* ``{first_name}`` is a placeholder; ``{first_name|there}`` gives a default for when the
  fact is empty; ``{{`` and ``}}`` are literal braces.
* ``[[ ... ]]`` is an optional segment: it drops out when any placeholder inside it is
  empty, and a line left empty by a dropped segment goes too.
* Every placeholder outside an optional segment must have a default, so an empty fact can
  never leave "Hi ," behind. This is checked when the file is loaded.
* Templates are tried in file order and the first whose ``when`` matches the lead is used;
  a ``generic`` template must exist and must come last.

Placeholder values are fetched by name from a fixed map (never ``str.format``), so a fact
that itself contains braces or a template that asks for ``{x.__class__}`` cannot reach
anything but plain text. ``notes`` is deliberately not a placeholder.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from drafting.base import Draft, LeadFacts
from drafting.errors import TemplateError

#: Placeholder name -> the LeadFacts field it reads. ``activity_line`` is one line of
#: ``recent_activity`` chosen by the template's selector.
PLACEHOLDERS: dict[str, str] = {
    "first_name": "first_name",
    "last_name": "last_name",
    "title": "title",
    "company": "company",
    "industry": "industry",
    "country": "country",
    "rep_name": "rep_name",
    "rep_email": "rep_email",
    "activity_line": "recent_activity",
}

#: Named selectors an admin may use in ``when``, besides ``activity:<keyword>``.
SELECTORS = ("pricing_interest", "webinar_attended", "returning_customer", "generic")

_REQUIRED_KEYS = ("id", "when", "subject", "body")
_OPTIONAL_KEYS = ("description",)
_ID_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_NAME_RE = re.compile(r"^[a-z_]+$")
_TOKEN_RE = re.compile(r"\{\{|\}\}|\[\[|\]\]|\{([^{}\n]*)\}|[{}]")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_SPACES_RE = re.compile(r"[ \t]+")
_SPACE_BEFORE_PUNCT_RE = re.compile(r" +([,.;:!?)])")
_BLANK_RUN_RE = re.compile(r"\n{3,}")
# Marks where an optional segment dropped out, so the line it leaves empty can go too.
# Control characters are stripped from fact values, so this can only come from a drop.
_DROP = "\x00"
# A fact longer than this is more likely junk than a name; it is treated as empty so the
# sentence that needs it drops out rather than carrying a wall of text into the email.
_MAX_VALUE_CHARS = 120
_MAX_ACTIVITY_CHARS = 200

_FIELD_ORDER = tuple(LeadFacts.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class _Slot:
    name: str
    default: str | None


@dataclass(frozen=True, slots=True)
class _Optional:
    parts: tuple[str | _Slot, ...]


_Part = str | _Slot | _Optional


@dataclass(frozen=True, slots=True)
class _Selector:
    kind: Literal["generic", "returning_customer", "activity"]
    keyword: str = ""
    # A webinar lead may have no tracked activity yet, only a lead source saying so.
    also_lead_source: bool = False

    def matches(self, facts: LeadFacts) -> bool:
        if self.kind == "generic":
            return True
        if self.kind == "returning_customer":
            return facts.past_purchases > 0
        if self.also_lead_source and self.keyword in facts.lead_source.lower():
            return True
        return any(self.keyword in line.lower() for line in facts.recent_activity)

    def activity_line(self, facts: LeadFacts) -> str:
        """The activity line this template talks about: the first one its selector names."""
        if self.kind == "activity":
            lines = [line for line in facts.recent_activity if self.keyword in line.lower()]
        else:
            lines = list(facts.recent_activity)
        return _as_clause(lines[0]) if lines else ""


@dataclass(frozen=True, slots=True)
class Template:
    """One admin-written email template, as written in the file and as parsed."""

    id: str
    when: str
    subject: str
    body: str
    description: str = ""
    _selector: _Selector = _Selector("generic")
    _subject_parts: tuple[_Part, ...] = ()
    _body_parts: tuple[_Part, ...] = ()

    @property
    def source(self) -> str:
        """The template text as written, for the draft's audit trail."""
        return f"Subject: {self.subject}\n\n{self.body}"

    def matches(self, facts: LeadFacts) -> bool:
        """Whether this template's ``when`` selector picks the lead."""
        return self._selector.matches(facts)


def _as_clause(line: str) -> str:
    """An activity line shaped to follow "I noticed you ...": no final stop, lower first."""
    line = line.strip().rstrip(".").strip()
    first_word = line.split(" ", 1)[0]
    # "Visited the pricing page" reads as a clause once lowered; "PDF downloaded" does not.
    if len(first_word) > 1 and first_word[1:].islower():
        line = line[0].lower() + line[1:]
    return line


def _clean_value(value: str, limit: int = _MAX_VALUE_CHARS) -> str:
    value = " ".join(_CONTROL_RE.sub(" ", value).split())
    return "" if len(value) > limit else value


def _parse_when(when: str, fail: _Fail) -> _Selector:
    when = when.strip()
    if when == "generic":
        return _Selector("generic")
    if when == "returning_customer":
        return _Selector("returning_customer")
    if when == "pricing_interest":
        return _Selector("activity", "pricing")
    if when == "webinar_attended":
        return _Selector("activity", "webinar", also_lead_source=True)
    if when.startswith("activity:") and when.removeprefix("activity:").strip():
        return _Selector("activity", when.removeprefix("activity:").strip().lower())
    expected = ", ".join(repr(s) for s in SELECTORS)
    raise fail(f"unknown when = {when!r}; expected one of {expected} or 'activity:<keyword>'")


class _Fail:
    """Builds TemplateErrors that all name the same file and template."""

    def __init__(self, path: str, template_id: str | None = None) -> None:
        self.path = path
        self.template_id = template_id

    def __call__(self, reason: str) -> TemplateError:
        return TemplateError(self.path, reason, template_id=self.template_id)


def _parse_text(text: str, field: str, fail: _Fail) -> tuple[_Part, ...]:
    """Parse a subject or body into literal text, placeholders and optional segments."""
    expected = ", ".join(f"{{{name}}}" for name in sorted(PLACEHOLDERS))
    top: list[_Part] = []
    segment: list[str | _Slot] | None = None
    position = 0

    def add(part: str | _Slot) -> None:
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
            if not any(isinstance(part, _Slot) for part in segment):
                raise fail(
                    f"{field}: optional segment [[{''.join(map(str, segment))}]] has no "
                    "placeholder, so it would never drop out; expected at least one {fact}"
                )
            top.append(_Optional(tuple(segment)))
            segment = None
        elif match.group(1) is not None:
            name, bar, default = match.group(1).partition("|")
            name = name.strip()
            if name == "notes":
                raise fail(
                    f"{field}: {{notes}} is not allowed: notes are never put in an email; "
                    f"expected one of {expected}"
                )
            if not _NAME_RE.match(name) or name not in PLACEHOLDERS:
                raise fail(f"{field}: unknown placeholder {{{name}}}; expected one of {expected}")
            if bar and not default.strip():
                raise fail(
                    f"{field}: placeholder {{{name}|}} has an empty default; "
                    f"expected text after '|' such as {{{name}|there}}"
                )
            if not bar and segment is None:
                raise fail(
                    f"{field}: placeholder {{{name}}} may be empty; expected a default such as "
                    f"{{{name}|...}} or an optional segment [[... {{{name}}} ...]]"
                )
            add(_Slot(name, default.strip() if bar else None))
        else:
            raise fail(f"{field}: unmatched {token!r}; write {token * 2!r} for a literal brace")
    if position < len(text):
        add(text[position:])
    if segment is not None:
        raise fail(f"{field}: '[[' is never closed; expected ']]' to end the optional segment")
    return tuple(top)


def _render(parts: tuple[_Part, ...], values: dict[str, str]) -> tuple[str, set[str]]:
    """Fill the parts in; return the raw text and the placeholders filled from facts."""
    out: list[str] = []
    used: set[str] = set()
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, _Slot):
            value = values[part.name]
            if value:
                used.add(part.name)
            out.append(value or part.default or "")
        else:
            slots = [p for p in part.parts if isinstance(p, _Slot)]
            if any(not values[s.name] and not s.default for s in slots):
                out.append(_DROP)
                continue
            text, segment_used = _render(part.parts, values)
            out.append(text)
            used |= segment_used
    return "".join(out), used


def _tidy_line(line: str) -> str:
    line = _SPACES_RE.sub(" ", line)
    line = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", line)
    return line.replace("( ", "(").strip()


def _tidy_body(text: str) -> str:
    lines: list[str] = []
    for raw in text.split("\n"):
        line = _tidy_line(raw.replace(_DROP, ""))
        if not line and _DROP in raw:
            continue
        lines.append(line)
    return _BLANK_RUN_RE.sub("\n\n", "\n".join(lines)).strip()


def _tidy_subject(text: str) -> str:
    return _tidy_line(text.replace(_DROP, "").replace("\n", " "))


def _parse_template(entry: Any, index: int, path: str, seen: set[str]) -> Template:
    fail = _Fail(path)
    if not isinstance(entry, dict):
        raise fail(f"template #{index} is not a table; expected [[template]] with id, when, ...")
    raw_id = entry.get("id")
    if not isinstance(raw_id, str) or not _ID_RE.match(raw_id):
        raise fail(
            f"template #{index} has no valid 'id'; expected a name of letters, digits, "
            "'_', '-' or '.' such as id = \"pricing_interest\""
        )
    fail = _Fail(path, raw_id)
    if raw_id in seen:
        raise fail("duplicate id; expected each template id to be used once")
    seen.add(raw_id)
    # Unknown keys first: a typo such as 'subjet' is better named than reported as missing.
    unknown = sorted(set(entry) - set(_REQUIRED_KEYS) - set(_OPTIONAL_KEYS))
    if unknown:
        allowed = ", ".join(_REQUIRED_KEYS + _OPTIONAL_KEYS)
        raise fail(f"unknown key {unknown[0]!r}; expected only {allowed}")
    wanted = ", ".join(_REQUIRED_KEYS)
    for key in _REQUIRED_KEYS:
        if key not in entry:
            raise fail(f"missing key {key!r}; expected {wanted}")
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise fail(f"{key!r} must be a non-empty string")
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise fail("'description' must be a string")
    subject = entry["subject"].strip()
    if "\n" in subject:
        raise fail("subject spans several lines; expected one line")
    body = entry["body"].replace("\r\n", "\n").strip("\n")
    template = Template(
        id=raw_id,
        when=entry["when"].strip(),
        subject=subject,
        body=body,
        description=description,
        _selector=_parse_when(entry["when"], fail),
        _subject_parts=_parse_text(subject, "subject", fail),
        _body_parts=_parse_text(body, "body", fail),
    )
    # A lead with no facts at all must still get a usable email.
    empty = dict.fromkeys(PLACEHOLDERS, "")
    if not _tidy_subject(_render(template._subject_parts, empty)[0]):
        raise fail("subject is empty for a lead with no facts; expected some text outside [[...]]")
    if not _tidy_body(_render(template._body_parts, empty)[0]):
        raise fail("body is empty for a lead with no facts; expected some text outside [[...]]")
    return template


def load_templates(source: str, path: str) -> tuple[Template, ...]:
    """Parse and validate a templates file.

    Args:
        source: The TOML text.
        path: The file's name, used in error messages.

    Returns:
        The templates in file order, which is the order they are tried in.

    Raises:
        TemplateError: The file is not valid TOML or a template is invalid; the message
            names the file, the template and what is expected.
    """
    fail = _Fail(path)
    try:
        document = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise fail(f"not valid TOML: {exc}") from exc
    unknown = sorted(set(document) - {"template"})
    if unknown:
        raise fail(f"unknown top-level key {unknown[0]!r}; expected only [[template]] tables")
    entries = document.get("template")
    if not isinstance(entries, list) or not entries:
        raise fail("no templates; expected one or more [[template]] tables")
    seen: set[str] = set()
    templates = tuple(
        _parse_template(entry, index, path, seen) for index, entry in enumerate(entries, 1)
    )
    generic = next((t for t in templates if t.when == "generic"), None)
    if generic is None:
        raise fail(
            'no generic fallback; expected a template with when = "generic" '
            "for leads that match no other template"
        )
    if templates[-1] is not generic:
        after = templates[templates.index(generic) + 1]
        raise TemplateError(
            path,
            f"comes after the generic template {generic.id!r} and would never be chosen; "
            "expected the generic template last",
            template_id=after.id,
        )
    return templates


def templates_version(templates: tuple[Template, ...]) -> str:
    """A content hash of the templates: changes exactly when what they can write changes."""
    # Hash the parsed content, not the file bytes, so comments and layout don't count;
    # order does count, since it decides which template is chosen.
    canonical = json.dumps(
        [[t.id, t.when, t.subject, t.body] for t in templates], ensure_ascii=False
    )
    return "tpl-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:10]


class TemplateDrafter:
    """Writes drafts from admin-editable templates and the lead's facts; no LLM."""

    name: str = "template"

    def __init__(self, templates_path: Path | None = None) -> None:
        """Load and validate the templates.

        Args:
            templates_path: A TOML templates file; the packaged defaults when None.

        Raises:
            TemplateError: The file cannot be read or is invalid.
        """
        if templates_path is None:
            resource = resources.files("drafting").joinpath("default_templates.toml")
            self.path = str(resource)
            source = resource.read_text(encoding="utf-8")
        else:
            self.path = str(templates_path)
            try:
                source = Path(templates_path).read_text(encoding="utf-8")
            except OSError as exc:
                raise TemplateError(self.path, f"cannot read the file: {exc.strerror}") from exc
            except UnicodeDecodeError as exc:
                raise TemplateError(self.path, "not UTF-8 text; expected a UTF-8 file") from exc
        self.templates = load_templates(source, self.path)
        self.version: str = templates_version(self.templates)

    def select(self, facts: LeadFacts) -> Template:
        """The first template whose ``when`` matches the lead (the generic one at worst)."""
        return next(t for t in self.templates if t.matches(facts))

    def draft(self, facts: LeadFacts) -> Draft:
        """Write a draft for the lead from the template its facts select.

        Args:
            facts: The lead's facts.

        Returns:
            The draft; ``facts_used`` names the facts that appear in it.
        """
        template = self.select(facts)
        values = {
            name: _clean_value(str(getattr(facts, field)))
            for name, field in PLACEHOLDERS.items()
            if name != "activity_line"
        }
        values["activity_line"] = _clean_value(
            template._selector.activity_line(facts), _MAX_ACTIVITY_CHARS
        )
        subject, subject_used = _render(template._subject_parts, values)
        body, body_used = _render(template._body_parts, values)
        used_fields = {PLACEHOLDERS[name] for name in subject_used | body_used}
        return Draft(
            subject=_tidy_subject(subject),
            body=_tidy_body(body),
            drafter=self.name,
            drafter_version=self.version,
            template_id=template.id,
            prompt=template.source,
            facts_used=tuple(f for f in _FIELD_ORDER if f in used_fields),
        )
