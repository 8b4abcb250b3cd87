"""The lead's time zone comes from the CRM's own field where there is one (HubSpot
``hs_timezone``, Salesforce ``LeadLoop_Time_Zone__c``, the sandbox's ``time_zone``), then the
state, then the country: read through each connector's wire format into the send window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import CRMConnector, parse_lead
from connectors.hubspot import HubSpotConnector
from connectors.salesforce.sandbox_link import connect_to_sandbox
from connectors.sandbox import SandboxConnector, SandboxCRM
from connectors.sandbox.hubspot_face import HubSpotFace, hubspot_id
from leadloop.timezones import lead_zone
from tests.connectors.hubspot.contract import TOKEN, face_config

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[SandboxCRM]:
    sandbox = SandboxCRM(tmp_path / "tz.db")
    sandbox.seed(3, seed=5, now=NOW)
    first, second, third = sandbox.list_lead_ids()
    sandbox.update_lead(first, country="United Kingdom", time_zone="Asia/Tokyo",
                        state="Texas")
    sandbox.update_lead(second, country="United States", state="WA", time_zone="")
    sandbox.update_lead(third, country="Germany", state="", time_zone="")
    yield sandbox
    sandbox.close()


def _zones(connector: CRMConnector, ids: list[str]) -> list[tuple[str, str | None, str]]:
    found = []
    for raw in connector.fetch_leads_by_id(ids):
        where = lead_zone(parse_lead(raw).model_dump(mode="json"), default="UTC")
        found.append((where.zone.key, where.country, where.source))
    return found


EXPECTED = [("Asia/Tokyo", "GB", "time zone field"), ("America/Los_Angeles", "US", "state"),
            ("Europe/Berlin", "DE", "country")]


def test_sandbox_time_zone_field_then_state_then_country(crm: SandboxCRM) -> None:
    assert _zones(SandboxConnector(crm), crm.list_lead_ids()) == EXPECTED


def test_hubspot_hs_timezone_then_state_then_country(crm: SandboxCRM) -> None:
    with HubSpotFace(crm, tokens={TOKEN}) as face:
        connector = HubSpotConnector(face_config(face))
        connector.setup()
        ids = [hubspot_id(i) for i in crm.list_lead_ids()]
        [tokyo] = connector.fetch_leads_by_id(ids[:1])
        assert tokyo.fields["time_zone"] == "asia_slash_tokyo"  # HubSpot's own spelling
        assert _zones(connector, ids) == EXPECTED


def test_salesforce_custom_time_zone_field_then_state_then_country(crm: SandboxCRM) -> None:
    with connect_to_sandbox(crm, retries=2, retry_wait_s=0) as sf:
        assert _zones(sf, crm.list_lead_ids()) == EXPECTED
