"""Outcomes of sent emails: imported from the CRM once each, tied to the proposal that sent
the email, and read back as one outcome per proposal for the audit chain and the labels."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.outcomes import OUTCOME_RANK, OutcomeEvent, OutcomeKind
from review_api import suppression
from review_api.store.models import (
    AuditEvent,
    Lead,
    LeadSnapshot,
    OutboxEmail,
    OutcomeEventRow,
)

LEADLOOP_SOURCE = "leadloop"  # outcomes leadloop infers: no reply after N days, an opt-out
ANSWERED = (OutcomeKind.REPLIED, OutcomeKind.MEETING_BOOKED)


@dataclass
class ImportCounts:
    """What one import did."""

    new: int = 0
    already_known: int = 0
    unmatched: int = 0  # no email of ours to tie it to (kept, without a proposal)


@dataclass(frozen=True)
class Outcome:
    """A proposal's outcome: the strongest kind recorded, and when it happened."""

    kind: str
    at: datetime | None


def import_events(*, session: Session, source: str, events: Iterable[OutcomeEvent],
                  now: datetime) -> ImportCounts:
    """Store each event once by (source, event_id), tied to the email it answers."""
    counts = ImportCounts()
    for event in events:
        if _known(session, source, event.event_id):
            counts.already_known += 1
            continue
        sent = _email_answered(session, event)
        counts.unmatched += sent is None
        _record(session, source=source, event_id=event.event_id, kind=event.kind,
                crm_id=event.lead_crm_id, sent=sent, occurred_at=event.occurred_at,
                message_id=event.message_id, detail=event.detail, now=now)
        counts.new += 1
        if event.kind is OutcomeKind.BOUNCED and sent is not None:
            # A hard bounce: the address is not mailed again (the suppression list).
            suppression.add(session=session, entry=sent.to_address, reason="bounced",
                            now=now, crm_id=event.lead_crm_id)
    return counts


def infer(*, session: Session, now: datetime, no_reply_days: int) -> int:
    """Record what the CRM shows only by absence or on the lead: an opt-out after our email
    (``unsubscribed``), and no answer at all after ``no_reply_days`` (``no_reply``).

    Returns how many outcomes were recorded; a second call at the same moment records none.
    """
    recorded = 0
    rows = session.execute(
        select(OutboxEmail, LeadSnapshot)
        .outerjoin(Lead, Lead.crm_id == OutboxEmail.crm_id)
        .outerjoin(LeadSnapshot, LeadSnapshot.id == Lead.snapshot_id)
        .where(OutboxEmail.state == "sent", OutboxEmail.sent_at.is_not(None))
        .order_by(OutboxEmail.id)).all()
    have = kinds_by_proposal(session=session, proposal_ids=[o.proposal_id for o, _ in rows])
    for sent, snapshot in rows:
        assert sent.sent_at is not None
        kinds = have.get(sent.proposal_id, set())
        opted_out = snapshot is not None and bool((snapshot.payload or {}).get("email_opt_out"))
        if (opted_out and OutcomeKind.UNSUBSCRIBED not in kinds and snapshot is not None
                and snapshot.crm_modified_at >= sent.sent_at):
            _record(session, source=LEADLOOP_SOURCE,
                    event_id=f"unsubscribed:{sent.proposal_id}", kind=OutcomeKind.UNSUBSCRIBED,
                    crm_id=sent.crm_id, sent=sent, occurred_at=snapshot.crm_modified_at,
                    message_id=sent.message_id, detail="the lead opted out in the CRM", now=now)
            kinds.add(OutcomeKind.UNSUBSCRIBED)
            recorded += 1
        quiet_since = sent.sent_at + timedelta(days=no_reply_days)
        if not kinds and quiet_since <= now:
            _record(session, source=LEADLOOP_SOURCE, event_id=f"no_reply:{sent.proposal_id}",
                    kind=OutcomeKind.NO_REPLY, crm_id=sent.crm_id, sent=sent,
                    occurred_at=quiet_since, message_id=sent.message_id,
                    detail=f"no reply {no_reply_days} days after sending", now=now)
            recorded += 1
    return recorded


def kinds_by_proposal(*, session: Session, proposal_ids: Sequence[int]
                      ) -> dict[int, set[OutcomeKind]]:
    """The outcome kinds recorded for each proposal."""
    found: dict[int, set[OutcomeKind]] = defaultdict(set)
    for pid, kind in session.execute(
            select(OutcomeEventRow.proposal_id, OutcomeEventRow.kind)
            .where(OutcomeEventRow.proposal_id.in_(proposal_ids))):
        if pid is not None:
            found[pid].add(OutcomeKind(kind))
    return found


