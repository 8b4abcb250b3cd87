"""Few-shot examples for a model drafter: the same rep's own recent approved edits.

A rep's edits teach the model how that rep writes. Only the rep's own edited approvals
count (another rep's style is not theirs), only the most recent ones, at most a few per
draft, and with personal data masked (addresses, phone numbers, the greeted name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from drafting.base import Drafter, LeadFacts
from drafting.learning import EditExample, EditRecord, similar_examples
from drafting.masking import mask_example

#: Examples shown per draft, edits considered per rep, characters kept per example text.
MAX_EXAMPLES = 3
RECENT_EDITS = 30
MAX_EXAMPLE_CHARS = 1_200


def _clip(text: str) -> str:
    return text if len(text) <= MAX_EXAMPLE_CHARS else text[: MAX_EXAMPLE_CHARS - 1] + "…"


def rep_examples(
    records: Iterable[EditRecord | Mapping[str, Any]],
    base_drafter: Drafter,
    *,
    rep_of: Callable[[LeadFacts], str],
    k: int = MAX_EXAMPLES,
    recent: int = RECENT_EDITS,
) -> Callable[[LeadFacts], list[EditExample]]:
    """An ``examples_for`` hook for :class:`~drafting.llm.LLMDrafter`.

    Args:
        records: Decisions on drafts (as for :func:`drafting.learning.learn_rules`).
        base_drafter: Drafts the lead cheaply (the templates) to find the most similar edits.
        rep_of: The rep a lead's draft is for, as in the decisions' ``decided_by``.
        k: At most this many examples per draft.
        recent: Only the rep's this many most recent edited approvals are considered.

    Returns:
        A function of a lead's facts giving its rep's examples, masked; none for a rep
        with no edits.
    """
    floor = datetime.min.replace(tzinfo=UTC)
    by_rep: dict[str, list[EditRecord]] = {}
    for row in records:
        record = row if isinstance(row, EditRecord) else EditRecord.from_mapping(row)
        if record.edited and record.rep:
            by_rep.setdefault(record.rep, []).append(record)
    for rep, edits in by_rep.items():
        edits.sort(key=lambda r: _aware(r.decided_at) or floor, reverse=True)
        by_rep[rep] = edits[:recent]

    def pick(facts: LeadFacts) -> list[EditExample]:
        rep = rep_of(facts)
        mine = by_rep.get(rep) if rep else None
        if not mine:
            return []
        draft = base_drafter.draft(facts)
        chosen = similar_examples(mine, f"Subject: {draft.subject}\n\n{draft.body}", rep=rep,
                                  k=k)
        return [EditExample(_clip(mask_example(e.before)), _clip(mask_example(e.after)), e.rep)
                for e in chosen]

    return pick


def _aware(when: datetime | None) -> datetime | None:
    return when if when is None or when.tzinfo else when.replace(tzinfo=UTC)


def attach(drafter: Any, records: Iterable[EditRecord | Mapping[str, Any]],
           rep_of: Callable[[LeadFacts], str]) -> bool:
    """Give a model drafter its reps' examples for this run; False for other drafters.

    A drafter built with examples of its own (``examples_for`` set by its caller) keeps them.
    """
    if not hasattr(drafter, "examples_for") or not hasattr(drafter, "fallback"):
        return False
    current = drafter.examples_for
    if current is not None and not getattr(current, "from_rep_edits", False):
        return False
    hook = rep_examples(records, drafter.fallback, rep_of=rep_of)
    hook.from_rep_edits = True  # type: ignore[attr-defined]
    drafter.examples_for = hook
    return True
