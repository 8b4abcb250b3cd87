"""The demo's rounds: what reps still changed each round, and what learning did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from drafting.learning import normalised_distance
from leadloop.demo_reps import RepTaste
from review_api import service
from review_api.store.models import Decision, Proposal

if TYPE_CHECKING:
    from leadloop.pipeline import Pipeline


@dataclass(frozen=True)
class RoundStats:
    """One round's drafts as the reps decided them."""

    round: int
    drafts_decided: int
    mean_edit_distance: float  # normalised, over approved drafts
    approved_unedited: float  # share of decided drafts
    rules_applied: int  # drafts with at least one learned rule applied


def last_decision(pipeline: Pipeline) -> int:
    """The newest decision's id (0 for none)."""
    with pipeline.store.session() as session:
        return session.scalar(select(func.max(Decision.id))) or 0


def round_stats(pipeline: Pipeline, number: int, after: int) -> RoundStats:
    """Edit distance and unedited approvals over the drafts decided since ``after``."""
    with pipeline.store.session() as session:
        rows = session.execute(
            select(Decision.decision, Decision.original_text, Decision.final_text,
                   Proposal.payload)
            .join(Proposal, Proposal.id == Decision.proposal_id)
            .where(Proposal.kind == service.DRAFT, Decision.id > after)).all()
    approved = [(o or "", f or "") for d, o, f, _ in rows if d == "approved"]
    distances = [normalised_distance(o, f) for o, f in approved]
    return RoundStats(
        number, len(rows), sum(distances) / len(distances) if distances else 0.0,
        sum(1 for d in distances if d == 0) / len(rows) if rows else 0.0,
        sum(1 for *_, payload in rows if payload.get("applied_rules")))


def print_rounds(rounds: list[RoundStats], rules_learned: int,
                 tastes: dict[str, RepTaste]) -> None:
    """One row per round: how much reps still had to change, and what learning did."""
    from rich.table import Table
    from rich.text import Text

    from leadloop.cli.common import console
    table = Table("round", "drafts decided", "mean normalised edit distance",
                  "approved unedited", "drafts with learned rules",
                  title="learning from reps' edits, round by round")
    for row in rounds:
        table.add_row(str(row.round), str(row.drafts_decided), f"{row.mean_edit_distance:.3f}",
                      f"{row.approved_unedited:.0%}", str(row.rules_applied))
    console.print(table)
    first, last = rounds[0], rounds[-1]
    if len(rounds) > 1 and first.mean_edit_distance > 0:
        fall = 1 - last.mean_edit_distance / first.mean_edit_distance
        console.print(f"edit distance round 1 -> round {last.round}: "
                      f"{first.mean_edit_distance:.3f} -> {last.mean_edit_distance:.3f} "
                      f"({fall:.0%} lower)", highlight=False)
    console.print(f"rules learned from the reps' edits: {rules_learned} "
                  "(list them: leadloop drafts rules)", highlight=False)
    for rep, taste in sorted(tastes.items()):
        console.print(Text(f"rep {rep}: {taste.describe()}"))
