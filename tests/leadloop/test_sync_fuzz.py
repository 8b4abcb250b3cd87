"""Fuzzing the sync: lead records with hostile values in every field, on SQLite and
PostgreSQL. Every good record is stored, every bad one is skipped with a reason naming the
field, and the run finishes: one bad value never costs the batch it came in."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from connectors.base import RawLead, SyncCursor
from connectors.sandbox import SandboxConnector, SandboxCRM
from connectors.storable import storable_id
from review_api.store.db import Store
from review_api.store.models import Lead, LeadSnapshot
from tests.leadloop.conftest import NOW, make_pipeline

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=40)
MARKUP = st.sampled_from(["[red]x[/red]", "[/]", "<script>x</script>", "{{ 7*7 }}", "'; --"])
GOOD_TEXT = st.one_of(TEXT, MARKUP, st.none())
BAD_TEXT = st.sampled_from(["a\x00b", "x" * 300, 5, 1.5, ["a"], "bad\udcffsurrogate", "\x07"])
GOOD_DATE = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1),
                         timezones=st.just(UTC)).map(lambda d: d.isoformat())
BAD_DATE = st.sampled_from(["9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z",
                            "1200-05-05T00:00:00Z", "yesterday", "", 1e300, float("inf")])
GOOD_EVENT = st.fixed_dictionaries({"kind": st.sampled_from(["page_view", "webinar"]),
                                    "at": GOOD_DATE})

# Each field: values every store can hold, and values none can (or that are not a lead's).
FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "email": (st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.example", fullmatch=True),
              st.sampled_from(["", None, "not-an-email", "a\x00@b.example", 42,
                               "[b]x[/b]", "x" * 300 + "@a.example"])),
    "first_name": (GOOD_TEXT, BAD_TEXT),
    "company": (GOOD_TEXT, BAD_TEXT),
    "title": (GOOD_TEXT, BAD_TEXT),
    "country": (GOOD_TEXT, BAD_TEXT),
    "employees": (st.one_of(st.integers(0, 5_000_000), st.just("1,200"), st.none()),
                  st.sampled_from([-1, 10**12, "lots", True, float("nan"), float("inf"),
                                   "Infinity", 2**70])),
    "owner_id": (st.sampled_from(["o1", "005xx0000012345", "rep-[x]"]),
                 st.sampled_from(["", "o\x00", "x" * 65, None, 7])),
    "past_purchases": (st.integers(0, 1000),
                       st.sampled_from([-1, 10**30, "many", float("inf"), True, 2**64])),
    "lifetime_value": (st.one_of(st.floats(0, 1e9), st.just("12.5"), st.integers(0, 10**9)),
                       st.sampled_from([float("inf"), float("-inf"), float("nan"), "Infinity",
                                        "NaN", "-Infinity", 1e300, -5, "lots", True, 10**40])),
    "email_opt_out": (st.booleans(), st.sampled_from(["maybe", 2, [], "\x00"])),
    "notes": (st.one_of(TEXT, MARKUP), st.sampled_from(["\x00", "x" * 20_001, 3])),
    "events": (st.lists(GOOD_EVENT, max_size=3),
               st.sampled_from(["nonsense", [{"kind": "x"}], [{"kind": "", "at": "2026-01-01"}],
                                [{"kind": "x", "at": "9999-01-01T00:00:00Z"}],
                                [{"kind": "x", "at": float("nan")}],
                                [{"kind": "x\x00", "at": "2026-01-01T00:00:00Z"}],
                                [{"kind": "x", "at": "2026-01-01T00:00:00Z", "more": 1}]])),
    "created_at": (st.one_of(GOOD_DATE, st.none()), BAD_DATE),
}
BAD_IDS = st.sampled_from(["id\x00", "x" * 100, "bad\udcffid", "tab\tid"])
BAD_STAMPS = st.sampled_from([datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)])
COUNTER = itertools.count()


@st.composite
def records(draw: st.DrawFn) -> tuple[RawLead, str | None]:
    """One raw lead and the field it breaks (None for a good one)."""
    n = next(COUNTER)
    broken = draw(st.one_of(st.none(), st.sampled_from(
        [*FIELDS, "crm_id", "modified_at"])))
    fields = {name: draw(bad if name == broken else good)
              for name, (good, bad) in FIELDS.items()}
    if broken != "owner_id" and fields["owner_id"] is None:
        fields["owner_id"] = "o1"
    # A field no lead has, holding something no JSON column can: ignored, never stored.
    fields["annual_revenue"] = draw(st.sampled_from([float("inf"), float("nan"), "\x00", 1]))
    crm_id = draw(BAD_IDS) + str(n) if broken == "crm_id" else f"L{n}-{draw(MARKUP)}"
    stamp = (draw(BAD_STAMPS) if broken == "modified_at"
             else NOW - timedelta(minutes=draw(st.integers(0, 10_000))))
    return RawLead(crm_id=crm_id, modified_at=stamp, fields=fields), broken


class ListConnector(SandboxConnector):
    """The sandbox connector, but its leads are whatever the test hands it."""

    batch: list[RawLead] = []

    def fetch_leads(self, *, since: SyncCursor | None) -> Iterator[RawLead]:
        yield from self.batch


@pytest.fixture
def connector(tmp_path: Path) -> ListConnector:
    return ListConnector(SandboxCRM(tmp_path / "sandbox.db"))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=st.lists(records(), min_size=1, max_size=8))
def test_a_bad_record_costs_only_itself(
    store: Store, connector: ListConnector, batch: list[tuple[RawLead, str | None]]
) -> None:
    connector.batch = [raw for raw, _ in batch]
    report = make_pipeline(store, connector.crm, connector=connector).sync()

    skipped = dict(report.skipped)
    with store.session() as session:
        stored = set(session.scalars(select(Lead.crm_id).where(
            Lead.crm_id.in_([raw.crm_id for raw, broken in batch if broken is None]))))
        for row in session.scalars(select(LeadSnapshot.payload).where(
                LeadSnapshot.crm_id.in_(list(stored)))):
            assert "annual_revenue" not in row
    for raw, broken in batch:
        if broken is None:
            assert raw.crm_id in stored, (raw, skipped.get(raw.crm_id))
            assert raw.crm_id not in skipped
        else:
            reason = skipped.get(storable_id(raw.crm_id))
            assert reason is not None, (raw, broken)
            assert broken in reason, (broken, reason)
    assert report.fetched == len(batch)
