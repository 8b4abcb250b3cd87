"""Leads and labels read from the store, read-only, for training and previews (the CLI
and the analysts' notebooks share them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from leadloop.settings import Settings
from leadloop.wiring import open_store
from review_api import service
from review_api.store.models import Decision, LeadSnapshot, Proposal

SCORE_OVERRIDE = "score_override"


def latest_lead_payloads(settings: Settings) -> list[dict[str, Any]]:
    """The latest snapshot of every live lead, with its effective score and tier."""
    store = open_store(settings)
    try:
        with store.session() as session:
            return service.current_leads(session=session)
    finally:
        store.close()


def training_payloads(settings: Settings) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Each lead as it was before its outcome, and the final scores reps set on overrides.

    A lead that reached an outcome is taken from its last snapshot before the status changed
    (its first when there is none), so fields recorded with the outcome do not leak in.
    """
    from scoring.train import outcome_of

    store = open_store(settings)
    try:
        with store.session() as session:
            snapshots = session.execute(
                select(LeadSnapshot.crm_id, LeadSnapshot.payload)
                .where(LeadSnapshot.deleted.is_(False))
                .order_by(LeadSnapshot.crm_id, LeadSnapshot.crm_modified_at)
            ).all()
            overrides: dict[str, int] = {}
            for crm_id, final in session.execute(  # final_score is never None here
                select(Proposal.crm_id, Decision.final_score)
                .join(Decision, Decision.proposal_id == Proposal.id)
                .where(Proposal.kind == SCORE_OVERRIDE, Decision.final_score.is_not(None))
                .order_by(Decision.decided_at)
            ):
                if final is not None:
                    overrides[crm_id] = int(final)
    finally:
        store.close()
    history: dict[str, list[dict[str, Any]]] = {}
    for crm_id, payload in snapshots:
        history.setdefault(crm_id, []).append(dict(payload))
    leads = []
    for versions in history.values():
        latest = versions[-1]
        outcome = outcome_of(latest.get("status"))
        if outcome is None:
            leads.append(latest)
            continue
        before = [v for v in versions if outcome_of(v.get("status")) is None]
        chosen = dict(before[-1] if before else versions[0])
        chosen["status"] = latest.get("status")
        leads.append(chosen)
    return leads, overrides
