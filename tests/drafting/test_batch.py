"""Batch drafting: concurrency bound, rate limit, cache, failures isolated."""

from __future__ import annotations

import threading
import time

import pytest

from drafting import LeadFacts, LLMDrafter, TemplateDrafter
from drafting.base import Draft
from drafting.batch import cache_key, draft_many
from drafting.limits import DraftLimits
from tests.drafting.fakes import StructuredFakeChatModel, tool_reply


class CountingDrafter:
    """Counts calls and the most in flight at once; fails for leads named "Bad"."""

    name = "counting"
    version = "1"

    def __init__(self, delay_s: float = 0.02) -> None:
        self.delay_s = delay_s
        self.calls = 0
        self.in_flight = 0
        self.peak = 0
        self.lock = threading.Lock()

    def draft(self, facts: LeadFacts) -> Draft:
        with self.lock:
            self.calls += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(self.delay_s)
        with self.lock:
            self.in_flight -= 1
        if facts.first_name == "Bad":
            raise RuntimeError("provider down")
        return Draft("S", f"Hi {facts.first_name}", self.name, self.version, None, "", ())


def leads(n: int) -> list[LeadFacts]:
    return [LeadFacts(crm_id=str(i), first_name=f"L{i}") for i in range(n)]


def test_results_keep_order_and_concurrency_is_bounded() -> None:
    drafter = CountingDrafter()
    results = draft_many(drafter, leads(20), concurrency=4)
    assert [r.draft.body for r in results if r.draft] == [f"Hi L{i}" for i in range(20)]
    assert 1 < drafter.peak <= 4


def test_a_failed_draft_never_blocks_the_others() -> None:
    batch = [*leads(3), LeadFacts(first_name="Bad"), *leads(2)]
    results = draft_many(CountingDrafter(), batch, concurrency=3)
    assert [r.error for r in results].count("RuntimeError: provider down") == 1
    assert sum(r.draft is not None for r in results) == 5


def test_cache_hits_skip_the_drafter_and_a_new_version_misses() -> None:
    drafter, cache = CountingDrafter(0), {}  # type: ignore[var-annotated]
    draft_many(drafter, leads(5), cache=cache)
    again = draft_many(drafter, leads(5), cache=cache)
    assert drafter.calls == 5 and all(r.cached for r in again)
    drafter.version = "2"
    draft_many(drafter, leads(5), cache=cache)
    assert drafter.calls == 10


def test_failed_drafts_are_not_cached() -> None:
    drafter, cache = CountingDrafter(0), {}  # type: ignore[var-annotated]
    draft_many(drafter, [LeadFacts(first_name="Bad")], cache=cache)
    assert cache == {}


def test_cache_key_depends_on_facts_and_version() -> None:
    a, b = LeadFacts(first_name="A"), LeadFacts(first_name="B")
    assert cache_key(a, "v1") == cache_key(LeadFacts(first_name="A"), "v1")
    assert len({cache_key(a, "v1"), cache_key(b, "v1"), cache_key(a, "v2")}) == 3


def test_rate_limit_holds_in_any_second() -> None:
    started: list[float] = []

    class Stamping(CountingDrafter):
        def draft(self, facts: LeadFacts) -> Draft:
            started.append(time.monotonic())
            return super().draft(facts)

    draft_many(Stamping(0), leads(7), concurrency=7, rate_per_s=3)
    started.sort()
    # No more than 3 start in any second: the 4th waits for the 1st's second to pass.
    assert all(started[i + 3] - started[i] >= 0.98 for i in range(len(started) - 3))
    assert started[-1] - started[0] >= 2 * 0.98


def test_local_concurrency_cap_holds_across_threads() -> None:
    drafter = CountingDrafter(0.02)
    draft_many(drafter, leads(10), concurrency=8, limits=DraftLimits(concurrency=2))
    assert drafter.peak == 2 and drafter.calls == 10


def test_llm_drafts_concurrently_on_a_slow_fake_model() -> None:
    model = StructuredFakeChatModel(messages=iter(()), respond=lambda m: tool_reply(), delay_s=0.05)
    start = time.monotonic()
    results = draft_many(LLMDrafter(model), leads(16), concurrency=8)
    elapsed = time.monotonic() - start
    assert all(r.draft is not None and r.draft.drafter == "llm" for r in results)
    assert elapsed < 16 * 0.05  # faster than one at a time


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        draft_many(TemplateDrafter(), leads(1), concurrency=0)
    with pytest.raises(ValueError):
        DraftLimits(rate_per_s=0)
    with pytest.raises(ValueError):
        DraftLimits(concurrency=0)
    assert draft_many(TemplateDrafter(), []) == []
