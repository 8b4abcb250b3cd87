from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from connectors.base import OutgoingEmail
from connectors.errors import ConnectorError
from connectors.smtp import SmtpConfig, SmtpSender, message_id_for


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    with socket.socket() as probe:  # a free loopback port (aiosmtpd cannot start on 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


EMAIL = OutgoingEmail(idempotency_key="draft:L1:7", lead_crm_id="L1", to="ann@acme.example",
                      subject="Hello Ann", body="Hi Ann,\n\nShort note.\n", from_owner_id="U1")


def test_sends_the_approved_email_with_a_stable_message_id(inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    sender = SmtpSender(SmtpConfig(host="127.0.0.1", port=port, security="none"))
    message_id = sender.send(EMAIL, from_address="rep@ourco.example")
    assert message_id == message_id_for("draft:L1:7", "leadloop.local")
    [received] = handler.messages
    assert (received["To"], received["Subject"]) == ("ann@acme.example", "Hello Ann")
    assert received["Message-ID"] == message_id
    assert received.get_payload().replace("\r\n", "\n").strip() == "Hi Ann,\n\nShort note."


def test_unreachable_server_is_one_clear_error() -> None:
    sender = SmtpSender(SmtpConfig(host="127.0.0.1", port=1, security="none", timeout_s=2))
    with pytest.raises(ConnectorError, match=r"SMTP send to ann@acme.example via 127.0.0.1:1"):
        sender.send(EMAIL, from_address="rep@ourco.example")


def test_unconfigured_smtp_is_refused() -> None:
    with pytest.raises(ConnectorError, match="LEADLOOP_SMTP__HOST"):
        SmtpSender(SmtpConfig())
