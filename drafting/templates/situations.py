"""Which situation a lead is in, and what brought it, read from its facts.

A situation decides the template: a follow-up after no reply, expansion for a customer,
re-engagement of a lead gone quiet, or a first touch by what brought the lead (a form asking
for contact, pricing interest, a webinar, an event, content). The signal becomes a natural
reference ("pricing", the webinar's title, the topic read about), never a count of visits
or a window of time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from drafting.base import LeadFacts

Origin = Literal["form", "pricing", "webinar", "event", "content", ""]
ORIGINS: tuple[Origin, ...] = ("form", "pricing", "webinar", "event", "content")

#: A lead whose newest event is at least this old has gone quiet.
QUIET_AFTER_DAYS = 60
_QUIET_STATUSES = frozenset({"nurture", "recycled", "cold", "dormant", "unresponsive",
                             "closed lost", "lost"})
_CUSTOMER_STATUSES = frozenset({"customer", "closed won", "won"})
_EVENT_SOURCES = ("trade show", "event", "conference", "meetup", "expo", "booth")
_EVENT_KINDS = frozenset({"event", "trade_show", "conference", "booth_visit"})
_CONTENT_PATHS = ("/blog/", "/case-studies/", "/case-study/", "/guides/", "/resources/",
                  "/whitepapers/", "/ebooks/")
# Forms where a lead asks us to get in touch, and how an email names what they asked for.
_HAND_RAISES: tuple[tuple[str, str], ...] = (
    ("demo", "a demo"),
    ("trial", "a trial"),
    ("contact", "a conversation with our team"),
    ("sales", "a conversation with our team"),
    ("quote", "a quote"),
    ("call", "a call"),
)
_CONTENT_FORMS = ("ebook", "guide", "whitepaper", "report")
_SLUG_FILLER = frozenset({"basics", "101", "intro", "introduction", "guide", "explained"})
_MAX_TOPIC_CHARS = 70
_TOPIC_RE = re.compile(r"^[\w][\w &'/+.,:-]*$")

#: Returns the value, or "" when the guardrails flag it as hostile.
Screen = Callable[[str, str], str]


@dataclass(frozen=True, slots=True)
class Signals:
    """What the drafter knows of the lead's situation."""

    customer: bool
    awaiting_reply: bool
    quiet: bool
    origin: Origin
    topic: str


def _split(line: str) -> tuple[str, str]:
    kind, _, detail = line.partition(":")
    return kind.strip().lower(), detail.strip()


def _slug_topic(path: str) -> str:
    """"/blog/route-planning-basics" -> "route planning"."""
    slug = path.rstrip("/").rsplit("/", 1)[-1]
    words = [w for w in re.split(r"[-_]+", slug.lower()) if w]
    while words and (words[-1] in _SLUG_FILLER or words[-1].isdigit()):
        words.pop()
    return " ".join(words)


def _topic(value: str) -> str:
    """A topic fit to quote: short, plain words, or nothing."""
    value = " ".join(value.split()).strip(" .,;:-")
    if not value or len(value) > _MAX_TOPIC_CHARS or not _TOPIC_RE.match(value):
        return ""
    return value


def _origin(facts: LeadFacts, screen: Screen) -> tuple[Origin, str]:
    """What brought the lead, strongest intent first, with its topic."""
    events = [_split(line) for line in facts.engagement]
    source = facts.lead_source.lower()
    for kind, detail in events:
        if "form" in kind:
            wanted = next((name for key, name in _HAND_RAISES if key in detail.lower()), "")
            if wanted:
                return "form", wanted
    if any("pricing" in detail.lower() for kind, detail in events if "page" in kind) or any(
        "pricing" in line.lower() for line in facts.recent_activity
    ):
        return "pricing", "pricing"
    webinars = [detail for kind, detail in events if "webinar" in kind]
    if webinars or "webinar" in source:
        title = screen("engagement", webinars[0]) if webinars else ""
        return "webinar", _topic(title)
    if any(word in source for word in _EVENT_SOURCES) or any(k in _EVENT_KINDS for k, _ in events):
        return "event", _topic(screen("lead_source", source)) if source else ""
    for kind, detail in events:
        if "page" in kind and any(p in detail.lower() for p in _CONTENT_PATHS):
            return "content", _topic(_slug_topic(screen("engagement", detail)))
        if "form" in kind and any(word in detail.lower() for word in _CONTENT_FORMS):
            return "content", ""
    return "", ""


