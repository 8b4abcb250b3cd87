"""Webhook replay protection shared by every worker: each delivery is taken once, whichever
worker or process it reaches, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine, func, select, text

from connectors.hubspot.webhooks import MemorySeenStore, SeenStore, sign_v3
from review_api.app import create_app
from review_api.replay import StoreSeenStore
from review_api.store.db import Store
from review_api.store.models import WebhookReceipt
from review_api.webhooks import ACK, OUTBOUND_KEEP_MS, Webhooks, WebhookSettings

T0 = 1_800_000_000_000  # epoch ms
ORG = "00D5g000000ABCDEFG"
FLOW_SECRET = "flow-shared-secret"
APP_SECRET = "hubspot-app-secret"
SETTINGS = WebhookSettings(salesforce_org_id=ORG[:15],
                           salesforce_flow_secret=SecretStr(FLOW_SECRET),
                           hubspot_app_secret=SecretStr(APP_SECRET))


class Clock:
    """A settable clock in epoch milliseconds."""

    def __init__(self, now_ms: int = T0) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


class MakeSeen(Protocol):
    def __call__(self, clock: Clock) -> SeenStore: ...


@pytest.fixture(params=["memory", "store"])
def make_seen(request: pytest.FixtureRequest, store: Store) -> MakeSeen:
    """Every SeenStore: in memory, and in the store on SQLite and on PostgreSQL."""
    if request.param == "memory":
        return lambda clock: MemorySeenStore(clock)
    return lambda clock: StoreSeenStore(store, clock_ms=clock)


@pytest.fixture
def second_store(store_url: str) -> Iterator[Store]:
    """Another Store on the same database, as a second worker process would open it."""
    opened = Store.open(store_url, migrate=False)
    yield opened
    opened.close()


def _receipts(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(WebhookReceipt)) or 0


# The contract every SeenStore keeps.

def test_a_key_is_new_once(make_seen: MakeSeen) -> None:
    seen = make_seen(Clock())
    assert seen.add_if_new("hubspot:sig-1", expires_at_ms=T0 + 60_000)
    assert not seen.add_if_new("hubspot:sig-1", expires_at_ms=T0 + 60_000)
    assert seen.add_if_new("hubspot:sig-2", expires_at_ms=T0 + 60_000)


def test_a_key_is_new_again_once_expired(make_seen: MakeSeen) -> None:
    clock = Clock()
    seen = make_seen(clock)
    assert seen.add_if_new("sf-flow:sig", expires_at_ms=T0 + 1_000)
    clock.now_ms = T0 + 1_000  # expires_at itself is still inside the window
    assert not seen.add_if_new("sf-flow:sig", expires_at_ms=T0 + 2_000)
    clock.now_ms = T0 + 1_001
    assert seen.add_if_new("sf-flow:sig", expires_at_ms=T0 + 5_000)
    assert not seen.add_if_new("sf-flow:sig", expires_at_ms=T0 + 5_000)


# The store's table: shared, bounded.

def test_two_workers_on_one_database_share_what_they_have_seen(
    store: Store, second_store: Store
) -> None:
    first = StoreSeenStore(store, clock_ms=Clock())
    second = StoreSeenStore(second_store, clock_ms=Clock())
    assert first.add_if_new("sf-outbound:04l5g000001AAA", expires_at_ms=T0 + 60_000)
    assert not second.add_if_new("sf-outbound:04l5g000001AAA", expires_at_ms=T0 + 60_000)
    assert second.add_if_new("sf-outbound:04l5g000001BBB", expires_at_ms=T0 + 60_000)
    assert not first.add_if_new("sf-outbound:04l5g000001BBB", expires_at_ms=T0 + 60_000)


def test_copies_racing_in_two_workers_are_taken_exactly_once(
    store: Store, second_store: Store
) -> None:
    seen = [StoreSeenStore(store), StoreSeenStore(second_store)]
    expires = time.time_ns() // 1_000_000 + 60_000
    start = threading.Barrier(12)
    taken: list[bool] = []

    def deliver(worker: StoreSeenStore) -> None:
        start.wait()
        taken.append(worker.add_if_new("hubspot:raced", expires_at_ms=expires))

    threads = [threading.Thread(target=deliver, args=(seen[i % 2],)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == [False] * 11 + [True]


def test_expired_receipts_are_deleted_a_bounded_batch_at_a_time(store: Store) -> None:
    clock = Clock()
    seen = StoreSeenStore(store, clock_ms=clock, purge_batch=3)
    for n in range(7):
        assert seen.add_if_new(f"sf-flow:old-{n}", expires_at_ms=T0 + 1_000)
    assert _receipts(store) == 7
    clock.now_ms = T0 + 2_000
    assert seen.add_if_new("sf-flow:new-1", expires_at_ms=T0 + 60_000)
    assert _receipts(store) == 7 - 3 + 1
    assert seen.add_if_new("sf-flow:new-2", expires_at_ms=T0 + 60_000)
    assert seen.add_if_new("sf-flow:new-3", expires_at_ms=T0 + 60_000)
    with store.session() as session:
        assert sorted(session.scalars(select(WebhookReceipt.key))) == [
            "sf-flow:new-1", "sf-flow:new-2", "sf-flow:new-3"]


def test_a_replay_still_purges(store: Store) -> None:
    clock = Clock()
    seen = StoreSeenStore(store, clock_ms=clock)
    assert seen.add_if_new("hubspot:old", expires_at_ms=T0 + 1_000)
    assert seen.add_if_new("hubspot:live", expires_at_ms=T0 + 60_000)
    clock.now_ms = T0 + 2_000
    assert not seen.add_if_new("hubspot:live", expires_at_ms=T0 + 60_000)
    assert _receipts(store) == 1


def test_receipts_record_source_and_expiry_and_long_keys_fit(store: Store) -> None:
    seen = StoreSeenStore(store, clock_ms=Clock())
    long_key = "sf-flow:" + "x" * 300
    assert seen.add_if_new(long_key, expires_at_ms=T0 + 60_000)
    assert not seen.add_if_new(long_key, expires_at_ms=T0 + 60_000)
    with store.session() as session:
        row = session.scalars(select(WebhookReceipt)).one()
    assert row.source == "sf-flow" and len(row.key) <= 128
    assert row.expires_at.timestamp() * 1000 == T0 + 60_000
    assert row.received_at.timestamp() * 1000 == T0


def test_a_connection_the_database_dropped_costs_no_delivery(store_url: str) -> None:
    """The API's pool does not ping before use; a dropped connection is retried once."""
    if not store_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop a connection")
    store = Store.open(store_url, connections=2, pre_ping=False)
    try:
        seen = StoreSeenStore(store, clock_ms=Clock())
        assert seen.add_if_new("hubspot:before", expires_at_ms=T0 + 60_000)
        held = [store.engine.connect() for _ in range(2)]
        pids = [conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
                for conn in held]
        for conn in held:
            conn.close()
        with create_engine(store_url).connect() as admin:
            for pid in pids:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert seen.add_if_new("hubspot:after", expires_at_ms=T0 + 60_000)
        assert not seen.add_if_new("hubspot:before", expires_at_ms=T0 + 60_000)
    finally:
        store.close()


