"""The funnel: how proposals move from proposed to decided, approved as-is or edited,
rejected, sent, replied, meeting booked and converted, overall and by week, rep, template
and drafter. Replies and meetings are the outcomes the CRM sent back (review_api.outcomes)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from review_api import outcomes
from review_api.store.models import Decision, Lead, LeadSnapshot, OutboxEmail, Proposal
from scoring.features import as_utc
from scoring.labels import outcome_of

STAGES = ("proposals", "decided", "approved as-is", "edited", "rejected", "sent", "replied",
          "meeting booked", "converted")
SOON = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Row:
    """One proposal as the funnel sees it."""

    id: int
    kind: str
    crm_id: str
    owner_id: str
    created_at: datetime
    expires_at: datetime | None
    state: str
    template: str
    drafter: str
    decision: str | None
    edited: bool
    decided_at: datetime | None
    sent: bool
    converted: bool | None  # None: the lead has no outcome yet
    outcomes: frozenset[str] = frozenset()  # the outcome kinds the CRM sent back


@dataclass(frozen=True, slots=True)
class Group:
    """The figures of one week, rep, template or drafter."""

    key: str
    proposals: int
    decided: int
    approved: int
    edited: int
    rejected: int
    sent: int
    median_hours: float | None

    @property
    def acceptance(self) -> float | None:
        """Approved over decided."""
        return self.approved / self.decided if self.decided else None

    @property
    def edit_rate(self) -> float | None:
        """Edited over approved."""
        return self.edited / self.approved if self.approved else None


def _edited(decision: Decision) -> bool:
    if decision.decision != "approved":
        return False
    if decision.final_score is not None or decision.original_score is not None:
        return decision.final_score != decision.original_score
    return bool(decision.edit_distance)


def load_rows(*, session: Session, since: datetime) -> list[Row]:
    """Every proposal made since ``since`` with its decision, send and lead outcome."""
    query = (
        select(Proposal, Decision, OutboxEmail.sent_at, LeadSnapshot.payload)
        .outerjoin(Decision, Decision.proposal_id == Proposal.id)
        .outerjoin(OutboxEmail, OutboxEmail.proposal_id == Proposal.id)
        .outerjoin(Lead, Lead.crm_id == Proposal.crm_id)
        .outerjoin(LeadSnapshot, LeadSnapshot.id == Lead.snapshot_id)
        .where(Proposal.created_at >= since)
        .order_by(Proposal.id))
    found = list(session.execute(query))
    kinds = outcomes.kinds_by_proposal(session=session, proposal_ids=[p.id for p, *_ in found])
    rows = []
    for proposal, decision, sent_at, lead in found:
        outcome = outcome_of((lead or {}).get("status"))
        payload = proposal.payload or {}
        rows.append(Row(
            id=proposal.id, kind=proposal.kind, crm_id=proposal.crm_id,
            owner_id=proposal.owner_id, created_at=as_utc(proposal.created_at),
            expires_at=as_utc(proposal.expires_at) if proposal.expires_at else None,
            state=proposal.state,
            template=str(payload.get("template_id") or ("score change"
                         if proposal.kind != "draft" else "unknown")),
            drafter=(proposal.drafter_version or "—").split(":")[0],
            decision=decision.decision if decision else None,
            edited=_edited(decision) if decision else False,
            decided_at=as_utc(decision.decided_at) if decision else None,
            sent=sent_at is not None or proposal.state == "sent",
            converted=None if outcome is None else outcome == 1,
            outcomes=frozenset(kind.value for kind in kinds.get(proposal.id, ()))))
    return rows


def stages(rows: Iterable[Row]) -> list[tuple[str, int]]:
    """How many proposals reached each stage; converted only when outcomes are known."""
    rows = list(rows)
    counts = {
        "proposals": len(rows),
        "decided": sum(r.decision is not None for r in rows),
        "approved as-is": sum(r.decision == "approved" and not r.edited for r in rows),
        "edited": sum(r.edited for r in rows),
        "rejected": sum(r.decision == "rejected" for r in rows),
        "sent": sum(r.sent for r in rows),
        # A meeting booked is an answer too: it counts among the replies.
        "replied": sum(bool(r.outcomes & {"replied", "meeting_booked"}) for r in rows),
        "meeting booked": sum("meeting_booked" in r.outcomes for r in rows),
        "converted": sum(r.sent and r.converted is True for r in rows),
    }
    known = any(r.converted is not None for r in rows)
    return [(name, counts[name]) for name in STAGES if name != "converted" or known]


def week_of(moment: datetime) -> str:
    """The ISO week a moment falls in, e.g. 2026-W44."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def group_by(rows: Iterable[Row], key: Callable[[Row], str]) -> list[Group]:
    """Acceptance rate, edit rate and time to decision per group, in key order."""
    buckets: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        buckets[key(row)].append(row)
    groups = []
    for name in sorted(buckets):
        members = buckets[name]
        hours = [(r.decided_at - r.created_at).total_seconds() / 3600
                 for r in members if r.decided_at is not None]
        groups.append(Group(
            key=name, proposals=len(members),
            decided=sum(r.decision is not None for r in members),
            approved=sum(r.decision == "approved" for r in members),
            edited=sum(r.edited for r in members),
            rejected=sum(r.decision == "rejected" for r in members),
            sent=sum(r.sent for r in members),
            median_hours=statistics.median(hours) if hours else None))
    return groups


BREAKDOWNS: dict[str, Callable[[Row], str]] = {
    "week": lambda r: week_of(r.created_at),
    "rep": lambda r: r.owner_id,
    "template": lambda r: r.template,
    "drafter": lambda r: r.drafter,
}


def expiring(rows: Iterable[Row], *, now: datetime, within: timedelta = SOON) -> list[Row]:
    """Pending proposals that expire within ``within`` of ``now``, soonest first."""
    soon = [r for r in rows if r.state == "pending" and r.expires_at is not None
            and now <= r.expires_at <= now + within]
    return sorted(soon, key=lambda r: (r.expires_at or now, r.id))
