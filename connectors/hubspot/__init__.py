"""HubSpot connector on hubspot-api-client: contacts are leads, tasks are review tasks."""

from connectors.hubspot.config import (
    HubSpotConfig,
    OAuthCredentials,
    PrivateAppCredentials,
)
from connectors.hubspot.connector import HubSpotConnector, SkippedContact
from connectors.hubspot.webhooks import SignatureVerifier, WebhookSignatureError

__all__ = [
    "HubSpotConfig",
    "HubSpotConnector",
    "OAuthCredentials",
    "PrivateAppCredentials",
    "SignatureVerifier",
    "SkippedContact",
    "WebhookSignatureError",
]
