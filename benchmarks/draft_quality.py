"""Would a rep send the template drafts unedited? Figures from a fresh sandbox run.

Run with ``python -m benchmarks.draft_quality [--leads 400] [--seed 7]`` from the
repository root. It seeds a new sandbox CRM, runs sync, score and propose through the
real pipeline with the template drafter, and prints, for the drafts proposed:

* drafts that quote tracking to the prospect (visit counts, "in the last 14 days", ...);
* drafts with ".." (a sentence stop doubled after "Corp." or "Ltd.");
* drafts whose signature carries the owning rep's email;
* distinct openings and distinct subject shapes, per 10 drafts and in the worst block of
  10 consecutive drafts of the queue;
* existing customers (past purchases) given a first-touch email;
* drafts that contain a line of the lead's notes (the send step would refuse them);
* drafts the guardrails find unverified claims in, and the risk flags raised.

A benchmark, not a test: it prints figures and never fails.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from connectors.sandbox import SandboxConnector, SandboxCRM
from drafting import Draft, LeadFacts, TemplateDrafter
from drafting.guardrails import review_draft
from leadloop.pipeline import Pipeline
from review_api.store.db import Store
from scoring import default_weights_path, load_weights

#: Tracking quoted back to the prospect: counts of visits and windows of time.
TRACKING_RE = re.compile(
    r"\b\d+\s+times\b|\btwice\b|\b(?:in|over|during)\s+the\s+(?:last|past)\s+\d+|"
    r"\b(?:last|past)\s+\d+\s+(?:days?|weeks?|months?)\b|\b\d+\s+(?:days?|weeks?)\s+ago\b|"
    r"\blatest\s+\d|\b\d+\s+(?:visits|page\s+views|views|opens|clicks)\b",
    re.IGNORECASE,
)
DOUBLE_STOP_RE = re.compile(r"(?<!\.)\.\.(?!\.)")
# Template ids of first-touch emails, before (the old ids) and after (the "first_touch" prefix).
OLD_FIRST_TOUCH = frozenset({"pricing_interest", "webinar_follow_up", "generic_intro"})


@dataclass(frozen=True, slots=True)
class Drafted:
    facts: LeadFacts
    draft: Draft


class RecordingDrafter:
    """Wraps the template drafter and keeps every (facts, draft) pair it returns."""

    name = "template"

    def __init__(self, inner: TemplateDrafter) -> None:
        self.inner = inner
        self.version = inner.version
        self.drafted: list[Drafted] = []
        self._lock = threading.Lock()

    def draft(self, facts: LeadFacts) -> Draft:
        draft = self.inner.draft(facts)
        with self._lock:
            self.drafted.append(Drafted(facts, draft))
        return draft


def run(leads: int, seed: int) -> tuple[list[Drafted], dict[str, str], dict[str, str]]:
    """Drafts of a fresh run in queue order, rep name -> email, and crm id -> notes."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        crm = SandboxCRM(root / "sandbox.db")
        crm.seed(leads, seed=seed)
        store = Store.open(f"sqlite:///{root / 'store.db'}")
        connector = SandboxConnector(crm)
        drafter = RecordingDrafter(TemplateDrafter())
        pipeline = Pipeline(store=store, connector=connector,
                            weights=load_weights(default_weights_path()),
                            drafter=drafter, clock=lambda: datetime.now(UTC))
        pipeline.sync()
        pipeline.score()
        pipeline.propose()
        owners = {o.name: o.email for o in connector.list_owners()}
        notes = {raw.crm_id: str(raw.fields.get("notes") or "")
                 for raw in connector.fetch_leads(since=None)}
        store.close()
    drafted = sorted(drafter.drafted, key=lambda d: -(d.facts.score or 0))
    return drafted, owners, notes


def _shape(text: str, facts: LeadFacts) -> str:
    """The text with this lead's own values and any digits replaced by placeholders."""
    for name in ("company", "first_name", "last_name", "title", "industry", "country",
                 "rep_name"):
        value = getattr(facts, name)
        if value:
            text = text.replace(value, "{" + name + "}")
    return re.sub(r"\d+", "#", text).strip()


