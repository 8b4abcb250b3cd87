"""The one wording for an id the user gave that does not exist: what kind of thing, the id,
the closest known ids, and the command that lists them all."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from leadloop.errors import LeadloopError


def unknown_id(kind: str, given: str, known: Iterable[str], *, listing: str) -> LeadloopError:
    """The error for an unknown id: "no model version 'm-1'; did you mean 'm-12'? (...)"."""
    candidates = sorted({str(k) for k in known})
    close = difflib.get_close_matches(given, candidates, n=3, cutoff=0.75)
    if not close:  # a prefix of a long id is the commonest near miss
        close = [c for c in candidates if given and c.startswith(given)][:3]
    if close:
        hint = "did you mean " + " or ".join(repr(c) for c in close) + "? "
    elif not candidates:
        hint = "there are none yet; "
    else:
        hint = ""
    return LeadloopError(f"no {kind} {given!r}; {hint}{listing} lists them")
