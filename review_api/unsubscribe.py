"""One-click unsubscribe (RFC 8058): the signed token in every email's link, and the opt-out.

A token names the proposal whose email carried it and is signed with a secret the store
keeps (made once, on first use), so nobody can make a valid link for someone else's
address. An opt-out puts the address on the suppression list, cancels the lead's drafts
that have not left yet (their CRM tasks are closed through the task-update queue) and is
audited; doing it again changes nothing. Writing the opt-out into the CRM is the caller's
part (the review API calls back into leadloop, which holds the connector).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from review_api import lifecycle, service, suppression
from review_api.errors import ReviewError
from review_api.store.db import Store
from review_api.store.models import Lead, Proposal, SigningKey
from review_api.workflow import ProposalState

KEY_NAME = "unsubscribe"
_TOKEN = re.compile(r"^(\d{1,10})\.([A-Za-z0-9_-]{22})$")
_OPEN = (ProposalState.PENDING, ProposalState.APPROVED, ProposalState.SEND_FAILED)
REASON = "unsubscribed with the one-click link"


class BadTokenError(ReviewError):
    code = "bad_unsubscribe_link"


@dataclass(frozen=True, slots=True)
class OptOut:
    """What an unsubscribe did: who, and whether it was new."""

    crm_id: str
    address: str
    new: bool
    cancelled: int


def signing_secret(store: Store) -> bytes:
    """The store's unsubscribe signing secret, made on first use (one for every process)."""
    with store.session() as session:
        row = session.get(SigningKey, KEY_NAME)
        if row is not None:
            return bytes.fromhex(row.secret)
    try:
        with store.session() as session:
            session.add(SigningKey(name=KEY_NAME, secret=secrets.token_hex(32)))
    except IntegrityError:
        pass  # another process made it first: theirs is the one
    with store.session() as session:
        return bytes.fromhex(session.get_one(SigningKey, KEY_NAME).secret)


def _mac(secret: bytes, proposal_id: int) -> str:
    digest = hmac.new(secret, f"unsubscribe:v1:{proposal_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:16]).decode().rstrip("=")


def make_token(secret: bytes, proposal_id: int) -> str:
    """The token for the email of ``proposal_id``: its id and a 128-bit signature."""
    return f"{proposal_id}.{_mac(secret, proposal_id)}"


def read_token(secret: bytes, token: str) -> int:
    """The proposal id a token names; raises BadTokenError for a malformed or forged one."""
    match = _TOKEN.match(token)
    if match is None or not hmac.compare_digest(_mac(secret, int(match[1])), match[2]):
        raise BadTokenError("this unsubscribe link is not valid (it may have been cut short "
                            "when copied); use the link in the email as it is")
    return int(match[1])


def opt_out(*, session: Session, proposal_id: int, now: datetime, via: str) -> OptOut:
    """Suppress the address the proposal's email went to and cancel the lead's open drafts."""
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise BadTokenError("this unsubscribe link names an email leadloop does not hold")
    outbox = service.outbox_for(session=session, proposal_id=proposal_id)
    lead = session.get(Lead, proposal.crm_id)
    address = (outbox.to_address if outbox is not None
               else lead.email if lead is not None else "")
    if not address:
        raise BadTokenError("this unsubscribe link names an email without an address")
    _, new = suppression.add(session=session, entry=address, reason=REASON,
                             crm_id=proposal.crm_id, now=now)
    cancelled = 0
    for other in session.scalars(select(Proposal).where(
            Proposal.crm_id == proposal.crm_id, Proposal.kind == service.DRAFT,
            Proposal.state.in_([s.value for s in _OPEN]))):
        lifecycle.cancel(session=session, proposal=other, now=now,
                         why=f"{address} unsubscribed at {service.stamp(now)}")
        row = service.outbox_for(session=session, proposal_id=other.id)
        if row is not None and row.state in ("queued", "failed"):
            row.state = "cancelled"
        cancelled += 1
    if new:
        service.audit(session=session, proposal_id=proposal_id, event="unsubscribed",
                      actor="lead", at=now,
                      detail={"address": address, "via": via, "cancelled": cancelled})
    return OptOut(crm_id=proposal.crm_id, address=address, new=new, cancelled=cancelled)

