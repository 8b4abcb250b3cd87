"""The funnel at /ui/funnel, for admins and analysts: the stages, the rates by week, rep,
template and drafter, and what expires soon."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from review_api.deps import NowDep
from review_api.keys import Principal, Role
from review_api.ui import funnel_data, svg
from review_api.ui.render import NavLink, render
from review_api.ui.session import VisitDep

router = APIRouter(include_in_schema=False)
NAV = [NavLink("Funnel", "/ui/funnel", (Role.ADMIN, Role.ANALYST))]
Breakdown = Annotated[str, Query(pattern="^(week|rep|template|drafter)$")]


@router.get("/ui/funnel")
async def funnel_page(visit: VisitDep, now: NowDep,
                      days: Annotated[int, Query(ge=1, le=3650)] = 90,
                      by: Breakdown = "week") -> HTMLResponse:
    """The funnel of the proposals made in the last ``days`` days."""

    def work(session: Session, who: Principal) -> HTMLResponse:
        rows = funnel_data.load_rows(session=session, since=now - timedelta(days=days))
        stages = funnel_data.stages(rows)
        return render(
            visit, "funnel.html", who=who, days=days, by=by, stages=stages,
            plot=svg.horizontal_bars(f"Proposals of the last {days} days, stage by stage",
                                     stages),
            groups=funnel_data.group_by(rows, funnel_data.BREAKDOWNS[by]),
            breakdowns=list(funnel_data.BREAKDOWNS), expiring=funnel_data.expiring(rows, now=now),
            now=now)

    return await visit.run(work, Role.ADMIN, Role.ANALYST)
