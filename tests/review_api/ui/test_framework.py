"""The page framework as another page module uses it: roles, CSRF, the nav, error pages."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from review_api.keys import Principal, Role
from review_api.ui import render as pages
from review_api.ui.render import NavLink, render
from review_api.ui.session import VisitDep
from tests.review_api.ui.conftest import log_in
from tests.review_api.ui.seed import World, csrf_of


def _with_admin_page(app: FastAPI) -> FastAPI:
    router = APIRouter()

    @router.get("/ui/admin/test")
    async def admin_page(visit: VisitDep) -> HTMLResponse:
        def work(_session: Session, who: Principal) -> HTMLResponse:
            return render(visit, "error.html", who=who, status_code=200, message="admin only")
        return await visit.run(work, Role.ADMIN)

    @router.post("/ui/admin/test")
    async def admin_post(visit: VisitDep) -> HTMLResponse:
        form = await visit.form()

        def work(_session: Session, who: Principal) -> HTMLResponse:
            return render(visit, "error.html", who=who, status_code=200,
                          message=f"got {form.getlist('pick')}")
        return await visit.run(work, Role.ADMIN)

    app.include_router(router)
    return app


def test_a_role_gated_page(app: FastAPI, world: World) -> None:
    _with_admin_page(app)
    pages.NAV.append(NavLink("Admin test", "/ui/admin/test", (Role.ADMIN,)))
    try:
        rep, admin = TestClient(app), TestClient(app)
        log_in(rep, world.rep)
        log_in(admin, world.admin)
        refused = rep.get("/ui/admin/test")
        assert refused.status_code == 403 and "needs an admin key" in refused.text
        assert "Admin test" not in rep.get("/ui/").text  # the nav hides it from a rep
        page = admin.get("/ui/admin/test")
        assert page.status_code == 200 and 'href="/ui/admin/test"' in page.text
        posted = admin.post("/ui/admin/test", data={"csrf": csrf_of(page.text),
                                                    "pick": ["a", "b"]})
        assert "got [&#39;a&#39;, &#39;b&#39;]" in posted.text
        assert admin.post("/ui/admin/test", data={"pick": "a"}).status_code == 403
        # Anyone not logged in goes to the login page, and back here afterwards.
        anonymous = TestClient(app).get("/ui/admin/test", follow_redirects=False)
        assert anonymous.headers["location"] == (
            "/ui/login?next=%2Fui%2Fadmin%2Ftest&why=login")
    finally:
        pages.NAV.pop()


def test_an_analyst_reads_the_queue_and_decides_nothing(app: FastAPI, world: World) -> None:
    analyst = TestClient(app)
    log_in(analyst, world.analyst)
    queue = analyst.get("/ui/").text
    assert "Email: <bdi>Hello Ann</bdi>" in queue and 'name="ids"' not in queue
    pid = world.ids["clean_a"]
    page = analyst.get(f"/ui/proposals/{pid}").text
    assert 'data-key="approve"' not in page and 'name="reason"' not in page
    refused = analyst.post(f"/ui/proposals/{pid}/decide",
                           data={"csrf": csrf_of(page), "action": "approve"})
    assert refused.status_code == 403 and "decides none" in refused.text
