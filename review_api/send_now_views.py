"""``POST /proposals/{id}/send-now``: a rep sends one approved email at once, within policy.

The policy (window, holidays, caps) is leadloop's, so the app is given the action as a
callback; the route checks who asks (the proposal's owner, whoever it was escalated to, or
an admin) and turns a refusal into 409 with one line saying what holds the email.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from review_api import service
from review_api.deps import DeciderDep
from review_api.errors import ReviewError
from review_api.keys import Principal, Role
from review_api.schemas import ErrorOut

router = APIRouter(tags=["proposals"])
# (proposal id, who asks) -> whether it left, and what happened in words
SendNow = Callable[[int, str], tuple[bool, str]]


class SendNowRefusedError(ReviewError):
    code = "held"


class SendNowOut(BaseModel):
    """What became of the request."""

    proposal_id: int
    sent: bool
    message: str


class NotOursError(ReviewError):
    code = "forbidden"


@router.post("/proposals/{proposal_id}/send-now", response_model=SendNowOut,
             responses={code: {"model": ErrorOut} for code in (401, 403, 404, 409, 503)})
async def send_now(proposal_id: Annotated[int, Path(ge=1, le=2_147_483_647)],
                   request: Request, caller: DeciderDep) -> SendNowOut:
    """Send this approved email now if the lead's window, holidays and caps allow it now;
    otherwise 409 ``held`` saying what holds it."""
    action: SendNow | None = request.app.state.send_now
    if action is None:
        raise SendNowRefusedError("sending is not wired into this API process")

    def work(session: Session, who: Principal) -> str:
        proposal = service.get_visible(session=session, proposal_id=proposal_id, principal=who)
        if who.role is not Role.ADMIN and who.owner_id not in (proposal.owner_id,
                                                               proposal.assignee_id):
            raise NotOursError(f"only {proposal.owner_id} (the owner), whoever the proposal "
                               "was escalated to, or an admin may send it now")
        return who.actor

    actor = await caller.run(work)
    sent, message = await run_in_threadpool(action, proposal_id, actor)
    return SendNowOut(proposal_id=proposal_id, sent=sent, message=message)
