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
* ``subject``, ``body`` and the parts ``opening``, ``ask`` and ``sign_off`` (used in the
  body as ``{opening}``...) may each be a list of variants; each lead gets one variant of
  each, chosen from a stable hash of its id, so a queue does not read like one email.
* Templates are tried in file order and the first whose ``when`` (the lead's situation,
  see :mod:`drafting.templates.situations`) matches is used; a ``generic`` template must
  exist and must come last.

Placeholder values are fetched by name from a fixed map (never ``str.format``), so a fact
that itself contains braces or a template that asks for ``{x.__class__}`` cannot reach
anything but plain text. ``notes`` is never a placeholder; a few structured facts read from
the notes (``{seats}``, ``{timeline}``) are filled only when the admin allows their kind.
A lead field the guardrails flag as instructions is treated as empty.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from drafting.base import Draft, LeadFacts
from drafting.errors import TemplateError
from drafting.templates.facts import FACT_KINDS, read_note_facts
from drafting.templates.situations import SELECTORS, Selector, Signals, parse_when, read_signals
from drafting.templates.syntax import (
    PARTS,
    PLACEHOLDERS,
    Part,
    parse_text,
    render,
    tidy_body,
    tidy_subject,
)
from drafting.templates.wording import clean_value, holds_note_line, lead_key, pick, screen

#: The note fact kinds used when the caller names none.
DEFAULT_NOTE_FACTS: tuple[str, ...] = FACT_KINDS

_REQUIRED_KEYS = ("id", "when", "subject", "body")
_OPTIONAL_KEYS = ("description", *PARTS)
_ID_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_MAX_ACTIVITY_CHARS = 200
_FIELD_ORDER = tuple(LeadFacts.__dataclass_fields__)
# Values that come from the lead's own fields, screened by the guardrails one by one.
_LEAD_VALUES = ("first_name", "last_name", "title", "company", "industry", "country",
                "rep_name", "rep_title", "rep_email")


@dataclass(frozen=True, slots=True)
class Template:
    """One admin-written email template, as written in the file and as parsed.

    ``subject`` and ``body`` are the first variants; ``variants`` holds every variant of
    every part as written.
    """

    id: str
    when: str
    subject: str
    body: str
    description: str = ""
    variants: tuple[tuple[str, tuple[str, ...]], ...] = ()
    _selector: Selector = Selector("generic")
    _parsed: tuple[tuple[str, tuple[tuple[Part, ...], ...]], ...] = field(default=())

    @property
    def source(self) -> str:
        """The template text as written, every variant, for the audit trail."""
        first = f"Subject: {self.subject}\n\n{self.body}"
        more = [f"{name} #{i}: {text}" for name, texts in self.variants
                for i, text in enumerate(texts, 1)
                if (name, i) not in (("subject", 1), ("body", 1))]
        return "\n\n".join([first, *more])

    def matches(self, facts: LeadFacts) -> bool:
        """Whether this template's ``when`` selector picks the lead."""
        return self._selector.matches(facts, read_signals(facts, screen))


class _Fail:
    """Builds TemplateErrors that all name the same file and template."""

    def __init__(self, path: str, template_id: str | None = None) -> None:
        self.path = path
        self.template_id = template_id

    def __call__(self, reason: str) -> TemplateError:
        return TemplateError(self.path, reason, template_id=self.template_id)


