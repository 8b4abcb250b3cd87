"""How many drafts start per second and how many are in flight, across every worker.

A provider's rate limit is a moving window from the ``limits`` library; the concurrency
cap is a set of leased slots. Both live in Redis when a URL is given (the wiring passes
``LEADLOOP_LIMITS_URL``), so every worker process on that Redis shares them; otherwise
in this process. A slot is a Redis lock with a lease (redis-py's ``Lock``): a worker that
dies holding one frees it when the lease runs out.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

_POLL_S = 0.01


class DraftLimits:
    """The limits every drafter call waits for: a rate, and a cap on calls in flight.

    Args:
        url: a Redis URL shared by every worker; None keeps the limits in this process.
        concurrency: the most drafter calls in flight at once (all workers together, with
            a URL); None for no cap beyond the caller's own threads.
        rate_per_s: the most drafter calls started per second; None for no limit.
        prefix: the key prefix in Redis (tests use their own).
        lease_s: how long a slot stays taken by a worker that died holding it.
        sleep: how to wait (tests inject one).

    Raises:
        ValueError: a limit is not positive.
    """

    def __init__(self, *, url: str | None = None, concurrency: int | None = None,
                 rate_per_s: float | None = None, prefix: str = "leadloop",
                 lease_s: float = 300.0, sleep: Callable[[float], None] = time.sleep) -> None:
        if concurrency is not None and concurrency < 1:
            raise ValueError(f"concurrency must be 1 or more, got {concurrency}")
        if rate_per_s is not None and rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be positive, got {rate_per_s}")
        shared = bool(url) and not str(url).startswith("memory://")
        self.shared = shared
        self._sleep = sleep
        self._key = (prefix, "llm")
        storage: Storage = MemoryStorage()
        if shared:
            made = storage_from_string(str(url), key_prefix=prefix)
            assert isinstance(made, Storage)
            storage = made
        self._rate = None
        if rate_per_s is not None:
            # Whole seconds: 2.5 a second is 5 in any 2 s; 0.2 a second is 1 in any 5 s.
            window = 1 if rate_per_s >= 1 else math.ceil(1 / rate_per_s)
            self._rate = RateLimitItemPerSecond(max(1, math.floor(rate_per_s * window)),
                                                window)
        self._limiter = MovingWindowRateLimiter(storage)
        self._local: threading.BoundedSemaphore | None = None
        self._slots: list[Any] = []
        if concurrency is not None:
            if shared:
                import redis

                client = redis.Redis.from_url(str(url))
                self._slots = [client.lock(f"{prefix}:llm:slot:{i}", timeout=lease_s)
                               for i in range(concurrency)]
            else:
                self._local = threading.BoundedSemaphore(concurrency)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for the rate and a free slot; hold the slot while the block runs."""
        self._wait_for_rate()
        if self._local is not None:
            with self._local:
                yield
            return
        if not self._slots:
            yield
            return
        slot = self._take_slot()
        try:
            yield
        finally:
            _release(slot)

    def _wait_for_rate(self) -> None:
        if self._rate is None:
            return
        while not self._limiter.hit(self._rate, *self._key):
            reset_at = self._limiter.get_window_stats(self._rate, *self._key).reset_time
            self._sleep(max(reset_at - time.time(), _POLL_S))

    def _take_slot(self) -> Any:
        start = random.randrange(len(self._slots))  # spread workers over the slots
        while True:
            for i in range(len(self._slots)):
                slot = self._slots[(start + i) % len(self._slots)]
                if slot.acquire(blocking=False):
                    return slot
            self._sleep(_POLL_S)


def _release(slot: Any) -> None:
    from redis.exceptions import LockError

    try:
        slot.release()
    except LockError:
        pass  # the lease ran out during a very long call: the slot is already free
