"""One proposal: the draft (editable in place), its score and reasons, flags marked in the
text, the rules that fired, its history and planned send; and the decision form."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from review_api import service
from review_api.authority import Decider, NotEntitledError, check, who_must_approve
from review_api.deps import NowDep
from review_api.errors import ReviewError
from review_api.keys import Principal, Role
from review_api.store.models import Proposal
from review_api.ui import decisions
from review_api.ui.app import STATUS
from review_api.ui.highlight import marks_for, segments, unplaced
from review_api.ui.queue_rows import lead_names, tier_and_score
from review_api.ui.render import BIDI, render
from review_api.ui.session import Visit, VisitDep
from review_api.workflow import ProposalState

router = APIRouter(include_in_schema=False)
ProposalId = Annotated[int, Path(ge=1, le=2_147_483_647)]
TOP_FACTORS = 6
SHOWN_DETAIL = ("source", "reason", "from", "to", "approver", "decision", "must_decide",
                "edit_distance", "final_score", "kind", "note", "until")


def _factors(proposal: Proposal, chain: dict[str, Any]) -> list[str]:
    """The score's top reasons in words, largest effect first."""
    score = chain.get("score") or {}
    items = (score.get("factors") or {}).get("items") if isinstance(score, dict) else None
    if items:
        return [f"{i['label']}: {int(i['points']):+d} points"
                + (f" ({i['group']})" if i.get("group") else "") for i in items[:TOP_FACTORS]]
    return [str(f) for f in (proposal.payload.get("factors") or [])[:TOP_FACTORS]]


def _may(proposal: Proposal, who: Principal, decision: str) -> bool:
    if who.role not in (Role.REP, Role.ADMIN):
        return False
    try:
        check(proposal, decider=Decider(owner_id=who.owner_id, admin=who.role is Role.ADMIN),
              decision=decision)  # type: ignore[arg-type]
    except NotEntitledError:
        return False
    return True


def _history(chain: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"at": e["at"], "event": str(e["event"]).replace("_", " "), "actor": e["actor"],
             "detail": [(k, e["detail"][k]) for k in SHOWN_DETAIL
                        if isinstance(e.get("detail"), dict) and e["detail"].get(k) is not None]}
            for e in chain["events"]]


def page_context(session: Session, who: Principal, proposal_id: int) -> dict[str, Any]:
    """Everything the proposal page shows, as ``who`` may see it."""
    proposal = service.get_visible(session=session, proposal_id=proposal_id, principal=who)
    chain = service.audit_chain(session=session, proposal=proposal)
    lead = lead_names(session=session, crm_ids=[proposal.crm_id]).get(proposal.crm_id, {})
    payload = proposal.payload
    review = payload.get("review") or {}
    subject, body = str(payload.get("subject") or ""), str(payload.get("body") or "")
    tier, score = tier_and_score(proposal)
    pending = proposal.state == ProposalState.PENDING
    return {
        "p": proposal, "payload": payload, "lead": lead, "tier": tier, "score": score,
        "is_draft": proposal.kind == service.DRAFT,
        "subject_parts": segments(subject, marks_for(review, subject, "subject")),
        "body_parts": segments(body, marks_for(review, body, "body")),
        "subject": subject, "body": body, "bidi": len(BIDI.findall(subject + body)),
        "flags": [str(f) for f in payload.get("flags") or []],
        "lead_flags": unplaced(review, subject, body),
        "escalations": payload.get("escalations") or [],
        "factors": _factors(proposal, chain), "history": _history(chain),
        "send": chain.get("send"), "decision": service.decision_for(
            session=session, proposal_id=proposal.id),
        "must_approve": who_must_approve(proposal), "pending": pending,
        "may_approve": pending and _may(proposal, who, "approve"),
        "may_reject": pending and _may(proposal, who, "reject"),
    }


async def _show(visit: Visit, proposal_id: int, now: datetime, *, error: str = "",
                status: int = 200, edited: dict[str, str] | None = None) -> HTMLResponse:
    def work(session: Session, who: Principal) -> HTMLResponse:
        context = page_context(session, who, proposal_id)
        return render(visit, "proposal.html", who=who, status=status, now=now, error=error,
                      edited=edited or {}, **context)

    return await visit.run(work)


@router.get("/ui/proposals/{proposal_id}")
async def proposal_page(proposal_id: ProposalId, visit: VisitDep, now: NowDep) -> HTMLResponse:
    """The proposal page."""
    return await _show(visit, proposal_id, now)


@router.post("/ui/proposals/{proposal_id}/decide")
async def decide(proposal_id: ProposalId, visit: VisitDep, now: NowDep) -> Response:
    """Approve, edit & approve, set your own score, or reject; then back to the queue."""
    form = await visit.form()
    edited = {k: form.get(k, "") for k in ("subject", "body", "reason", "score")}
    try:
        decision = decisions.decision_from_form(form)
        label = await decisions.decide(visit, proposal_id=proposal_id, decision=decision,
                                       now=now)
    except ReviewError as exc:
        # The page again, with what the rep typed, and why it did not go through.
        return await _show(visit, proposal_id, now, error=str(exc),
                           status=STATUS.get(exc.code, 400), edited=edited)
    return RedirectResponse(f"/ui/?done={proposal_id}&outcome={label.decision}",
                            status_code=303)
