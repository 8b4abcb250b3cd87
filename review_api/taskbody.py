"""What a review task says in the CRM besides the email, and the check that keeps it out.

A draft's email travels in the task's own email fields (subject, body), which the rep edits.
The task's free text holds only notes for the rep (score, why, flags, how to decide); it is
never read back as part of the email. At send, an email holding any line of those notes is
refused, so notes cannot reach a prospect even if a rep pastes them into the email.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SUBJECT_PREFIX = "Subject:"
# Lines shorter than this are too common to be evidence of leaked notes ("Thanks,").
MIN_NOTES_LINE = 12


@dataclass(frozen=True, slots=True)
class EmailText:
    """An email's subject and body."""

    subject: str
    body: str

    def as_text(self) -> str:
        """The email as one text: the form diffs and edit distances are taken on."""
        return f"{SUBJECT_PREFIX} {self.subject}\n\n{self.body}"


SubScores = tuple[int | None, int | None, str | None]
"""A lead's fit sub-score, engagement sub-score and grade (None while unknown)."""


def _subscores_line(subscores: SubScores) -> list[str]:
    fit, engagement, grade = subscores
    if fit is None or engagement is None or grade is None:
        return []
    return [f"Fit {fit}, engagement {engagement} (grade {grade})."]


def render_draft_notes(
    *,
    score: int | None,
    tier: str | None,
    factors: Sequence[str],
    flags: Sequence[str] = (),
    proposal_key: str,
    subscores: SubScores = (None, None, None),
) -> str:
    """The notes of a draft review task: everything the rep reads that is not the email."""
    notes = []
    if score is not None:
        notes.append(f"Score {score} (tier {tier}).")
    notes.extend(_subscores_line(subscores))
    if factors:
        notes.append("Why: " + "; ".join(factors[:5]))
    if flags:  # unverified claims, risk flags, injection attempts, escalations
        notes.append("Check before approving:")
        notes.extend(f"  - {flag}" for flag in flags)
    else:
        notes.append("Checks: every claim traced to the lead's record; no risk flags.")
    notes.append(
        "Edit the email in its subject and body fields. Approve: mark the task Completed. "
        "Reject: set Decision to Rejected, with a reason."
    )
    notes.append(f"Proposal: {proposal_key}")
    return "\n".join(notes)


def render_score_task(
    *,
    old_score: int | None,
    old_tier: str | None,
    new_score: int,
    new_tier: str,
    factors: Sequence[str],
    proposal_key: str,
    subscores: SubScores = (None, None, None),
) -> str:
    """The notes of a score override review task."""
    was = f"{old_score} (tier {old_tier})" if old_score is not None else "no score"
    lines = [
        f"leadloop proposes score {new_score} (tier {new_tier}); the lead now has {was}.",
        *_subscores_line(subscores),
        "Why: " + ("; ".join(factors[:5]) if factors else "no criteria fired"),
        "Approve: mark the task Completed (set Final Score to use your own score).",
        "Reject: set Decision to Rejected, with a reason; the current score stays.",
        f"Proposal: {proposal_key}",
    ]
    return "\n".join(lines)


def parse_email_text(text: str, *, fallback_subject: str) -> EmailText:
    """An email written as one text, as the API takes it: 'Subject: ...' first, optionally."""
    text = text.replace("\r\n", "\n").strip("\n")
    first, _, rest = text.partition("\n")
    if first.startswith(SUBJECT_PREFIX):
        subject = first[len(SUBJECT_PREFIX):].strip() or fallback_subject
        body = rest.strip("\n")
    else:
        subject, body = fallback_subject, text
    return EmailText(subject=subject, body=body.rstrip())


def leaked_notes(email: EmailText, notes: Iterable[str]) -> list[str]:
    """The lines of ``notes`` (each a task's notes text) that appear as lines of the email."""
    mine = {_squash(line) for text in notes for line in text.splitlines()}
    mine = {line for line in mine if len(line) >= MIN_NOTES_LINE}
    lines = [email.subject, *email.body.splitlines()]
    return [line.strip() for line in lines if _squash(line) in mine]


def _squash(line: str) -> str:
    return " ".join(line.replace("-", " ").split()).casefold()
