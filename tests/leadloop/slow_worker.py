"""A real `leadloop worker` whose drafter takes DELAY seconds a lead, like a slow LLM.

Run as `python slow_worker.py DELAY leadloop-worker-args...`; the tests use it to kill a
worker in the middle of a drafting batch.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import leadloop.pipeline
from leadloop.cli import main

_draft_many = leadloop.pipeline.draft_many


def slow_draft_many(drafter: Any, facts: Any, **kw: Any) -> Any:
    time.sleep(DELAY * len(facts))
    return _draft_many(drafter, facts, **kw)


if __name__ == "__main__":
    DELAY = float(sys.argv[1])
    leadloop.pipeline.draft_many = slow_draft_many  # type: ignore[assignment]
    sys.argv = ["leadloop", "worker", *sys.argv[2:]]
    main()
