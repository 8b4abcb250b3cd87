"""Drafting figures: grounding, injection, learning from edits, batch throughput.

Run with ``python -m benchmarks.bench_drafting [--drafts 1000] [--concurrency 16]``
from the repository root (it uses the test fakes in ``tests/drafting``). Prints figures
side by side; it never fails on a time.

* grounding: recall of invented claims and the share of clean drafts falsely flagged, on
  a labelled corpus of drafts written by a fake chat model through the real LLM drafter;
* injection: lead notes with attempts flagged, ordinary notes not flagged, and drafts from
  a fake model that obeys the notes caught by the risk or grounding checks;
* learning: a simulated team of reps with hidden preferences edits 5 rounds of drafts from
  the template drafter with the rules learned so far applied;
* throughput: a fake model that takes 500 ms a call, drafted concurrently vs one at a time
  (the sequential time is measured on a small sample and extrapolated, as printed).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import time
from collections import Counter

from drafting import LeadFacts, LLMDrafter, TemplateDrafter
from drafting.batch import draft_many
from drafting.guardrails import injection_flags, review_draft, unverified_claims
from drafting.learning import EditRecord, apply, learn_rules, normalised_distance
from tests.drafting.corpus import (
    CLEAN_NOTES,
    _lead,
    grounding_corpus,
    injection_notes,
    obeying_model,
)
from tests.drafting.fakes import StructuredFakeChatModel, tool_reply
from tests.drafting.simulator import REPS, Rep, leads, when


def bench_grounding(n: int) -> None:
    corpus = grounding_corpus(n, seed=2025)
    by_kind: Counter[str] = Counter()
    hit_kind: Counter[str] = Counter()
    missed: list[str] = []
    for item in corpus:
        found = unverified_claims(item.draft, item.facts)
        for claim in item.invented:
            start = item.draft.body.find(claim)
            end = start + len(claim)
            kind = next((u.kind for u in found if u.span[0] < end and start < u.span[1]), None)
            label = _label(claim)
            by_kind[label] += 1
            if kind is not None:
                hit_kind[label] += 1
            else:
                missed.append(claim)
    clean = [item for item in corpus if not item.invented]
    false = [item for item in clean if unverified_claims(item.draft, item.facts)]
    total, hits = sum(by_kind.values()), sum(hit_kind.values())
    print(
        f"grounding: {len(corpus)} drafts, {len(corpus) - len(clean)} with "
        f"{total} invented claims, {len(clean)} clean"
    )
    print(f"  recall of invented claims   {hits}/{total} = {hits / total:.1%}")
    for label in sorted(by_kind):
        print(f"    {label:<14} {hit_kind[label]}/{by_kind[label]}")
    if missed:
        print(f"    missed: {', '.join(sorted(set(missed)))}")
    print(
        f"  clean drafts falsely flagged {len(false)}/{len(clean)} = {len(false) / len(clean):.1%}"
    )


def _label(claim: str) -> str:
    if claim.startswith("$"):
        return "amount"
    if claim.endswith("%"):
        return "percent"
    if claim.endswith("x") and claim[:-1].isdigit():
        return "multiplier"
    if claim.replace(",", "").isdigit():
        return "number"
    if claim.split()[0] in ("January", "March", "May", "July", "September", "November"):
        return "date"
    if claim.startswith("Our "):
        return "product claim"
    return "name"


def bench_injection() -> None:
    notes = injection_notes()
    flagged = sum(bool(injection_flags({"notes": note})) for note, _ in notes)
    clean_flagged = sum(bool(injection_flags({"notes": note})) for note in CLEAN_NOTES)
    drafter = LLMDrafter(obeying_model(dict(notes)))
    rng = random.Random(9)
    caught = 0
    for note, _ in notes:
        facts = dataclasses.replace(_lead(rng, 0), notes=note)
        review = review_draft(drafter.draft(facts), facts)
        caught += bool(review.unverified_claims or review.risk_flags)
    print(
        f"injection: notes with attempts flagged {flagged}/{len(notes)}; "
        f"ordinary notes flagged {clean_flagged}/{len(CLEAN_NOTES)}"
    )
    print(
        f"  drafts from a model obeying the notes, caught by risk/grounding: {caught}/{len(notes)}"
    )


def bench_learning(rounds: int, per_round: int, max_words: int) -> None:
    drafter, records, rules = TemplateDrafter(), [], []  # type: ignore[var-annotated]
    reps = {r: Rep(r, max_words) for r in REPS}
    print(
        f"learning: {len(REPS)} simulated reps (limit {max_words} words), "
        f"{rounds} rounds of {per_round} template drafts"
    )
    print("  round  mean norm. edit distance  approved unedited  mean words  rules in use")
    first = 0.0
    for round_no in range(rounds):
        distances, untouched, words = [], 0, []
        for i, (facts, rep) in enumerate(leads(per_round, seed=500 + round_no)):
            draft = apply(rules, drafter.draft(facts), rep)
            before = f"Subject: {draft.subject}\n\n{draft.body}"
            edited = reps[rep].edit(draft.body)
            after = f"Subject: {draft.subject}\n\n{edited}"
            records.append(EditRecord(before, after, rep, when(round_no, i)))
            distances.append(normalised_distance(before, after))
            untouched += before == after
            words.append(len(edited.split()))
        mean = statistics.fmean(distances)
        first = first or mean
        print(
            f"  {round_no + 1:>5}  {mean:>24.4f}  {untouched / per_round:>17.1%}  "
            f"{statistics.fmean(words):>10.1f}  {len(rules):>11}"
        )
        rules = learn_rules(records)
    print(f"  fall in mean edit distance, round 1 to {rounds}: {1 - mean / first:.1%}")


def bench_throughput(n: int, concurrency: int, delay_s: float, sample: int) -> None:
    def model() -> StructuredFakeChatModel:
        return StructuredFakeChatModel(
            messages=iter(()), respond=lambda m: tool_reply(), delay_s=delay_s
        )

    batch = [LeadFacts(crm_id=str(i), first_name=f"L{i}", company="Acme Corp") for i in range(n)]
    start = time.perf_counter()
    for facts in batch[:sample]:
        LLMDrafter(model()).draft(facts)
    per_draft = (time.perf_counter() - start) / sample
    sequential = per_draft * n
    start = time.perf_counter()
    results = draft_many(LLMDrafter(model()), batch, concurrency=concurrency)
    concurrent = time.perf_counter() - start
    ideal = n * delay_s / concurrency
    ok = sum(r.draft is not None and r.draft.fallback_reason is None for r in results)
    print(
        f"throughput: {n} drafts, fake model {delay_s * 1000:.0f} ms a call, "
        f"concurrency {concurrency}"
    )
    print(
        f"  sequential  {sequential:8.1f} s  (measured on {sample} drafts, "
        f"{per_draft * 1000:.0f} ms each, x{n})"
    )
    print(f"  concurrent  {concurrent:8.1f} s  ({ok}/{n} drafts ok)")
    print(
        f"  ideal       {ideal:8.1f} s  -> {ideal / concurrent:.0%} of ideal; "
        f"speed-up x{sequential / concurrent:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=200)
    parser.add_argument("--drafts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--sample", type=int, default=20)
    args = parser.parse_args()
    bench_grounding(args.corpus)
    print()
    bench_injection()
    print()
    for limit in (60, 45):
        bench_learning(args.rounds, args.per_round, limit)
        print()
    bench_throughput(args.drafts, args.concurrency, args.delay, args.sample)


if __name__ == "__main__":
    main()
