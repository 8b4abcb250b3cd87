"""Drafting many leads at once: bounded concurrency, a provider rate limit, a cache.

Drafters are synchronous (a langchain chat model call blocks on the network), so leads
are drafted on a thread pool: ``concurrency`` calls in flight at most, and no more than
``rate_per_s`` started per second when a provider limit is given. Given
:class:`drafting.limits.DraftLimits` over Redis, the rate and the cap on calls in flight
hold across every worker process instead. Results come back in the
input order; a lead whose drafter raised gets its error, never blocking the others.
Finished drafts are cached by (the lead's facts, the drafter's version): the version names
the model and hashes the prompt and templates, so changing either misses the cache.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from drafting.base import Draft, Drafter, LeadFacts
from drafting.limits import DraftLimits


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One lead's outcome: a draft, or the error that stopped it."""

    facts: LeadFacts
    draft: Draft | None
    error: str | None = None
    cached: bool = False


def cache_key(facts: LeadFacts, drafter_version: str) -> str:
    """The cache key of a lead's draft: a hash of its facts and the drafter's version."""
    canonical = json.dumps(asdict(facts), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(f"{drafter_version}\n{canonical}".encode()).hexdigest()


def draft_many(
    drafter: Drafter,
    leads: Sequence[LeadFacts],
    *,
    concurrency: int = 8,
    rate_per_s: float | None = None,
    cache: MutableMapping[str, Draft] | None = None,
    on_done: Callable[[BatchResult], None] | None = None,
    limits: DraftLimits | None = None,
) -> list[BatchResult]:
    """Draft every lead concurrently.

    Args:
        drafter: Any drafter; it must be safe to call from several threads (the template
            and LLM drafters are: they keep no per-call state).
        leads: The leads' facts.
        concurrency: The most drafts in flight at once.
        rate_per_s: The most drafts started per second (a provider limit); None for none.
        cache: Where finished drafts are kept between runs, by :func:`cache_key`; a plain
            dict works. Failed drafts are never cached.
        on_done: Called (from a worker thread) as each lead finishes, e.g. for a
            progress bar.
        limits: Limits shared with other workers (a rate and a cap on calls in flight);
            when given, ``rate_per_s`` is ignored.

    Returns:
        One result per lead, in the input order.

    Raises:
        ValueError: ``concurrency`` is below 1.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be 1 or more, got {concurrency}")
    gate = limits or DraftLimits(rate_per_s=rate_per_s or None)
    cache_lock = threading.Lock()

    def one(facts: LeadFacts) -> BatchResult:
        key = cache_key(facts, drafter.version) if cache is not None else ""
        if cache is not None:
            with cache_lock:
                hit = cache.get(key)
            if hit is not None:
                return _done(BatchResult(facts, hit, cached=True))
        try:
            with gate.turn():
                draft = drafter.draft(facts)
        except Exception as exc:  # one lead's failure must not stop the batch
            return _done(BatchResult(facts, None, error=f"{type(exc).__name__}: {exc}"))
        if cache is not None:
            with cache_lock:
                cache[key] = draft
        return _done(BatchResult(facts, draft))

    def _done(result: BatchResult) -> BatchResult:
        if on_done is not None:
            on_done(result)
        return result

    if not leads:
        return []
    with ThreadPoolExecutor(max_workers=min(concurrency, len(leads))) as pool:
        return list(pool.map(one, leads))
