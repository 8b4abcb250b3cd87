from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx
import pandas as pd
import pytest
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.exc import OperationalError
from starlette.types import Receive, Scope, Send

from review_api import service
from review_api.admin import AdminFiles
from review_api.app import InLine, create_app
from review_api.keys import Role, create_key, revoke
from review_api.store.db import Store
from review_api.store.models import Lead, LeadSnapshot, OutboxEmail

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
THRESHOLDS = {"A": 70, "B": 45, "C": 25}


def _seed(store: Store) -> dict[str, int]:
    with store.session() as session:
        snap = LeadSnapshot(crm_id="L1", crm_modified_at=NOW, payload={"email": "a@b.example"})
        session.add(snap)
        session.flush()
        session.add(Lead(crm_id="L1", snapshot_id=snap.id, owner_id="U1", email="a@b.example",
                         effective_score=40, effective_tier="C"))
        draft, _ = service.create_proposal(
            session=session, key="draft:L1:1", kind="draft", crm_id="L1", owner_id="U1",
            payload={"subject": "Hello", "body": "Hi Ann,\n\nShort note.\n\nBest, Bo",
                     "to": "a@b.example"},
            expires_at=NOW + timedelta(days=3),
        )
        override, _ = service.create_proposal(
            session=session, key="score:L1:1", kind="score_override", crm_id="L1",
            owner_id="U1", payload={"new_score": 75, "new_tier": "A", "old_score": 40,
                                    "old_tier": "C", "tier_thresholds": THRESHOLDS},
            expires_at=NOW + timedelta(days=3),
        )
        return {"draft": draft.id, "override": override.id}


@dataclass
class Keys:
    admin: str
    rep: str  # owns U1's leads
    other_rep: str  # owns U2's leads
    analyst: str
    revoked: str


@pytest.fixture
def keys(store: Store) -> Keys:
    with store.session() as session:
        made = {
            "admin": create_key(session=session, role=Role.ADMIN)[1],
            "rep": create_key(session=session, role=Role.REP, owner_id="U1")[1],
            "other_rep": create_key(session=session, role=Role.REP, owner_id="U2")[1],
            "analyst": create_key(session=session, role=Role.ANALYST)[1],
        }
        row, made["revoked"] = create_key(session=session, role=Role.ADMIN, name="old")
        revoke(session=session, key_id=row.id, now=NOW)
    return Keys(**made)


@pytest.fixture
def client(store: Store, keys: Keys) -> TestClient:
    """A client calling as the rep who owns lead L1."""
    return TestClient(create_app(store, clock=lambda: NOW),
                      headers={"Authorization": f"Bearer {keys.rep}"})


def test_list_and_filter_proposals(client: TestClient, store: Store) -> None:
    ids = _seed(store)
    listed = client.get("/proposals").json()
    assert {p["id"] for p in listed} == set(ids.values())
    drafts = client.get("/proposals", params={"kind": "draft"}).json()
    assert [p["id"] for p in drafts] == [ids["draft"]]
    assert client.get("/proposals", params={"state": "sent"}).json() == []


def test_approve_draft_with_edit_queues_the_edited_email(client: TestClient, store: Store) -> None:
    ids = _seed(store)
    response = client.post(
        f"/proposals/{ids['draft']}/decision",
        json={"decision": "approve", "decided_by": "U1",
              "final_text": "Subject: Hello again\n\nHi Ann,\n\nShorter.\n\nBest, Bo"},
    )
    assert response.status_code == 200, response.text
    label = response.json()
    assert label["decision"] == "approved" and label["source"] == "api"
    assert label["edit_distance"] > 0 and "-Short note." in label["diff"]
    detail = client.get(f"/proposals/{ids['draft']}").json()
    assert detail["state"] == "approved" and detail["decision"]["final_text"].startswith(
        "Subject: Hello again")
    with store.session() as session:
        queued = session.scalars(select(OutboxEmail)).one()
        assert (queued.subject, queued.to_address) == ("Hello again", "a@b.example")


def test_second_decision_on_one_proposal_gets_409(client: TestClient, store: Store) -> None:
    ids = _seed(store)
    url = f"/proposals/{ids['draft']}/decision"
    assert client.post(url, json={"decision": "approve", "decided_by": "U1"}).status_code == 200
    again = client.post(url, json={"decision": "reject", "reason": "late", "decided_by": "U2"})
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"


