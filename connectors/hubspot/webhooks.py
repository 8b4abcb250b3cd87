"""Verifying HubSpot's v3 webhook signatures (``X-HubSpot-Signature-v3``).

HubSpot signs each webhook request with HMAC-SHA256, keyed by the app's client secret,
over ``method + uri + body + timestamp``; the URI is taken with a fixed set of
percent-escapes decoded, the result is base64-encoded. A request is accepted only when the
signature matches (compared in constant time), its timestamp is at most five minutes old,
and the same signature has not been accepted before (a replay). Pure code: the review
API's webhook route calls :meth:`SignatureVerifier.verify` with what it received.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from typing import Protocol

from connectors.errors import ConnectorError

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
MAX_AGE_MS = 5 * 60 * 1000
# The escapes HubSpot decodes in the request URI before signing, and only these.
_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
    "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}


class WebhookSignatureError(ConnectorError):
    """A webhook request failed verification; the message says which check failed."""

    code = "webhook_signature"


class SeenStore(Protocol):
    """Remembers accepted signatures until they are too old to be replayed anyway."""

    def add_if_new(self, key: str, *, expires_at_ms: int) -> bool:
        """Record ``key``; False when it was already recorded and has not expired."""
        ...


class MemorySeenStore:
    """An in-process :class:`SeenStore`; a scaled-out API would use a shared one (Redis)."""

    def __init__(self, clock_ms: Callable[[], int] | None = None) -> None:
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)

    def add_if_new(self, key: str, *, expires_at_ms: int) -> bool:
        """Record ``key``; False when it was already recorded and has not expired."""
        now = self._clock_ms()
        with self._lock:
            # Forget what has expired, so memory stays bounded by five minutes of traffic.
            for old in [k for k, until in self._seen.items() if until < now]:
                del self._seen[old]
            if key in self._seen:
                return False
            self._seen[key] = expires_at_ms
            return True


def decode_uri(uri: str) -> str:
    """The request URI as HubSpot signs it: the listed percent-escapes decoded, no others."""
    out = []
    i = 0
    while i < len(uri):
        escape = uri[i : i + 3].upper()
        if uri[i] == "%" and escape in _DECODED:
            out.append(_DECODED[escape])
            i += 3
        else:
            out.append(uri[i])
            i += 1
    return "".join(out)


def sign_v3(*, secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The v3 signature of a request, as HubSpot computes it.

    Args:
        secret: the app's client secret.
        method: the HTTP method, e.g. ``POST``.
        uri: the full request URI with scheme and host, as received.
        body: the raw request body.
        timestamp: the ``X-HubSpot-Request-Timestamp`` header (epoch milliseconds).

    Returns:
        The base64-encoded HMAC-SHA256.
    """
    source = method.upper().encode() + decode_uri(uri).encode("utf-8") + body + timestamp.encode()
    digest = hmac.new(secret.encode("utf-8"), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class SignatureVerifier:
    """Checks HubSpot v3 webhook signatures, with replay protection.

    Args:
        secret: the app's client secret.
        seen: where accepted signatures are remembered; default in memory.
        clock_ms: the current time in epoch milliseconds (tests inject one).
        max_age_ms: the oldest timestamp accepted (HubSpot says five minutes).
    """

    def __init__(
        self, secret: str, *, seen: SeenStore | None = None,
        clock_ms: Callable[[], int] | None = None, max_age_ms: int = MAX_AGE_MS,
    ) -> None:
        if not secret:
            raise WebhookSignatureError(
                "no app secret to verify HubSpot webhooks: set LEADLOOP_HUBSPOT__APP_SECRET")
        self._secret = secret
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._seen = seen or MemorySeenStore(self._clock_ms)
        self._max_age_ms = max_age_ms

    def verify(
        self, *, method: str, uri: str, body: bytes, signature: str | None,
        timestamp: str | None,
    ) -> None:
        """Accept a webhook request or say why not.

        Args:
            method: the HTTP method.
            uri: the full request URI (scheme, host, path, query) as received.
            body: the raw body bytes, before any JSON parsing.
            signature: the ``X-HubSpot-Signature-v3`` header.
            timestamp: the ``X-HubSpot-Request-Timestamp`` header.

        Raises:
            WebhookSignatureError: a header is missing, the timestamp is malformed, too
                old or in the future, the signature does not match, or it was seen before.
        """
        if not signature:
            raise WebhookSignatureError(f"missing {SIGNATURE_HEADER} header")
        if not timestamp or not timestamp.strip().isdigit():
            raise WebhookSignatureError(
                f"{TIMESTAMP_HEADER} header must be epoch milliseconds, got {timestamp!r}")
        sent_ms = int(timestamp)
        now = self._clock_ms()
        if now - sent_ms > self._max_age_ms:
            raise WebhookSignatureError(
                f"request timestamp is {(now - sent_ms) // 1000} s old; at most "
                f"{self._max_age_ms // 1000} s is accepted")
        if sent_ms - now > self._max_age_ms:  # a clock that far ahead is not HubSpot's
            raise WebhookSignatureError("request timestamp is in the future")
        expected = sign_v3(secret=self._secret, method=method, uri=uri, body=body,
                           timestamp=timestamp)
        if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
            raise WebhookSignatureError("signature does not match the request")
        # Checked after the signature, so a forger cannot fill the store with junk.
        if not self._seen.add_if_new(expected, expires_at_ms=sent_ms + self._max_age_ms):
            raise WebhookSignatureError("request was already received (replay)")
