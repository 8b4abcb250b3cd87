"""Thin HTTP routes: look up, 404, call the service."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import text

from review_api import service
from review_api.deps import NowDep, SessionDep
from review_api.schemas import DecisionIn, DecisionOut, ErrorOut, ProposalDetail, ProposalOut

router = APIRouter()
ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 422: {"model": ErrorOut},
}
States = Literal[
    "pending", "approved", "rejected", "expired", "superseded", "sent", "send_failed"
]


@router.get("/health")
def health(session: SessionDep) -> dict[str, str]:
    """Liveness and database reachability."""
    session.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/proposals", response_model=list[ProposalOut])
def list_proposals(
    session: SessionDep,
    state: States | None = None,
    kind: Literal["draft", "score_override"] | None = None,
    owner_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[ProposalOut]:
    """Proposals, newest first."""
    rows = service.list_proposals(session=session, state=state, kind=kind, owner_id=owner_id,
                                  limit=limit, offset=offset)
    return [ProposalOut.model_validate(row) for row in rows]


@router.get("/proposals/{proposal_id}", response_model=ProposalDetail, responses=ERRORS)
def get_proposal(proposal_id: int, session: SessionDep) -> ProposalDetail:
    """One proposal with its decision."""
    proposal = service.get_or_raise(session=session, proposal_id=proposal_id)
    detail = ProposalDetail.model_validate(proposal)
    label = service.decision_for(session=session, proposal_id=proposal_id)
    detail.decision = DecisionOut.model_validate(label) if label else None
    return detail


@router.post("/proposals/{proposal_id}/decision", response_model=DecisionOut, responses=ERRORS)
def decide(proposal_id: int, decision: DecisionIn, session: SessionDep,
           now: NowDep) -> DecisionOut:
    """Approve (optionally with an edited text or score) or reject with a reason."""
    proposal = service.get_or_raise(session=session, proposal_id=proposal_id)
    label = service.decide(session=session, proposal=proposal, decision=decision, source="api",
                           now=now)
    return DecisionOut.model_validate(label)
