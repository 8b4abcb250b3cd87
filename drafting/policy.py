"""Plain-language escalation rules: an ops admin's rules file that reads like English.

One rule a line; ``#`` starts a comment. A rule is an action and a condition::

    never draft for leads who opted out of email
    never draft when the industry is Government
    escalate when the draft mentions pricing
    escalate when confidence is below 0.6
    require the manager when the company has more than 1000 employees
    escalate when the draft has unverified claims and the tier is A

Actions: ``never draft for leads <condition>`` / ``never draft when <condition>`` (checked
before drafting, lead conditions only), ``escalate when <condition>`` and
``require the manager when <condition>`` (checked after drafting). Conditions join with
``and``; write two rules for "or". See :data:`CONDITION_HELP` for every condition.

Whatever the rules say, a lead who opted out of email never gets a draft: that is
hard-coded in :meth:`Policy.before_draft`, not a rule an admin can delete.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from drafting.base import Draft, LeadFacts
from drafting.errors import PolicyError
from drafting.guardrails import ALWAYS_ESCALATE, RISK_CODES, DraftReview

Action = Literal["never_draft", "escalate", "require_manager"]

#: The conditions an admin may write, as shown in error messages and ``policy check``.
CONDITION_HELP: tuple[str, ...] = (
    "the lead opted out of email",
    "the company has more than|fewer than|at least|at most <number> employees",
    "the score is above|below|at least|at most <number>",
    "the tier is <tier> (or: the tier is one of A, B)",
    "the <field> is <value> (or: is one of <a>, <b>; contains <text>)",
    "the lead's notes contain instructions (an injection attempt)",
    "the draft mentions <topic>",
    "the draft has unverified claims",
    "the draft fell back to the templates",
    "the draft is longer than <number> words",
    "confidence is below|above <number>",
)
_FIELDS = (
    "industry",
    "country",
    "title",
    "company",
    "lead_source",
    "status",
    "first_name",
    "last_name",
)
_TOPICS: dict[str, str] = {
    "pricing": "pricing",
    "prices": "pricing",
    "price": "pricing",
    "discounts": "discount",
    "discount": "discount",
    "commitments": "commitment",
    "a commitment": "commitment",
    "contracts": "commitment",
    "a contract": "commitment",
    "contract or timeline commitments": "commitment",
    "timelines": "commitment",
    "legal topics": "legal",
    "legal": "legal",
    "medical topics": "medical",
    "medical": "medical",
    "health": "medical",
    "financial topics": "financial",
    "financial": "financial",
    "money": "financial",
    "account security": "account_security",
    "passwords": "account_security",
    "personal data": "personal_data",
    "competitors": "competitor",
    "a competitor": "competitor",
    "credential requests": "credential_request",
    "payment requests": "payment_request",
    "links off the allow-list": "off_list_link",
    "the lead's notes": "untrusted_text",
    "text from the notes": "untrusted_text",
}
_TOPIC_NAMES = ", ".join(
    [
        "pricing",
        "discounts",
        "commitments",
        "legal topics",
        "medical topics",
        "financial topics",
        "account security",
        "personal data",
        "competitors",
        "credential requests",
        "payment requests",
        "links off the allow-list",
    ]
)
_OPT_OUT_KEYS = (
    "email_opt_out",
    "opted_out",
    "do_not_email",
    "has_opted_out_of_email",
    "hs_email_optout",
    "unsubscribed",
)
_COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    "more than": lambda a, b: a > b,
    "above": lambda a, b: a > b,
    "over": lambda a, b: a > b,
    "greater than": lambda a, b: a > b,
    "fewer than": lambda a, b: a < b,
    "less than": lambda a, b: a < b,
    "below": lambda a, b: a < b,
    "under": lambda a, b: a < b,
    "at least": lambda a, b: a >= b,
    "at most": lambda a, b: a <= b,
}
_CMP = "|".join(sorted(_COMPARATORS, key=len, reverse=True))
_NUMBER = r"(-?\d[\d,]*(?:\.\d+)?)"


# ----- records --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """Whether a lead may get a draft, and why not."""

    draft: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Escalation:
    """A rule that fired on a draft: ``action`` is ``escalate`` or ``require_manager``."""

    action: Literal["escalate", "require_manager"]
    reason: str
    rule_line: int
    rule: str


@dataclass(frozen=True, slots=True)
class _Context:
    """What a condition looks at: the lead always; the draft and its review when drafted."""

    lead: Mapping[str, Any]
    draft: Draft | None = None
    review: DraftReview | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    """One parsed condition: its words as written, and whether it needs the draft."""

    text: str
    needs_draft: bool
    test: Callable[[_Context], bool]

    def holds(self, context: _Context) -> bool:
        """Whether the condition holds; a draft condition never holds before drafting."""
        if self.needs_draft and context.draft is None:
            return False
        return self.test(context)


@dataclass(frozen=True, slots=True)
class Rule:
    """One line of the rules file, parsed."""

    line_no: int
    text: str
    action: Action
    conditions: tuple[Condition, ...]

    @property
    def needs_draft(self) -> bool:
        """Whether any condition looks at the draft (so it can be judged only after)."""
        return any(c.needs_draft for c in self.conditions)

    def holds(self, context: _Context) -> bool:
        """Whether every condition holds."""
        return all(c.holds(context) for c in self.conditions)

    def describe(self) -> str:
        """What the rule does, in words."""
        verb = {
            "never_draft": "skips drafting for",
            "escalate": "escalates the task for",
            "require_manager": "requires the manager's approval for",
        }[self.action]
        return f"{verb} leads where " + " and ".join(c.text for c in self.conditions)


# ----- reading a lead -------------------------------------------------------------------


def _lead_mapping(lead: Mapping[str, Any] | LeadFacts) -> Mapping[str, Any]:
    return asdict(lead) if isinstance(lead, LeadFacts) else lead


def opted_out(lead: Mapping[str, Any] | LeadFacts) -> bool:
    """Whether the lead opted out of email, under any of the usual CRM field names."""
    m = _lead_mapping(lead)
    for key in _OPT_OUT_KEYS:
        value = m.get(key)
        if isinstance(value, str):
            if value.strip().lower() in ("true", "yes", "1", "y"):
                return True
        elif value:
            return True
    return False


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(str(value).replace(",", "").strip())
    except ValueError:
        return None


# ----- parsing --------------------------------------------------------------------------


class _Fail:
    def __init__(self, path: str, line_no: int, line: str) -> None:
        self.path, self.line_no, self.line = path, line_no, line

    def __call__(self, reason: str) -> PolicyError:
        return PolicyError(self.path, self.line_no, self.line, reason)


def _parse_value_list(text: str) -> tuple[str, ...]:
    parts = re.split(r"\s*,\s*|\s+or\s+", text.strip())
    return tuple(p.strip().strip("'\"").lower() for p in parts if p.strip())


def _parse_condition(text: str, fail: _Fail) -> Condition:
    raw = " ".join(text.split()).rstrip(".")
    # Shown in descriptions: "leads who opted out" reads as "the lead opted out".
    raw = re.sub(r"^(?:who|that)\s+", "the lead ", raw, flags=re.IGNORECASE)
    raw = re.sub(r"^whose\s+", "the ", raw, flags=re.IGNORECASE)
    raw = re.sub(r"^with\s+(?=more|fewer|less|at)", "the company has ", raw, flags=re.IGNORECASE)
    c = raw.lower()
    # "leads who opted out", "whose industry is", "with more than 10 employees" read the
    # same as "the lead opted out", "the industry is", "the company has more than ...".
    c = re.sub(r"^(?:who|whose|that|with|where|if)\s+", "", c)

    if re.fullmatch(r"(?:the\s+lead\s+)?(?:has\s+)?opted\s+out(?:\s+of\s+(?:e-?mails?))?", c):
        return Condition(raw, False, lambda ctx: opted_out(ctx.lead))

    match = re.fullmatch(
        rf"(?:the\s+)?(?:company\s+)?(?:has\s+)?({_CMP})\s+{_NUMBER}\s+(?:employees|staff|people)",
        c,
    )
    if match:
        compare, limit = _COMPARATORS[match.group(1)], float(match.group(2).replace(",", ""))

        def employees(ctx: _Context) -> bool:
            count = _number(ctx.lead.get("employees"))
            return count is not None and compare(count, limit)

        return Condition(raw, False, employees)

    match = re.fullmatch(rf"(?:the\s+|a\s+)?score\s+(?:is\s+)?({_CMP})\s+{_NUMBER}", c)
    if match:
        compare, limit = _COMPARATORS[match.group(1)], float(match.group(2).replace(",", ""))

        def score(ctx: _Context) -> bool:
            value = _number(ctx.lead.get("score"))
            return value is not None and compare(value, limit)

        return Condition(raw, False, score)

    match = re.fullmatch(r"(?:the\s+)?confidence\s+(?:is\s+)?(" + _CMP + r")\s+" + _NUMBER, c)
    if match:
        compare, limit = _COMPARATORS[match.group(1)], float(match.group(2))
        if not 0 <= limit <= 1:
            raise fail(f"confidence is between 0 and 1, got {match.group(2)}")
        # Drafters that give no confidence (the templates) never trip a confidence rule.
        return Condition(
            raw,
            True,
            lambda ctx: (
                ctx.draft is not None
                and ctx.draft.confidence is not None
                and compare(ctx.draft.confidence, limit)
            ),
        )

    match = re.fullmatch(r"(?:in\s+)?(?:the\s+)?tier\s+(?:is\s+)?(?:one\s+of\s+)?(.+)", c)
    if match:
        tiers = {t.upper() for t in _parse_value_list(match.group(1))}
        return Condition(raw, False, lambda ctx: str(ctx.lead.get("tier") or "").upper() in tiers)

    match = re.fullmatch(
        r"(?:the\s+)?(?:lead'?s\s+)?(?:notes?|fields?)\s+(?:contain|contains|have|has)\s+"
        r"(?:instructions|an?\s+injection(?:\s+attempt)?)|(?:an?\s+)?injection(?:\s+attempt)?"
        r"\s+(?:is\s+)?(?:detected|flagged|found)",
        c,
    )
    if match:
        return Condition(
            raw, True, lambda ctx: ctx.review is not None and bool(ctx.review.injection_flags)
        )

    match = re.fullmatch(r"(?:the\s+)?draft\s+(?:mentions|talks\s+about|contains)\s+(.+)", c)
    if match:
        topic = match.group(1).strip()
        if topic in ("unverified claims", "an unverified claim"):
            return _unverified(raw)
        code = _TOPICS.get(topic) or (topic if topic in RISK_CODES else None)
        if code is None:
            raise fail(f"unknown topic {topic!r}; expected one of {_TOPIC_NAMES}")
        return Condition(
            raw, True, lambda ctx: ctx.review is not None and code in ctx.review.risk_codes
        )

    if re.fullmatch(r"(?:the\s+)?draft\s+has\s+(?:an?\s+|any\s+)?unverified\s+claims?", c):
        return _unverified(raw)

    if re.fullmatch(
        r"(?:the\s+)?(?:draft|model|drafter)\s+fell\s+back(?:\s+to\s+the\s+templates?)?", c
    ):
        return Condition(
            raw, True, lambda ctx: ctx.draft is not None and ctx.draft.fallback_reason is not None
        )

    match = re.fullmatch(r"(?:the\s+)?draft\s+is\s+(longer|shorter)\s+than\s+(\d+)\s+words", c)
    if match:
        longer, words = match.group(1) == "longer", int(match.group(2))

        def length(ctx: _Context) -> bool:
            count = len(ctx.draft.body.split()) if ctx.draft else 0
            return count > words if longer else count < words

        return Condition(raw, True, length)

    match = re.fullmatch(
        r"(?:the\s+)?(?:lead'?s?\s+)?([a-z_ ]+?)\s+(is\s+one\s+of|is\s+not|is|contains|"
        r"includes)\s+(.+)",
        c,
    )
    if match:
        name = match.group(1).strip().replace(" ", "_")
        if name not in _FIELDS:
            fields = ", ".join(_FIELDS)
            raise fail(
                f"unknown field {match.group(1).strip()!r}; expected one of {fields}, or "
                "the employees, score, tier or confidence conditions"
            )
        op, values = match.group(2), _parse_value_list(match.group(3))

        def field_test(ctx: _Context) -> bool:
            value = str(ctx.lead.get(name) or "").strip().lower()
            if op in ("contains", "includes"):
                return any(v in value for v in values)
            return (value in values) != (op == "is not")

        return Condition(raw, False, field_test)

    expected = "; ".join(CONDITION_HELP)
    raise fail(f"unknown condition {raw!r}; expected one of: {expected}")


def _unverified(raw: str) -> Condition:
    return Condition(
        raw, True, lambda ctx: ctx.review is not None and bool(ctx.review.unverified_claims)
    )


_ACTION_RE = re.compile(
    r"^(never\s+draft\s+for\s+leads?|never\s+draft\s+(?:when|if)|escalate\s+(?:when|if)|"
    r"require\s+(?:the\s+)?manager(?:'s\s+approval)?\s+(?:when|if))(?:\s+(.*))?$",
    re.IGNORECASE,
)


def _parse_rule(line: str, line_no: int, path: str) -> Rule | None:
    fail = _Fail(path, line_no, line)
    text = line.split("#", 1)[0].strip()
    if not text:
        return None
    match = _ACTION_RE.match(text)
    if match is None:
        first = " ".join(text.split()[:3])
        raise fail(
            f"unknown action {first!r}; expected a line starting 'escalate when', "
            "'require the manager when', 'never draft for leads' or 'never draft when'"
        )
    head = match.group(1).lower()
    action: Action = (
        "never_draft"
        if head.startswith("never")
        else "escalate"
        if head.startswith("escalate")
        else "require_manager"
    )
    if not (match.group(2) or "").strip():
        raise fail(
            "the condition is missing; expected e.g. 'escalate when the draft mentions pricing'"
        )
    parts = re.split(r"\s+and\s+(?=(?:the|a|an|confidence|who|whose|with|in)\b)", match.group(2))
    conditions = tuple(_parse_condition(part, fail) for part in parts)
    if action == "never_draft" and any(c.needs_draft for c in conditions):
        needs = next(c.text for c in conditions if c.needs_draft)
        raise fail(
            f"{needs!r} is about the draft, which does not exist yet when deciding whether to "
            "draft; expected a condition on the lead, or use 'escalate when'"
        )
    return Rule(line_no, " ".join(text.split()), action, conditions)


@dataclass(frozen=True, slots=True)
class Policy:
    """An admin's parsed rules file."""

    rules: tuple[Rule, ...] = ()
    path: str = ""

    def before_draft(self, lead: Mapping[str, Any] | LeadFacts) -> PolicyDecision:
        """Whether a lead may get a draft at all.

        Args:
            lead: The lead record (a CRM snapshot merged with its score; ``employees``,
                ``score``, ``tier``, ``email_opt_out`` ...) or its :class:`LeadFacts`.

        Returns:
            ``draft=False`` with every reason when a ``never draft`` rule holds, and always
            when the lead opted out of email, whatever the rules say.
        """
        mapping = _lead_mapping(lead)
        reasons: list[str] = []
        if opted_out(mapping):
            reasons.append("the lead opted out of email (always applies; no rule can change it)")
        context = _Context(mapping)
        for rule in self.rules:
            if rule.action == "never_draft" and rule.holds(context):
                reasons.append(f"line {rule.line_no}: {rule.text}")
        return PolicyDecision(draft=not reasons, reasons=tuple(reasons))

    def after_draft(
        self, draft: Draft, review: DraftReview, lead: Mapping[str, Any] | LeadFacts
    ) -> list[Escalation]:
        """The escalations a finished draft triggers.

        Args:
            draft: The draft (after learned rules were applied, if any).
            review: The guardrails' findings on it (:func:`drafting.guardrails.review_draft`).
            lead: The lead record or facts, as for :meth:`before_draft`.

        Returns:
            One :class:`Escalation` per rule that holds, in file order, after the built-in
            one: a draft that asks for credentials or payment, or links off the allow-list
            (:data:`drafting.guardrails.ALWAYS_ESCALATE`), always requires the manager.
        """
        context = _Context(_lead_mapping(lead), draft, review)
        built_in = [
            Escalation(
                action="require_manager",
                reason=f"the draft {_ALWAYS_WORDS[flag.code]} ({flag.evidence}); always applies",
                rule_line=0,
                rule=_ALWAYS_RULE,
            )
            for flag in review.risk_flags
            if flag.code in ALWAYS_ESCALATE
        ]
        return built_in + [
            Escalation(
                action=rule.action,
                reason=" and ".join(c.text for c in rule.conditions),
                rule_line=rule.line_no,
                rule=rule.text,
            )
            for rule in self.rules
            if rule.action != "never_draft" and rule.holds(context)
        ]


