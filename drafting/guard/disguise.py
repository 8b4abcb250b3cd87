"""Disguises: text dressed up to slip past a detector, undone before detection and reported.

Three kinds are stripped or folded, and their presence is itself a finding:

* ``bidi``: direction overrides and isolates (U+202A-U+202E, U+2066-U+2069) that make text
  display in another order than it is read;
* ``zero_width``: zero-width space, joiners, word joiner and a BOM inside the text (U+200B-
  U+200D, U+2060, U+FEFF), which split words for a pattern but not for a reader or a model;
* ``look_alike``: Cyrillic or Greek letters that look like Latin ones, mixed into a Latin word
  ("Іgnоre"), and compatibility forms (fullwidth, mathematical, Roman-numeral letters) that
  NFKC turns into plain letters.

A whole word in Cyrillic or Greek is left alone: Russian or Greek notes are data, not a
disguise. A zero-width joiner between two emoji is how emoji are written, and a BOM at the
very start is an import artefact; neither is flagged.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
# Invisible marks we drop without flagging: soft hyphen and plain direction marks are common
# in text pasted from word processors.
_QUIET = frozenset("\u00ad\u200e\u200f\u2061\u2062\u2063\u2064")

# Letters that render like a Latin letter: Cyrillic, then Greek. Our own table, of the shapes
# that matter in an English sentence; Unicode's confusables list is far larger.
_LOOK_ALIKE: dict[str, str] = {
    **dict(zip("аВЕеКкМНОоРрСсТуХхІіЈјЅѕԁһӏԛԝА", "aBEeKkMHOoPpCcTyXxIiJjSsdhlqwA", strict=True)),
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧαικνορυχ", "ABEZHIKMNOPTYXaiknopux", strict=True)),
}
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Unmasked:
    """Text with its disguises undone, and which kinds of disguise it carried."""

    text: str
    disguises: tuple[str, ...] = ()


def _is_emoji(char: str) -> bool:
    return ord(char) >= 0x1F000 or unicodedata.category(char) == "So" or char == "\ufe0f"


def _strip_invisible(text: str, found: set[str]) -> str:
    out: list[str] = []
    for i, char in enumerate(text):
        if char in BIDI:
            found.add("bidi")
        elif char in ZERO_WIDTH:
            joins_emoji = (
                char == "\u200d"
                and 0 < i < len(text) - 1
                and _is_emoji(text[i - 1])
                and _is_emoji(text[i + 1])
            )
            if not joins_emoji and not (char == "\ufeff" and i == 0):
                found.add("zero_width")
            if joins_emoji:
                out.append(char)
        elif char not in _QUIET:
            out.append(char)
    return "".join(out)


def _fold_word(match: re.Match[str], found: set[str]) -> str:
    word = match.group(0)
    if not _LATIN_LETTER.search(word) or not any(c in _LOOK_ALIKE for c in word):
        return word
    found.add("look_alike")
    return "".join(_LOOK_ALIKE.get(c, c) for c in word)


def _compat_letters(text: str) -> bool:
    """Whether NFKC turns any non-ASCII character into a plain Latin letter."""
    return any(
        not c.isascii() and unicodedata.normalize("NFKC", c).isascii()
        and _LATIN_LETTER.search(unicodedata.normalize("NFKC", c)) is not None
        for c in text
    )


def unmask(text: str) -> Unmasked:
    """Strip invisible characters, apply NFKC and fold look-alike letters in Latin words."""
    found: set[str] = set()
    visible = _strip_invisible(text, found)
    if _compat_letters(visible):
        found.add("look_alike")
    plain = unicodedata.normalize("NFKC", visible)
    folded = _WORD.sub(lambda m: _fold_word(m, found), plain)
    order = ("bidi", "zero_width", "look_alike")
    return Unmasked(folded, tuple(kind for kind in order if kind in found))
