"""The admin console and the funnel in headless Debian Chromium: the live preview follows
an edit, publish, axe-core on every page, and hostile lead text staying inert."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from review_api.admin import AdminFiles
from review_api.app import create_app
from review_api.store.db import Store
from scoring.weights_registry import WeightsRegistry
from tests.review_api.admin_pages.seed import NOW, PWNED, World, seed
from tests.review_api.ui.browser import (
    AXE,
    LAPTOP,
    PHONE,
    axe_violations,
    screenshot,
    skip_without_browser,
)
from tests.review_api.ui.browser import browser as browser  # noqa: PLC0414 - the fixture

skip_without_browser()
PAGES = ("/ui/admin/weights", "/ui/admin/policy", "/ui/admin/models", "/ui/funnel")


@dataclass
class AdminSite:
    base: str
    store: Store
    world: World
    data_dir: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminSite]:
    tmp = tmp_path_factory.mktemp("admin-browser")
    store = Store.open(f"sqlite:///{tmp / 'store.db'}")
    world = seed(store)
    data_dir = tmp / "data"
    data_dir.mkdir()
    app = create_app(store, clock=lambda: NOW, ui_secret="browser-test-secret",
                     admin_files=AdminFiles(data_dir=data_dir))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield AdminSite(base=f"http://127.0.0.1:{port}", store=store, world=world,
                        data_dir=data_dir)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


@pytest.fixture
def page(browser: Any, site: AdminSite) -> Iterator[Any]:
    context = browser.new_context(viewport=LAPTOP, base_url=site.base)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    opened.csp_errors = []  # type: ignore[attr-defined]
    opened.on("console", lambda m: "Content Security Policy" in m.text
              and opened.csp_errors.append(m.text))
    yield opened
    context.close()


def log_in(page: Any, key: str, target: str) -> None:
    page.goto(target)
    assert "/ui/login" in page.url
    page.get_by_label("Your leadloop API key").fill(key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def _points_field(page: Any, criterion: str) -> Any:
    row = page.locator("table.criteria tbody tr").filter(
        has=page.locator(f"input[value='{criterion}']"))
    return row.locator("input[name$='_points']")


def test_the_preview_follows_an_edit_without_a_reload(page: Any, site: AdminSite) -> None:
    log_in(page, site.world.admin, "/ui/admin/weights")
    assert page.locator("h1").inner_text() == "Scoring weights"
    before = page.locator("[data-candidate]").get_attribute("data-candidate")
    after_cells = page.locator("[data-bin-after]").all_inner_texts()
    page.evaluate("window.__same_page = 1")
    field = _points_field(page, "visited the pricing page")
    field.fill("60")
    field.dispatch_event("change")
    page.wait_for_function(
        "v => document.querySelector('[data-candidate]').dataset.candidate !== v", arg=before)
    assert page.evaluate("window.__same_page") == 1  # swapped in place, not reloaded
    changes = page.locator("ul.changes").first.inner_text()
    assert "'visited the pricing page' now gives +60 instead of +25" in changes
    assert page.locator("[data-bin-after]").all_inner_texts() != after_cells
    screenshot(page, "admin-weights-preview")
    # A value the weights cannot take shows the problem in the preview, in one line.
    tier_b = page.get_by_label("Tier B from")
    tier_b.fill("80")
    tier_b.dispatch_event("change")
    page.wait_for_selector("#preview .problems")
    assert page.locator("#preview .problems li").all_inner_texts() == [
        "tier B: must be below A (70); thresholds go down from A to C, got 80"]
    assert page.csp_errors == []


def test_publish_from_the_editor(page: Any, site: AdminSite) -> None:
    log_in(page, site.world.admin, "/ui/admin/weights")
    _points_field(page, "attended a webinar").fill("12")
    page.get_by_label("Note for the history (why)").fill("webinars convert better")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/ui/admin/weights?published=*")
    published = WeightsRegistry(site.data_dir).versions()
    assert len(published) == 1 and published[0].note == "webinars convert better"
    assert page.get_by_role("status").inner_text() == f"Published {published[0].version}."
    assert "'attended a webinar' now gives +12 instead of +10" in page.locator(
        ".history-table").inner_text()
    assert _points_field(page, "attended a webinar").input_value() == "12"
    screenshot(page, "admin-weights-published")


def test_admin_pages_pass_axe_and_keep_hostile_text_inert(browser: Any,
                                                          site: AdminSite) -> None:
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed at {AXE} (make browser-deps)")
    for name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport, base_url=site.base)
        page = context.new_page()
        page.set_default_timeout(15_000)
        log_in(page, site.world.admin, "/ui/admin/weights")
        for path in PAGES:
            page.goto(path)
            assert page.evaluate("typeof window.__pwned") == "undefined", path
            assert page.locator("script:not([src])").count() == 0, path
            assert axe_violations(page) == [], (path, name)
            screenshot(page, f"admin{path.replace('/ui', '').replace('/', '-')}-{name}")
        context.close()
    assert PWNED  # the seed's hostile lead and template are on the funnel and weights pages
