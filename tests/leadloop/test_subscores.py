"""Fit and engagement apart through the loop: stored, shown in the task, written to the CRM."""

from __future__ import annotations

from sqlalchemy import select, update

from connectors.sandbox import SandboxCRM
from leadloop.pipeline import Pipeline
from review_api.schemas import ProposalOut
from review_api.store.models import Lead, LeadSnapshot, Proposal, Score

from .test_pipeline import _make_hot


def test_scores_store_and_write_both_sub_scores_and_the_grade(
    pipeline: Pipeline, crm: SandboxCRM
) -> None:
    pipeline.sync()
    report = pipeline.score()
    assert report.written_back == report.scored
    weights = pipeline.weights
    with pipeline.store.session() as session:
        rows = session.execute(select(Lead, Score).join(Score, Score.crm_id == Lead.crm_id)).all()
        assert rows
        for lead, score in rows:
            assert (lead.fit_score, lead.engagement_score, lead.grade) == (
                score.fit_score, score.engagement_score, score.grade)
            assert score.grade == weights.grid.grade(score.fit_score, score.engagement_score)
            # The fit reasons add up to the fit sub-score (before the 0-100 clamp).
            fit = sum(f["points"] for f in score.factors["items"] if f["group"] == "fit")
            assert score.fit_score == min(100, max(0, fit))
            far = crm.get_lead(lead.crm_id)
            assert (far["fit_score"], far["engagement_score"], far["grade"]) == (
                lead.fit_score, lead.engagement_score, lead.grade)
        assert len({score.grade for _, score in rows}) > 1


def test_leads_scored_before_sub_scores_get_them_at_the_next_push(
    pipeline: Pipeline, crm: SandboxCRM
) -> None:
    pipeline.sync()
    pipeline.score()
    # As a store migrated from before sub-scores: the scores are there, the CRM shows none.
    with pipeline.store.session() as session:
        session.execute(update(Score).values(fit_score=None, engagement_score=None, grade=None))
        session.execute(update(Lead).values(fit_score=None, engagement_score=None, grade=None,
                                            crm_subscores=None))
    crm_ids = crm.list_lead_ids()
    crm.set_scores([])  # nothing written yet
    report = pipeline.score()
    assert report.written_back == report.scored > 0
    for crm_id in crm_ids:
        far = crm.get_lead(crm_id)
        if not far["deleted"]:
            assert far["grade"] is not None and far["fit_score"] is not None
    # Once the CRM shows them, nothing is written again.
    assert pipeline.score().written_back == 0


def test_a_score_override_shows_and_applies_the_sub_scores(
    pipeline: Pipeline, crm: SandboxCRM
) -> None:
    pipeline.sync()
    pipeline.score()
    with pipeline.store.session() as session:
        lead, _ = session.execute(
            select(Lead, LeadSnapshot).join(LeadSnapshot, Lead.snapshot_id == LeadSnapshot.id)
            .where(Lead.effective_tier.in_(["C", "D"]))
            .where(LeadSnapshot.payload["status"].as_string() == "open")
        ).first()  # type: ignore[misc]
        lead_id, old_grade = lead.crm_id, lead.grade
    _make_hot(crm, lead_id)
    pipeline.sync()
    assert pipeline.score().overrides_proposed >= 1
    with pipeline.store.session() as session:
        proposal = session.scalars(select(Proposal).where(Proposal.crm_id == lead_id)).one()
        shown = ProposalOut.model_validate(proposal).model_dump(mode="json")
        # Waiting for the rep: the lead keeps its sub-scores too.
        assert session.get_one(Lead, lead_id).grade == old_grade
    assert shown["grade"] == "A1" and shown["fit_score"] >= 40
    assert shown["engagement_score"] >= 35
    line = f"Fit {shown['fit_score']}, engagement {shown['engagement_score']} (grade A1)."
    assert line in shown["payload"]["description"]
    pipeline.write_back()
    task = next(t for t in crm.list_tasks() if t.kind == "score_override"
                and t.lead_crm_id == lead_id)
    assert line in task.description
    crm.approve_task(task.task_id, by=task.owner_id)
    assert pipeline.reconcile().approved == 1
    with pipeline.store.session() as session:
        assert session.get_one(Lead, lead_id).grade == "A1"
    assert crm.get_lead(lead_id)["grade"] == "A1"
