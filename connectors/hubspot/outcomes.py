"""Outcomes from HubSpot: replies and bounces from email engagements, meetings from meetings.

A reply is an email object with ``hs_email_direction`` ``INCOMING_EMAIL``; a bounce is an
email with ``hs_email_status`` ``BOUNCED``; a meeting is a meeting object. Each is tied to
its contact through the v4 associations. The three searches are read by
(``hs_lastmodifieddate``, id) and merged in that order, so one cursor covers them; event
ids carry the object type (``emails/123``, ``meetings/45``), since ids are per type.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.base import SyncCursor
from connectors.hubspot.wire import EPOCH, from_hubspot_time
from connectors.outcomes import OutcomeEvent, OutcomeKind

if TYPE_CHECKING:
    from connectors.hubspot.connector import HubSpotConnector

STAMP = "hs_lastmodifieddate"
EMAIL_PROPERTIES = ["hs_email_direction", "hs_email_status", "hs_email_subject",
                    "hs_timestamp", STAMP]
MEETING_PROPERTIES = ["hs_meeting_title", "hs_meeting_start_time", "hs_timestamp", STAMP]
_PAGE = 100


def fetch_outcomes(connector: HubSpotConnector, since: SyncCursor | None
                   ) -> Iterator[OutcomeEvent]:
    """Replies, bounces and meetings after ``since``, in (modified_at, event_id) order."""
    start = SyncCursor(since.modified_at, "") if since else None
    api = connector.transport
    streams = [
        _events(connector, "emails", OutcomeKind.REPLIED, connector._search_ordered(
            what="search incoming emails", method=api.emails_search.do_search,
            stamp_property=STAMP, since=start, properties=EMAIL_PROPERTIES,
            filters=[{"propertyName": "hs_email_direction", "operator": "EQ",
                      "value": "INCOMING_EMAIL"}])),
        _events(connector, "emails", OutcomeKind.BOUNCED, connector._search_ordered(
            what="search bounced emails", method=api.emails_search.do_search,
            stamp_property=STAMP, since=start, properties=EMAIL_PROPERTIES,
            filters=[{"propertyName": "hs_email_status", "operator": "EQ",
                      "value": "BOUNCED"}])),
        _events(connector, "meetings", OutcomeKind.MEETING_BOOKED, connector._search_ordered(
            what="search meetings", method=api.meetings_search.do_search,
            stamp_property=STAMP, since=start, properties=MEETING_PROPERTIES, filters=[])),
    ]
    for event in heapq.merge(*streams, key=lambda e: (e.modified_at, e.event_id)):
        if since is None or (event.modified_at, event.event_id) > (
                since.modified_at, since.last_id):
            yield event


def _events(connector: HubSpotConnector, kind: str, outcome: OutcomeKind,
            objects: Iterator[dict[str, Any]]) -> Iterator[OutcomeEvent]:
    page: list[dict[str, Any]] = []
    for obj in objects:
        page.append(obj)
        if len(page) == _PAGE:
            yield from _tied(connector, kind, outcome, page)
            page = []
    yield from _tied(connector, kind, outcome, page)


def _tied(connector: HubSpotConnector, kind: str, outcome: OutcomeKind,
          page: list[dict[str, Any]]) -> Iterator[OutcomeEvent]:
    """The page's objects as events, each tied to its contact; unassociated ones left out."""
    if not page:
        return
    _, linked = connector.transport.call(
        f"read the contacts of {kind}", connector.transport.associations.get_page,
        kind, "contacts", {"inputs": [{"id": str(o["id"])} for o in page]})
    contact_of: dict[str, str] = {}
    for item in linked.get("results", []):
        targets = item.get("to") or []
        if targets:
            contact_of[str((item.get("from") or {}).get("id"))] = str(
                targets[0].get("toObjectId"))
    when: Callable[[dict[str, Any]], Any] = (
        (lambda p: p.get("hs_meeting_start_time") or p.get("hs_timestamp"))
        if kind == "meetings" else (lambda p: p.get("hs_timestamp")))
    for obj in page:
        contact = contact_of.get(str(obj["id"]))
        if contact is None:
            continue
        props = obj.get("properties") or {}
        modified = _time(props.get(STAMP) or obj.get("updatedAt"))
        yield OutcomeEvent(
            event_id=f"{kind}/{obj['id']}", kind=outcome, lead_crm_id=contact,
            occurred_at=_time(when(props)) if when(props) else modified,
            modified_at=modified,
            detail=str(props.get("hs_email_subject") or props.get("hs_meeting_title") or "")
            [:255])


def _time(value: Any) -> datetime:
    return from_hubspot_time(value) or EPOCH
