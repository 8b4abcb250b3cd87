"""Personal data out of text the model sees: email addresses, phone numbers, greeted names."""

from __future__ import annotations

import re

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_RE = re.compile(r"(?<![\w+(])[+(]?\d[\d ()./-]{6,}\d(?!\w)")
_GREETING_RE = re.compile(
    r"^((?:Hi|Hello|Hey|Dear|Good (?:morning|afternoon))[ \t]+)([^\s,!:]+(?:[ \t][A-Z][^\s,!:]*)?)",
    re.MULTILINE,
)


def mask_contacts(text: str) -> str:
    """Free text with email addresses and phone numbers replaced by placeholders."""
    text = _EMAIL_RE.sub("[email]", text)
    return _PHONE_RE.sub(
        lambda m: "[phone]" if sum(c.isdigit() for c in m.group(0)) >= 7 else m.group(0), text
    )


def mask_example(text: str) -> str:
    """A past email made safe to show as an example: contacts and the greeted name masked."""
    return _GREETING_RE.sub(r"\1[first name]", mask_contacts(text))
