"""Server-rendered pages for reps, admins and analysts, served by the review API's app.

The framework (this package) gives every page module the same pieces:

- ``render.render(visit, "name.html", who=principal, **context)``: a Jinja2 page with
  autoescaping on; templates extend ``base.html`` and fill ``{% block title %}`` and
  ``{% block main %}``. Lead text goes through the ``lead`` filter (escaped, bidi controls
  made visible, wrapped in ``<bdi>``).
- ``session.VisitDep``: the request's visit. ``await visit.run(work, Role.ADMIN, ...)`` runs
  ``work(session, who)`` in one transaction in a worker thread after checking the login
  cookie (no login: a redirect to ``/ui/login``; a role not listed: a 403 page). With no
  roles listed, any logged-in key may see the page.
- ``await visit.form()``: the posted form as a dict, refused (403 page) unless its ``csrf``
  field matches the session's token. Every ``<form method="post">`` must carry
  ``<input type="hidden" name="csrf" value="{{ csrf }}">``.
- Errors the services raise (``ReviewError``) on a ``/ui`` path become an HTML error page.
- Static files live in ``static/`` and are served at ``/ui/static/``; the
  Content-Security-Policy forbids inline script and style, so behaviour goes in a ``.js``
  file and looks in a ``.css`` file.

To add pages: write a module here with ``router = APIRouter(prefix="/ui/...",
include_in_schema=False)`` and, optionally, ``NAV = [NavLink(label, href, roles)]`` for the
header (``render.NavLink``; e.g. ``NavLink("Weights", "/ui/admin/weights", (Role.ADMIN,))``);
put its templates under ``templates/`` (a subfolder of its own is tidy); then add
the module's dotted name to ``PAGE_MODULES`` in ``review_api/ui/app.py``. The header shows
a module's links only to the roles each ``NavLink`` names. A page handler is as thin as
an API view::

    @router.get("/ui/admin/weights")
    async def weights_page(visit: VisitDep, now: NowDep) -> HTMLResponse:
        def work(session: Session, who: Principal) -> HTMLResponse:
            return render(visit, "admin/weights.html", who=who, rows=...)
        return await visit.run(work, Role.ADMIN)

    @router.post("/ui/admin/weights")
    async def publish(visit: VisitDep) -> Response:
        form = await visit.form()  # CSRF checked; form.get("note"), form.getlist("ids")
        ...
        return RedirectResponse("/ui/admin/weights", status_code=303)  # post/redirect/get

``tests/review_api/ui/`` shows how to test pages: ``conftest.log_in`` for TestClient tests
that read the HTML, and ``browser.py`` (one server and one Chromium per module) for the
browser tests.
"""
