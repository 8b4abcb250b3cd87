"""A small world for the page tests: keys, leads, and proposals of every shape."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from review_api import service
from review_api.keys import Role, create_key
from review_api.store.db import Store
from review_api.store.models import Lead, LeadSnapshot

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
THRESHOLDS = {"A": 70, "B": 45, "C": 25}
PWNED = "window.__pwned=1"
# Lead text that would run, link or reorder itself if a page ever trusted it.
HOSTILE = {
    "first_name": f"<script>{PWNED}</script>Eve",
    "last_name": f"<img src=x onerror=\"{PWNED}\">",
    "company": f"<a href=\"javascript:{PWNED}\">Evil Corp</a>",
    "subject": "Invoice \u202egnp.exe\u202c for you",
    "body": (f"Hi <b onmouseover=\"{PWNED}\">Eve</b>,\n\n<svg onload=\"{PWNED}\"></svg>"
             f"<a href=\"javascript:{PWNED}\">open</a>\n<iframe src=\"javascript:{PWNED}\">"
             "</iframe>\n\u2067txt.exe\u2069\n\nBest, Bo"),
}


@dataclass
class World:
    rep: str  # U1, owns the leads
    manager: str  # U9, U1's manager
    other_rep: str  # U2, owns nothing here
    admin: str
    analyst: str
    ids: dict[str, int]


def _lead(session: Session, crm_id: str, owner: str, **fields: object) -> None:
    snap = LeadSnapshot(crm_id=crm_id, crm_modified_at=NOW,
                        payload={"email": f"{crm_id.lower()}@lead.example", **fields})
    session.add(snap)
    session.flush()
    session.add(Lead(crm_id=crm_id, snapshot_id=snap.id, owner_id=owner,
                     email=f"{crm_id.lower()}@lead.example", effective_score=60,
                     effective_tier="B"))


def draft_payload(subject: str, body: str, *, tier: str, score: int,
                  flags: list[str] | None = None, review: dict[str, object] | None = None,
                  escalations: list[dict[str, object]] | None = None) -> dict[str, object]:
    return {"subject": subject, "body": body, "to": "x@lead.example", "tier": tier,
            "score": score, "factors": ["Title is VP: +20", "Visited pricing page: +10"],
            "flags": flags or [], "review": review or {}, "escalations": escalations or []}


def seed(store: Store) -> World:
    """Keys for U1 (rep), U9 (U1's manager), U2, an admin and an analyst; proposals."""
    with store.session() as session:
        keys = {
            "rep": create_key(session=session, role=Role.REP, owner_id="U1")[1],
            "manager": create_key(session=session, role=Role.REP, owner_id="U9")[1],
            "other_rep": create_key(session=session, role=Role.REP, owner_id="U2")[1],
            "admin": create_key(session=session, role=Role.ADMIN)[1],
            "analyst": create_key(session=session, role=Role.ANALYST)[1],
        }
        _lead(session, "L1", "U1", first_name="Ann", last_name="Lee", company="Acme")
        _lead(session, "L2", "U1", first_name="Bob", last_name="Ray", company="Birch")
        _lead(session, "L3", "U1", **{k: HOSTILE[k] for k in ("first_name", "last_name",
                                                               "company")})
        _lead(session, "L4", "U1", first_name="Cy", last_name="Moe", company="Cedar")
        ids: dict[str, int] = {}

        def add(name: str, crm_id: str, payload: dict[str, object], *, kind: str = "draft",
                age_hours: int = 1, expires_hours: int = 48) -> None:
            proposal, _ = service.create_proposal(
                session=session, key=f"{name}:{crm_id}", kind=kind, crm_id=crm_id,
                owner_id="U1", payload=payload, now=NOW - timedelta(hours=age_hours),
                expires_at=NOW + timedelta(hours=expires_hours))
            ids[name] = proposal.id

        add("clean_b", "L2", draft_payload("Birch and us", "Hi Bob,\n\nA short note.\n\nBest, Bo",
                                           tier="B", score=55), age_hours=5)
        add("clean_a", "L1", draft_payload("Hello Ann", "Hi Ann,\n\nShort note.\n\nBest, Bo",
                                           tier="A", score=82), age_hours=2)
        body = "Hi Ann,\n\nWe can offer a 20% discount and save you $40,000 a year.\n\nBest, Bo"
        start = body.index("$40,000")
        add("flagged", "L1", draft_payload(
            "Savings for Acme", body, tier="A", score=75,
            flags=["Risk, discount: '20% discount'",
                   "Unverified amount: '$40,000' (not in the lead's record or the product facts)"],
            review={"risk_flags": [{"code": "discount", "evidence": "20% discount"}],
                    "unverified_claims": [{"text": "$40,000", "kind": "amount",
                                           "span": [start, start + 7], "field": "body"}],
                    "injection_flags": []}), age_hours=3)
        add("hostile", "L3", draft_payload(
            HOSTILE["subject"], HOSTILE["body"], tier="C", score=30,
            flags=[f"Lead notes read like instructions to the model (ignore): '<script>{PWNED}"
                   "</script>'; treated as data only"],
            review={"injection_flags": [{"field": "notes", "code": "ignore",
                                         "evidence": f"<svg onload=\"{PWNED}\">"}]}))
        add("manager_only", "L4", draft_payload(
            "Contract terms", "Hi Cy,\n\nWe commit to a 3 year contract.\n\nBest, Bo",
            tier="A", score=90, flags=["Needs the manager: contract terms (rule on line 3)"],
            escalations=[{"action": "require_manager", "reason": "contract terms",
                          "rule_line": 3}]), age_hours=4)
        add("override", "L2", {"new_score": 75, "new_tier": "A", "old_score": 40,
                               "old_tier": "C", "tier_thresholds": THRESHOLDS,
                               "factors": ["Booked a demo: +25"]},
            kind="score_override", age_hours=6)
        session.flush()
        manager_only = service.get_or_raise(session=session, proposal_id=ids["manager_only"])
        manager_only.approver_id = "U9"
        manager_only.assignee_id = "U9"
    return World(**keys, ids=ids)


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)
