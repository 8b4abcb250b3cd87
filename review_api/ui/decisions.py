"""Decisions taken on the pages: the API's path (views.decide_as), with source "ui"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import ImmutableMultiDict

from review_api import service
from review_api.errors import BadDecisionError, ReviewError
from review_api.keys import ForbiddenError, Principal, Role
from review_api.schemas import DecisionIn, DecisionOut
from review_api.ui.queue_rows import flag_count
from review_api.ui.session import Visit
from review_api.views import decide_as

SOURCE = "ui"
ACTIONS = ("approve", "edit", "score", "reject")


def may_decide(who: Principal) -> bool:
    """Whether this key's role decides at all (analysts read only)."""
    return who.role in (Role.REP, Role.ADMIN)


def decision_from_form(form: ImmutableMultiDict[str, str]) -> DecisionIn:
    """The decision a proposal page's form asks for; BadDecisionError when it does not fit."""
    action = form.get("action", "")
    if action not in ACTIONS:
        raise BadDecisionError("choose approve, edit & approve, or reject")
    version = form.get("version", "")
    fields: dict[str, object] = {
        "decision": "reject" if action == "reject" else "approve",
        "expected_version": int(version) if version.isdigit() and len(version) < 10 else None,
    }
    if action == "edit":
        fields["final_subject"] = form.get("subject", "")
        # Browsers send textarea line ends as CRLF; the label's diff is by line.
        fields["final_body"] = form.get("body", "").replace("\r\n", "\n")
    elif action == "score":
        raw = form.get("score", "").strip()
        if not raw.lstrip("-").isdigit() or len(raw) > 4:
            raise BadDecisionError("your score: a whole number from 0 to 100")
        fields["final_score"] = int(raw)
    elif action == "reject":
        fields["reason"] = form.get("reason", "")
    try:
        return DecisionIn.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "not valid")).removeprefix("Value error, ")
        raise BadDecisionError(f"{where}: {message}" if where else message) from None


async def decide(visit: Visit, *, proposal_id: int, decision: DecisionIn, now: datetime
                 ) -> DecisionOut:
    """One decision in one transaction, through the API's path and authority rules."""
    def work(session: Session, who: Principal) -> DecisionOut:
        if not may_decide(who):
            raise ForbiddenError(f"an {who.role} key reads proposals and decides none")
        return decide_as(visit.request, session, proposal_id, decision, who,
                         now, source=SOURCE)

    return await visit.run(work)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What became of one item of a bulk approval."""

    proposal_id: int
    ok: bool
    message: str


async def bulk_approve(visit: Visit, *, ids: list[int], now: datetime) -> list[Receipt]:
    """Approve each clean draft as proposed, each in its own transaction; a flagged or
    escalated one is refused here even if the form listed it."""
    receipts: list[Receipt] = []
    for proposal_id in dict.fromkeys(ids):
        def work(session: Session, who: Principal, pid: int = proposal_id) -> DecisionOut:
            if not may_decide(who):
                raise ForbiddenError(f"an {who.role} key reads proposals and decides none")
            proposal = service.get_visible(session=session,
                                           proposal_id=pid, principal=who)
            if proposal.kind != service.DRAFT:
                raise BadDecisionError("a score override is decided on its own page")
            if flag_count(proposal) or proposal.approver_id is not None:
                raise BadDecisionError("something is flagged on it; open it and decide alone")
            return decide_as(visit.request, session, pid,
                             DecisionIn(decision="approve", expected_version=proposal.version),
                             who, now, source=SOURCE)
        try:
            label = await visit.run(work)
            receipts.append(Receipt(proposal_id, True, f"{label.decision}; queued to send"))
        except ReviewError as exc:
            receipts.append(Receipt(proposal_id, False, str(exc)))
    return receipts
