"""The rep's queue at /ui/, and bulk approval of clean drafts with a receipt per item."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from review_api.deps import NowDep
from review_api.keys import Principal
from review_api.ui import decisions
from review_api.ui.queue_rows import Filters, Flagged, Kind, Whose, queue
from review_api.ui.render import render
from review_api.ui.session import VisitDep

router = APIRouter(include_in_schema=False)
OUTCOMES = {"approved": "approved", "rejected": "rejected"}


@router.get("/ui/")
async def queue_page(
    visit: VisitDep, now: NowDep,
    kind: Kind = "", tier: Annotated[str, Query(pattern="^[ABCD]?$")] = "",
    flagged: Flagged = "", whose: Whose = "",
    done: Annotated[int | None, Query(ge=1)] = None,
    outcome: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """Pending proposals in priority order, with filters."""
    filters = Filters(kind=kind, tier=tier, flagged=flagged, whose=whose)  # type: ignore[arg-type]

    def work(session: Session, who: Principal) -> HTMLResponse:
        rows = queue(session=session, who=who, now=now, filters=filters)
        notice = (f"Proposal {done} {OUTCOMES[outcome]}."
                  if done is not None and outcome in OUTCOMES else "")
        return render(visit, "queue.html", who=who, rows=rows, filters=filters, now=now,
                      notice=notice, may_decide=decisions.may_decide(who))

    return await visit.run(work)


@router.post("/ui/bulk")
async def bulk_approve(visit: VisitDep, now: NowDep) -> HTMLResponse:
    """Approve each checked draft on its own; a receipt says what became of each."""
    form = await visit.form()
    ids = [int(v) for v in form.getlist("ids") if v.isdigit() and len(v) < 10]
    receipts = await decisions.bulk_approve(visit, ids=ids, now=now)

    def work(_session: Session, who: Principal) -> HTMLResponse:
        return render(visit, "receipts.html", who=who, receipts=receipts,
                      asked=len(ids))

    return await visit.run(work)