def test_stale_version_gets_409(client: TestClient, store: Store) -> None:
    ids = _seed(store)
    response = client.post(f"/proposals/{ids['draft']}/decision",
                           json={"decision": "approve", "decided_by": "U1",
                                 "expected_version": 7})
    assert response.status_code == 409 and response.json()["code"] == "conflict"


def test_score_override_approval_applies_the_reps_score(client: TestClient, store: Store) -> None:
    ids = _seed(store)
    response = client.post(f"/proposals/{ids['override']}/decision",
                           json={"decision": "approve", "decided_by": "U1", "final_score": 66})
    assert response.status_code == 200
    assert (response.json()["original_score"], response.json()["final_score"]) == (75, 66)
    with store.session() as session:
        lead = session.get_one(Lead, "L1")
        assert (lead.effective_score, lead.effective_tier) == (66, "B")
        assert session.scalars(select(OutboxEmail)).all() == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"decision": "reject", "decided_by": "U1"}, "needs a reason"),
        ({"decision": "maybe", "decided_by": "U1"}, "decision"),
        ({"decision": "approve", "decided_by": "U1", "final_score": 101}, "final_score"),
        ({"decision": "approve", "decided_by": "U1", "surprise": 1}, "surprise"),
    ],
)
def test_bad_decision_gets_one_clear_error(
    client: TestClient, store: Store, body: dict[str, object], fragment: str
) -> None:
    ids = _seed(store)
    response = client.post(f"/proposals/{ids['draft']}/decision", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "bad_request"
    assert fragment in response.json()["message"]
    assert client.get(f"/proposals/{ids['draft']}").json()["state"] == "pending"


def test_wrong_kind_of_decision_is_refused(client: TestClient, store: Store) -> None:
    ids = _seed(store)
    response = client.post(f"/proposals/{ids['draft']}/decision",
                           json={"decision": "approve", "decided_by": "U1", "final_score": 50})
    assert response.status_code == 422 and response.json()["code"] == "bad_decision"


def test_unknown_proposal_is_404(client: TestClient, store: Store) -> None:
    response = client.get("/proposals/999")
    assert response.status_code == 404, response.text
    assert response.json() == {"code": "not_found", "message": "proposal 999 does not exist"}


def test_health_and_readiness_need_no_key(store: Store) -> None:
    anonymous = TestClient(create_app(store))
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    assert anonymous.get("/readyz").json() == {"status": "ready"}


def test_decision_is_recorded_as_the_keys_owner_not_the_body(
    client: TestClient, store: Store
) -> None:
    ids = _seed(store)
    response = client.post(f"/proposals/{ids['draft']}/decision",
                           json={"decision": "approve", "decided_by": "someone-else"})
    assert response.json()["decided_by"] == "U1"


ROUTES = [
    ("get", "/proposals", None),
    ("get", "/proposals/{draft}", None),
    ("post", "/proposals/{draft}/decision", {"decision": "approve"}),
    ("post", "/proposals/{draft}/snooze", {"until": "2026-11-03T09:00:00Z"}),
    ("post", "/decisions", {"items": [{"proposal_id": 1, "decision": "approve"}]}),
    ("get", "/proposals/{draft}/audit", None),
    ("get", "/labels", None),
    ("get", "/metrics", None),
    ("get", "/admin/keys", None),
    ("post", "/admin/keys", {"role": "analyst"}),
    ("post", "/admin/keys/1/revoke", None),
    ("get", "/admin/weights", None),
    ("post", "/admin/weights", {"text": "name = 'x'", "note": "n"}),
    ("post", "/admin/weights/preview", {"text": "name = 'x'"}),
    ("get", "/admin/policy", None),
    ("post", "/admin/policy/check", {"text": ""}),
    ("post", "/admin/policy", {"text": "", "note": "n"}),
]
# Which roles each route refuses (403); every route refuses no key, a wrong and a revoked key.
REFUSED = {
    "/proposals/{draft}/decision": ["analyst"], "/proposals/{draft}/snooze": ["analyst"],
    "/decisions": ["analyst"], "/labels": ["rep"], "/metrics": ["rep"],
    "/admin/keys": ["rep", "analyst"], "/admin/keys/1/revoke": ["rep", "analyst"],
    "/admin/weights": ["rep", "analyst"], "/admin/weights/preview": ["rep", "analyst"],
    "/admin/policy": ["rep", "analyst"], "/admin/policy/check": ["rep", "analyst"],
}


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_route_refuses_missing_wrong_and_revoked_keys(
    store: Store, keys: Keys, method: str, path: str, body: dict[str, object] | None
) -> None:
    ids = _seed(store)
    url = path.format(draft=ids["draft"])
    app = create_app(store, clock=lambda: NOW)
    for headers, expected in [
        ({}, "an API key is required"),
        ({"Authorization": "Bearer ll_0000_wrong"}, "unknown API key"),
        ({"Authorization": f"Bearer {keys.admin}x"}, "unknown API key"),
        ({"X-API-Key": keys.revoked}, "revoked"),
    ]:
        response = TestClient(app).request(method, url, json=body, headers=headers)
        assert response.status_code == 401, (url, headers)
        assert expected in response.json()["message"]
    for role in REFUSED.get(path, []):
        key = {"rep": keys.rep, "analyst": keys.analyst}[role]
        response = TestClient(app).request(method, url, json=body, headers={"X-API-Key": key})
        assert response.status_code == 403, (url, role)
        assert response.json()["code"] == "forbidden"


def test_rep_sees_and_decides_only_their_own_leads(store: Store, keys: Keys) -> None:
    ids = _seed(store)
    other = TestClient(create_app(store, clock=lambda: NOW),
                       headers={"Authorization": f"Bearer {keys.other_rep}"})
    assert other.get("/proposals").json() == []
    assert other.get(f"/proposals/{ids['draft']}").status_code == 403
    refused = other.post(f"/proposals/{ids['draft']}/decision", json={"decision": "approve"})
    assert refused.status_code == 403
    admin = TestClient(create_app(store, clock=lambda: NOW),
                       headers={"Authorization": f"Bearer {keys.admin}"})
    assert len(admin.get("/proposals").json()) == 2
    assert admin.get(f"/proposals/{ids['draft']}").json()["state"] == "pending"


def test_bulk_decisions_get_a_receipt_each(client: TestClient, store: Store) -> None:
    ids = _seed(store)
    response = client.post("/decisions", json={"items": [
        {"proposal_id": ids["draft"], "decision": "approve"},
        {"proposal_id": ids["draft"], "decision": "reject", "reason": "changed my mind"},
        {"proposal_id": 999, "decision": "approve"},
        {"proposal_id": ids["override"], "decision": "reject", "reason": "not buying"},
    ]})
    assert response.status_code == 200, response.text
    receipts = response.json()
    assert [r["ok"] for r in receipts] == [True, False, False, True]
    assert [r["code"] for r in receipts] == [None, "invalid_transition", "not_found", None]
    too_many = {"items": [{"proposal_id": 1, "decision": "approve"}] * 101}
    assert client.post("/decisions", json=too_many).status_code == 422


def test_snooze_hides_until_then_and_never_past_expiry(client: TestClient, store: Store) -> None:
    ids = _seed(store)
    url = f"/proposals/{ids['draft']}/snooze"
    assert client.post(url, json={"until": (NOW + timedelta(days=4)).isoformat()}).json()[
        "code"] == "bad_decision"
    assert client.post(url, json={"until": (NOW + timedelta(hours=5)).isoformat()}).status_code \
        == 200
    assert [p["id"] for p in client.get("/proposals").json()] == [ids["override"]]
    everything = client.get("/proposals", params={"include_snoozed": True}).json()
    assert {p["id"] for p in everything} == set(ids.values())


def test_audit_chain_and_labels(client: TestClient, store: Store, keys: Keys) -> None:
    ids = _seed(store)
    client.post(f"/proposals/{ids['draft']}/decision",
                json={"decision": "approve", "final_text": "Subject: Hi\n\nHi Ann,\n\nNew."})
    chain = client.get(f"/proposals/{ids['draft']}/audit").json()
    assert [e["event"] for e in chain["events"]] == ["proposed", "decision_approved"]
    assert chain["decision"]["final_text"] == "Subject: Hi\n\nHi Ann,\n\nNew."
    assert chain["send"]["state"] == "queued"
    analyst = TestClient(create_app(store, clock=lambda: NOW),
                         headers={"Authorization": f"Bearer {keys.analyst}"})
    csv = analyst.get("/labels")
    assert csv.headers["content-type"].startswith("text/csv")
    table = pd.read_csv(io.StringIO(csv.text))
    assert list(table.columns[:4]) == ["proposal_id", "proposal_key", "kind", "crm_id"]
    assert list(table["decision"]) == ["approved"]
    assert table["final_text"][0] == "Subject: Hi\n\nHi Ann,\n\nNew."
    parquet = analyst.get("/labels", params={"format": "parquet", "kind": "draft"})
    frame = pd.read_parquet(io.BytesIO(parquet.content))
    assert list(frame["decision"]) == ["approved"] and frame["edit_distance"][0] > 0


def test_metrics_count_proposals_and_decisions(client: TestClient, store: Store,
                                                keys: Keys) -> None:
    ids = _seed(store)
    client.post(f"/proposals/{ids['draft']}/decision", json={"decision": "approve"})
    text = client.get("/metrics", headers={"Authorization": f"Bearer {keys.analyst}"}).text
    assert 'leadloop_proposals{kind="draft",state="approved"} 1.0' in text
    assert 'leadloop_api_decisions_total{decision="approved",kind="draft"} 1.0' in text


def test_admin_creates_and_revokes_keys(store: Store, keys: Keys) -> None:
    admin = TestClient(create_app(store), headers={"Authorization": f"Bearer {keys.admin}"})
    made = admin.post("/admin/keys", json={"role": "rep", "owner_id": "U9"})
    assert made.status_code == 201
    new_key = made.json()["key"]
    as_new = TestClient(create_app(store), headers={"X-API-Key": new_key})
    assert as_new.get("/proposals").status_code == 200
    assert admin.post(f"/admin/keys/{made.json()['id']}/revoke").json()["revoked_at"]
    assert as_new.get("/proposals").status_code == 401
    listed = admin.get("/admin/keys").json()
    assert all("key" not in row for row in listed)
    assert admin.post("/admin/keys", json={"role": "rep"}).json()["code"] == "bad_key_request"


def test_oversized_body_is_refused(client: TestClient, store: Store) -> None:
    ids = _seed(store)
    response = client.post(f"/proposals/{ids['draft']}/decision",
                           content=b'{"decision": "approve", "reason": "' + b"x" * 1_100_000
                           + b'"}', headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] == "too_large"


CANDIDATE = """
name = "candidate"
[tiers]
A = 60
B = 40
C = 20
approval_required = ["A"]

[[criteria]]
name = "any company"
field = "employees"
at_least = 1
points = 65
"""


def test_admin_previews_and_publishes_weights(store: Store, keys: Keys, tmp_path: Path) -> None:
    _seed(store)
    with store.session() as session:
        snap = session.scalars(select(LeadSnapshot)).one()
        snap.payload = {"crm_id": "L1", "email": "a@b.example", "employees": 50,
                        "owner_id": "U1", "modified_at": NOW.isoformat()}
    admin = TestClient(create_app(store, clock=lambda: NOW,
                                  admin_files=AdminFiles(data_dir=tmp_path)),
                       headers={"Authorization": f"Bearer {keys.admin}"})
    current = admin.get("/admin/weights").json()
    assert current["source"] == "default" and current["published"] == []
    shown = admin.post("/admin/weights/preview", json={"text": CANDIDATE}).json()
    assert shown["leads"] == 1 and shown["tier_changes"] == 1
    assert shown["to"] != shown["from"] and shown["changes"]
    assert admin.post("/admin/weights", json={"text": CANDIDATE}).json()["code"] == "bad_request"
    published = admin.post("/admin/weights", json={"text": CANDIDATE, "note": "simpler"})
    assert published.status_code == 201
    after = admin.get("/admin/weights").json()
    assert (after["source"], after["version"]) == ("published", published.json()["version"])
    broken = admin.post("/admin/weights/preview",
                        json={"text": CANDIDATE.replace("points = 65", "points = 'lots'")})
    assert broken.status_code == 422 and "criteria[0].points" in broken.json()["message"]


def test_admin_checks_rules_before_using_them(store: Store, keys: Keys, tmp_path: Path) -> None:
    _seed(store)
    admin = TestClient(create_app(store, admin_files=AdminFiles(data_dir=tmp_path)),
                       headers={"Authorization": f"Bearer {keys.admin}"})
    assert "never draft for leads who opted out" in admin.get("/admin/policy").json()["text"]
    checked = admin.post("/admin/policy/check",
                         json={"text": "escalate when the draft mentions pricing\n"}).json()
    assert [r["line"] for r in checked["rules"]] == [0, 1]
    wrong = admin.post("/admin/policy/check", json={"text": "escalate sometimes\n"})
    assert wrong.status_code == 422 and "line 1" in wrong.json()["message"]
    refused = admin.post("/admin/policy", json={"text": "escalate sometimes\n", "note": "n"})
    assert refused.status_code == 422 and "line 1" in refused.json()["message"]
    rules = "escalate when the draft mentions pricing\n"
    published = admin.post("/admin/policy", json={"text": rules, "note": "pricing"})
    assert published.status_code == 201 and published.json()["author"] == "admin:admin"
    shown = admin.get("/admin/policy").json()
    assert shown["text"] == rules and shown["path"].endswith(published.json()["version"])
    assert [p["note"] for p in shown["published"]] == ["pricing"]


def test_a_decision_whose_commit_fails_is_not_acknowledged(client: TestClient,
                                                          store: Store) -> None:
    """The session commits before the response goes out: a failed commit is a 503, never a
    200 for a decision that was not stored."""
    ids = _seed(store)

    def lose_the_connection(_session: object) -> None:
        raise OperationalError("COMMIT", {}, ConnectionError("server closed the connection"))

    event.listen(store.sessions, "before_commit", lose_the_connection)
    try:
        response = client.post(f"/proposals/{ids['draft']}/decision",
                               json={"decision": "approve"})
    finally:
        event.remove(store.sessions, "before_commit", lose_the_connection)
    assert response.status_code == 503
    assert response.json()["code"] == "store"
    with store.session() as session:
        assert service.decision_for(session=session, proposal_id=ids["draft"]) is None
        assert session.scalars(select(OutboxEmail)).all() == []
    # Nothing was lost: the same decision goes through once the database is back.
    assert client.post(f"/proposals/{ids['draft']}/decision",
                       json={"decision": "approve"}).status_code == 200


def test_a_worker_works_on_at_most_its_concurrency_and_queues_the_rest() -> None:
    inside = peak = 0

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal inside, peak
        inside += 1
        peak = max(peak, inside)
        await anyio.sleep(0.02)
        inside -= 1
        await JSONResponse({"ok": True})(scope, receive, send)

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=InLine(slow_app, limit=3))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            responses = await asyncio.gather(*(client.get("/") for _ in range(12)))
        return [r.status_code for r in responses]

    assert asyncio.run(main()) == [200] * 12
    assert peak == 3