def _texts(entry: dict[str, Any], key: str, fail: _Fail) -> tuple[str, ...]:
    """A key's variants: one string or a non-empty list of non-empty strings."""
    value = entry[key]
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise fail(f"{key!r} must be a non-empty string or a list of non-empty strings")
    texts = tuple(v.replace("\r\n", "\n").strip("\n") for v in items)
    if key == "subject":
        texts = tuple(t.strip() for t in texts)
        if any("\n" in t for t in texts):
            raise fail("subject spans several lines; expected one line")
    return texts


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
    for key in ("id", "when"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise fail(f"{key!r} must be a non-empty string")
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise fail("'description' must be a string")
    selector = parse_when(entry["when"])
    if selector is None:
        expected = ", ".join(repr(s) for s in SELECTORS)
        raise fail(f"unknown when = {entry['when'].strip()!r}; expected one of {expected} "
                   "or 'activity:<keyword>'")
    parts = tuple(p for p in PARTS if p in entry)
    variants = tuple((key, _texts(entry, key, fail)) for key in ("subject", "body", *parts))
    parsed = tuple(
        (key, tuple(parse_text(t, key, fail, always_filled=() if key in PARTS else parts)
                    for t in texts))
        for key, texts in variants
    )
    template = Template(
        id=raw_id, when=entry["when"].strip(), subject=variants[0][1][0],
        body=variants[1][1][0], description=description, variants=variants,
        _selector=selector, _parsed=parsed,
    )
    # A lead with no facts at all must still get a usable email, whatever the variant.
    empty: dict[str, str] = dict.fromkeys(PLACEHOLDERS, "")
    for key, options in parsed:
        filled = {**empty, **dict.fromkeys(parts, "x")}
        tidy = tidy_subject if key == "subject" else tidy_body
        if any(not tidy(render(o, filled)[0]) for o in options):
            raise fail(f"{key} is empty for a lead with no facts; expected some text outside "
                       "[[...]]")
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


def templates_version(templates: tuple[Template, ...], note_facts: Collection[str] = ()) -> str:
    """A content hash of the templates and the note facts allowed: changes exactly when
    what they can write changes."""
    # Hash the parsed content, not the file bytes, so comments and layout don't count;
    # order does count, since it decides which template is chosen.
    content: list[Any] = [[t.id, t.when, [[k, list(v)] for k, v in t.variants]]
                          for t in templates]
    if note_facts:
        content.append(sorted(note_facts))
    canonical = json.dumps(content, ensure_ascii=False)
    return "tpl-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:10]


class TemplateDrafter:
    """Writes drafts from admin-editable templates and the lead's facts; no LLM."""

    name: str = "template"

    def __init__(
        self, templates_path: Path | None = None, *,
        note_facts: Collection[str] = DEFAULT_NOTE_FACTS,
    ) -> None:
        """Load and validate the templates.

        Args:
            templates_path: A TOML templates file; the packaged defaults when None.
            note_facts: The kinds of fact (``seats``, ``timeline``) a draft may state when
                the lead's notes give them plainly; empty to use none.

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
        unknown = sorted(set(note_facts) - set(FACT_KINDS))
        if unknown:
            raise TemplateError(self.path, f"unknown note fact {unknown[0]!r}; expected some "
                                f"of {', '.join(FACT_KINDS)}")
        self.note_facts = tuple(k for k in FACT_KINDS if k in note_facts)
        self.templates = load_templates(source, self.path)
        self.version: str = templates_version(self.templates, self.note_facts)

    def select(self, facts: LeadFacts) -> Template:
        """The first template whose ``when`` matches the lead (the generic one at worst)."""
        return self._select(facts, read_signals(facts, screen))

    def _select(self, facts: LeadFacts, signals: Signals) -> Template:
        return next(t for t in self.templates if t._selector.matches(facts, signals))

    def _values(self, facts: LeadFacts, template: Template, signals: Signals) -> dict[str, str]:
        """Every placeholder's value: cleaned, screened, never a line of the notes."""
        values = {name: screen(name, clean_value(str(getattr(facts, name)), name))
                  for name in _LEAD_VALUES}
        activity = clean_value(template._selector.activity_line(facts), limit=_MAX_ACTIVITY_CHARS)
        values["activity_line"] = screen("recent_activity", activity)
        values["topic"] = clean_value(signals.topic)
        found = read_note_facts(facts.notes, self.note_facts,
                                hostile=lambda text: bool(screen("notes", text) != text))
        values["seats"] = f"{found.seats:,}" if found.seats else ""
        values["timeline"] = found.timeline or ""
        return {name: "" if holds_note_line(value, facts.notes) else value
                for name, value in values.items()}

    def draft(self, facts: LeadFacts) -> Draft:
        """Write a draft for the lead from the template its situation selects.

        Args:
            facts: The lead's facts.

        Returns:
            The draft; ``facts_used`` names the facts that appear in it, ``prompt`` holds
            the variants chosen and the values read from the lead's events and notes.
        """
        signals = read_signals(facts, screen)
        template = self._select(facts, signals)
        values = self._values(facts, template, signals)
        key = lead_key(facts)
        chosen: dict[str, tuple[str, tuple[Part, ...]]] = {}
        for (name, texts), (_, options) in zip(template.variants, template._parsed, strict=True):
            index = pick(len(options), key, template.id, name)
            chosen[name] = (texts[index], options[index])
        used: set[str] = set()
        for name in PARTS:
            if name in chosen:
                text, part_used = render(chosen[name][1], values)
                values[name] = tidy_body(text)
                used |= part_used
        subject, subject_used = render(chosen["subject"][1], values)
        body, body_used = render(chosen["body"][1], values)
        used |= subject_used | body_used
        used_fields = {PLACEHOLDERS[name] for name in used} - {None}
        read = [f"{name} = {values[name]}" for name in ("topic", "seats", "timeline")
                if name in used]
        # Parts go on lines of their own: the guardrails read a template draft's prompt line
        # by line as the admin's approved wording.
        prompt = f"Subject: {chosen['subject'][0]}\n\n{chosen['body'][0]}" + "".join(
            f"\n\n({name})\n{text}" for name, (text, _) in chosen.items()
            if name not in ("subject", "body"))
        if read:
            prompt += "\n\nRead from the lead's record: " + "; ".join(read)
        return Draft(
            subject=tidy_subject(subject),
            body=tidy_body(body),
            drafter=self.name,
            drafter_version=self.version,
            template_id=template.id,
            prompt=prompt,
            facts_used=tuple(f for f in _FIELD_ORDER if f in used_fields),
        )
