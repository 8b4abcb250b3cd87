"""The HubSpot face's outcome objects over the sandbox: email engagements and meetings.

A reply is an email object (``hs_email_direction`` ``INCOMING_EMAIL``), a bounce the sent
email's own object with ``hs_email_status`` ``BOUNCED``, a meeting a meeting object; each
is associated with its contact (v4 associations). Ids are numbers derived from the
sandbox's (a reply to ``M000012`` is email ``800000012``), stamps the simulated outcomes'.
"""

from __future__ import annotations

from typing import Any

from connectors.outcomes import OutcomeKind
from connectors.sandbox import outcomes as simulated
from connectors.sandbox.crm import SandboxCRM

_BASE = {OutcomeKind.REPLIED: 800_000_000, OutcomeKind.BOUNCED: 700_000_000,
         OutcomeKind.MEETING_BOOKED: 600_000_000}
EMAIL_CONTACT = 198
MEETING_CONTACT = 200


def objects(crm: SandboxCRM, kind: str, iso: Any) -> list[tuple[Any, dict[str, Any], str]]:
    """(stamp, object, contact number) of every email or meeting outcome object."""
    out = []
    for event in simulated.all_outcomes(crm):
        if (kind == "meetings") != (event.kind is OutcomeKind.MEETING_BOOKED):
            continue
        number = str(_BASE[event.kind] + int(event.event_id[1:]))
        props: dict[str, Any] = {"hs_object_id": number,
                                 "hs_lastmodifieddate": iso(event.modified_at),
                                 "hs_createdate": iso(event.modified_at),
                                 "hs_timestamp": iso(event.occurred_at)}
        if kind == "meetings":
            props.update(hs_meeting_title=event.detail, hs_meeting_outcome="SCHEDULED",
                         hs_meeting_start_time=iso(event.occurred_at))
        else:
            replied = event.kind is OutcomeKind.REPLIED
            props.update(hs_email_direction="INCOMING_EMAIL" if replied else "EMAIL",
                         hs_email_status="SENT" if replied else "BOUNCED",
                         hs_email_subject=event.detail)
        out.append((event.modified_at, {"id": number, "properties": props,
                                        "archived": False}, str(int(event.lead_crm_id[1:]))))
    return out


def associations(crm: SandboxCRM, kind: str, ids: list[str], iso: Any
                 ) -> tuple[list[dict[str, Any]], list[str]]:
    """v4 association results (object -> contact) for ``ids``, and the ids not found."""
    contact_of = {obj["id"]: contact for _, obj, contact in objects(crm, kind, iso)}
    type_id = MEETING_CONTACT if kind == "meetings" else EMAIL_CONTACT
    results = [{"from": {"id": i}, "to": [{"toObjectId": int(contact_of[i]),
                                          "associationTypes": [{"category": "HUBSPOT_DEFINED",
                                                                "typeId": type_id,
                                                                "label": None}]}]}
               for i in ids if i in contact_of]
    return results, [i for i in ids if i not in contact_of]
