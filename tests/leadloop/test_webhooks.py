"""CRM webhooks: a verified call reconciles at once, so a rep's decision is sent within a
second; forged, stale, replayed or foreign calls are refused and counted."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from connectors.hubspot.webhooks import SignatureVerifier, sign_v3
from connectors.sandbox import SandboxCRM
from leadloop import asgi
from leadloop.pipeline import Pipeline
from leadloop.wiring import webhook_runner
from review_api.app import create_app
from review_api.webhooks import Webhooks

ORG = "00D5g000000ABCDEFG"
FLOW_SECRET = "flow-shared-secret"
APP_SECRET = "hubspot-app-secret"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def client(pipeline: Pipeline) -> TestClient:
    hooks = Webhooks(on_task_change=webhook_runner(pipeline), salesforce_org_id=ORG[:15],
                     flow_secret=FLOW_SECRET, hubspot=SignatureVerifier(APP_SECRET))
    return TestClient(create_app(pipeline.store, webhooks=hooks))


def _approved_draft(pipeline: Pipeline, crm: SandboxCRM) -> str:
    pipeline.sync()
    pipeline.score()
    pipeline.propose()
    task = next(t for t in crm.list_tasks(status="Not Started") if t.kind == "draft")
    crm.approve_task(task.task_id, by=task.owner_id)
    return task.proposal_key


def _flow_call(body: bytes, *, at_ms: int | None = None,
               secret: str = FLOW_SECRET) -> dict[str, str]:
    stamp = str(at_ms or _now_ms())
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return {"X-LeadLoop-Signature": f"sha256={digest.hexdigest()}",
            "X-LeadLoop-Timestamp": stamp, "content-type": "application/json"}


OUTBOUND = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k5g000000XYZ</ActionId>
   <SessionId xsi:nil="true"/>
   <Notification>
    <Id>04l5g000001AAA</Id>
    <sObject xsi:type="sf:Task" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>00T5g000002BBB</sf:Id>
     <sf:Status>Completed</sf:Status>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"""


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def test_salesforce_flow_webhook_sends_the_decision_within_a_second(
    client: TestClient, pipeline: Pipeline, crm: SandboxCRM
) -> None:
    key = _approved_draft(pipeline, crm)
    body = json.dumps({"task_ids": ["T000001"]}).encode()
    response = None

    def call() -> None:
        nonlocal response
        response = client.post("/webhooks/salesforce", content=body, headers=_flow_call(body))

    elapsed = _timed(call)
    assert response is not None and response.status_code == 200, response.text
    assert [e.idempotency_key for e in crm.sent_emails()] == [key]
    assert elapsed < 1.0


def test_salesforce_outbound_message_is_acknowledged_and_reconciled(
    client: TestClient, pipeline: Pipeline, crm: SandboxCRM
) -> None:
    key = _approved_draft(pipeline, crm)
    response = client.post("/webhooks/salesforce", content=OUTBOUND.format(org=ORG),
                           headers={"content-type": "text/xml"})
    assert response.status_code == 200
    assert "<Ack>true</Ack>" in response.text
    assert [e.idempotency_key for e in crm.sent_emails()] == [key]


def test_hubspot_signed_webhook_reconciles(
    client: TestClient, pipeline: Pipeline, crm: SandboxCRM
) -> None:
    key = _approved_draft(pipeline, crm)
    body = json.dumps([{"objectId": 1, "subscriptionType": "object.propertyChange"}]).encode()
    stamp = str(_now_ms())
    uri = "http://testserver/webhooks/hubspot"
    signature = sign_v3(secret=APP_SECRET, method="POST", uri=uri, body=body, timestamp=stamp)
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
    assert client.post("/webhooks/hubspot", content=body, headers=headers).status_code == 200
    assert [e.idempotency_key for e in crm.sent_emails()] == [key]
    replay = client.post("/webhooks/hubspot", content=body, headers=headers)
    assert replay.status_code == 401 and "replay" in replay.json()["message"]


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda b: _flow_call(b, secret="guessed"), "signature does not match"),
        (lambda b: _flow_call(b, at_ms=_now_ms() - 6 * 60_000), "more than 5 minutes"),
        (lambda b: {"content-type": "application/json"}, "missing X-LeadLoop-Signature"),
    ],
)
def test_bad_flow_calls_are_refused_and_nothing_is_sent(
    client: TestClient, pipeline: Pipeline, crm: SandboxCRM,
    make: Callable[[bytes], dict[str, str]], fragment: str,
) -> None:
    _approved_draft(pipeline, crm)
    body = json.dumps({"task_ids": ["T000001"]}).encode()
    response = client.post("/webhooks/salesforce", content=body, headers=make(body))
    assert response.status_code == 401
    assert fragment in response.json()["message"]
    assert crm.sent_emails() == []


