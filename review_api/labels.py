"""What a decision teaches: the diff and edit distance between proposed and final text."""

from __future__ import annotations

import difflib

from rapidfuzz.distance import Levenshtein


def text_diff(original: str, final: str) -> str:
    """A unified diff of the rep's edit, line by line; empty when unchanged."""
    if original == final:
        return ""
    lines = difflib.unified_diff(
        original.splitlines(), final.splitlines(), "proposed", "approved", lineterm=""
    )
    return "\n".join(lines)


def edit_distance(original: str, final: str) -> int:
    """Characters inserted, deleted or substituted to turn the proposal into the final text."""
    return int(Levenshtein.distance(original, final))
