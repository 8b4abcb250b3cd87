"""The demo's simulated reps: each has writing preferences drawn from the demo's seed.

A rep's preferences say what the rep wants an email to look like, not which edit to make,
so they are not the learner's rule shapes (see README, "The demo's reps"):

* learnable, the same every time: a greeting word ("Hello Ann," for "Hi Ann,"), a sign-off
  word, a line of the rep's own before the sign-off (and no other rep's), and cutting the
  second, explaining sentence of the opening paragraph;
* not learnable: a remark about the lead's company, different for every lead, added to
  some drafts, and a share of drafts rejected for reasons of the rep's own.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

GREETINGS = ("Hi", "Hello", "Dear", "Hey")
SIGN_OFFS = ("Cheers,", "All the best,", "Warmly,", "Speak soon,")
CLOSERS = (
    "Happy to keep it to fifteen minutes if that helps.",
    "No pressure either way: a one-line reply is plenty.",
    "If someone else owns this, a name is all I need.",
    "I can send a two-page summary first if you prefer.",
)
REMARKS = (
    "I saw {company} has been hiring lately.",
    "Congratulations on the recent news at {company}.",
    "A colleague of mine spoke highly of {company}.",
    "I noticed {company} is expanding its team.",
    "{company} keeps coming up in conversations I have.",
)
_GREETING_RE = re.compile(r"^(?:Hi|Hello|Dear|Hey) ([^\n,]+),", re.MULTILINE)
_SIGN_OFF_RE = re.compile(
    r"^(?:Best regards|Kind regards|Thanks|Best|Regards|Many thanks|Thank you|Cheers|"
    r"All the best|Warmly|Speak soon),$", re.MULTILINE)


@dataclass(frozen=True)
class RepTaste:
    """What one simulated rep wants a draft to look like."""

    greeting: str = "Hi"
    sign_off: str | None = None
    closer: str | None = None
    cut_second_sentence: bool = False
    remark_rate: float = 0.0
    reject_rate: float = 0.1

    def describe(self) -> str:
        """The preferences in words, for the demo's closing lines."""
        parts = []
        if self.greeting != "Hi":
            parts.append(f'greets with "{self.greeting}"')
        if self.sign_off:
            parts.append(f'signs off "{self.sign_off}"')
        if self.closer:
            parts.append(f'adds "{self.closer}"')
        if self.cut_second_sentence:
            parts.append("cuts the opening paragraph to one sentence")
        parts.append(f"adds a remark about the company to {self.remark_rate:.0%} of drafts "
                     "(not learnable)")
        return "; ".join(parts)


def draw_tastes(rep_ids: list[str], seed: int) -> dict[str, RepTaste]:
    """Each rep's preferences from the seed: at least two learnable ones per rep."""
    rng = random.Random(f"reps-{seed}")
    tastes = {}
    for rep in rep_ids:
        while True:
            taste = RepTaste(
                greeting=rng.choice(GREETINGS),
                sign_off=rng.choice((None, *SIGN_OFFS)),
                closer=rng.choice((None, *CLOSERS)),
                cut_second_sentence=rng.random() < 0.5,
                remark_rate=round(rng.uniform(0.1, 0.3), 2),
            )
            learnable = [taste.greeting != "Hi", taste.sign_off is not None,
                         taste.closer is not None, taste.cut_second_sentence]
            if sum(learnable) >= 2:
                break
        tastes[rep] = taste
    return tastes


def preferred(body: str, taste: RepTaste, *, company: str, rng: random.Random) -> str:
    """The draft as this rep would approve it."""
    text = _GREETING_RE.sub(lambda m: f"{taste.greeting} {m.group(1)},", body, count=1)
    if taste.sign_off:
        text = _SIGN_OFF_RE.sub(taste.sign_off, text, count=1)
    lines = [line for line in text.split("\n")
             if line.strip() not in CLOSERS or line.strip() == taste.closer]
    paragraphs = "\n".join(lines).split("\n\n")
    if taste.cut_second_sentence and len(paragraphs) > 2:
        opening = paragraphs[1].split("\n")
        if len(opening) > 1:
            paragraphs[1] = opening[0]
    sign = next((i for i, p in enumerate(paragraphs) if _SIGN_OFF_RE.search(p)),
                len(paragraphs))
    if taste.closer and taste.closer not in text:
        paragraphs.insert(sign, taste.closer)
        sign += 1
    if company and rng.random() < taste.remark_rate:
        paragraphs.insert(min(2, sign), rng.choice(REMARKS).format(company=company))
    return "\n\n".join(paragraphs)
