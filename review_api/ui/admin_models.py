"""The models page at /ui/admin/models: versions, champion and challenger figures (ROC,
calibration, lift), promote and rollback through the model registry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from review_api.keys import Principal, Role
from review_api.ui import svg
from review_api.ui.admin_weights import admin_files
from review_api.ui.models_data import ModelsView, models_view
from review_api.ui.render import NavLink, render
from review_api.ui.session import Visit, VisitDep
from scoring.errors import ScoringError

router = APIRouter(include_in_schema=False)
NAV = [NavLink("Models", "/ui/admin/models", (Role.ADMIN,))]
PAGE = "/ui/admin/models"
VERSION = Annotated[str, Query(max_length=60, pattern=r"^[A-Za-z0-9_.-]*$")]


def _plots(view: ModelsView) -> dict[str, Any]:
    if not view.curves:
        return {}
    names = [("champion " if c.version == view.champion else "challenger ") + c.version
             for c in view.curves]
    plots: dict[str, Any] = {}
    if all(c.roc for c in view.curves):
        plots["roc"] = svg.lines("ROC curve", list(zip(names, [c.roc for c in view.curves],
                                                      strict=True)),
                                 x_label="false positive rate", y_label="true positive rate")
    plots["calibration"] = svg.lines(
        "Calibration: predicted against observed conversion",
        list(zip(names, [c.calibration for c in view.curves], strict=True)),
        x_label="predicted probability", y_label="observed rate")
    deciles = max(len(c.lift) for c in view.curves)
    plots["lift"] = svg.grouped_bars(
        "Lift by decile of the predicted probability", [str(d + 1) for d in range(deciles)],
        list(zip(names, [c.lift for c in view.curves], strict=True)), value_format="{:.2f}",
        baseline=1.0)
    return plots


def _page(visit: Visit, who: Principal, challenger: str | None, *, notice: str = "",
          problem: str = "") -> HTMLResponse:
    view = models_view(admin_files(visit.request).data_dir, challenger)
    return render(visit, "admin/models.html", who=who, view=view, plots=_plots(view),
                  notice=notice, problem=problem, status=422 if problem else 200)


@router.get(PAGE)
async def models_page(visit: VisitDep, challenger: VERSION = "") -> HTMLResponse:
    """Every version, and the champion against a challenger."""
    return await visit.run(lambda _s, who: _page(visit, who, challenger or None), Role.ADMIN)


@router.post(PAGE + "/promote")
async def promote(visit: VisitDep) -> HTMLResponse:
    """Make a version the champion if it beats the current one on the same holdout."""
    posted = await visit.form()
    version = posted.get("version", "")[:60]
    force = posted.get("force") == "1"

    def work(_session: Session, who: Principal) -> HTMLResponse:
        from scoring.registry import ModelRegistry
        from scoring.train import MODEL_FIELDS_FROM_LEADS

        registry = ModelRegistry(admin_files(visit.request).data_dir)
        try:
            result = registry.promote(version, force=force, lead_fields=MODEL_FIELDS_FROM_LEADS)
        except ScoringError as exc:
            return _page(visit, who, None, problem=str(exc))
        if not result.promoted:
            return _page(visit, who, version, problem=f"{version} not promoted: {result.reason}")
        return _page(visit, who, None, notice=f"{version} is the champion: {result.reason}")

    return await visit.run(work, Role.ADMIN)


@router.post(PAGE + "/rollback")
async def rollback(visit: VisitDep) -> HTMLResponse:
    """Give the champion role back to the previous champion."""
    await visit.form()

    def work(_session: Session, who: Principal) -> HTMLResponse:
        from scoring.registry import ModelRegistry

        registry = ModelRegistry(admin_files(visit.request).data_dir)
        try:
            previous = registry.rollback()
        except ScoringError as exc:
            return _page(visit, who, None, problem=str(exc))
        notice = (f"Rolled back: {previous} is the champion again." if previous else
                  "Rolled back: no champion now, scores are the points score alone.")
        return _page(visit, who, None, notice=notice)

    return await visit.run(work, Role.ADMIN)
