"""How well the claim check catches a wrong fact about the lead: dev and held-out side by side.

    .venv/bin/python -m benchmarks.claim_quality

Two hand-written labelled sets of drafts as a model would write them (no template source):
``tests/drafting/data/claims_dev.jsonl`` (tuned on) and ``claims_heldout.jsonl`` (written
before the typed check existed, never tuned on). Half of each set's drafts hold one wrong
fact about the lead (team size, role, purchases or customer status, calls and meetings,
place, industry); the rest are correct. Recall is the share of wrong-fact drafts with any
unverified claim ("at the claim": one whose span covers the wrong text); the false-flag
rate is the share of correct drafts with any unverified claim. Targets: recall >= 0.80,
false-flag rate <= 0.20.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drafting.base import Draft, LeadFacts
from drafting.guard.claims import unverified_claims
from drafting.guard.records import UnverifiedClaim

DATA = Path(__file__).resolve().parent.parent / "tests/drafting/data"
SETS = {"dev": DATA / "claims_dev.jsonl", "held-out": DATA / "claims_heldout.jsonl"}
RECALL_TARGET = 0.80
FALSE_FLAG_TARGET = 0.20


@dataclass(frozen=True)
class Case:
    """One labelled draft."""

    id: str
    facts: LeadFacts
    draft: Draft
    wrong: dict[str, str] | None


def load(path: Path) -> list[Case]:
    """The labelled drafts in one file."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row: dict[str, Any] = json.loads(line)
        draft = Draft(row["subject"], row["body"], "llm", "bench", None, "", ())
        cases.append(Case(row["id"], LeadFacts.from_mapping(row["lead"]), draft, row["wrong"]))
    return cases


def at_claim(case: Case, found: tuple[UnverifiedClaim, ...]) -> bool:
    """Whether an unverified claim in the body covers the labelled wrong text."""
    assert case.wrong is not None
    start = case.draft.body.find(case.wrong["text"])
    end = start + len(case.wrong["text"])
    return start >= 0 and any(
        c.field == "body" and c.span[0] < end and start < c.span[1] for c in found
    )


@dataclass(frozen=True)
class Figures:
    """Counts for one set."""

    wrong: int
    flagged: int
    at_claim: int
    correct: int
    false_flagged: int
    missed: tuple[str, ...]
    false: tuple[str, ...]


def measure(cases: list[Case]) -> Figures:
    """Run the claim check over one set."""
    flagged = at = false = 0
    missed: list[str] = []
    false_ids: list[str] = []
    for case in cases:
        found = unverified_claims(case.draft, case.facts)
        if case.wrong is not None:
            flagged += bool(found)
            at += at_claim(case, found)
            if not found:
                missed.append(f"{case.id} {case.wrong['kind']}: {case.wrong['text']!r}")
        elif found:
            false += 1
            false_ids.append(f"{case.id}: " + ", ".join(f"{c.kind} {c.text!r}" for c in found))
    wrong = sum(c.wrong is not None for c in cases)
    return Figures(wrong, flagged, at, len(cases) - wrong, false, tuple(missed),
                   tuple(false_ids))


def main() -> None:
    """Print recall and false-flag rate for dev and held-out beside the targets."""
    print(f"targets: recall >= {RECALL_TARGET:.2f}, false-flag rate <= {FALSE_FLAG_TARGET:.2f}")
    print(f"{'set':<9} {'recall':>16} {'at the claim':>16} {'false-flag':>16} "
          f"{'recall/target':>14} {'false/target':>13}")
    results = {name: measure(load(path)) for name, path in SETS.items()}
    for name, f in results.items():
        recall, false = f.flagged / f.wrong, f.false_flagged / f.correct
        print(f"{name:<9} {f'{f.flagged}/{f.wrong} = {recall:.2f}':>16} "
              f"{f'{f.at_claim}/{f.wrong} = {f.at_claim / f.wrong:.2f}':>16} "
              f"{f'{f.false_flagged}/{f.correct} = {false:.2f}':>16} "
              f"{recall / RECALL_TARGET:>13.2f}x {false / FALSE_FLAG_TARGET:>12.2f}x")
    for name, f in results.items():
        for line in f.missed:
            print(f"  {name} missed {line}")
        for line in f.false:
            print(f"  {name} false flag {line}")


if __name__ == "__main__":
    main()