def test_the_store_keeps_a_connection_open_per_concurrent_request(store_url: str) -> None:
    store = Store.open(store_url, connections=12)
    try:
        assert store.engine.pool.size() == 12  # type: ignore[attr-defined]
    finally:
        store.close()


def test_connections_the_database_dropped_cost_no_request(store_url: str) -> None:
    """The API's pool does not ping before each use; a request whose pooled connection died
    (a database restart) retries its first statement on a fresh one."""
    if not store_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop a connection")
    store = Store.open(store_url, connections=3, pre_ping=False)
    try:
        _seed(store)
        with store.session() as session:
            key = create_key(session=session, role=Role.REP, owner_id="U1")[1]
        client = TestClient(create_app(store, clock=lambda: NOW),
                            headers={"Authorization": f"Bearer {key}"})
        assert client.get("/proposals").status_code == 200
        # Three pooled connections, all dropped by the server.
        held = [store.engine.connect() for _ in range(3)]
        pids = [conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
                for conn in held]
        for conn in held:
            conn.close()
        with create_engine(store_url).connect() as admin:
            for pid in pids:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        responses = [client.get("/proposals") for _ in range(4)]
        assert [r.status_code for r in responses] == [200] * 4
        decided = client.post("/proposals/1/decision", json={"decision": "approve"})
        assert decided.status_code == 200
    finally:
        store.close()
