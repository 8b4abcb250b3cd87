"""A HubSpot face over a fresh sandbox, and a real connector pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.hubspot import HubSpotConnector
from connectors.sandbox import SandboxCRM
from connectors.sandbox.hubspot_face import HubSpotFace
from tests.connectors.hubspot.contract import TOKEN, face_config

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[SandboxCRM]:
    """A sandbox with the sales team and 30 leads, on the system clock."""
    sandbox = SandboxCRM(tmp_path / "hs.db")
    sandbox.seed(30, seed=5, now=NOW)
    yield sandbox
    sandbox.close()


@pytest.fixture
def face(crm: SandboxCRM) -> Iterator[HubSpotFace]:
    """The HubSpot face over ``crm``."""
    with HubSpotFace(crm, tokens={TOKEN}) as served:
        yield served


@pytest.fixture
def connector(face: HubSpotFace) -> HubSpotConnector:
    """A set-up connector with no SMTP."""
    made = HubSpotConnector(face_config(face))
    made.setup()
    return made
