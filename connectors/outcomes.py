"""What became of a sent email, as the CRM records it: the records an outcome read returns.

A CRM logs a reply as an incoming email, a bounce on the email that bounced, a meeting as
an activity on the lead, an unsubscribe as the lead's opt-out. A connector reads them as
:class:`OutcomeEvent` records, in (``modified_at``, ``event_id``) order, so leadloop can
import them incrementally, by cursor, and store each once by its ``event_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class OutcomeKind(StrEnum):
    """What happened after an email left; the order of strength is :data:`OUTCOME_RANK`."""

    REPLIED = "replied"
    BOUNCED = "bounced"
    UNSUBSCRIBED = "unsubscribed"
    MEETING_BOOKED = "meeting_booked"
    CONVERTED = "converted"
    NO_REPLY = "no_reply"


# When one email has several outcomes, the label is the strongest: a meeting outranks the
# reply that led to it, and any answer outranks "no reply after N days".
OUTCOME_RANK: dict[OutcomeKind, int] = {
    OutcomeKind.CONVERTED: 6, OutcomeKind.MEETING_BOOKED: 5, OutcomeKind.REPLIED: 4,
    OutcomeKind.UNSUBSCRIBED: 3, OutcomeKind.BOUNCED: 2, OutcomeKind.NO_REPLY: 1,
}


@dataclass(frozen=True, slots=True)
class OutcomeEvent:
    """One outcome the CRM recorded.

    ``event_id`` is the CRM's id of the record that says so (an EmailMessage, an Event, a
    HubSpot email or meeting), unique within that CRM. ``message_id`` names our sent email
    when the CRM links the outcome to it (as :class:`connectors.base.SendResult` gave it);
    otherwise leadloop matches the lead's latest email sent before ``occurred_at``.
    """

    event_id: str
    kind: OutcomeKind
    lead_crm_id: str
    occurred_at: datetime
    modified_at: datetime
    message_id: str | None = None
    detail: str = ""
