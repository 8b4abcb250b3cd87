"""How well injection detection generalises: cross-validation and a held-out set, side by side.

    .venv/bin/python -m benchmarks.guard_quality

Cross-validation (5 folds, stratified, fixed seed) retrains the classifier on four fifths of
the shipped corpus (``drafting/guard/corpus/``) and judges the fifth. The held-out set
(``tests/drafting/data/guard_heldout.jsonl``) was written before the classifier existed, in
another style (attempts buried in longer notes, other wording), and is never used to tune it.
Each line gives recall (attempts flagged) and the false-flag rate (ordinary texts flagged)
for the rules alone, the classifier alone, and both together (what leadloop uses), beside
the targets as ratios.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from sklearn.model_selection import StratifiedKFold

from drafting.guard.classifier import InjectionModel, train, training_corpus
from drafting.guard.injection import Verdict, verdict

HELD_OUT = Path(__file__).resolve().parent.parent / "tests/drafting/data/guard_heldout.jsonl"
RECALL_TARGET = 0.90
FALSE_FLAG_TARGET = 0.05
Detector = Callable[[Verdict], bool]
DETECTORS: dict[str, Detector] = {
    "rules only": lambda v: v.rules or v.disguise,
    "classifier only": lambda v: v.classifier,
    "rules + classifier": lambda v: v.flagged,
}


def held_out() -> tuple[list[str], list[int]]:
    """The held-out texts and labels (1 an attempt)."""
    rows = [json.loads(line) for line in HELD_OUT.read_text(encoding="utf-8").splitlines()]
    return [r["text"] for r in rows], [int(r["attack"]) for r in rows]


def rates(verdicts: Sequence[Verdict], labels: Sequence[int], detector: Detector
          ) -> tuple[int, int, int, int]:
    """(attempts flagged, attempts, ordinary flagged, ordinary)."""
    hits = sum(detector(v) for v, y in zip(verdicts, labels, strict=True) if y)
    false = sum(detector(v) for v, y in zip(verdicts, labels, strict=True) if not y)
    attempts = sum(labels)
    return hits, attempts, false, len(labels) - attempts


def cross_validated() -> tuple[list[Verdict], list[int]]:
    """Every training text judged by a model that did not see it."""
    texts, labels = training_corpus()
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    verdicts: list[Verdict | None] = [None] * len(texts)
    for fit_idx, test_idx in folds.split(texts, labels):
        model: InjectionModel = train([texts[i] for i in fit_idx], [labels[i] for i in fit_idx])
        for i in test_idx:
            verdicts[i] = verdict(texts[i], model)
    return [v for v in verdicts if v is not None], labels


def held_out_verdicts(model: InjectionModel | None = None) -> tuple[list[Verdict], list[int]]:
    """The held-out set judged by the shipped model (trained on the whole corpus)."""
    texts, labels = held_out()
    return [verdict(t, model) for t in texts], labels


def main() -> None:
    """Print recall and false-flag rate, CV and held-out, beside the targets."""
    _, labels = training_corpus()
    held_texts, held_labels = held_out()
    print(f"corpus: {sum(labels)} attempts, {len(labels) - sum(labels)} ordinary texts; "
          f"held-out: {sum(held_labels)} attempts, {len(held_labels) - sum(held_labels)} "
          "ordinary notes")
    print(f"targets on held-out: recall >= {RECALL_TARGET:.2f}, "
          f"false-flag rate <= {FALSE_FLAG_TARGET:.2f}")
    cv = cross_validated()
    held = held_out_verdicts()
    header = f"{'detector':<20} {'CV recall':>16} {'CV false-flag':>16} "
    header += f"{'held-out recall':>18} {'held-out false-flag':>20}"
    print(header)
    for name, detector in DETECTORS.items():
        a, n, f, m = rates(*cv, detector)
        ha, hn, hf, hm = rates(*held, detector)
        print(f"{name:<20} {f'{a}/{n} = {a / n:.2f}':>16} {f'{f}/{m} = {f / m:.2f}':>16} "
              f"{f'{ha}/{hn} = {ha / hn:.2f}':>18} {f'{hf}/{hm} = {hf / hm:.2f}':>20}")
    ha, hn, hf, hm = rates(*held, DETECTORS["rules + classifier"])
    print(f"held-out vs target: recall {ha / hn:.2f} / {RECALL_TARGET:.2f} = "
          f"{ha / hn / RECALL_TARGET:.2f}x; false-flag {hf / hm:.2f} / {FALSE_FLAG_TARGET:.2f} "
          f"= {hf / hm / FALSE_FLAG_TARGET:.2f}x (at most 1.00x)")
    missed = [t for t, v, y in zip(held_texts, held[0], held_labels, strict=True)
              if y and not v.flagged]
    false = [t for t, v, y in zip(held_texts, held[0], held_labels, strict=True)
             if not y and v.flagged]
    for text in missed:
        print(f"  missed attempt: {text[:90]!r}")
    for text in false:
        print(f"  flagged ordinary note: {text[:90]!r}")


if __name__ == "__main__":
    main()
