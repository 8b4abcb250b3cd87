"""The real HubSpot connector, pointed at the sandbox CRM's HubSpot face on loopback.

``leadloop demo --crm hubspot`` runs the loop through this link. Approved emails really go
over SMTP, to a sink on loopback that keeps them in memory and delivers nothing; the face
logs each on the contact as an email engagement, in the sandbox's email log.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import SecretStr

from connectors.hubspot.config import HubSpotConfig
from connectors.hubspot.connector import HubSpotConnector
from connectors.sandbox.crm import SandboxCRM
from connectors.sandbox.hubspot_face import HubSpotFace, hubspot_id
from connectors.smtp import SmtpConfig, SmtpSender

SANDBOX_TOKEN = "sandbox-private-app-token"


def wire_id(sandbox_id: str) -> str:
    """The id the HubSpot connector sees for a sandbox record (``T000007`` -> ``7``)."""
    return hubspot_id(sandbox_id)


class _Sink:
    """An SMTP handler that keeps what it receives and sends it nowhere."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(bytes(envelope.content))
        return "250 OK: kept by the sandbox sink, delivered nowhere"


def _free_port() -> int:
    with socket.socket() as probe:  # aiosmtpd cannot bind port 0 and report it
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def connect_to_sandbox(crm: SandboxCRM, **face_options: Any) -> Iterator[HubSpotConnector]:
    """Serve ``crm`` as HubSpot on loopback and yield a real connector to it.

    The connector's custom properties are created through ``setup`` first, as an admin
    would with ``leadloop hubspot setup``.

    Args:
        crm: the sandbox CRM to serve.
        **face_options: passed to :class:`HubSpotFace` (limits, window scale...).

    Yields:
        A :class:`HubSpotConnector` whose sends go to a loopback SMTP sink.
    """
    from aiosmtpd.controller import Controller

    face = HubSpotFace(crm, tokens={SANDBOX_TOKEN}, **face_options)
    base_url = face.start()
    sink = _Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = HubSpotConfig(access_token=SecretStr(SANDBOX_TOKEN), base_url=base_url,
                               retry_backoff_s=0.2)
        sender = SmtpSender(SmtpConfig(host="127.0.0.1", port=port, security="none"))
        connector = HubSpotConnector(config, sender=sender)
        connector.setup()
        yield connector
    finally:
        controller.stop()
        face.stop()
