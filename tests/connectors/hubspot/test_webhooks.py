"""HubSpot v3 webhook signatures: what is accepted and every reason for refusal."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from connectors.hubspot.webhooks import (
    MemorySeenStore,
    SignatureVerifier,
    WebhookSignatureError,
    decode_uri,
    sign_v3,
)

SECRET = "app-secret-1234"
NOW_MS = 1_750_000_000_000
URI = "https://leadloop.example/webhooks/hubspot?portal=42"
BODY = b'[{"objectId":123,"propertyName":"hs_task_status","propertyValue":"COMPLETED"}]'


def _verifier(now: list[int]) -> SignatureVerifier:
    return SignatureVerifier(SECRET, clock_ms=lambda: now[0])


def _signed(uri: str = URI, body: bytes = BODY, ts: int = NOW_MS) -> dict[str, object]:
    return {"method": "POST", "uri": uri, "body": body, "timestamp": str(ts),
            "signature": sign_v3(secret=SECRET, method="POST", uri=uri, body=body,
                                 timestamp=str(ts))}


def test_signature_is_hmac_sha256_of_method_uri_body_timestamp() -> None:
    expected = base64.b64encode(hmac.new(
        SECRET.encode(), b"POST" + URI.encode() + BODY + str(NOW_MS).encode(),
        hashlib.sha256).digest()).decode()
    assert sign_v3(secret=SECRET, method="POST", uri=URI, body=BODY,
                   timestamp=str(NOW_MS)) == expected


def test_a_fresh_signed_request_is_accepted() -> None:
    _verifier([NOW_MS + 1000]).verify(**_signed())  # type: ignore[arg-type]


def test_uri_escapes_are_decoded_as_hubspot_lists_them_and_no_others() -> None:
    assert decode_uri("https://x.example/a%3Ab%2Fc%40d%21%24%27%28%29%2A%2C%3B%3F") == \
        "https://x.example/a:b/c@d!$'()*,;?"
    assert decode_uri("https://x.example/a%20b%2fc") == "https://x.example/a%20b/c"
    encoded = "https://leadloop.example/hook%3Fportal%3D42"
    request = _signed(uri="https://leadloop.example/hook?portal%3D42")
    request["uri"] = encoded  # HubSpot signed the decoded form; we received it encoded
    _verifier([NOW_MS]).verify(**request)  # type: ignore[arg-type]


def test_a_timestamp_older_than_five_minutes_is_refused() -> None:
    with pytest.raises(WebhookSignatureError, match="301 s old"):
        _verifier([NOW_MS + 301_000]).verify(**_signed())  # type: ignore[arg-type]


def test_a_tampered_body_is_refused() -> None:
    request = _signed()
    request["body"] = BODY.replace(b"COMPLETED", b"NOT_STARTED")
    with pytest.raises(WebhookSignatureError, match="does not match"):
        _verifier([NOW_MS]).verify(**request)  # type: ignore[arg-type]


def test_a_signature_from_another_secret_is_refused() -> None:
    request = _signed()
    request["signature"] = sign_v3(secret="other", method="POST", uri=URI, body=BODY,
                                   timestamp=str(NOW_MS))
    with pytest.raises(WebhookSignatureError, match="does not match"):
        _verifier([NOW_MS]).verify(**request)  # type: ignore[arg-type]


def test_a_replayed_request_is_refused() -> None:
    verifier = _verifier([NOW_MS])
    verifier.verify(**_signed())  # type: ignore[arg-type]
    with pytest.raises(WebhookSignatureError, match="replay"):
        verifier.verify(**_signed())  # type: ignore[arg-type]


def test_missing_or_malformed_headers_are_refused() -> None:
    verifier = _verifier([NOW_MS])
    for signature, timestamp, match in ((None, str(NOW_MS), "missing"),
                                        ("x", None, "epoch milliseconds"),
                                        ("x", "yesterday", "epoch milliseconds")):
        with pytest.raises(WebhookSignatureError, match=match):
            verifier.verify(method="POST", uri=URI, body=BODY, signature=signature,
                            timestamp=timestamp)


def test_the_seen_store_forgets_expired_signatures() -> None:
    now = [0]
    store = MemorySeenStore(lambda: now[0])
    assert store.add_if_new("sig", expires_at_ms=100)
    assert not store.add_if_new("sig", expires_at_ms=100)
    now[0] = 101
    assert store.add_if_new("sig", expires_at_ms=400)


def test_no_secret_is_a_clear_error() -> None:
    with pytest.raises(WebhookSignatureError, match="LEADLOOP_HUBSPOT__APP_SECRET"):
        SignatureVerifier("")
