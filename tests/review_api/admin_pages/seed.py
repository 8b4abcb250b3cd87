"""A small world for the admin pages: keys, leads (some closed, one hostile), proposals
with decisions and a send, and a data directory for the registries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from review_api import service
from review_api.keys import Role, create_key
from review_api.store.db import Store
from review_api.store.models import (
    Decision,
    Lead,
    LeadSnapshot,
    OutboxEmail,
    OutcomeEventRow,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PWNED = "window.__pwned=1"
HOSTILE_ID = f"<img src=x onerror=\"{PWNED}\">"
HOSTILE_TEXT = f"<script>{PWNED}</script>\u202eevil"


@dataclass
class World:
    admin: str
    rep: str
    analyst: str
    ids: dict[str, int]


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def lead_payload(index: int) -> dict[str, Any]:
    """A lead whose size, title and visits vary with ``index``; every third one closed."""
    events = [{"kind": "page_view", "detail": "/pricing", "at": _iso(NOW - timedelta(days=d))}
              for d in range(1, 1 + index % 4)]
    if index % 5 == 0:
        events.append({"kind": "webinar", "detail": "", "at": _iso(NOW - timedelta(days=20))})
    status = "open"
    if index % 3 == 0:
        status = "converted" if index % 4 != 0 and events else "lost"
    return {
        "crm_id": f"L{index:03d}", "email": f"l{index}@acme{index}.example",
        "first_name": "Ann", "last_name": f"Lee{index}", "company": f"Acme {index}",
        "title": ["VP Sales", "Engineer", "CEO", "Analyst"][index % 4],
        "industry": ["software", "retail", "education", "gambling"][index % 4],
        "employees": [12, 250, 1500, 80, 600][index % 5], "country": "US",
        "lead_source": "web", "status": status, "owner_id": "U1", "past_purchases": 0,
        "lifetime_value": 0.0, "email_opt_out": False, "notes": "", "events": events,
        "created_at": _iso(NOW - timedelta(days=40)), "modified_at": _iso(NOW),
    }


def _add_lead(session: Any, payload: dict[str, Any]) -> None:
    snap = LeadSnapshot(crm_id=payload["crm_id"], crm_modified_at=NOW, payload=payload)
    session.add(snap)
    session.flush()
    session.add(Lead(crm_id=payload["crm_id"], snapshot_id=snap.id, owner_id="U1",
                     email=payload["email"], effective_score=50, effective_tier="B"))


def seed(store: Store) -> World:
    """Keys for an admin, the rep U1 and an analyst; 40 leads and a hostile one; proposals."""
    with store.session() as session:
        keys = {"admin": create_key(session=session, role=Role.ADMIN)[1],
                "rep": create_key(session=session, role=Role.REP, owner_id="U1")[1],
                "analyst": create_key(session=session, role=Role.ANALYST)[1]}
        for index in range(1, 41):
            _add_lead(session, lead_payload(index))
        hostile = lead_payload(41) | {"crm_id": HOSTILE_ID, "first_name": HOSTILE_TEXT,
                                      "company": HOSTILE_TEXT, "title": "CEO",
                                      "notes": HOSTILE_TEXT}
        _add_lead(session, hostile)
        ids: dict[str, int] = {}

        def propose(name: str, crm_id: str, *, age_hours: int, expires_hours: int = 48,
                    template: str = "first_touch_pricing", owner: str = "U1") -> int:
            payload = {"subject": "Hello", "body": "Hi,\n\nA note.\n\nBest", "to": "x@y.example",
                       "template_id": template, "score": 60, "tier": "B", "factors": [],
                       "flags": [], "review": {}, "escalations": []}
            proposal, _ = service.create_proposal(
                session=session, key=f"{name}:{crm_id}", kind="draft", crm_id=crm_id,
                owner_id=owner, payload=payload, now=NOW - timedelta(hours=age_hours),
                expires_at=NOW + timedelta(hours=expires_hours))
            proposal.drafter_version = "template:3"
            ids[name] = proposal.id
            return proposal.id

        def decide(name: str, decision: str, *, edit: int = 0, hours: int = 2) -> None:
            proposal = service.get_or_raise(session=session, proposal_id=ids[name])
            proposal.state = "approved" if decision == "approved" else "rejected"
            session.add(Decision(proposal_id=ids[name], decision=decision, edit_distance=edit,
                                 original_text="a", final_text="a" if not edit else "b",
                                 decided_by="U1", source="ui",
                                 decided_at=proposal.created_at + timedelta(hours=hours)))

        propose("as_is", "L003", age_hours=30)
        propose("edited", "L006", age_hours=28, template="follow_up")
        propose("rejected", "L009", age_hours=26)
        propose("sent", "L021", age_hours=200)
        propose("pending_soon", "L015", age_hours=40, expires_hours=5)
        later = propose("pending_later", "L018", age_hours=1, expires_hours=72)
        service.get_or_raise(session=session, proposal_id=later).payload = {
            **service.get_or_raise(session=session, proposal_id=later).payload,
            "escalations": [{"action": "escalate", "reason": "the draft has unverified claims",
                             "rule_line": 4}]}
        propose("hostile", HOSTILE_ID, age_hours=3, expires_hours=2, template=HOSTILE_TEXT,
                owner=HOSTILE_TEXT)
        session.flush()
        decide("as_is", "approved")
        decide("edited", "approved", edit=12, hours=6)
        decide("rejected", "rejected", hours=1)
        decide("sent", "approved", hours=4)
        sent = service.get_or_raise(session=session, proposal_id=ids["sent"])
        sent.state = "sent"
        session.add(OutboxEmail(proposal_id=ids["sent"], idempotency_key="k-sent",
                                crm_id="L021", owner_id="U1", to_address="x@y.example",
                                subject="Hello", body="Hi", state="sent",
                                sent_at=NOW - timedelta(hours=100)))
        # The CRM sent back a meeting booked on that email (a meeting counts as a reply).
        session.add(OutcomeEventRow(source="sandbox", event_id="m-1", kind="meeting_booked",
                                    crm_id="L021", proposal_id=ids["sent"],
                                    occurred_at=NOW - timedelta(hours=50)))
    return World(**keys, ids=ids)


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)
