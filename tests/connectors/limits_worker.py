"""One worker process for the shared-limit tests: it waits for a common start, then works
against the limits in Redis and prints what it saw as JSON on stdout.

``python -m tests.connectors.limits_worker MODE START URL PREFIX ...`` where MODE is
- ``calls LIMIT WINDOW_S N``: N acquisitions of a :class:`connectors.limits.CallLimit`;
  prints when the shared window counted each;
- ``hubspot BASE_URL TOKEN BURST N``: N ``list_owners`` calls through the real HubSpot
  connector; prints how many it made;
- ``llm CAP N``: N drafts through ``draft_many`` with a shared cap; each draft counts itself
  in flight in Redis; prints the most in flight it saw.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def _calls(url: str, prefix: str, limit: str, window_s: str, n: str) -> Any:
    from connectors.limits import CallLimit, open_storage

    call = CallLimit(open_storage(url, prefix=prefix), int(limit), float(window_s), "t",
                     "burst")
    stamps = []
    for _ in range(int(n)):
        stamps.append(call.acquire())  # when the shared window counted the call
    return stamps


def _hubspot(url: str, prefix: str, base_url: str, token: str, burst: str, n: str) -> Any:
    from pydantic import SecretStr

    from connectors.hubspot import HubSpotConfig
    from connectors.hubspot.client import HubSpotTransport
    from connectors.hubspot.connector import HubSpotConnector

    config = HubSpotConfig(access_token=SecretStr(token), base_url=base_url,
                           burst_per_10s=int(burst), retries=0)
    connector = HubSpotConnector(config, transport=HubSpotTransport(
        config, limits_url=url, limits_prefix=prefix))
    for _ in range(int(n)):
        connector.list_owners()
    return connector.transport.stats.calls


def _llm(url: str, prefix: str, cap: str, n: str) -> Any:
    import redis

    from drafting.base import Draft, LeadFacts
    from drafting.batch import draft_many
    from drafting.limits import DraftLimits

    client = redis.Redis.from_url(url)
    key = f"{prefix}:in-flight"
    seen = [0]

    class Slow:
        name, version = "slow", "1"

        def draft(self, facts: LeadFacts) -> Draft:
            now = int(client.incr(key))
            seen[0] = max(seen[0], now)
            time.sleep(0.05)
            client.decr(key)
            return Draft(subject="s", body="b", drafter="slow", drafter_version="1",
                         template_id=None, prompt="", facts_used=())

    limits = DraftLimits(url=url, concurrency=int(cap), prefix=prefix)
    client.ping()
    results = draft_many(Slow(), [LeadFacts(first_name=f"L{i}") for i in range(int(n))],
                         concurrency=8, limits=limits)
    assert all(r.draft is not None for r in results), [r.error for r in results]
    return seen[0]


def _imports() -> None:
    """Import what the workers use before the common start: imports take a while."""
    import redis  # noqa: F401

    import connectors.hubspot.connector  # noqa: F401
    import drafting.batch  # noqa: F401


def main() -> None:
    mode, start, *args = sys.argv[1:]
    _imports()
    if mode == "calls":
        # A long-lived worker has loaded the limiter's script into Redis: do that before
        # the common start (on another key), so the first counted call is not late.
        from connectors.limits import CallLimit, open_storage

        CallLimit(open_storage(args[0], prefix=args[1]), 1, 1.0, "t", "warm-up").acquire()
    time.sleep(max(0.0, float(start) - time.time()))  # both workers begin together
    work = {"calls": _calls, "hubspot": _hubspot, "llm": _llm}[mode]
    print(json.dumps(work(*args)))


if __name__ == "__main__":
    main()
