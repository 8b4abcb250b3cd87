"""Fixtures for the page tests: a seeded store, an app on a clock tests can move."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from review_api.app import create_app
from review_api.store.db import Store
from tests.review_api.ui.seed import NOW, World, csrf_of, seed


@dataclass
class Clock:
    now: datetime = field(default=NOW)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(store: Store) -> World:
    return seed(store)


@pytest.fixture
def app(store: Store, world: World, clock: Clock) -> FastAPI:
    return create_app(store, clock=clock, ui_secret="test-secret")


def log_in(client: TestClient, key: str, next_page: str = "/ui/") -> None:
    """Log ``client`` in through the login form."""
    page = client.get("/ui/login")
    answer = client.post("/ui/login", data={"key": key, "csrf": csrf_of(page.text),
                                            "next": next_page}, follow_redirects=False)
    assert answer.status_code == 303, answer.text


@pytest.fixture
def rep(app: FastAPI, world: World) -> TestClient:
    """A browser session of the rep U1, logged in."""
    client = TestClient(app)
    log_in(client, world.rep)
    return client