def test_outbound_message_from_another_org_is_refused(
    client: TestClient, pipeline: Pipeline, crm: SandboxCRM
) -> None:
    _approved_draft(pipeline, crm)
    response = client.post("/webhooks/salesforce",
                           content=OUTBOUND.format(org="00D000000000OTHER"),
                           headers={"content-type": "text/xml"})
    assert response.status_code == 401 and "not ours" in response.json()["message"]
    assert crm.sent_emails() == []
    broken = client.post("/webhooks/salesforce", content=b"<not-xml",
                         headers={"content-type": "text/xml"})
    assert broken.status_code == 400  # from no one we can tell: a bad body, not a forgery


def test_two_workers_built_by_the_asgi_factory_take_a_signed_hubspot_call_once(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`leadloop serve --workers 2` runs leadloop.asgi:create once per worker process: two
    apps on one database must share what they have received."""
    for name in [n for n in os.environ if n.startswith("LEADLOOP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LEADLOOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LEADLOOP_DATABASE_URL", store_url)
    monkeypatch.setenv("LEADLOOP_WEBHOOKS__HUBSPOT_APP_SECRET", APP_SECRET)
    monkeypatch.setattr(asgi, "configure_json_logging", lambda: None)  # keep pytest's logging
    workers = [asgi.create(), asgi.create()]
    try:
        clients = [TestClient(app) for app in workers]
        body = json.dumps([{"objectId": 1, "subscriptionType": "object.propertyChange"}]).encode()
        stamp = str(_now_ms())
        signature = sign_v3(secret=APP_SECRET, method="POST",
                            uri="http://testserver/webhooks/hubspot", body=body, timestamp=stamp)
        headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
        codes = [clients[i % 2].post("/webhooks/hubspot", content=body, headers=headers)
                 .status_code for i in range(12)]
        assert sorted(codes) == [200] + [401] * 11
    finally:
        for app in workers:
            app.state.store.close()


def _hubspot_call(body: bytes, *, secret: str = APP_SECRET) -> dict[str, str]:
    stamp = str(_now_ms())
    signature = sign_v3(secret=secret, method="POST", uri="http://testserver/webhooks/hubspot",
                        body=body, timestamp=stamp)
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}


@pytest.mark.parametrize("body", [b"not json", b'{"an": "object"}', b"\xff\xfe", b""])
def test_signed_hubspot_call_with_a_bad_body_is_a_bad_request(
    client: TestClient, pipeline: Pipeline, crm: SandboxCRM, body: bytes
) -> None:
    _approved_draft(pipeline, crm)
    response = client.post("/webhooks/hubspot", content=body, headers=_hubspot_call(body))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "webhook_bad_body"
    assert crm.sent_emails() == []
    forged = client.post("/webhooks/hubspot", content=body,
                         headers=_hubspot_call(body, secret="guessed"))
    assert forged.status_code == 401 and "signature" in forged.json()["message"]


@pytest.mark.parametrize("body", [b"not json", b'["T000001"]', b'{"task_ids": [1]}'])
def test_signed_flow_call_with_a_bad_body_is_a_bad_request(
    client: TestClient, pipeline: Pipeline, crm: SandboxCRM, body: bytes
) -> None:
    _approved_draft(pipeline, crm)
    response = client.post("/webhooks/salesforce", content=body, headers=_flow_call(body))
    assert response.status_code == 400, response.text
    assert crm.sent_emails() == []
    forged = client.post("/webhooks/salesforce", content=body,
                         headers=_flow_call(body, secret="guessed"))
    assert forged.status_code == 401
