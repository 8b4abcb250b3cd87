"""API keys: who may call the review API, and as whom.

A key reads ``ll_<prefix>_<secret>``. Only the prefix (to find the row) and a SHA-256 of the
whole key are stored; the secret is shown once, at creation. Keys carry 256 bits of
randomness, so a plain hash (no slow KDF) is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from review_api.errors import ReviewError
from review_api.store.models import ApiKey


class Role(StrEnum):
    """What a key may do."""

    REP = "rep"  # sees and decides the proposals of the leads they own
    ADMIN = "admin"  # everything, including weights, rules and keys
    ANALYST = "analyst"  # reads proposals, labels and metrics; decides nothing


class BadKeyRequestError(ReviewError):
    """A key request is malformed."""

    code = "bad_key_request"


class UnauthenticatedError(ReviewError):
    """No key, an unknown key, or a revoked key."""

    code = "unauthenticated"


class ForbiddenError(ReviewError):
    """A valid key whose role or owner does not allow this."""

    code = "forbidden"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind a valid key."""

    key_id: int
    role: Role
    owner_id: str | None
    name: str

    @property
    def actor(self) -> str:
        """How the audit trail and labels name this caller."""
        if self.role is Role.REP and self.owner_id:
            return self.owner_id
        return f"{self.role}:{self.name}"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(
    *, session: Session, role: Role, owner_id: str | None = None, name: str = "",
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the plain key, which is never stored."""
    if role is Role.REP and not owner_id:
        raise BadKeyRequestError(
            "a rep key needs an owner: the CRM owner id whose leads it may decide")
    if role is not Role.REP and owner_id:
        raise BadKeyRequestError(f"an {role} key takes no owner")
    prefix = secrets.token_hex(6)
    plain = f"ll_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(prefix=prefix, key_hash=_digest(plain), role=role.value, owner_id=owner_id,
                 name=name or (owner_id or role.value))
    session.add(row)
    session.flush()
    return row, plain


_BY_PREFIX = select(ApiKey.id, ApiKey.key_hash, ApiKey.role, ApiKey.owner_id, ApiKey.name,
                    ApiKey.revoked_at).where(ApiKey.prefix == bindparam("prefix"))


def authenticate(*, session: Session, key: str | None) -> Principal:
    """The principal behind ``key``; UnauthenticatedError for a missing, wrong or revoked key."""
    if not key:
        raise UnauthenticatedError("an API key is required: send 'Authorization: Bearer <key>'")
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "ll":
        raise UnauthenticatedError("that is not a leadloop API key")
    # Columns, not an ORM object: every request runs this, and the row is only read.
    row = session.execute(_BY_PREFIX, {"prefix": parts[1]}).one_or_none()
    # Compare digests in constant time even when the prefix is unknown.
    expected = row.key_hash if row is not None else _digest("")
    if not hmac.compare_digest(expected, _digest(key)) or row is None:
        raise UnauthenticatedError("unknown API key")
    if row.revoked_at is not None:
        raise UnauthenticatedError("this API key was revoked")
    return Principal(key_id=row.id, role=Role(row.role), owner_id=row.owner_id, name=row.name)


def revoke(*, session: Session, key_id: int, now: datetime) -> ApiKey:
    """Revoke a key; it stays listed, marked revoked."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise BadKeyRequestError(f"no API key has id {key_id}")
    if row.revoked_at is None:
        row.revoked_at = now
    return row


def list_keys(*, session: Session) -> Sequence[ApiKey]:
    """Every key, oldest first, without secrets (none are stored)."""
    return session.scalars(select(ApiKey).order_by(ApiKey.id)).all()


def require(principal: Principal, *roles: Role) -> None:
    """ForbiddenError unless the principal has one of ``roles``."""
    if principal.role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise ForbiddenError(f"this needs an {allowed} key; yours is a {principal.role} key")
