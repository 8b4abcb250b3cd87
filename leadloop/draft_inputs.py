"""What a drafter is given for a lead, built one way for the pipeline and for `policy check`.

A draft rule ("longer than 60 words", "has unverified claims") is only judged fairly on
drafts like the ones reps get: written from the lead's activity lines and with the owning
rep's name, email and title, and with the learned rules applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from connectors.base import Owner
from drafting import Draft, LeadFacts
from drafting.base import days_since_engaged
from drafting.learning import apply as apply_rules
from review_api import service
from review_api.store.models import Proposal, Score

if TYPE_CHECKING:
    from leadloop.pipeline import Pipeline


def lead_facts(record: Mapping[str, Any], score_row: Score | None, owner: Owner | None,
               now: datetime, *, emails_sent: int = 0) -> LeadFacts:
    """The facts a drafter gets: the lead's record, its activity lines, its rep and how many
    emails leadloop has sent the lead so far (a follow-up is written as one)."""
    factors = score_row.factors if score_row is not None else {}
    return LeadFacts.from_mapping({
        **record, "recent_activity": tuple(factors.get("activity", [])),
        "top_factors": tuple(f["label"] for f in factors.get("items", [])),
        "rep_name": owner.name if owner else "",
        "rep_email": owner.email if owner else "",
        "rep_title": owner.title if owner else "",
        "days_since_engaged": days_since_engaged(record.get("events"), now),
        "emails_sent": emails_sent,
    })


def real_drafts(pipeline: Pipeline, leads: list[dict[str, Any]], *, latest: bool
                ) -> tuple[Callable[[LeadFacts], Draft], Callable[[LeadFacts], LeadFacts],
                           dict[str, int]]:
    """A drafter and a facts lookup for :func:`drafting.policy.explain` that give real drafts.

    Each lead is drafted with the configured drafter from the facts the pipeline would give
    it, with the learned rules applied; with ``latest`` its newest stored draft is read
    instead, and only leads without one are drafted. Also returns counts (read, drafted).
    """
    from leadloop.pipeline import _latest_scores

    ids = [str(lead.get("crm_id") or "") for lead in leads]
    owners = pipeline._owners_by_id()
    stored: dict[str, Draft] = {}
    with pipeline.store.session() as session:
        scores = _latest_scores(session, ids)
        rows = pipeline._edit_rows(session) if pipeline.learn_from_edits else []
        rules = pipeline._learned_rules(session, rows) if pipeline.learn_from_edits else []
        if latest:
            newest = (select(Proposal).where(Proposal.kind == service.DRAFT,
                                             Proposal.crm_id.in_(ids)).order_by(Proposal.id))
            for proposal in session.scalars(newest):
                payload = proposal.payload
                stored[proposal.crm_id] = Draft(
                    str(payload.get("subject", "")), str(payload.get("body", "")), "stored",
                    proposal.drafter_version or "", payload.get("template_id"), "", ())
    now = pipeline.clock()
    owner_of = {str(lead.get("crm_id") or ""): str(lead.get("owner_id") or "") for lead in leads}
    facts_by_id = {
        crm_id: lead_facts(lead, scores.get(crm_id), owners.get(owner_of[crm_id]), now)
        for crm_id, lead in zip(ids, leads, strict=True)
    }
    counts = {"read": 0, "drafted": 0}

    def facts_for(facts: LeadFacts) -> LeadFacts:
        return facts_by_id.get(facts.crm_id, facts)

    def draft(facts: LeadFacts) -> Draft:
        if facts.crm_id in stored:
            counts["read"] += 1
            return stored[facts.crm_id]
        counts["drafted"] += 1
        made = pipeline.drafter.draft(facts_for(facts))
        return apply_rules(rules, made, owner_of.get(facts.crm_id, ""))

    return draft, facts_for, counts

