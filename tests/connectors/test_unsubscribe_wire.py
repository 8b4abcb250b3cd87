"""Unsubscribe on the wire: the RFC 8058 headers reach a real SMTP server (aiosmtpd) and
the CRM's email log, and an opt-out lands in each CRM's own opt-out field."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from connectors.base import OutgoingEmail, parse_lead
from connectors.hubspot import HubSpotConnector
from connectors.salesforce.sandbox_link import connect_to_sandbox
from connectors.sandbox import SandboxConnector, SandboxCRM
from connectors.sandbox.hubspot_face import HubSpotFace
from connectors.smtp import SmtpConfig, SmtpSender
from tests.connectors.hubspot.contract import TOKEN, face_config

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LINK = "<https://leadloop.example.com/unsubscribe/7.AbCdEfGhIjKlMnOpQrStUv>"
HEADERS = (("List-Unsubscribe", f"{LINK}, <mailto:optout@ourco.example?subject=unsubscribe>"),
           ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        # policy.default unfolds long headers, as every mail reader does.
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[SandboxCRM]:
    sandbox = SandboxCRM(tmp_path / "wire.db")
    sandbox.seed(6, seed=5, now=NOW)
    yield sandbox
    sandbox.close()


def _email(crm_id: str, to: str, owner_id: str) -> OutgoingEmail:
    return OutgoingEmail("draft:wire:1", crm_id, to, "Hello", "Hi,\n\nShort note.\n", owner_id,
                         headers=HEADERS)


def test_smtp_message_carries_the_one_click_headers_verbatim(inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    sender = SmtpSender(SmtpConfig(host="127.0.0.1", port=port, security="none"))
    sender.send(_email("L1", "ann@acme.example", "U1"), from_address="rep@ourco.example")
    [received] = handler.messages
    assert [str(v) for v in received.get_all("List-Unsubscribe")] == [HEADERS[0][1]]
    assert [str(v) for v in received.get_all("List-Unsubscribe-Post")] == [
        "List-Unsubscribe=One-Click"]


def test_hubspot_sends_the_headers_over_smtp_logs_them_and_opts_out(
        crm: SandboxCRM, inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    with HubSpotFace(crm, tokens={TOKEN}) as face:
        connector = HubSpotConnector(face_config(face), sender=SmtpSender(
            SmtpConfig(host="127.0.0.1", port=port, security="none")))
        connector.setup()
        lead = next(iter(connector.fetch_leads(since=None)))
        address = str(lead.fields["email"])
        connector.send_email(_email(lead.crm_id, address, str(lead.fields["owner_id"])))
        [received] = handler.messages
        assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert [e.headers for e in crm.sent_emails()] == [dict(HEADERS)]
        assert not parse_lead(connector.fetch_leads_by_id([lead.crm_id])[0]).email_opt_out
        connector.opt_out_of_email(lead.crm_id, email=address)
        connector.opt_out_of_email(lead.crm_id, email=address)  # idempotent
        assert parse_lead(connector.fetch_leads_by_id([lead.crm_id])[0]).email_opt_out


def test_salesforce_sets_has_opted_out_of_email(crm: SandboxCRM) -> None:
    with connect_to_sandbox(crm, retries=2, retry_wait_s=0) as sf:
        lead = crm.list_leads(include_deleted=False)[0]
        sf.opt_out_of_email(lead["crm_id"], email=lead["email"])
        sf.opt_out_of_email(lead["crm_id"], email=lead["email"])
        [raw] = sf.fetch_leads_by_id([lead["crm_id"]])
        assert parse_lead(raw).email_opt_out
        assert raw.fields["email_opt_out"] is True


def test_salesforce_email_simple_cannot_carry_the_headers(crm: SandboxCRM) -> None:
    # emailSimple takes a subject and a body, nothing else: the visible footer link is the
    # opt-out there; one-click needs send_via = smtp (docs/salesforce.md).
    with connect_to_sandbox(crm, retries=2, retry_wait_s=0) as sf:
        lead = crm.list_leads(include_deleted=False)[0]
        sf.send_email(_email(lead["crm_id"], lead["email"], lead["owner_id"]))
        assert [e.headers for e in crm.sent_emails()] == [{}]


def test_sandbox_logs_the_headers_and_opts_out(crm: SandboxCRM) -> None:
    connector = SandboxConnector(crm)
    lead = crm.list_leads(include_deleted=False)[0]
    connector.send_email(_email(lead["crm_id"], lead["email"], lead["owner_id"]))
    assert crm.sent_emails()[0].headers == dict(HEADERS)
    connector.opt_out_of_email(lead["crm_id"], email=lead["email"])
    stamp = crm.get_lead(lead["crm_id"])["modified_at"]
    connector.opt_out_of_email(lead["crm_id"], email=lead["email"])  # no second change
    assert crm.get_lead(lead["crm_id"])["modified_at"] == stamp
    assert crm.get_lead(lead["crm_id"])["email_opt_out"]
