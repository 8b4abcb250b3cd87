"""The HubSpot connector's own cases: time zones, auth, mapping, sends, setup."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from connectors.base import OutgoingEmail, SyncCursor, parse_lead
from connectors.errors import AuthError, ConnectorError
from connectors.hubspot import HubSpotConfig, HubSpotConnector
from connectors.hubspot.tasks import body_text
from connectors.hubspot.wire import from_hubspot_time, to_ms
from connectors.sandbox import SandboxCRM
from connectors.sandbox.hubspot_face import HubSpotFace, sandbox_id
from tests.connectors.hubspot.contract import face_config


@pytest.fixture
def los_angeles() -> Iterator[None]:
    """The process in a non-UTC local time zone, as a laptop in California is."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_stamps_are_utc_epoch_ms_in_a_non_utc_local_zone(
    los_angeles: None, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    assert time.localtime().tm_gmtoff != 0
    moment = datetime(2025, 6, 1, 12, 0, 0, 123_000, tzinfo=UTC)
    assert to_ms(moment) == 1_748_779_200_123
    assert to_ms(moment.replace(tzinfo=None)) == 1_748_779_200_123  # naive is UTC, not local
    assert from_hubspot_time("1748779200123") == moment
    assert from_hubspot_time("2025-06-01T05:00:00.123-07:00") == moment
    full = list(connector.fetch_leads(since=None))
    stored = crm.get_lead(str(sandbox_id("L", full[0].crm_id)))["modified_at"]
    assert full[0].modified_at == stored and full[0].modified_at.utcoffset().total_seconds() == 0
    # A cursor taken in this zone resumes exactly where it stopped.
    again = list(connector.fetch_leads(since=SyncCursor(full[5].modified_at, full[5].crm_id)))
    assert [r.crm_id for r in again] == [r.crm_id for r in full[6:]]


def test_contacts_map_to_lead_fields_and_validate(connector: HubSpotConnector) -> None:
    leads = [parse_lead(r) for r in connector.fetch_leads(since=None)]
    assert len(leads) == 30
    assert all(lead.email and lead.owner_id.isdigit() for lead in leads)
    assert {lead.status for lead in leads} <= {"open", "converted", "disqualified"}
    assert any(lead.events for lead in leads)


def test_a_malformed_contact_reaches_validation_with_its_id(
    connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    crm.add_leads([{"email": "x@bad.example", "employees": "lots", "events": "not json"}])
    raw = list(connector.fetch_leads(since=None))[-1]
    with pytest.raises(Exception, match=f"lead {raw.crm_id}: .*events.*employees|"
                                        f"lead {raw.crm_id}: .*employees"):
        parse_lead(raw)


def test_a_bad_token_is_one_line_naming_the_scopes(face: HubSpotFace) -> None:
    connector = HubSpotConnector(face_config(face, access_token=SecretStr("wrong")))
    with pytest.raises(AuthError, match="crm.objects.contacts.read.*sales-email-read"):
        connector.list_owners()


def test_a_missing_scope_names_what_leadloop_needs(face: HubSpotFace) -> None:
    face.granted_scopes = {"crm.objects.contacts.write"}
    connector = HubSpotConnector(face_config(face))
    with pytest.raises(AuthError, match="lacks a scope.*crm.objects.owners.read"):
        connector.list_owners()


def test_oauth_mints_and_refreshes_the_access_token(face: HubSpotFace) -> None:
    face.oauth_clients["cid"] = ("csecret", "refresh-1")
    config = face_config(face, access_token=None, client_id="cid",
                         client_secret=SecretStr("csecret"), refresh_token=SecretStr("refresh-1"))
    connector = HubSpotConnector(config)
    assert connector.list_owners()
    face.tokens = {"contract-token"}  # every OAuth token revoked: the next call refreshes
    assert connector.list_owners()
    bad = HubSpotConnector(config.model_copy(update={"refresh_token": SecretStr("stale")}))
    with pytest.raises(AuthError, match="refresh token"):
        bad.list_owners()


def test_no_credentials_is_one_line_naming_the_settings() -> None:
    with pytest.raises(AuthError, match="LEADLOOP_HUBSPOT__ACCESS_TOKEN"):
        HubSpotConnector(HubSpotConfig())


def test_setup_creates_the_properties_once(face: HubSpotFace) -> None:
    connector = HubSpotConnector(face_config(face))
    missing = connector.missing_properties()
    assert {f"{s.object_type}.{s.name}" for s in missing} >= {
        "tasks.leadloop_proposal_id", "contacts.leadloop_score",
        "emails.leadloop_idempotency_key", "tasks.leadloop_email_subject",
        "tasks.leadloop_review_notes", "tasks.leadloop_outcome", "tasks.leadloop_note"}
    assert connector.setup() == missing
    assert connector.missing_properties() == [] and connector.setup() == []
    _, body = connector.transport.call("list", connector.transport.properties.get_all, "tasks")
    outcome = {p["name"]: p for p in body["results"]}["leadloop_outcome"]
    assert (outcome["type"], outcome["fieldType"], outcome["groupName"]) == (
        "enumeration", "select", "leadloop")
    assert [o["value"] for o in outcome["options"]] == [
        "approved", "rejected", "expired", "superseded", "cancelled", "sent"]


def test_writes_before_setup_are_refused_by_name(face: HubSpotFace) -> None:
    connector = HubSpotConnector(face_config(face))
    lead = next(iter(connector.fetch_leads(since=None)))
    from connectors.base import ScoreWrite

    (result,) = connector.write_scores([ScoreWrite(lead.crm_id, 70, "B")])
    assert not result.ok and "leadloop_score" in str(result.error)


def test_send_without_smtp_is_refused_and_nothing_is_logged(
    connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    lead = next(iter(connector.fetch_leads(since=None)))
    email = OutgoingEmail("k1", lead.crm_id, "a@b.example", "Hi", "Hello",
                          str(lead.fields["owner_id"]))
    with pytest.raises(ConnectorError, match="LEADLOOP_SMTP__HOST"):
        connector.send_email(email)
    assert crm.sent_emails() == [] and connector.find_sent_email("k1") is None


def test_an_edited_html_task_body_reads_back_as_text() -> None:
    assert body_text("<p>Hello Ana,</p><p>Tuesday?&nbsp;&amp; more</p>") == \
        "Hello Ana,\nTuesday?\xa0& more"
    assert body_text("Score 3 < 5\nplain") == "Score 3 < 5\nplain"


def test_a_send_interrupted_mid_way_is_not_sent_again(
    face: HubSpotFace, connector: HubSpotConnector, crm: SandboxCRM
) -> None:
    from connectors.smtp import SmtpConfig, SmtpSender

    lead = next(iter(connector.fetch_leads(since=None)))
    email = OutgoingEmail("k-crash", lead.crm_id, "a@b.example", "Hi", "Hello",
                          str(lead.fields["owner_id"]))
    connector._log_sending(email)  # an earlier run logged SENDING, then died
    connector.sender = SmtpSender(SmtpConfig(host="127.0.0.1", port=1, security="none"))
    with pytest.raises(ConnectorError, match="check the rep's mailbox"):
        connector.send_email(email)
    assert crm.sent_emails() == []
