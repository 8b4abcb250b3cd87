"""The sandbox's lead generator: deterministic, realistic, and with learnable outcomes."""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

from connectors.base import Lead, RawLead, parse_lead
from connectors.sandbox import generate_leads, generate_owners
from connectors.sandbox.crm import LEAD_FIELDS
from tests.connectors.conftest import NOW

EVENT_KINDS = {"page_view", "email_open", "email_click", "form_submit", "webinar"}
SOURCES = {"Web", "Referral", "Webinar", "Trade Show", "Paid Search", "Partner"}


@pytest.fixture(scope="module")
def leads() -> list[dict[str, Any]]:
    return generate_leads(1500, seed=7, now=NOW)


def _parsed(records: list[dict[str, Any]]) -> list[Lead]:
    return [parse_lead(RawLead(f"L{i:06d}", NOW, r)) for i, r in enumerate(records)]


def test_the_same_seed_gives_the_same_leads() -> None:
    assert generate_leads(60, seed=5, now=NOW) == generate_leads(60, seed=5, now=NOW)
    assert generate_leads(60, seed=5, now=NOW) != generate_leads(60, seed=6, now=NOW)
    assert generate_owners(5) == generate_owners(5)


def test_owners_are_one_manager_and_five_reps() -> None:
    owners = generate_owners(7)
    managers = [o for o in owners if o["manager_id"] is None]
    assert len(owners) == 6 and len(managers) == 1
    assert all(o["manager_id"] == managers[0]["owner_id"] for o in owners if o is not managers[0])
    assert all(o["email"].endswith("@example.com") and " " in o["name"] for o in owners)


def test_leads_carry_exactly_the_lead_fields_and_all_validate(
    leads: list[dict[str, Any]]
) -> None:
    assert all(set(lead) == set(LEAD_FIELDS) for lead in leads)  # no hidden propensity
    parsed = _parsed(leads)
    assert len({lead.email for lead in parsed}) == len(parsed)


def test_values_fall_in_realistic_ranges(leads: list[dict[str, Any]]) -> None:
    reps = {o["owner_id"] for o in generate_owners(7) if o["manager_id"]}
    assert {lead["owner_id"] for lead in leads} == reps
    employees = [lead["employees"] for lead in leads]
    assert min(employees) >= 5 and max(employees) <= 50_000
    assert 40 < float(np.median(employees)) < 400
    assert all(lead["email"].endswith(".example") for lead in leads)
    assert {lead["lead_source"] for lead in leads} == SOURCES
    assert len({lead["industry"] for lead in leads}) >= 7
    assert len({lead["company"] for lead in leads}) > 300
    opt_out = sum(lead["email_opt_out"] for lead in leads) / len(leads)
    assert 0.005 < opt_out < 0.08
    customers = [lead for lead in leads if lead["past_purchases"]]
    assert all(lead["lifetime_value"] > 0 for lead in customers)
    assert all(lead["lifetime_value"] == 0 for lead in leads if not lead["past_purchases"])
    for lead in leads:
        assert lead["created_at"] <= NOW
        for event in lead["events"]:
            assert event["kind"] in EVENT_KINDS
            assert lead["created_at"] <= event["at"] <= NOW
            assert event["at"] >= NOW - timedelta(days=90)
    pages = Counter(e["detail"] for lead in leads for e in lead["events"]
                    if e["kind"] == "page_view")
    assert pages["/pricing"] > 0
    assert any(p.startswith("/case-studies/") for p in pages)
    assert any(p.startswith("/blog/") for p in pages)


def test_notes_are_varied_and_some_try_to_give_instructions(
    leads: list[dict[str, Any]]
) -> None:
    notes = [lead["notes"] for lead in leads]
    assert len(set(notes)) > 100
    assert 0.2 < notes.count("") / len(notes) < 0.5
    assert any("ignore previous instructions" in n.lower() for n in notes)


def test_about_a_third_of_leads_have_an_outcome(leads: list[dict[str, Any]]) -> None:
    statuses = Counter(lead["status"] for lead in leads)
    assert set(statuses) == {"open", "converted", "disqualified"}
    historical = (statuses["converted"] + statuses["disqualified"]) / len(leads)
    assert 0.30 < historical < 0.40
    assert 0.15 < statuses["converted"] / (statuses["converted"] + statuses["disqualified"]) < 0.6


def _features(lead: Lead, industries: list[str]) -> list[float]:
    """Features any analyst would try first, read from the validated lead."""
    recent = NOW - timedelta(days=30)
    pricing = sum(1 for e in lead.events if e.detail == "/pricing" and e.at >= recent)
    title = lead.title.lower()
    senior = [
        any(w in title for w in ("ceo", "coo", "cfo", "cto", "chief", "founder")),
        title.startswith("vp"),
        "head" in title or "director" in title,
        "manager" in title,
    ]
    size = math.log(lead.employees or 1)
    return [
        size, size**2, min(pricing, 3), any(e.kind == "webinar" for e in lead.events),
        min(lead.past_purchases, 3), *senior, *(lead.industry == i for i in industries),
    ]


def test_outcomes_are_learnable_from_the_obvious_features(leads: list[dict[str, Any]]) -> None:
    history = [lead for lead in _parsed(leads) if lead.status != "open"]
    industries = sorted({lead.industry for lead in history})
    x = np.array([_features(lead, industries) for lead in history], dtype=float)
    y = np.array([lead.status == "converted" for lead in history])
    auc = cross_val_score(
        LogisticRegression(max_iter=2000), x, y, scoring="roc_auc",
        cv=StratifiedKFold(5, shuffle=True, random_state=0),
    )
    assert auc.mean() > 0.72, auc


def test_bad_arguments_are_refused() -> None:
    assert generate_leads(0, seed=1, now=NOW) == []
    with pytest.raises(ValueError, match="zero or more"):
        generate_leads(-1, now=NOW)
    with pytest.raises(ValueError, match="owners is empty"):
        generate_leads(3, now=NOW, owners=[])