_ALWAYS_RULE = (
    "(built in) require the manager when the draft asks for a password, a login code or a "
    "payment, or links to a domain not on the allow-list"
)
_ALWAYS_WORDS = {
    "credential_request": "asks the lead for a password or login code",
    "payment_request": "asks the lead for a payment or payment details",
    "off_list_link": "links to a domain not on the allow-list",
}


def parse_policy(source: str, path: str = "<policy>") -> Policy:
    """Parse a rules file.

    Args:
        source: The rules text, one rule a line.
        path: The file's name, used in error messages.

    Returns:
        The policy.

    Raises:
        PolicyError: A line is not a rule; the message names the line and what is expected.
    """
    rules = []
    for line_no, line in enumerate(source.splitlines(), 1):
        rule = _parse_rule(line, line_no, path)
        if rule is not None:
            rules.append(rule)
    return Policy(tuple(rules), path)


def load_policy(path: Path | str | None = None) -> Policy:
    """Read a rules file; the packaged ``default_policy.txt`` when ``path`` is None.

    Raises:
        PolicyError: The file cannot be read or a line is invalid.
    """
    if path is None:
        resource = resources.files("drafting").joinpath("default_policy.txt")
        return parse_policy(resource.read_text(encoding="utf-8"), str(resource))
    try:
        source = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(path, 0, "", f"cannot read the file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(path, 0, "", "not UTF-8 text; expected a UTF-8 file") from exc
    return parse_policy(source, str(path))


# ----- explain --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleEffect:
    """What one rule would do on a list of leads."""

    line_no: int
    rule: str
    action: Action
    description: str
    matched: int
    total: int
    examples: tuple[str, ...]
    note: str = ""

    def line(self) -> str:
        """One line for ``leadloop policy check``."""
        shown = f" (e.g. {', '.join(self.examples)})" if self.examples else ""
        note = f"; {self.note}" if self.note else ""
        return (
            f"line {self.line_no}: {self.rule} -> {self.description}: "
            f"{self.matched} of {self.total} leads{shown}{note}"
        )


def explain(
    policy: Policy,
    leads: Sequence[Mapping[str, Any]],
    *,
    drafter: Any = None,
    review: Callable[[Draft, LeadFacts], DraftReview] | None = None,
    max_examples: int = 3,
) -> list[RuleEffect]:
    """Say what each rule would do on the current leads (for ``leadloop policy check``).

    Rules about the lead are judged on each lead. Rules about the draft are judged on a
    draft written with ``drafter`` and checked with ``review`` when both are given (the
    template drafter is cheap enough for every lead); otherwise they are reported as
    depending on the draft. The hard-coded opt-out rule comes first, as line 0.

    Args:
        policy: The parsed rules.
        leads: Lead records as for :meth:`Policy.before_draft`; ``crm_id`` names them.
        drafter: Any :class:`~drafting.base.Drafter`, to judge draft rules; optional.
        review: The guardrails, e.g. ``lambda d, f: review_draft(d, f, sheet)``; optional.
        max_examples: How many lead ids to name per rule.

    Returns:
        One effect per rule, the opt-out rule first, then in file order.
    """
    total = len(leads)

    def ids(matches: list[Mapping[str, Any]]) -> tuple[str, ...]:
        return tuple(str(m.get("crm_id") or "?") for m in matches[:max_examples])

    opted = [lead for lead in leads if opted_out(lead)]
    effects = [
        RuleEffect(
            0,
            "(built in) never draft for leads who opted out of email",
            "never_draft",
            "skips drafting for leads who opted out of email",
            len(opted),
            total,
            ids(opted),
            "always applies",
        )
    ]
    drafts: dict[int, tuple[Draft, DraftReview, LeadFacts]] = {}
    can_draft = drafter is not None and review is not None
    if can_draft and any(rule.needs_draft for rule in policy.rules):
        for index, lead in enumerate(leads):
            if policy.before_draft(lead).draft:
                facts = LeadFacts.from_mapping(lead)
                draft = drafter.draft(facts)
                drafts[index] = (draft, review(draft, facts), facts)  # type: ignore[misc]
    for rule in policy.rules:
        note = ""
        if rule.needs_draft and not can_draft:
            matches: list[Mapping[str, Any]] = []
            note = "depends on each draft; judged when the draft is written"
        elif rule.needs_draft:
            matches = [
                leads[i] for i, (d, r, _) in drafts.items() if rule.holds(_Context(leads[i], d, r))
            ]
            note = (
                f"judged on {len(drafts)} drafts by the {getattr(drafter, 'name', 'given')} drafter"
            )
        else:
            matches = [lead for lead in leads if rule.holds(_Context(lead))]
            if rule.action == "never_draft":
                already = sum(1 for lead in matches if opted_out(lead))
                if already:
                    note = f"{already} of them opted out anyway"
        effects.append(
            RuleEffect(
                rule.line_no,
                rule.text,
                rule.action,
                rule.describe(),
                len(matches),
                total,
                ids(matches),
                note,
            )
        )
    return effects
