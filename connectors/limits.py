"""Call-rate limits a CRM sets, held in one place every worker shares.

Built on the ``limits`` library: a moving window ("at most N calls in any W seconds")
kept in Redis when a storage URL is given, so every process on that Redis counts against
the same window, or in this process's memory otherwise. The wiring hands in the URL
(``LEADLOOP_LIMITS_URL``); connectors never read settings themselves.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

_SHORTEST_WAIT_S = 0.005


def account_key(*secrets: str) -> str:
    """A short, stable name for one CRM account's limits that reveals none of its secrets."""
    return hashlib.sha256("\0".join(secrets).encode()).hexdigest()[:16]


def open_storage(url: str | None, *, prefix: str = "leadloop") -> Storage:
    """The ``limits`` storage a URL names (``redis://...``), or this process's memory.

    Args:
        url: a ``limits`` storage URL; None or empty for memory.
        prefix: the key prefix in a shared storage (tests use their own).
    """
    if not url or url.startswith("memory://"):
        return MemoryStorage()
    storage = storage_from_string(url, key_prefix=prefix)
    assert isinstance(storage, Storage)  # a synchronous one: the URL is not async+...
    return storage


class CallLimit:
    """At most ``limit`` calls in any ``window_s`` seconds, counted in ``storage``.

    Args:
        storage: where the calls are counted (shared by every process on it, for Redis).
        limit: calls allowed per window.
        window_s: the window's length, whole seconds (a fraction is rounded up: safer).
        key: what is limited, e.g. ``("hubspot", account, "burst")``.
        sleep: how to wait (tests inject one).
        clock: wall-clock seconds, the clock the storage's windows use.
    """

    def __init__(self, storage: Storage, limit: int, window_s: float, *key: str,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError(f"a limit needs at least 1 call per window, got {limit} per "
                             f"{window_s} s")
        self.item: RateLimitItem = RateLimitItemPerSecond(limit, max(1, math.ceil(window_s)))
        self.key = key
        self._limiter = MovingWindowRateLimiter(storage)
        self._sleep, self._clock = sleep, clock

    def acquire(self) -> float:
        """Wait until a call fits in the window, then count it; returns when it counted."""
        while True:
            at = self._clock()
            if self._limiter.hit(self.item, *self.key):
                return at
            reset_at = self._limiter.get_window_stats(self.item, *self.key).reset_time
            self._sleep(max(reset_at - self._clock(), _SHORTEST_WAIT_S))
