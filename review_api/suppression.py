"""The suppression list: addresses and whole domains leadloop never drafts for nor emails.

An entry is an address (``ann@acme.example``) or a domain, kept as ``@acme.example``.
Unsubscribes, opt-outs seen at send and deleted leads add addresses; an admin adds either.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from review_api.errors import BadRequestError
from review_api.store.models import Suppression

_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN = re.compile(r"^@?([a-z0-9-]+\.)+[a-z]{2,}$")


class BadSuppressionError(BadRequestError):
    code = "bad_suppression"


def entry_for(text: str) -> str:
    """The stored form of an address or a domain; raises BadSuppressionError if neither."""
    value = text.strip().lower()
    if _ADDRESS.match(value):
        return value
    if _DOMAIN.match(value):
        return value if value.startswith("@") else f"@{value}"
    raise BadSuppressionError(f"{text!r} is neither an email address (ann@acme.example) "
                              "nor a domain (acme.example)")


def find(*, session: Session, address: str) -> Suppression | None:
    """The entry that suppresses ``address`` (the address itself, or its domain), or None."""
    address = address.strip().lower()
    domain = "@" + address.rsplit("@", 1)[-1]
    return session.get(Suppression, address) or session.get(Suppression, domain)


def add(*, session: Session, entry: str, reason: str, now: datetime,
        crm_id: str | None = None) -> tuple[Suppression, bool]:
    """Suppress an address or a domain; returns the entry and whether it is new."""
    key = entry_for(entry)
    found = session.get(Suppression, key)
    if found is not None:
        return found, False
    row = Suppression(email=key, reason=reason, crm_id=crm_id, created_at=now)
    session.add(row)
    session.flush()
    return row, True


def remove(*, session: Session, entry: str) -> bool:
    """Lift a suppression; False when there was none."""
    found = session.get(Suppression, entry_for(entry))
    if found is None:
        return False
    session.delete(found)
    return True


def entries(*, session: Session) -> list[Suppression]:
    """Every entry, oldest first."""
    return list(session.scalars(select(Suppression).order_by(Suppression.created_at,
                                                             Suppression.email)))