def _opening(draft: Draft) -> str:
    """The first sentence after the greeting."""
    paragraphs = [p.strip() for p in draft.body.split("\n\n") if p.strip()]
    first = paragraphs[1] if len(paragraphs) > 1 else (paragraphs[0] if paragraphs else "")
    return re.split(r"(?<=[.?!])\s", first, maxsplit=1)[0]


def _is_first_touch(template_id: str | None) -> bool:
    return template_id in OLD_FIRST_TOUCH or (template_id or "").startswith("first_touch")


def _per10(count: int, total: int) -> str:
    return f"{10 * count / total:.1f}" if total else "n/a"


def report(drafted: list[Drafted], owners: dict[str, str], notes: dict[str, str]) -> None:
    n = len(drafted)
    tracking = [d for d in drafted if TRACKING_RE.search(f"{d.draft.subject}\n{d.draft.body}")]
    double = [d for d in drafted if DOUBLE_STOP_RE.search(f"{d.draft.subject}\n{d.draft.body}")]
    signed = [d for d in drafted if owners.get(d.facts.rep_name)
              and owners[d.facts.rep_name] in d.draft.body.splitlines()[-4:]]
    openings = [_shape(_opening(d.draft), d.facts) for d in drafted]
    subjects = [_shape(d.draft.subject, d.facts) for d in drafted]
    blocks = [range(i, i + 10) for i in range(0, n - 9, 10)]
    worst_open = min((len({openings[i] for i in b}) for b in blocks), default=0)
    worst_subj = min((len({subjects[i] for i in b}) for b in blocks), default=0)
    customers = [d for d in drafted if d.facts.past_purchases > 0]
    customers_first = [d for d in customers if _is_first_touch(d.draft.template_id)]
    note_lines = [d for d in drafted if any(
        len(line.strip()) >= 12 and line.strip() in d.draft.body
        for line in notes.get(d.facts.crm_id, "").splitlines())]
    print(f"drafts proposed                              {n}")
    print(f"drafts quoting tracking counts/time windows  {len(tracking)}/{n}")
    print(f'drafts with ".."                             {len(double)}/{n}')
    print(f"drafts with the rep's email in the signature {len(signed)}/{n}")
    print(f"distinct openings                            {len(set(openings))} "
          f"({_per10(len(set(openings)), n)} per 10 drafts; worst block of 10: {worst_open})")
    print(f"distinct subject shapes                      {len(set(subjects))} "
          f"({_per10(len(set(subjects)), n)} per 10 drafts; worst block of 10: {worst_subj})")
    print(f"customers given a first-touch email          {len(customers_first)}/{len(customers)}")
    print(f"drafts containing a line of the lead's notes {len(note_lines)}/{n}")
    seat_notes = [d for d in drafted if re.search(r"\bseats\b", notes.get(d.facts.crm_id, ""))]
    stated = [d for d in seat_notes if "seats" in d.draft.body]
    print(f"leads whose notes give seats, drafts stating them {len(stated)}/{len(seat_notes)}")
    reviews = [review_draft(d.draft, d.facts) for d in drafted]
    unverified = sum(bool(r.unverified_claims) for r in reviews)
    risks = Counter(code for r in reviews for code in r.risk_codes)
    print(f"drafts with unverified claims                {unverified}/{n}")
    print("risk flags: " + (", ".join(f"{c} {k}" for c, k in risks.most_common()) or "none"))
    templates = Counter(d.draft.template_id for d in drafted)
    print("templates: " + ", ".join(f"{t} {c}" for t, c in templates.most_common()))
    for d in tracking[:2] + double[:2]:
        print(f"  e.g. {d.draft.subject!r}: {d.draft.body.splitlines()[2][:110]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    drafted, owners, notes = run(args.leads, args.seed)
    print(f"fresh sandbox: {args.leads} leads, seed {args.seed}, template drafter")
    report(drafted, owners, notes)


if __name__ == "__main__":
    main()