# Through the API: two app instances on one database stand in for two workers.

class Reconciles:
    """Counts the reconciles the webhooks start: the boundary where a send can follow."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.calls += 1


@pytest.fixture
def reconciles() -> Reconciles:
    return Reconciles()


@pytest.fixture
def workers(store: Store, second_store: Store, reconciles: Reconciles) -> list[TestClient]:
    """Two apps built the way `leadloop serve` builds each worker's, on one database."""
    return [TestClient(create_app(each, webhooks=Webhooks.from_settings(
        SETTINGS, on_task_change=reconciles, store=each))) for each in (store, second_store)]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _hubspot_call() -> tuple[bytes, dict[str, str]]:
    body = json.dumps([{"objectId": 1, "subscriptionType": "object.propertyChange"}]).encode()
    stamp = str(_now_ms())
    signature = sign_v3(secret=APP_SECRET, method="POST", uri="http://testserver/webhooks/hubspot",
                        body=body, timestamp=stamp)
    return body, {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}


def _flow_call() -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"task_ids": ["00T5g000002BBB"]}).encode()
    stamp = str(_now_ms())
    digest = hmac.new(FLOW_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return body, {"X-LeadLoop-Signature": f"sha256={digest.hexdigest()}",
                  "X-LeadLoop-Timestamp": stamp, "content-type": "application/json"}


def _notification(notification_id: str, task_id: str | None) -> str:
    sobject = "" if task_id is None else (
        '<sObject xsi:type="sf:Task" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>{task_id}</sf:Id><sf:Status>Completed</sf:Status></sObject>")
    return f"<Notification><Id>{notification_id}</Id>{sobject}</Notification>"


def _outbound(*notifications: str, org: str = ORG) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org}</OrganizationId><ActionId>04k5g000000XYZ</ActionId>"
        f'<SessionId xsi:nil="true"/>{"".join(notifications)}'
        "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def _post_outbound(client: TestClient, body: bytes) -> int:
    response = client.post("/webhooks/salesforce", content=body,
                           headers={"content-type": "text/xml"})
    assert response.status_code == 200, response.text
    assert response.text == ACK
    return response.status_code


@pytest.mark.parametrize("call", [_hubspot_call, _flow_call], ids=["hubspot", "sf-flow"])
def test_twelve_copies_of_a_signed_call_across_two_workers_are_taken_once(
    workers: list[TestClient], reconciles: Reconciles,
    call: Callable[[], tuple[bytes, dict[str, str]]],
) -> None:
    body, headers = call()
    path = "/webhooks/hubspot" if "X-HubSpot-Signature-v3" in headers else "/webhooks/salesforce"
    statuses = [workers[i % 2].post(path, content=body, headers=headers) for i in range(12)]
    assert [r.status_code for r in statuses].count(200) == 1
    refused = [r for r in statuses if r.status_code != 200]
    assert len(refused) == 11
    assert all(r.status_code == 401 and "replay" in r.json()["message"] for r in refused)
    assert reconciles.calls == 1


def test_thirty_copies_of_an_outbound_message_are_all_acked_and_reconciled_once(
    workers: list[TestClient], reconciles: Reconciles,
) -> None:
    body = _outbound(_notification("04l5g000001AAA", "00T5g000002BBB"))
    for i in range(30):
        _post_outbound(workers[i % 2], body)
    assert reconciles.calls == 1


def test_an_outbound_message_with_one_new_notification_is_reconciled(
    workers: list[TestClient], reconciles: Reconciles,
) -> None:
    _post_outbound(workers[0], _outbound(_notification("04l5g000001AAA", "00T5g000002BBB")))
    # Salesforce batches: a message holding a redelivered notification and a new one.
    _post_outbound(workers[1], _outbound(_notification("04l5g000001AAA", "00T5g000002BBB"),
                                         _notification("04l5g000001CCC", "00T5g000002DDD")))
    assert reconciles.calls == 2
    _post_outbound(workers[0], _outbound(_notification("04l5g000001CCC", "00T5g000002DDD"),
                                         _notification("04l5g000001AAA", "00T5g000002BBB")))
    assert reconciles.calls == 2


def test_a_first_outbound_message_without_task_ids_is_acked(
    workers: list[TestClient], reconciles: Reconciles,
) -> None:
    _post_outbound(workers[0], _outbound(_notification("04l5g000001EEE", None)))
    _post_outbound(workers[1], _outbound(_notification("04l5g000001EEE", None)))
    assert reconciles.calls == 1


def test_an_outbound_notification_id_is_kept_for_salesforce_retry_window(
    store: Store, workers: list[TestClient],
) -> None:
    before = _now_ms()
    _post_outbound(workers[0], _outbound(_notification("04l5g000001AAA", "00T5g000002BBB")))
    with store.session() as session:
        row = session.scalars(select(WebhookReceipt)).one()
    assert row.key == "sf-outbound:04l5g000001AAA" and row.source == "sf-outbound"
    kept_ms = row.expires_at.timestamp() * 1000 - before
    assert kept_ms >= OUTBOUND_KEEP_MS > 24 * 60 * 60 * 1000


def test_outbound_refusals_record_nothing(
    store: Store, workers: list[TestClient], reconciles: Reconciles,
) -> None:
    foreign = workers[0].post("/webhooks/salesforce", headers={"content-type": "text/xml"},
                              content=_outbound(_notification("04l5g000001AAA", "00T1"),
                                                org="00D000000000OTHER"))
    assert foreign.status_code == 401 and "not ours" in foreign.json()["message"]
    no_id = workers[0].post("/webhooks/salesforce", headers={"content-type": "text/xml"},
                            content=_outbound("<Notification><sObject/></Notification>"))
    assert no_id.status_code == 400 and "without an Id" in no_id.json()["message"]
    assert _receipts(store) == 0 and reconciles.calls == 0
    # The genuine message, once it comes, is taken.
    _post_outbound(workers[1], _outbound(_notification("04l5g000001AAA", "00T1")))
    assert reconciles.calls == 1


def test_webhooks_built_without_a_store_remember_in_memory() -> None:
    hooks = Webhooks.from_settings(SETTINGS, on_task_change=lambda: None)
    assert isinstance(hooks.seen, MemorySeenStore)