def strongest(events: Iterable[tuple[str, datetime]], *, lead_status: str | None,
              sent: bool) -> Outcome | None:
    """One outcome from a proposal's events: the strongest, or ``converted`` when the lead
    converted after we emailed it; None when nothing is known yet."""
    best: Outcome | None = None
    for kind, at in events:
        if best is None or OUTCOME_RANK[OutcomeKind(kind)] > OUTCOME_RANK[OutcomeKind(best.kind)]:
            best = Outcome(kind, at)
    if sent and lead_status == OutcomeKind.CONVERTED.value:
        return Outcome(OutcomeKind.CONVERTED.value, best.at if best else None)
    return best


def events_for(*, session: Session, proposal_ids: Sequence[int]
               ) -> dict[int, list[OutcomeEventRow]]:
    """Each proposal's outcome events, oldest first."""
    found: dict[int, list[OutcomeEventRow]] = defaultdict(list)
    for row in session.scalars(
            select(OutcomeEventRow).where(OutcomeEventRow.proposal_id.in_(proposal_ids))
            .order_by(OutcomeEventRow.occurred_at, OutcomeEventRow.id)):
        assert row.proposal_id is not None
        found[row.proposal_id].append(row)
    return found


def answered_leads(*, session: Session, crm_ids: Sequence[str]) -> set[str]:
    """The leads that answered one of our emails (a reply or a meeting): no follow-up."""
    return set(session.scalars(
        select(OutcomeEventRow.crm_id).where(
            OutcomeEventRow.crm_id.in_(crm_ids),
            OutcomeEventRow.kind.in_([k.value for k in ANSWERED]))))


def chain(*, session: Session, proposal_id: int, lead_status: str | None,
          sent: bool) -> dict[str, Any]:
    """The outcome part of a proposal's audit chain: the outcome and the events behind it."""
    rows = events_for(session=session, proposal_ids=[proposal_id]).get(proposal_id, [])
    best = strongest([(r.kind, r.occurred_at) for r in rows], lead_status=lead_status,
                     sent=sent)
    return {
        "outcome": best.kind if best else None,
        "outcome_at": best.at if best else None,
        "outcome_events": [{"kind": r.kind, "at": r.occurred_at, "source": r.source,
                            "event_id": r.event_id, "detail": r.detail} for r in rows],
        "lead_status": lead_status,
    }


def _known(session: Session, source: str, event_id: str) -> bool:
    return session.scalar(select(OutcomeEventRow.id).where(
        OutcomeEventRow.source == source, OutcomeEventRow.event_id == event_id)) is not None


def _email_answered(session: Session, event: OutcomeEvent) -> OutboxEmail | None:
    """The sent email the event answers: the one it names, else the lead's latest before."""
    if event.message_id:
        named = session.scalars(select(OutboxEmail).where(
            OutboxEmail.message_id == event.message_id,
            OutboxEmail.crm_id == event.lead_crm_id, OutboxEmail.state == "sent")).first()
        if named is not None:
            return named
    return session.scalars(
        select(OutboxEmail).where(OutboxEmail.crm_id == event.lead_crm_id,
                                  OutboxEmail.state == "sent",
                                  OutboxEmail.sent_at <= event.occurred_at)
        .order_by(OutboxEmail.sent_at.desc(), OutboxEmail.id.desc())).first()


def _record(session: Session, *, source: str, event_id: str, kind: OutcomeKind, crm_id: str,
            sent: OutboxEmail | None, occurred_at: datetime, message_id: str | None,
            detail: str, now: datetime) -> None:
    proposal_id = sent.proposal_id if sent is not None else None
    session.add(OutcomeEventRow(
        source=source, event_id=event_id, kind=kind.value, crm_id=crm_id,
        proposal_id=proposal_id, message_id=message_id, occurred_at=occurred_at,
        imported_at=now, detail=detail[:2000]))
    session.flush()
    if proposal_id is not None:
        session.add(AuditEvent(
            proposal_id=proposal_id, event="outcome", actor=source, at=now,
            detail={"outcome": kind.value, "occurred_at": occurred_at.isoformat(),
                    "event_id": event_id, "detail": detail[:500]}))
