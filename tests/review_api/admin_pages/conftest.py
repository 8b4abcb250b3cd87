"""Fixtures for the admin pages: a seeded store, a data directory, logged-in sessions."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from review_api.admin import AdminFiles
from review_api.app import create_app
from review_api.store.db import Store
from tests.review_api.admin_pages.seed import NOW, World, csrf_of, seed


@pytest.fixture
def world(store: Store) -> World:
    return seed(store)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def app(store: Store, world: World, data_dir: Path) -> FastAPI:
    return create_app(store, clock=lambda: NOW, ui_secret="test-secret",
                      admin_files=AdminFiles(data_dir=data_dir))


def log_in(client: TestClient, key: str) -> TestClient:
    """Log ``client`` in through the login form."""
    page = client.get("/ui/login")
    answer = client.post("/ui/login", data={"key": key, "csrf": csrf_of(page.text),
                                            "next": "/ui/"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return client


@pytest.fixture
def admin(app: FastAPI, world: World) -> TestClient:
    return log_in(TestClient(app), world.admin)


@pytest.fixture
def rep(app: FastAPI, world: World) -> TestClient:
    return log_in(TestClient(app), world.rep)


@pytest.fixture
def analyst(app: FastAPI, world: World) -> TestClient:
    return log_in(TestClient(app), world.analyst)
