"""CRM webhooks: HubSpot v3 signed calls, Salesforce outbound messages and signed Flow calls.

Each verified call triggers a reconcile at once (polling stays the fallback). Verification
is here; what "reconcile" means is handed in by the app that wires the pipeline.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from defusedxml import ElementTree
from pydantic import BaseModel, ConfigDict, SecretStr

from connectors.hubspot.webhooks import MemorySeenStore, SeenStore, SignatureVerifier
from review_api.errors import ReviewError

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
FLOW_SIGNATURE_HEADER = "X-LeadLoop-Signature"
FLOW_TIMESTAMP_HEADER = "X-LeadLoop-Timestamp"
MAX_AGE_MS = 5 * 60 * 1000

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)


class WebhookError(ReviewError):
    """A webhook call that is refused; the message says which check failed."""

    code = "webhook_refused"


class WebhookSettings(BaseModel):
    """Secrets and ids the webhook routes check (``LEADLOOP_WEBHOOKS__*``)."""

    model_config = ConfigDict(extra="forbid")

    salesforce_org_id: str = ""
    salesforce_flow_secret: SecretStr | None = None
    hubspot_app_secret: SecretStr | None = None


@dataclass
class Webhooks:
    """The verifiers in force and what to do once a call is verified."""

    on_task_change: Callable[[], object]
    salesforce_org_id: str = ""
    flow_secret: str = ""
    hubspot: SignatureVerifier | None = None
    seen: SeenStore | None = None
    clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000

    @classmethod
    def from_settings(cls, settings: WebhookSettings, *,
                      on_task_change: Callable[[], object]) -> Webhooks:
        """The webhooks the settings enable; a route without its secret refuses every call."""
        hubspot = None
        if settings.hubspot_app_secret is not None:
            hubspot = SignatureVerifier(settings.hubspot_app_secret.get_secret_value())
        flow = settings.salesforce_flow_secret
        return cls(on_task_change=on_task_change, salesforce_org_id=settings.salesforce_org_id,
                   flow_secret=flow.get_secret_value() if flow else "", hubspot=hubspot)

    def __post_init__(self) -> None:
        if self.seen is None:
            self.seen = MemorySeenStore(self.clock_ms)


def outbound_task_ids(body: bytes, *, org_id: str) -> list[str]:
    """The Task ids a Salesforce outbound message names, after checking its organisation.

    Raises:
        WebhookError: not an outbound message, or from another organisation.
    """
    if not org_id:
        raise WebhookError("Salesforce outbound messages are off: set "
                           "LEADLOOP_WEBHOOKS__SALESFORCE_ORG_ID")
    try:
        root = ElementTree.fromstring(body)
    except Exception as exc:  # noqa: BLE001 - defusedxml raises several kinds; all mean "bad"
        raise WebhookError(f"not a SOAP outbound message: {exc}") from None
    notifications = root.find(f".//{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise WebhookError("not a Salesforce outbound message (no notifications element)")
    sender = (notifications.findtext(f"{{{OUTBOUND_NS}}}OrganizationId") or "").strip()
    # Salesforce sends the 18-character org id; settings may hold the 15-character form.
    if sender[:15] != org_id[:15]:
        raise WebhookError(f"outbound message from organisation {sender!r}, not ours")
    ids = []
    for notification in notifications.findall(f"{{{OUTBOUND_NS}}}Notification"):
        sobject = notification.find(f"{{{OUTBOUND_NS}}}sObject")
        if sobject is None:
            continue
        for child in sobject:
            if child.tag.endswith("}Id") and child.text:
                ids.append(child.text.strip())
    return ids


def verify_flow_call(webhooks: Webhooks, *, body: bytes, signature: str | None,
                     timestamp: str | None) -> list[str]:
    """Check a signed JSON call from a Salesforce Flow; returns the task ids it names.

    The Flow signs ``timestamp + "." + body`` with HMAC-SHA256 and the shared secret and
    sends ``X-LeadLoop-Signature: sha256=<hex>`` with ``X-LeadLoop-Timestamp`` (epoch ms).
    """
    if not webhooks.flow_secret:
        raise WebhookError("signed Flow calls are off: set "
                           "LEADLOOP_WEBHOOKS__SALESFORCE_FLOW_SECRET")
    if not signature or not timestamp or not timestamp.isdigit():
        raise WebhookError(f"missing {FLOW_SIGNATURE_HEADER} or {FLOW_TIMESTAMP_HEADER}")
    sent = int(timestamp)
    if abs(webhooks.clock_ms() - sent) > MAX_AGE_MS:
        raise WebhookError("request timestamp is more than 5 minutes from now")
    expected = "sha256=" + hmac.new(webhooks.flow_secret.encode(),
                                    timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise WebhookError("signature does not match the request")
    assert webhooks.seen is not None
    if not webhooks.seen.add_if_new(expected, expires_at_ms=sent + MAX_AGE_MS):
        raise WebhookError("request was already received (replay)")
    try:
        payload = json.loads(body)
    except ValueError:
        raise WebhookError("body is not JSON") from None
    ids = payload.get("task_ids") if isinstance(payload, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise WebhookError('expected a JSON object {"task_ids": ["00T...", ...]}')
    return ids
