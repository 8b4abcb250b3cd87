"""Outcomes from Salesforce: replies and bounces from EmailMessage, meetings from Event.

Enhanced Email logs every email as an ``EmailMessage``. A reply is an incoming one whose
``ReplyToEmailMessageId`` names our outgoing email; a bounce is our outgoing email with
``IsBounced`` set. Our outgoing email's ``ActivityId`` is the email log Task leadloop wrote
when it sent (the send's message id), and that Task's ``WhoId`` is the lead. A meeting is
an ``Event`` on the lead (``WhoId``). Both objects are read by (SystemModstamp, Id) and
merged in that order, so one cursor covers them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.base import SyncCursor
from connectors.outcomes import OutcomeEvent, OutcomeKind
from connectors.salesforce import records

Records = Callable[[str], Iterator[dict[str, Any]]]
_EMAILS = ("SELECT Id, Incoming, IsBounced, ReplyToEmailMessageId, ActivityId, Subject, "
           "MessageDate, SystemModstamp FROM EmailMessage "
           "WHERE (Incoming = true OR IsBounced = true){after} ORDER BY SystemModstamp, Id")
_EVENTS = ("SELECT Id, WhoId, Subject, StartDateTime, SystemModstamp FROM Event "
           "WHERE WhoId != null{after} ORDER BY SystemModstamp, Id")
_CHUNK = 200


def fetch_outcomes(read: Records, since: SyncCursor | None) -> Iterator[OutcomeEvent]:
    """Outcome events after ``since``, in (SystemModstamp, Id) order.

    Args:
        read: runs one SOQL query and yields its records, following pages.
        since: where the last read stopped.

    Returns:
        Replies and bounces tied to our sent email (by its log Task id) and its lead, and
        meetings on a lead. An EmailMessage that answers no email of ours is left out.
    """
    after = _after(since)
    merged = heapq.merge(_email_events(read, after), _meetings(read, after),
                         key=lambda e: (e.modified_at, e.event_id))
    for event in merged:
        if since is not None and (event.modified_at, event.event_id) <= (
                since.modified_at, since.last_id):
            continue
        yield event


def _email_events(read: Records, after: str) -> Iterator[OutcomeEvent]:
    page: list[dict[str, Any]] = []
    for record in read(_EMAILS.format(after=after)):
        page.append(record)
        if len(page) == _CHUNK:
            yield from _resolve(read, page)
            page = []
    yield from _resolve(read, page)


def _resolve(read: Records, page: Sequence[dict[str, Any]]) -> Iterator[OutcomeEvent]:
    """Tie a page of EmailMessages to our email log Tasks and their leads."""
    if not page:
        return
    replied_to = [str(r["ReplyToEmailMessageId"]) for r in page
                  if r.get("Incoming") and r.get("ReplyToEmailMessageId")]
    activity = {str(r["Id"]): r.get("ActivityId") for r in page}
    for record in read(f"SELECT Id, ActivityId FROM EmailMessage WHERE Id IN "
                       f"({_quoted(replied_to)})") if replied_to else ():
        activity[str(record["Id"])] = record.get("ActivityId")
    tasks = {str(a) for a in activity.values() if a}
    lead_of = {str(r["Id"]): r.get("WhoId") for r in read(
        f"SELECT Id, WhoId FROM Task WHERE Id IN ({_quoted(sorted(tasks))})")} if tasks else {}
    for record in page:
        incoming = bool(record.get("Incoming"))
        outgoing = str(record["ReplyToEmailMessageId"] or "") if incoming else str(record["Id"])
        task_id = activity.get(outgoing)
        lead = lead_of.get(str(task_id)) if task_id else None
        if not task_id or not lead:
            continue
        yield OutcomeEvent(
            event_id=str(record["Id"]),
            kind=OutcomeKind.REPLIED if incoming else OutcomeKind.BOUNCED,
            lead_crm_id=str(lead), message_id=str(task_id),
            occurred_at=_time(record.get("MessageDate") if incoming
                              else record.get("SystemModstamp")),
            modified_at=_time(record.get("SystemModstamp")),
            detail=str(record.get("Subject") or "")[:255])


def _meetings(read: Records, after: str) -> Iterator[OutcomeEvent]:
    for record in read(_EVENTS.format(after=after)):
        yield OutcomeEvent(
            event_id=str(record["Id"]), kind=OutcomeKind.MEETING_BOOKED,
            lead_crm_id=str(record["WhoId"]),
            occurred_at=_time(record.get("StartDateTime") or record.get("SystemModstamp")),
            modified_at=_time(record.get("SystemModstamp")),
            detail=str(record.get("Subject") or "")[:255])


def _after(since: SyncCursor | None) -> str:
    if since is None:
        return ""
    stamp = records.soql_datetime(since.modified_at)
    return f" AND SystemModstamp >= {stamp}"


def _quoted(ids: Iterable[str]) -> str:
    return ", ".join(records.soql_string(i) for i in ids)


def _time(value: Any) -> datetime:
    return records.parse_datetime(value) or datetime.min.replace(tzinfo=UTC)
