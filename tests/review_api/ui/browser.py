"""A live server and one headless Debian Chromium per test module, for the browser tests."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from review_api.app import create_app
from review_api.store.db import Store
from tests.review_api.ui.conftest import Clock
from tests.review_api.ui.seed import World, seed

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / ".cache" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "artifacts" / "ui"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def skip_without_browser() -> None:
    """Skip the module, saying why, when Playwright or Debian's Chromium is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')",
                    allow_module_level=True)
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed at /usr/bin/chromium (make browser-deps, "
                    "or apt-get install chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Site:
    """A served app whose store each test replaces with a freshly seeded one."""

    app: FastAPI
    base: str
    tmp: Path
    store: Store | None = None
    count: int = 0

    def fresh(self) -> tuple[Store, World]:
        """A new seeded store behind the server."""
        if self.store is not None:
            self.store.close()
        self.count += 1
        self.store = Store.open(f"sqlite:///{self.tmp / f'store{self.count}.db'}")
        self.app.state.store = self.store
        return self.store, seed(self.store)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("ui-browser")
    first = Store.open(f"sqlite:///{tmp / 'store0.db'}")
    app = create_app(first, clock=Clock(), ui_secret="browser-test-secret")
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
    served = Site(app=app, base=f"http://127.0.0.1:{port}", tmp=tmp, store=first)
    try:
        yield served
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if served.store is not None:
            served.store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                          args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the page (axe from npm, in .cache)."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
             .map(v => ({id: v.id, impact: v.impact, help: v.help,
                         where: v.nodes.map(n => n.target.join(" ")).slice(0, 3)}))""")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def screenshot(page: Any, name: str) -> Path:
    """Keep a full-page screenshot in artifacts/ui (ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
