"""Fixtures for the connector tests: every CRM under contract, and a fresh sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import CRMConnector
from connectors.sandbox import SandboxCRM
from tests.connectors.harness import FACTORIES, ContractCRM, CrmFactory, LeadAdmin, RepActions

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=FACTORIES)
def contract(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContractCRM]:
    """One CRM under contract, fresh for each test."""
    factory: CrmFactory = request.param
    crm = factory(tmp_path)
    yield crm
    crm.close()


@pytest.fixture
def connector(contract: ContractCRM) -> CRMConnector:
    """The connector under contract."""
    return contract.connector


@pytest.fixture
def rep(contract: ContractCRM) -> RepActions:
    """A rep working tasks in the CRM under contract."""
    return contract.rep


@pytest.fixture
def far_leads(contract: ContractCRM) -> LeadAdmin:
    """Arranging leads in the CRM under contract."""
    return contract.leads


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxCRM]:
    """An empty sandbox CRM on the system clock."""
    crm = SandboxCRM(tmp_path / "sandbox.db")
    yield crm
    crm.close()
