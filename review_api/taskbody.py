"""What a review task says in the CRM, and how the rep's edited text is read back.

A draft task's description holds the email the rep may edit, then a marker line, then
notes for the rep (score, why, flags). Only the part above the marker is the email.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MARKER = "----- leadloop: edit the email above this line; notes for you below -----"
SUBJECT_PREFIX = "Subject:"


@dataclass(frozen=True, slots=True)
class EmailText:
    """An email's subject and body."""

    subject: str
    body: str

    def as_text(self) -> str:
        """The email as one text: the form diffs and edit distances are taken on."""
        return f"{SUBJECT_PREFIX} {self.subject}\n\n{self.body}"


def render_draft_task(
    email: EmailText,
    *,
    score: int | None,
    tier: str | None,
    factors: Sequence[str],
    flags: Sequence[str] = (),
    proposal_key: str,
) -> str:
    """The description of a draft review task."""
    notes = [MARKER]
    if score is not None:
        notes.append(f"Score {score} (tier {tier}).")
    if factors:
        notes.append("Why: " + "; ".join(factors[:5]))
    if flags:  # unverified claims, risk flags, injection attempts, escalations
        notes.append("Check before approving:")
        notes.extend(f"  - {flag}" for flag in flags)
    else:
        notes.append("Checks: every claim traced to the lead's record; no risk flags.")
    notes.append(
        "Approve: mark the task Completed. Reject: set Decision to Rejected, with a reason."
    )
    notes.append(f"Proposal: {proposal_key}")
    return email.as_text() + "\n\n" + "\n".join(notes)


def render_score_task(
    *,
    old_score: int | None,
    old_tier: str | None,
    new_score: int,
    new_tier: str,
    factors: Sequence[str],
    proposal_key: str,
) -> str:
    """The description of a score override review task."""
    was = f"{old_score} (tier {old_tier})" if old_score is not None else "no score"
    lines = [
        f"leadloop proposes score {new_score} (tier {new_tier}); the lead now has {was}.",
        "Why: " + ("; ".join(factors[:5]) if factors else "no criteria fired"),
        "Approve: mark the task Completed (set Final Score to use your own score).",
        "Reject: set Decision to Rejected, with a reason; the current score stays.",
        f"Proposal: {proposal_key}",
    ]
    return "\n".join(lines)


def parse_draft_task(description: str, *, fallback_subject: str) -> EmailText:
    """The email as the rep left it in the task description."""
    text = description.replace("\r\n", "\n")
    email_part = text.split(MARKER, 1)[0].strip("\n")
    first, _, rest = email_part.partition("\n")
    if first.startswith(SUBJECT_PREFIX):
        subject = first[len(SUBJECT_PREFIX):].strip() or fallback_subject
        body = rest.strip("\n")
    else:
        subject, body = fallback_subject, email_part
    return EmailText(subject=subject, body=body.rstrip())
