from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from review_api import service
from review_api.app import create_app
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


@pytest.fixture
def client(store: Store) -> TestClient:
    return TestClient(create_app(store, clock=lambda: NOW))


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
        ({"decision": "approve"}, "decided_by"),
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
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "proposal 999 does not exist"}


def test_health(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
