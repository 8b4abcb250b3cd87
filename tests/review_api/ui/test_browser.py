"""The pages in headless Debian Chromium: the rep's whole flow, the security properties,
accessibility (axe-core), phone and laptop widths, and no JavaScript at all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from review_api.store.db import Store
from review_api.store.models import Decision
from tests.review_api.ui.browser import (
    AXE,
    LAPTOP,
    PHONE,
    Site,
    axe_violations,
    screenshot,
    skip_without_browser,
)
from tests.review_api.ui.browser import browser as browser  # noqa: PLC0414 - the fixture
from tests.review_api.ui.browser import site as site  # noqa: PLC0414 - the fixture
from tests.review_api.ui.seed import World

skip_without_browser()


@pytest.fixture
def fresh(site: Site) -> tuple[Store, World]:
    return site.fresh()


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(viewport=LAPTOP, base_url=site.base)
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    opened.csp_errors = []  # type: ignore[attr-defined]
    opened.on("console", lambda m: "Content Security Policy" in m.text
              and opened.csp_errors.append(m.text))
    yield opened
    context.close()


def _decisions(store: Store) -> dict[int, Decision]:
    with store.session() as session:
        return {d.proposal_id: d for d in session.scalars(select(Decision))}


def _log_in(page: Any, key: str) -> None:
    page.goto("/ui/")
    assert "/ui/login" in page.url
    page.get_by_label("Your leadloop API key").fill(key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/ui/")


def test_no_key_leads_to_login_and_a_key_to_the_queue(page: Any, fresh: tuple[Store, World]
                                                      ) -> None:
    _, world = fresh
    page.goto(f"/ui/proposals/{world.ids['clean_a']}")
    assert "/ui/login" in page.url
    assert page.get_by_label("Your leadloop API key").get_attribute("type") == "password"
    page.get_by_label("Your leadloop API key").fill("ll_wrong_key")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "unknown API key"
    _log_in(page, world.rep)
    assert page.locator("h1").inner_text().startswith("Your queue")
    assert page.locator("tr[data-href]").count() == 6
    assert page.evaluate("document.cookie") == ""  # HttpOnly: scripts cannot read it


def test_approve_is_one_click_and_one_decision(page: Any, fresh: tuple[Store, World]) -> None:
    store, world = fresh
    _log_in(page, world.rep)
    page.locator(f"a[href='/ui/proposals/{world.ids['clean_a']}']").click()
    screenshot(page, "proposal-laptop")
    page.get_by_role("button", name="Approve as written").click()
    page.wait_for_url("**/ui/?done=*")
    assert page.get_by_role("status").inner_text() == f"Proposal {world.ids['clean_a']} approved."
    assert list(_decisions(store)) == [world.ids["clean_a"]]
    assert page.csp_errors == []


def test_keyboard_moves_through_the_queue_and_approves(page: Any, fresh: tuple[Store, World]
                                                       ) -> None:
    store, world = fresh
    _log_in(page, world.rep)
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    current = page.locator("tr.current")
    assert current.get_attribute("id") == f"p{world.ids['manager_only']}"
    page.keyboard.press("j")
    assert page.locator("tr.current").get_attribute("id") == f"p{world.ids['clean_a']}"
    page.keyboard.press("Enter")  # the row's link has the focus
    page.wait_for_url(f"**/ui/proposals/{world.ids['clean_a']}")
    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "reason"
    page.locator("body").click()
    page.keyboard.press("a")
    page.wait_for_url("**/ui/?done=*")
    assert _decisions(store)[world.ids["clean_a"]].decision == "approved"


def test_edit_and_approve_stores_the_diff(page: Any, fresh: tuple[Store, World]) -> None:
    store, world = fresh
    _log_in(page, world.rep)
    page.goto(f"/ui/proposals/{world.ids['clean_a']}")
    page.get_by_text("Edit the draft in place").click()
    body = page.get_by_label("Body")
    body.fill(body.input_value().replace("Short note.", "A longer, kinder note."))
    page.get_by_role("button", name="Edit & approve").click()
    page.wait_for_url("**/ui/?done=*")
    label = _decisions(store)[world.ids["clean_a"]]
    assert label.diff is not None
    assert "-Short note." in label.diff and "+A longer, kinder note." in label.diff


def test_reject_with_a_reason(page: Any, fresh: tuple[Store, World]) -> None:
    store, world = fresh
    _log_in(page, world.rep)
    page.goto(f"/ui/proposals/{world.ids['clean_b']}")
    page.get_by_label("Reason to reject").fill("Wrong contact; talk to procurement")
    page.get_by_role("button", name="Reject").click()
    page.wait_for_url("**/ui/?done=*")
    label = _decisions(store)[world.ids["clean_b"]]
    assert (label.decision, label.reason) == ("rejected", "Wrong contact; talk to procurement")


def test_bulk_approve_gives_receipts(page: Any, fresh: tuple[Store, World]) -> None:
    store, world = fresh
    _log_in(page, world.rep)
    page.get_by_role("button", name="Select every clean draft").click()
    page.get_by_role("button", name="Approve the selected drafts").click()
    assert page.locator("h1").inner_text() == "Bulk approval: 2 of 2 approved"
    assert page.locator("tr.receipt .receipt-ok").count() == 2
    screenshot(page, "receipts-laptop")
    assert set(_decisions(store)) == {world.ids["clean_a"], world.ids["clean_b"]}


def test_a_manager_only_proposal_is_refused_to_the_rep(page: Any, fresh: tuple[Store, World]
                                                       ) -> None:
    store, world = fresh
    _log_in(page, world.rep)
    pid = world.ids["manager_only"]
    page.goto(f"/ui/proposals/{pid}")
    assert "Only U9" in page.locator("#needs-other").inner_text()
    assert page.locator("[data-key=approve]").count() == 0
    # The rep forges the approve form the page did not offer: the server refuses it.
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    answer = page.request.post(f"/ui/proposals/{pid}/decide",
                               form={"csrf": token, "action": "approve"})
    assert answer.status == 403 and "may not approve" in answer.text()
    assert _decisions(store) == {}


def test_a_forged_csrf_token_is_refused(page: Any, fresh: tuple[Store, World]) -> None:
    store, world = fresh
    _log_in(page, world.rep)
    page.goto(f"/ui/proposals/{world.ids['clean_a']}")
    page.evaluate("""document.querySelectorAll("input[name=csrf]")
                     .forEach(i => { i.value = "forged-token"; })""")
    page.get_by_role("button", name="Approve as written").click()
    assert page.locator("h1").inner_text() == "Not allowed"
    assert "security token does not match" in page.get_by_role("alert").inner_text()
    assert _decisions(store) == {}


def test_the_hostile_corpus_stays_inert(page: Any, fresh: tuple[Store, World]) -> None:
    _, world = fresh
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _log_in(page, world.rep)
    for path in ("/ui/", f"/ui/proposals/{world.ids['hostile']}"):
        page.goto(path)
        for text in page.locator("bdi").all()[:40]:
            text.hover()
        assert page.evaluate("window.__pwned") is None, path
        assert page.locator("main script, main img, main svg, main iframe").count() == 0
        assert page.locator("a[href^='javascript:']").count() == 0
        assert page.locator("[onerror], [onload], [onmouseover]").count() == 0
    assert "[U+202E]gnp.exe" in page.locator(".draft-subject").inner_text()
    screenshot(page, "hostile-laptop")
    assert dialogs == [] and page.csp_errors == []


def test_the_core_flow_works_without_javascript(browser: Any, site: Site,
                                                fresh: tuple[Store, World]) -> None:
    store, world = fresh
    context = browser.new_context(viewport=PHONE, base_url=site.base, java_script_enabled=False)
    page = context.new_page()
    try:
        _log_in(page, world.rep)
        # ui.js did not run: the button it would reveal stays hidden; the form still works.
        assert not page.get_by_role("button", name="Select every clean draft").is_visible()
        page.goto(f"/ui/proposals/{world.ids['clean_b']}")
        page.get_by_role("button", name="Approve as written").click()
        page.wait_for_url("**/ui/?done=*")
        assert _decisions(store)[world.ids["clean_b"]].source == "ui"
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_pages_fit_the_width_and_pass_axe(browser: Any, site: Site, fresh: tuple[Store, World],
                                          viewport: dict[str, int]) -> None:
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed at {AXE} (make browser-deps)")
    _, world = fresh
    context = browser.new_context(viewport=viewport, base_url=site.base)
    page = context.new_page()
    try:
        page.goto("/ui/login")
        assert axe_violations(page) == []
        _log_in(page, world.rep)
        width = "phone" if viewport is PHONE else "laptop"
        for name, path in (("queue", "/ui/"),
                           ("flagged", f"/ui/proposals/{world.ids['flagged']}"),
                           ("override", f"/ui/proposals/{world.ids['override']}"),
                           ("escalated", f"/ui/proposals/{world.ids['manager_only']}")):
            page.goto(path)
            assert axe_violations(page) == [], path
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width}"
            screenshot(page, f"{name}-{width}")
    finally:
        context.close()
