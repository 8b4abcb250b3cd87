"""What a decision teaches: the diff and edit distance between proposed and final text, and
the labels as one table for analysts."""

from __future__ import annotations

import difflib
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from rapidfuzz.distance import Levenshtein
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from review_api import outcomes
from review_api.store.models import Decision, Lead, LeadSnapshot, Proposal, Score
from review_api.workflow import ProposalState


def text_diff(original: str, final: str) -> str:
    """A unified diff of the rep's edit, line by line; empty when unchanged."""
    if original == final:
        return ""
    lines = difflib.unified_diff(
        original.splitlines(), final.splitlines(), "proposed", "approved", lineterm=""
    )
    return "\n".join(lines)


def edit_distance(original: str, final: str) -> int:
    """Characters inserted, deleted or substituted to turn the proposal into the final text."""
    return int(Levenshtein.distance(original, final))


LABEL_COLUMNS: dict[str, str] = {
    "proposal_id": "the proposal's id in the store",
    "proposal_key": "its idempotency key (also the CRM task's proposal id)",
    "kind": "draft or score_override",
    "crm_id": "the lead's CRM id",
    "owner_id": "the lead's owner (rep) when proposed",
    "state": "where the proposal stands now (sent, rejected, ...)",
    "proposed_at": "when leadloop proposed it (UTC)",
    "weights_version": "the admin weights that scored the lead",
    "model_version": "the scoring model, if any",
    "drafter_version": "the drafter and template or prompt version",
    "score": "the lead's score when proposed",
    "tier": "the lead's tier when proposed",
    "lead": "the lead's fields as synced when it was scored (a dict)",
    "decision": "approved or rejected",
    "original_text": "the proposed email (drafts)",
    "final_text": "the email as the rep approved it (drafts)",
    "diff": "unified diff from original to final",
    "edit_distance": "characters changed (Levenshtein)",
    "original_score": "the proposed score (score overrides)",
    "final_score": "the score the rep approved (score overrides)",
    "reason": "the rep's reason, for rejections",
    "decided_by": "who decided",
    "decided_at": "when (UTC)",
    "source": "crm (decided in the CRM), api, or ui (the review pages)",
    "risk_flags": "the guardrails' risk codes on the draft, comma-separated (pricing, ...)",
    "outcome": "what became of the sent email: replied, bounced, unsubscribed, "
               "meeting_booked, converted, no_reply (after N days); empty until known",
    "outcome_at": "when that outcome happened (UTC)",
    "lead_status": "the lead's status now (open, converted, disqualified, ...)",
}


def parse_since(value: str | None) -> datetime | None:
    """An ISO 8601 time (UTC when no zone is given) for ``since`` filters.

    Raises:
        ValueError: anything else, numbers included, with what is expected.
    """
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected an ISO 8601 time such as 2026-11-01T00:00:00Z, "
                         f"got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def load(*, session: Session, since: datetime | None = None,
         kind: str | None = None) -> pd.DataFrame:
    """Every decision as one tidy row per proposal; see LABEL_COLUMNS for the columns."""
    score_snapshot = aliased(LeadSnapshot)
    current_snapshot = aliased(LeadSnapshot)
    query = (
        select(Proposal, Decision, Score, score_snapshot.payload, current_snapshot.payload)
        .join(Decision, Decision.proposal_id == Proposal.id)
        .outerjoin(Score, Score.id == Proposal.score_id)
        .outerjoin(score_snapshot, score_snapshot.id == Score.snapshot_id)
        .outerjoin(Lead, Lead.crm_id == Proposal.crm_id)
        .outerjoin(current_snapshot, current_snapshot.id == Lead.snapshot_id)
        .order_by(Decision.decided_at, Proposal.id)
    )
    if since is not None:
        query = query.where(Decision.decided_at >= since)
    if kind is not None:
        query = query.where(Proposal.kind == kind)
    rows = []
    found = list(session.execute(query))
    events = outcomes.events_for(session=session, proposal_ids=[r[0].id for r in found])
    for proposal, decision, score, lead_then, lead_now in found:
        status = (lead_now or {}).get("status")
        outcome = outcomes.strongest(
            [(e.kind, e.occurred_at) for e in events.get(proposal.id, [])],
            lead_status=status, sent=proposal.state == ProposalState.SENT)
        rows.append({
            "proposal_id": proposal.id, "proposal_key": proposal.key, "kind": proposal.kind,
            "crm_id": proposal.crm_id, "owner_id": proposal.owner_id, "state": proposal.state,
            "proposed_at": proposal.created_at, "weights_version": proposal.weights_version,
            "model_version": proposal.model_version, "drafter_version": proposal.drafter_version,
            "score": score.score if score else None, "tier": score.tier if score else None,
            "lead": lead_then or {}, "decision": decision.decision,
            "original_text": decision.original_text, "final_text": decision.final_text,
            "diff": decision.diff, "edit_distance": decision.edit_distance,
            "original_score": decision.original_score, "final_score": decision.final_score,
            "reason": decision.reason, "decided_by": decision.decided_by,
            "decided_at": decision.decided_at, "source": decision.source,
            "risk_flags": _risk_codes(proposal.payload),
            "outcome": outcome.kind if outcome else None,
            "outcome_at": outcome.at if outcome else None, "lead_status": status,
        })
    return pd.DataFrame(rows, columns=list(LABEL_COLUMNS))


def _risk_codes(payload: dict[str, Any] | None) -> str:
    """The draft's risk flag codes, once each, in the order the guardrails found them."""
    review = (payload or {}).get("review") or {}
    codes = [str(flag.get("code", "")) for flag in review.get("risk_flags") or []
             if isinstance(flag, dict)]
    return ", ".join(dict.fromkeys(code for code in codes if code))
