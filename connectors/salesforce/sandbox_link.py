"""The real Salesforce connector, pointed at the sandbox CRM's Salesforce face on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from pydantic import SecretStr

from connectors.salesforce.config import ClientCredentials, SalesforceConfig
from connectors.salesforce.connector import SalesforceConnector
from connectors.sandbox.crm import SandboxCRM
from connectors.sandbox.salesforce_face import SalesforceFace


@contextmanager
def connect_to_sandbox(
    crm: SandboxCRM, **config: Any
) -> Iterator[SalesforceConnector]:
    """Start the face over ``crm`` and yield a connector logged in to it.

    The connector uses the client credentials flow against the face's token endpoint,
    over HTTPS that trusts only the face's own certificate.

    Args:
        crm: the sandbox CRM the face serves.
        **config: SalesforceConfig fields to override (``bulk_threshold``, ``retries``...).

    Yields:
        A :class:`SalesforceConnector`; its ``face`` attribute is the running face.
    """
    with SalesforceFace(crm) as face:
        http = requests.Session()
        assert face.ca_file is not None
        http.verify = str(face.ca_file)
        # Otherwise REQUESTS_CA_BUNDLE (or a proxy) from the environment would replace our
        # verify for every request, and the face's own certificate would not be trusted.
        http.trust_env = False
        settings = SalesforceConfig(
            auth="client_credentials", login_url=face.url,
            client_credentials=ClientCredentials(
                consumer_key=face.client_id, consumer_secret=SecretStr(face.client_secret)),
            bulk_poll_seconds=0, **config)
        connector = SalesforceConnector(settings, http=http)
        connector.face = face  # type: ignore[attr-defined]
        try:
            yield connector
        finally:
            connector.close()
