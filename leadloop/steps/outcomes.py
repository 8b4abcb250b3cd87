"""Outcomes: what became of each sent email, imported from the CRM by cursor.

Replies, bounces and meetings are read from the CRM page by page; each is stored once by
the CRM's event id against the proposal whose email it answers, so a re-read (the cursor's
look-back, a crash before the cursor moved, a second run) changes nothing. Then what the
CRM shows only by absence or on the lead is inferred: an opt-out after our email, and no
answer at all after N days.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import CRMConnector, SyncCursor
from connectors.outcomes import OutcomeEvent
from review_api import outcomes
from review_api.store.db import Store
from review_api.store.models import OutboxEmail

OUTCOMES_STREAM = "outcomes"
BATCH = 200
Advance = Callable[[Session, str, datetime, str], None]


@dataclass
class OutcomeReport:
    """What one import read and stored."""

    read: int = 0
    new: int = 0
    already_known: int = 0
    unmatched: int = 0
    inferred: int = 0
    funnel: dict[str, int] = field(default_factory=dict)


def import_outcomes(*, store: Store, connector: CRMConnector, since: SyncCursor | None,
                    now: datetime, no_reply_days: int, advance: Advance,
                    tick: Callable[[int], None] = lambda _n: None) -> OutcomeReport:
    """Read outcome events after ``since`` into the store, then infer the rest."""
    report = OutcomeReport()
    for batch in _batched(connector.fetch_outcomes(since=since)):
        with store.session() as session:
            counts = outcomes.import_events(session=session, source=connector.name,
                                            events=batch, now=now)
            report.read += len(batch)
            report.new += counts.new
            report.already_known += counts.already_known
            report.unmatched += counts.unmatched
            # The cursor moves in the transaction that stored the batch it covers.
            advance(session, OUTCOMES_STREAM, batch[-1].modified_at, batch[-1].event_id)
        tick(len(batch))
    with store.session() as session:
        report.inferred = outcomes.infer(session=session, now=now, no_reply_days=no_reply_days)
        report.funnel = funnel(session=session)
    return report


def funnel(*, session: Session) -> dict[str, int]:
    """Sent emails and how many earned each outcome (a meeting counts as a reply too)."""
    sent = list(session.scalars(select(OutboxEmail.proposal_id)
                                .where(OutboxEmail.state == "sent")))
    kinds = outcomes.kinds_by_proposal(session=session, proposal_ids=sent)
    counts: Counter[str] = Counter()
    for pid in sent:
        got = {k.value for k in kinds.get(pid, set())}
        counts["replied"] += bool(got & {"replied", "meeting_booked"})
        for kind in ("meeting_booked", "bounced", "unsubscribed", "no_reply"):
            counts[kind] += kind in got
    return {"sent": len(sent), **{k: counts[k] for k in (
        "replied", "meeting_booked", "bounced", "unsubscribed", "no_reply")}}


def _batched(events: Iterable[OutcomeEvent]) -> Iterator[list[OutcomeEvent]]:
    iterator = iter(events)
    while chunk := list(islice(iterator, BATCH)):
        yield chunk
