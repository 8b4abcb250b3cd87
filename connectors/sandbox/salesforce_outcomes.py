"""The Salesforce face's outcome records: EmailMessage and Event rows over the sandbox.

Every email in the sandbox's email log shows as an outgoing ``EmailMessage`` (``Id``
``E`` + the log number, ``ActivityId`` the email log Task, ``Incoming`` false), with
``IsBounced`` true once it bounced. A reply is an incoming ``EmailMessage`` whose
``ReplyToEmailMessageId`` names the outgoing one; a meeting is an ``Event`` on the lead
(``WhoId``). Stamps are the simulated outcomes' own, so a cursor reads each once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.outcomes import OutcomeKind
from connectors.sandbox import outcomes as simulated
from connectors.sandbox.crm import SandboxCRM

EMAIL_MESSAGE_FIELDS = (
    "Id", "Incoming", "IsBounced", "ReplyToEmailMessageId", "ActivityId", "RelatedToId",
    "FromAddress", "ToAddress", "Subject", "MessageDate", "Status", "CreatedDate",
    "SystemModstamp", "IsDeleted",
)
EVENT_FIELDS = (
    "Id", "WhoId", "OwnerId", "Subject", "Type", "StartDateTime", "EndDateTime",
    "CreatedDate", "SystemModstamp", "IsDeleted",
)
SOBJECTS = {"EmailMessage": EMAIL_MESSAGE_FIELDS, "Event": EVENT_FIELDS}


def rows(crm: SandboxCRM, sobject: str) -> Iterator[dict[str, Any]]:
    """Every row of ``sobject`` (EmailMessage or Event) as the face serves it."""
    events = simulated.all_outcomes(crm)
    if sobject == "Event":
        for event in events:
            if event.kind is OutcomeKind.MEETING_BOOKED:
                yield {"Id": event.event_id, "WhoId": event.lead_crm_id, "OwnerId": None,
                       "Subject": event.detail, "Type": "Meeting",
                       "StartDateTime": event.occurred_at, "EndDateTime": event.occurred_at,
                       "CreatedDate": event.occurred_at, "SystemModstamp": event.modified_at,
                       "IsDeleted": False}
        return
    bounced = {e.message_id: e for e in events if e.kind is OutcomeKind.BOUNCED}
    for email in crm.sent_emails():
        bounce = bounced.get(email.message_id)
        yield {"Id": _outgoing_id(email.message_id), "Incoming": False,
               "IsBounced": bounce is not None, "ReplyToEmailMessageId": None,
               "ActivityId": email.message_id, "RelatedToId": None, "FromAddress": None,
               "ToAddress": email.to, "Subject": email.subject, "MessageDate": email.sent_at,
               "Status": "3", "CreatedDate": email.sent_at,
               "SystemModstamp": bounce.modified_at if bounce else email.sent_at,
               "IsDeleted": False}
    for event in events:
        if event.kind is OutcomeKind.REPLIED and event.message_id:
            yield {"Id": event.event_id, "Incoming": True, "IsBounced": False,
                   "ReplyToEmailMessageId": _outgoing_id(event.message_id),
                   "ActivityId": None, "RelatedToId": None, "FromAddress": None,
                   "ToAddress": None, "Subject": event.detail,
                   "MessageDate": event.occurred_at, "Status": "0",
                   "CreatedDate": event.occurred_at, "SystemModstamp": event.modified_at,
                   "IsDeleted": False}


def _outgoing_id(message_id: str) -> str:
    return "E" + message_id.removeprefix("M")
