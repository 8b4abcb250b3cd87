"""Send now: a rep asks for one approved email to leave at once, which policy allows only
when the lead's window is open, it is no public holiday there, and neither the rep's
mailbox nor the recipient's domain has used up today's cap. Otherwise one line says what
holds it, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from connectors.base import CRMConnector
from review_api import service
from review_api.send_now_views import SendNowRefusedError
from review_api.store.db import Store
from review_api.store.models import OutboxEmail

from . import schedule
from . import send as send_step

if TYPE_CHECKING:
    from leadloop.settings import SendingConfig

WAITING = ("queued", "failed")


def holds(*, session: Session, row: OutboxEmail, config: SendingConfig, now: datetime
          ) -> str | None:
    """What keeps this email from leaving at ``now`` (window, holiday or a cap), or None."""
    lead = schedule.lead_fields(session, [row.crm_id]).get(row.crm_id, {})
    by_mailbox, by_domain = schedule.counted_since(session, schedule.day_start(now))
    planner = schedule.Planner(config, sent_by_mailbox=by_mailbox, sent_by_domain=by_domain)
    opens, why = planner.opens(lead=lead, moment=now)
    if opens > now:
        return f"{why}; it opens at {service.stamp(opens)}"
    return planner.cap_reason(owner_id=row.owner_id,
                              domain=schedule.domain_of(row.to_address),
                              day=schedule.day_start(now).date())


def send_now(*, store: Store, connector: CRMConnector, config: SendingConfig,
             proposal_id: int, actor: str, clock: Callable[[], datetime]
             ) -> send_step.SendReport:
    """Move the email's not-before to now and send it, if policy allows it right now.

    Raises:
        SendNowRefusedError: no approved email waits for this proposal, or policy holds it
            (the message says what holds it).
    """
    now = clock()
    with store.session() as session:
        row = service.outbox_for(session=session, proposal_id=proposal_id)
        if row is None or row.state not in WAITING:
            state = row.state if row is not None else "not approved"
            raise SendNowRefusedError(f"proposal {proposal_id} has no approved email waiting "
                                      f"to be sent (its email is {state})")
        why = holds(session=session, row=row, config=config, now=now)
        if why is not None:
            raise SendNowRefusedError(f"proposal {proposal_id} cannot be sent now: {why}")
        row.not_before, row.held_because = now, None
        outbox_id = row.id
        service.audit(session=session, proposal_id=proposal_id, event="send_now", actor=actor,
                      at=now, detail={"not_before": now.isoformat()})
    # The claim counts the caps again, in the store: a send racing this one cannot pass them.
    return send_step.send(store=store, connector=connector, clock=clock, tick=lambda _n: None,
                          sending=config, only=[outbox_id])


def outcome(report: send_step.SendReport) -> tuple[bool, str]:
    """Whether the one email left, and what happened, in one line."""
    if report.sent or report.already_sent:
        return True, "sent" if report.sent else "it had already been sent"
    if report.cancelled or report.refused:
        return False, "not sent: the consent or approval check at send time stopped it"
    if report.not_checked:
        return False, "not sent: the lead could not be read from the CRM; it waits"
    if report.failed:
        return False, "not sent: the send failed and will be retried"
    if report.held:
        return False, f"not sent: {schedule.held_summary(report.held)}"
    return False, "not sent: another sender holds it right now"
