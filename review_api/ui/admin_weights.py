"""The weights editor at /ui/admin/weights: the criteria as a form, a live preview and a
backtest of the edit, publish with a note, the version history with diffs, and rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from review_api import service
from review_api.admin import AdminFiles
from review_api.deps import NowDep
from review_api.errors import ReviewError
from review_api.keys import Principal, Role
from review_api.ui import svg, weights_data
from review_api.ui.render import ENV, NavLink, render
from review_api.ui.session import VisitDep
from review_api.ui.weights_form import (
    EVENT,
    FormProblems,
    WeightsForm,
    form_from_post,
    form_from_weights,
    weights_from_form,
)
from scoring.errors import ScoringError
from scoring.features import FIELD_KINDS
from scoring.weights import FIELD_CONDITIONS, TIERS

router = APIRouter(include_in_schema=False)
NAV = [NavLink("Weights", "/ui/admin/weights", (Role.ADMIN,))]
PAGE = "/ui/admin/weights"
VERSION = Annotated[str, Query(max_length=40, pattern=r"^[A-Za-z0-9_.-]*$")]


class AdminFilesOff(ReviewError):
    """The server was started without the data directory the admin pages work on."""

    code = "not_found"


def admin_files(request: Request) -> AdminFiles:
    """Where the admin's files live; a page saying so when the server has none."""
    files: AdminFiles | None = request.app.state.admin_files
    if files is None:
        raise AdminFilesOff("the admin pages need the data directory: start with leadloop serve")
    return files


def _choices() -> dict[str, Any]:
    return {"fields": sorted(FIELD_KINDS), "field_kinds": FIELD_KINDS, "event": EVENT,
            "conditions": FIELD_CONDITIONS, "tiers": TIERS}


def _plots(comparison: weights_data.Comparison) -> dict[str, Any]:
    p, b = comparison.preview, comparison.backtest
    edges = p.histogram_edges
    bins = [f"{edges[i]}–{edges[i + 1] - 1 if i < len(edges) - 2 else 100}"
            for i in range(len(edges) - 1)]
    plots = {"histogram": svg.grouped_bars(
        "Leads per score band, before and after", bins,
        [("before", p.before), ("after", p.after)])}
    if b.closed and b.before.lift:
        plots["lift"] = svg.grouped_bars(
            "Lift by decile of the points score (1 = top tenth), before and after",
            [str(d) for d, _, _ in b.before.lift],
            [("before", [lift for _, _, lift in b.before.lift]),
             ("after", [lift for _, _, lift in b.after.lift])],
            value_format="{:.2f}", baseline=1.0)
    return plots


def _context(session: Session, files: AdminFiles, form: WeightsForm, *, now: Any,
             problems: list[str] | None = None) -> dict[str, Any]:
    current, source = weights_data.in_force(files.data_dir, files.weights_file)
    comparison = plots = None
    if not problems:
        try:
            candidate = weights_from_form(form)
        except FormProblems as exc:
            problems = exc.lines
        else:
            leads = service.current_leads(session=session)
            comparison = weights_data.compare(leads, current, candidate, now=now)
            plots = _plots(comparison)
    return {"form": form, "problems": problems or [], "comparison": comparison,
            "plots": plots, "current": current, "source": source,
            "override": files.weights_file, **_choices()}


def _history(files: AdminFiles, a: str, b: str) -> dict[str, Any]:
    rows = weights_data.history(files.data_dir)
    diff: list[str] | None = None
    problem = ""
    if a and b:
        try:
            diff = weights_data.diff_versions(files.data_dir, a, b)
        except ScoringError as exc:
            problem = str(exc)
    return {"history": rows, "diff": diff, "diff_problem": problem, "a": a, "b": b}


@router.get(PAGE)
async def weights_page(visit: VisitDep, now: NowDep, a: VERSION = "", b: VERSION = "",
                       published: VERSION = "", restored: VERSION = "") -> HTMLResponse:
    """The editor, filled with the weights in force."""

    def work(session: Session, who: Principal) -> HTMLResponse:
        files = admin_files(visit.request)
        current, _ = weights_data.in_force(files.data_dir, files.weights_file)
        form = form_from_weights(current).with_blank_rows()
        notice = (f"Published {published}." if published else
                  f"Rolled back: {restored} is in force again." if restored else "")
        return render(visit, "admin/weights.html", who=who, notice=notice,
                      **_context(session, files, form, now=now), **_history(files, a, b))

    return await visit.run(work, Role.ADMIN)


@router.post(PAGE)
async def weights_post(visit: VisitDep, now: NowDep) -> Response:
    """Preview the edit (the form re-rendered), add a row, or publish with a note."""
    posted = await visit.form()
    action = posted.get("action", "preview")
    form, _removed = form_from_post(posted)
    note = posted.get("note", "")[:2000]

    def work(session: Session, who: Principal) -> Response:
        files = admin_files(visit.request)
        problems: list[str] = []
        if action == "publish":
            try:
                record = weights_data.publish(files.data_dir, weights_from_form(form),
                                              author=who.actor, note=note)
            except FormProblems as exc:
                problems = exc.lines
            except (ReviewError, ScoringError) as exc:
                problems = [str(exc)]
            else:
                return RedirectResponse(f"{PAGE}?{urlencode({'published': record.version})}",
                                        status_code=303)
        shown = form.without_blank_rows().with_blank_rows(2 if action == "add" else 1)
        status = 422 if problems else 200
        return render(visit, "admin/weights.html", who=who, status=status, notice="",
                      note=note, **_context(session, files, shown, now=now, problems=problems),
                      **_history(files, "", ""))

    return await visit.run(work, Role.ADMIN)


@router.post(PAGE + "/preview")
async def weights_preview_fragment(visit: VisitDep, now: NowDep) -> HTMLResponse:
    """Only the preview section, for the page's script to swap in as the admin edits."""
    posted = await visit.form()
    form, _removed = form_from_post(posted)

    def work(session: Session, _who: Principal) -> HTMLResponse:
        files = admin_files(visit.request)
        context = _context(session, files, form, now=now)
        html = ENV.get_template("admin/weights_preview.html").render(**context)
        return HTMLResponse(html)

    return await visit.run(work, Role.ADMIN)


@router.post(PAGE + "/rollback")
async def weights_rollback(visit: VisitDep) -> Response:
    """Put an older published version back in force."""
    posted = await visit.form()
    version = posted.get("version", "")[:40]

    def work(_session: Session, who: Principal) -> Response:
        files = admin_files(visit.request)
        try:
            record = weights_data.rollback(files.data_dir, version, author=who.actor,
                                           note=posted.get("note", "")[:2000])
        except ScoringError as exc:
            raise weights_data.WeightsPageError(str(exc)) from None
        return RedirectResponse(f"{PAGE}?{urlencode({'restored': record.version})}",
                                status_code=303)

    return await visit.run(work, Role.ADMIN)


def data_dir_of(request: Request) -> Path:
    """The data directory of the admin files (for the other admin pages)."""
    return admin_files(request).data_dir
