"""A rep simulator with hidden preferences, for the learning tests and benchmark (not product).

Every simulated rep deletes a few phrases, never lets the "webinar" topic through, signs
off with "Cheers," instead of "Best regards," and cuts the body to ``max_words``. Rep
``r3`` also adds a P.S. line before the sign-off. None of this is visible to the learner:
it sees only the texts before and after.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from drafting import LeadFacts

DELETED_PHRASES = (
    ", so I thought I'd reach out directly",
    " in the next couple of weeks",
    " in the next week or two",
)
TOPIC = "webinar"
SIGN_OFF = ("Best regards,", "Cheers,")
PS_LINE = "P.S. Happy to send a one-page overview first."
REPS = ("r1", "r2", "r3")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")

FIRST = ("Ann", "Bo", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo", "")
COMPANIES = ("Acme Corp", "Blue Fjord", "Cobalt Labs", "Delta Freight", "Evergreen Health", "")
TITLES = ("VP Sales", "Head of Operations", "CTO", "Procurement Lead", "")
ACTIVITIES = (
    "visited the pricing page 3 times in the last 14 days",
    "attended the Q3 product webinar",
    "downloaded the integration guide",
    "opened 4 emails in the last month",
    "requested a demo",
)
REP_NAMES = {"r1": "Sam Rep", "r2": "Lee Park", "r3": "Max Ode"}


@dataclass(frozen=True)
class Rep:
    """One simulated rep."""

    rep_id: str
    max_words: int = 60

    def edit(self, body: str) -> str:
        """The body as this rep would approve it."""
        for phrase in DELETED_PHRASES:
            body = body.replace(phrase, "")
        lines = [
            [s for s in _SENTENCE_RE.split(line) if TOPIC not in s.lower()] if line else []
            for line in body.split("\n")
        ]
        lines = [line for line in lines if line != [SIGN_OFF[0]]]
        if [SIGN_OFF[1]] not in lines:
            name = [REP_NAMES[self.rep_id]]
            at = lines.index(name) if name in lines else len(lines)
            lines.insert(at, [SIGN_OFF[1]])
        if self.rep_id == "r3" and PS_LINE not in body:
            lines.insert(lines.index([SIGN_OFF[1]]), [PS_LINE])

        def words() -> int:
            return sum(len(s.split()) for line in lines for s in line)

        # Cut the last sentences before the question (the call to action) until it fits.
        ask = next((i for i, line in enumerate(lines) if any("?" in s for s in line)), 0)
        middle = [i for i, line in enumerate(lines[:ask]) if line][1:]
        for i in reversed(middle):
            while (
                words() > self.max_words
                and lines[i]
                and "?" not in lines[i][-1]
                and (lines[i][-1] not in (PS_LINE, SIGN_OFF[1]))
            ):
                lines[i].pop()
        out: list[str] = []
        for line in lines:
            text = " ".join(line)
            if text or (out and out[-1]):
                out.append(text)
        return "\n".join(out).strip()


def leads(n: int, seed: int) -> list[tuple[LeadFacts, str]]:
    """``n`` leads, each with the rep who owns it."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        rep = rng.choice(REPS)
        facts = LeadFacts(
            crm_id=f"L{seed}-{i}",
            first_name=rng.choice(FIRST),
            company=rng.choice(COMPANIES),
            title=rng.choice(TITLES),
            recent_activity=tuple(rng.sample(ACTIVITIES, rng.randint(0, 2))),
            past_purchases=rng.choice((0, 0, 0, 1)),
            lead_source=rng.choice(("Web form", "Webinar", "Referral", "")),
            rep_name=REP_NAMES[rep],
            rep_email=f"{rep}@example.com",
        )
        out.append((facts, rep))
    return out


def when(round_no: int, i: int) -> datetime:
    """A decision time: one week per round."""
    return datetime(2025, 1, 6) + timedelta(weeks=round_no, minutes=i)
