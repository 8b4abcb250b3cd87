"""Login, sessions, CSRF and the security headers of the pages, read as HTML."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from review_api.keys import revoke
from review_api.store.db import Store
from review_api.store.models import ApiKey, Decision
from tests.review_api.ui.conftest import Clock, log_in
from tests.review_api.ui.seed import NOW, World, csrf_of


def _decisions(store: Store) -> list[Decision]:
    with store.session() as session:
        return list(session.scalars(select(Decision)).all())


def test_root_redirects_to_the_queue(app: FastAPI) -> None:
    answer = TestClient(app).get("/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/"


def test_every_page_without_a_session_leads_to_the_login_page(app: FastAPI, world: World
                                                               ) -> None:
    client = TestClient(app)
    for path in ("/ui/", f"/ui/proposals/{world.ids['clean_a']}", "/ui/?kind=draft"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/ui/login?next=")
    page = client.get("/ui/")  # followed
    assert 'type="password"' in page.text and "Log in with your API key." in page.text


def test_a_post_without_a_session_decides_nothing(app: FastAPI, world: World,
                                                  store: Store) -> None:
    client = TestClient(app)
    answer = client.post(f"/ui/proposals/{world.ids['clean_a']}/decide",
                         data={"action": "approve", "csrf": "x"}, follow_redirects=False)
    assert answer.status_code == 403
    assert _decisions(store) == []


def test_a_wrong_key_stays_on_the_login_page(app: FastAPI) -> None:
    client = TestClient(app)
    page = client.get("/ui/login")
    answer = client.post("/ui/login", data={"key": "ll_nothere_secret",
                                            "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert answer.status_code == 401
    assert "unknown API key" in answer.text
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_the_session_cookie_is_signed_httponly_strict_and_never_holds_the_key(
        app: FastAPI, world: World) -> None:
    client = TestClient(app)
    page = client.get("/ui/login")
    answer = client.post("/ui/login", data={"key": world.rep, "csrf": csrf_of(page.text)},
                         follow_redirects=False)
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    secret_part = world.rep.split("_", 2)[2]
    assert world.rep not in cookie and secret_part not in cookie
    # A cookie whose signature does not match is no session.
    value = client.cookies["leadloop_ui"]
    client.cookies.clear()
    client.cookies.set("leadloop_ui", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_login_goes_only_to_our_own_pages(app: FastAPI, world: World) -> None:
    client = TestClient(app)
    page = client.get("/ui/login")
    for target in ("//evil.example/", "https://evil.example/", "/ui//evil.example"):
        answer = client.post("/ui/login", data={"key": world.rep, "csrf": csrf_of(page.text),
                                                "next": target}, follow_redirects=False)
        assert answer.headers["location"] == "/ui/", target
        page = client.get("/ui/login")


def test_the_session_expires_after_eight_hours(rep: TestClient, clock: Clock) -> None:
    assert rep.get("/ui/", follow_redirects=False).status_code == 200
    clock.now = NOW + timedelta(hours=8, minutes=1)
    answer = rep.get("/ui/", follow_redirects=False)
    assert answer.status_code == 303 and "why=expired" in answer.headers["location"]
    assert "Your session expired" in rep.get(answer.headers["location"]).text


def test_a_revoked_key_ends_its_sessions(rep: TestClient, store: Store) -> None:
    with store.session() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.owner_id == "U1")).one()
        revoke(session=session, key_id=row.id, now=NOW)
    answer = rep.get("/ui/", follow_redirects=False)
    assert answer.status_code == 303 and "why=revoked" in answer.headers["location"]


def test_logout_ends_the_session(rep: TestClient) -> None:
    page = rep.get("/ui/")
    answer = rep.post("/ui/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert answer.status_code == 303
    assert rep.get("/ui/", follow_redirects=False).status_code == 303


def test_a_forged_csrf_token_is_refused(rep: TestClient, app: FastAPI, world: World,
                                        store: Store) -> None:
    pid = world.ids["clean_a"]
    for token in ("", "forged", csrf_of(TestClient(app).get("/ui/login").text)):
        answer = rep.post(f"/ui/proposals/{pid}/decide",
                          data={"action": "approve", "csrf": token}, follow_redirects=False)
        assert answer.status_code == 403, token
        assert "security token does not match" in answer.text
    assert _decisions(store) == []
    # The same form with the session's own token goes through.
    token = csrf_of(rep.get(f"/ui/proposals/{pid}").text)
    ok = rep.post(f"/ui/proposals/{pid}/decide", data={"action": "approve", "csrf": token},
                  follow_redirects=False)
    assert ok.status_code == 303 and len(_decisions(store)) == 1


def test_the_csrf_token_changes_at_login(app: FastAPI, world: World) -> None:
    client = TestClient(app)
    before = csrf_of(client.get("/ui/login").text)
    log_in(client, world.rep)
    assert csrf_of(client.get("/ui/").text) != before


def test_pages_carry_a_csp_without_inline_script(rep: TestClient, world: World) -> None:
    for path in ("/ui/", f"/ui/proposals/{world.ids['hostile']}", "/ui/login", "/ui/nope"):
        answer = rep.get(path)
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert answer.headers["x-frame-options"] == "DENY"
        # Our own markup has no inline script, handler or style to allow.
        assert not re.search(r"<script(?![^>]*\bsrc=)", answer.text), path
        assert not re.search(r"<[a-z]+[^>]*\son[a-z]+=", answer.text), path
        assert " style=" not in answer.text, path


def test_the_api_still_answers_json(app: FastAPI) -> None:
    answer = TestClient(app).get("/proposals")
    assert answer.status_code == 401 and answer.json()["code"] == "unauthenticated"
    assert "content-security-policy" not in answer.headers


def test_unknown_pages_and_proposals_are_html(rep: TestClient) -> None:
    for path in ("/ui/nope", "/ui/proposals/999999"):
        answer = rep.get(path)
        assert answer.status_code == 404 and answer.text.startswith("<!doctype html>")