def read_signals(facts: LeadFacts, screen: Screen) -> Signals:
    """The lead's situation and what brought it, from its facts alone."""
    status = facts.status.strip().lower()
    quiet = status in _QUIET_STATUSES or (
        facts.days_since_engaged is not None and facts.days_since_engaged >= QUIET_AFTER_DAYS
    )
    origin, topic = _origin(facts, screen)
    return Signals(
        customer=facts.past_purchases > 0 or status in _CUSTOMER_STATUSES,
        awaiting_reply=facts.emails_sent > 0 and not facts.replied,
        quiet=quiet,
        origin=origin,
        topic=topic,
    )


@dataclass(frozen=True, slots=True)
class Selector:
    """A template's ``when``: which leads it is for."""

    kind: Literal["generic", "returning_customer", "activity", "expansion", "follow_up",
                  "re_engagement", "first_touch"]
    keyword: str = ""
    # A webinar lead may have no tracked activity yet, only a lead source saying so.
    also_lead_source: bool = False

    def matches(self, facts: LeadFacts, signals: Signals) -> bool:
        """Whether the lead is in this selector's situation."""
        if self.kind == "generic":
            return True
        if self.kind == "returning_customer":
            return facts.past_purchases > 0
        if self.kind == "expansion":
            return signals.customer
        if self.kind == "follow_up":
            return signals.awaiting_reply
        if self.kind == "re_engagement":
            return signals.quiet and not signals.customer
        if self.kind == "first_touch":
            first = not signals.customer and not facts.emails_sent
            return first and (self.keyword in ("any", signals.origin))
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


_SELECTORS: dict[str, Selector] = {
    "pricing_interest": Selector("activity", "pricing"),
    "webinar_attended": Selector("activity", "webinar", also_lead_source=True),
    "returning_customer": Selector("returning_customer"),
    "generic": Selector("generic"),
    "expansion": Selector("expansion"),
    "follow_up": Selector("follow_up"),
    "re_engagement": Selector("re_engagement"),
    **{f"first_touch:{origin}": Selector("first_touch", origin) for origin in ORIGINS},
    "first_touch:any": Selector("first_touch", "any"),
}
#: Every ``when`` an admin may write, besides ``activity:<keyword>``.
SELECTORS: tuple[str, ...] = tuple(_SELECTORS)


def parse_when(when: str) -> Selector | None:
    """The selector a ``when`` names, or None when it names none."""
    when = when.strip()
    if when in _SELECTORS:
        return _SELECTORS[when]
    if when.startswith("activity:") and when.removeprefix("activity:").strip():
        return Selector("activity", when.removeprefix("activity:").strip().lower())
    return None


# Counts and windows of tracking, which a prospect must never be told back.
_TRACKING_RE = re.compile(
    r"\s*\b(?:\d+\s+times|once|twice|several\s+times)\b"
    r"|,?\s*\b(?:in|over|during|within)\s+the\s+(?:last|past)\s+\d*\s*\w+"
    r"|,?\s*\blatest\s+.*$"
    r"|,?\s*\b\d+\s+(?:days?|weeks?|hours?)\s+ago\b",
    re.IGNORECASE,
)


def _as_clause(line: str) -> str:
    """An activity line shaped to follow "I noticed you ...", without counts or windows."""
    line = _TRACKING_RE.sub("", line).strip().rstrip(".,").strip()
    if not line:
        return ""
    first_word = line.split(" ", 1)[0]
    # "Visited the pricing page" reads as a clause once lowered; "PDF downloaded" does not.
    if len(first_word) > 1 and first_word[1:].islower():
        line = line[0].lower() + line[1:]
    return line
