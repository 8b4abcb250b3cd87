"""The per-record path for a few leads gives exactly what the frame path gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from scoring import build_frames, default_weights_path, load_weights, parse_weights, score_leads
from scoring.errors import LeadDataError
from scoring.points import FEW_LEADS, score_few, score_frame
from scoring.weights import Weights

from .conftest import NOW, lead_record

EVERYTHING = """\
name = "everything"
base = 5
[tiers]
A = 60
B = 40
C = 20
[caps]
fit = 30
engagement = 35
total = 55
[decay]
half_life_days = 10

[[criteria]]
field = "employees"
between = [50, 5000]
points = 20
[[criteria]]
field = "title"
contains = ["vp", "head"]
points = 15
[[criteria]]
field = "industry"
in = ["Software", " logistics "]
points = 10
[[criteria]]
field = "email_domain"
equals = "gmail.com"
points = -10
[[criteria]]
field = "email_opt_out"
is_true = true
points = -20
[[criteria]]
field = "account_age_days"
at_most = 45.5
points = 5
[[criteria]]
field = "days_since_last_activity"
at_least = 20
points = -5
[[criteria]]
field = "past_purchases"
equals = 0
points = 3
[[criteria]]
event = "page_view"
detail_contains = "/pricing"
within_days = 30
points = 25
[[criteria]]
event = "Webinar"
min_count = 2
points = 12
[[criteria]]
event = "email_click"
within_days = 7
points = 0

[[profiles]]
name = "enterprise"
[profiles.when]
field = "employees"
at_least = 1000
[[profiles.criteria]]
field = "country"
equals = "de"
points = 30
[[profiles.criteria]]
event = "form_submit"
points = 40
"""

KINDS = ("page_view", "page_view", "Email_Open", "email_click", "form_submit", "webinar",
         "chat", " page_view ")
DETAILS = ("/pricing", "/Pricing/enterprise", "/", "/docs", "", None)


def _events(rng: random.Random) -> list[Any]:
    events: list[Any] = []
    for _ in range(rng.randint(0, 8)):
        at: Any = NOW - timedelta(seconds=rng.randint(-3_600, 60 * 86_400),
                                  microseconds=rng.randint(0, 999_999))
        shape = rng.random()
        if shape < 0.2:
            at = at.isoformat()
        elif shape < 0.3:
            at = at.replace(tzinfo=None)
        elif shape < 0.4:
            at = at.astimezone(datetime.now(UTC).astimezone().tzinfo)
        kind, detail = rng.choice(KINDS), rng.choice(DETAILS)
        if rng.random() < 0.2:
            events.append(SimpleNamespace(kind=kind, detail=detail, at=at))
        else:
            events.append({"kind": kind, "detail": detail, "at": at})
    return events


def varied_leads(n: int, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    leads = []
    for number in range(n):
        created: Any = NOW - timedelta(days=rng.uniform(0, 400))
        if rng.random() < 0.2:
            created = created.isoformat()
        elif rng.random() < 0.1:
            created = None
        leads.append(lead_record(
            f"L{number}",
            email=rng.choice([f"x{number}@gmail.com", f"y{number}@Acme.Example ", "", None]),
            title=rng.choice(["VP Sales", " head of ops", "Intern", "", None]),
            industry=rng.choice(["software", "LOGISTICS", "retail", "", None]),
            country=rng.choice(["DE", " de", "fr", ""]),
            employees=rng.choice([None, 10, 50, 999.5, 1000, 4000, 12_000, "300"]),
            email_opt_out=rng.choice([True, False, None]),
            created_at=created,
            events=_events(rng),
        ))
    return leads


@pytest.mark.parametrize("weights", [
    load_weights(default_weights_path()),
    parse_weights(EVERYTHING),
], ids=["default", "caps-decay-profiles"])
def test_a_few_leads_score_exactly_as_in_a_large_batch(weights: Weights) -> None:
    leads = varied_leads(300)
    batch = score_frame(build_frames(leads, now=NOW), weights)
    assert [score_few([lead], weights, now=NOW)[0] for lead in leads] == batch
    assert score_few(leads[:FEW_LEADS], weights, now=NOW) == batch[:FEW_LEADS]
    assert score_leads(leads, weights, now=NOW) == batch
    assert score_leads(iter(leads[:3]), weights, now=NOW) == batch[:3]
    assert {f.group for r in batch for f in r.factors} >= {"fit", "engagement"}


def test_a_single_lead_is_checked_like_a_batch() -> None:
    weights = parse_weights(EVERYTHING)
    bad = [
        lead_record("L1", employees="many"),
        lead_record("L1", email_opt_out="yes"),
        lead_record("L1", events=[{"kind": "", "at": NOW}]),
        lead_record("L1", events=[{"kind": "page_view", "at": "last tuesday"}]),
        lead_record("", employees=5),
    ]
    for lead in bad:
        with pytest.raises(LeadDataError):
            score_few([lead], weights, now=NOW)
        with pytest.raises(LeadDataError):
            build_frames([lead], now=NOW)
    with pytest.raises(LeadDataError, match="twice"):
        score_few([lead_record("L1"), lead_record("L1")], weights, now=NOW)
