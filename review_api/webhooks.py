"""CRM webhooks: HubSpot v3 signed calls, Salesforce outbound messages and signed Flow calls.

Each verified call triggers a reconcile at once (polling stays the fallback). Verification
is here; what "reconcile" means is handed in by the app that wires the pipeline. Every
delivery is taken once: a replayed signed call is refused, a redelivered outbound
notification acknowledged and passed over (review_api.replay remembers them in the store).
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
from review_api.replay import (
    HUBSPOT,
    SALESFORCE_FLOW,
    SALESFORCE_OUTBOUND,
    Namespaced,
    StoreSeenStore,
    receipt_key,
)
from review_api.store.db import Store

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
FLOW_SIGNATURE_HEADER = "X-LeadLoop-Signature"
FLOW_TIMESTAMP_HEADER = "X-LeadLoop-Timestamp"
MAX_AGE_MS = 5 * 60 * 1000
# Salesforce retries an outbound message for up to 24 hours; a notification id is kept for
# twice that, for a message that waited in its queue and for clocks that disagree.
OUTBOUND_KEEP_MS = 48 * 60 * 60 * 1000

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)


class WebhookError(ReviewError):
    """A webhook call that is refused; the message says which check failed."""

    code = "webhook_refused"


class WebhookBodyError(WebhookError):
    """A webhook call that passed its checks of origin but whose body we cannot read (400).

    A bad signature, timestamp or sender is a :class:`WebhookError` (401): we cannot tell
    who sent it. A correctly signed call with a broken body came from the CRM, so it is
    answered as a bad request, for whoever set the webhook up to see.
    """

    code = "webhook_bad_body"


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
    def from_settings(cls, settings: WebhookSettings, *, on_task_change: Callable[[], object],
                      store: Store | None = None) -> Webhooks:
        """The webhooks the settings enable; a route without its secret refuses every call.

        With a store, the deliveries taken are remembered in it, for every worker and
        process on that database; without, each process remembers its own.
        """
        seen: SeenStore = MemorySeenStore() if store is None else StoreSeenStore(store)
        hubspot = None
        if settings.hubspot_app_secret is not None:
            hubspot = SignatureVerifier(settings.hubspot_app_secret.get_secret_value(),
                                        seen=Namespaced(seen, HUBSPOT))
        flow = settings.salesforce_flow_secret
        return cls(on_task_change=on_task_change, salesforce_org_id=settings.salesforce_org_id,
                   flow_secret=flow.get_secret_value() if flow else "", hubspot=hubspot,
                   seen=seen)

    def __post_init__(self) -> None:
        if self.seen is None:
            self.seen = MemorySeenStore(self.clock_ms)


@dataclass(frozen=True)
class Notification:
    """One ``<Notification>`` of an outbound message: its id and the Task ids it names."""

    id: str
    task_ids: tuple[str, ...]


def new_notifications(webhooks: Webhooks, body: bytes) -> list[Notification]:
    """The notifications of an outbound message not received before; each is recorded now.

    Salesforce resends a message until it is acknowledged, with the same notification
    ids: a message that brings none new is still acknowledged, and nothing more is done.

    Raises:
        WebhookError: not an outbound message, from another organisation, or with a
            notification that has no id.
    """
    notifications = outbound_notifications(body, org_id=webhooks.salesforce_org_id)
    assert webhooks.seen is not None
    keep_until = webhooks.clock_ms() + OUTBOUND_KEEP_MS
    return [n for n in notifications if webhooks.seen.add_if_new(
        receipt_key(SALESFORCE_OUTBOUND, n.id), expires_at_ms=keep_until)]


def outbound_notifications(body: bytes, *, org_id: str) -> list[Notification]:
    """The notifications of a Salesforce outbound message, after checking its organisation.

    Raises:
        WebhookError: not an outbound message, from another organisation, or with a
            notification that has no id.
    """
    if not org_id:
        raise WebhookError("Salesforce outbound messages are off: set "
                           "LEADLOOP_WEBHOOKS__SALESFORCE_ORG_ID")
    try:
        root = ElementTree.fromstring(body)
    except Exception as exc:  # noqa: BLE001 - defusedxml raises several kinds; all mean "bad"
        raise WebhookBodyError(f"not a SOAP outbound message: {exc}") from None
    notifications = root.find(f".//{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise WebhookBodyError(
            "not a Salesforce outbound message (no notifications element)")
    sender = (notifications.findtext(f"{{{OUTBOUND_NS}}}OrganizationId") or "").strip()
    # Salesforce sends the 18-character org id; settings may hold the 15-character form.
    if sender[:15] != org_id[:15]:
        raise WebhookError(f"outbound message from organisation {sender!r}, not ours")
    found = []
    for notification in notifications.findall(f"{{{OUTBOUND_NS}}}Notification"):
        notification_id = (notification.findtext(f"{{{OUTBOUND_NS}}}Id") or "").strip()
        if not notification_id:  # Salesforce always sends one; redeliveries repeat it
            raise WebhookBodyError("outbound message has a notification without an Id")
        sobject = notification.find(f"{{{OUTBOUND_NS}}}sObject")
        task_ids = () if sobject is None else tuple(
            child.text.strip() for child in sobject if child.tag.endswith("}Id") and child.text)
        found.append(Notification(id=notification_id, task_ids=task_ids))
    return found


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
    if not webhooks.seen.add_if_new(receipt_key(SALESFORCE_FLOW, expected),
                                    expires_at_ms=sent + MAX_AGE_MS):
        raise WebhookError("request was already received (replay)")
    try:
        payload = json.loads(body)
    except ValueError:
        raise WebhookBodyError("body is not JSON") from None
    ids = payload.get("task_ids") if isinstance(payload, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise WebhookBodyError('expected a JSON object {"task_ids": ["00T...", ...]}')
    return ids
