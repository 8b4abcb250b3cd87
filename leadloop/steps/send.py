"""Send: approved emails leave the outbox exactly once, only with consent, only as approved.

Before a batch is sent, each lead is read from the CRM as it stands now: a lead who opted out,
was deleted or changed address, or whose address is on the suppression list, is not emailed;
the proposal is cancelled with the reason and its CRM task closed. Just before each send, the
proposal and its approval are checked again, and an email holding a line of leadloop's
internal notes is refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, text, true, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from connectors.base import CRMConnector, OutgoingEmail, RawLead, SendResult, parse_lead
from connectors.errors import BadRecordError, ConnectorError
from review_api import lifecycle, service, suppression, tasksync, unsubscribe
from review_api.authority import Decider, NotEntitledError, check
from review_api.store.db import Store
from review_api.store.models import OutboxEmail, Proposal, Suppression
from review_api.taskbody import EmailText, leaked_notes
from review_api.workflow import ProposalEvent, ProposalState, may_send, transition

from . import mail, schedule

if TYPE_CHECKING:
    from leadloop.settings import SendingConfig

MAX_SEND_ATTEMPTS = 5
BATCH = 200
# A sender that died mid-send leaves its row 'sending'; after this lease another run may take
# it over, asking the CRM's email log first. A live sender finishes well within it.
SEND_LEASE = timedelta(minutes=5)
Tick = Callable[[int], None]


@dataclass
class SendReport:
    sent: int = 0
    already_sent: int = 0
    failed: int = 0
    refused: int = 0
    cancelled: int = 0
    not_checked: int = 0  # consent could not be read from the CRM: held for the next run
    held: Counter[str] = field(default_factory=Counter)  # not due yet, by what holds them


def send(*, store: Store, connector: CRMConnector, clock: Callable[[], datetime],
         tick: Tick, sending: SendingConfig | None = None,
         only: Sequence[int] | None = None) -> SendReport:
    """Send due emails from the outbox, a batch at a time, each after a consent check.

    With ``sending``, every waiting email is first planned (window, holidays, caps) and
    only those due now are sent; without, everything approved is due (tests of other steps).
    ``only`` sends just these outbox rows, if due, without planning the rest (send now).
    """
    report = SendReport()
    now = clock()
    secret = unsubscribe.signing_secret(store)
    with store.session() as session:
        if sending is not None and only is None:
            for slot in schedule.plan(session=session, config=sending, now=now).values():
                if slot.at > now and slot.held_because:
                    report.held[slot.held_because] += 1
        ids = session.execute(
            select(OutboxEmail.id, OutboxEmail.crm_id).where(
                OutboxEmail.state.in_(["queued", "sending", "failed"]),
                OutboxEmail.attempts < MAX_SEND_ATTEMPTS,
                or_(OutboxEmail.not_before.is_(None), OutboxEmail.not_before <= now),
                OutboxEmail.id.in_(only) if only is not None else true(),
            ).order_by(OutboxEmail.id)
        ).all()
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        try:
            current = {raw.crm_id: raw for raw in connector.fetch_leads_by_id(
                sorted({crm_id for _, crm_id in batch}))}
        except ConnectorError as exc:
            # No consent check, no send: the batch waits for the next run.
            report.not_checked += len(batch)
            with store.session() as session:
                service.audit(session=session, event="send_held", actor="leadloop",
                              detail={"error": str(exc), "emails": len(batch)})
            continue
        for outbox_id, crm_id in batch:
            _send_one(store, connector, outbox_id, current.get(crm_id), clock(), report,
                      sending, secret)
            tick(1)
    return report


def consent_problem(raw: RawLead | None, *, to: str, suppressed: bool) -> str | None:
    """Why this lead may not be emailed at ``to`` now, or None when it may."""
    if raw is None:
        return "the lead no longer exists in the CRM"
    if raw.deleted:
        return "the lead was deleted in the CRM"
    try:
        lead = parse_lead(raw)
    except BadRecordError as exc:
        return f"the lead's record in the CRM is not valid now ({exc.reason})"
    if lead.email_opt_out:
        return "the lead opted out of email"
    if lead.email != to.lower():
        return f"the lead's address changed from {to} to {lead.email} since the approval"
    if suppressed:
        return f"{to} is on the suppression list"
    return None


def _send_one(store: Store, connector: CRMConnector, outbox_id: int, raw: RawLead | None,
              now: datetime, report: SendReport, sending: SendingConfig | None,
              secret: bytes) -> None:
    with store.session() as session:
        row = session.get_one(OutboxEmail, outbox_id)
        # A row another sender claimed within the lease is that sender's: leave it be.
        live = row.state == "sending" and row.claimed_at is not None and (
            row.claimed_at >= now - SEND_LEASE)
        if live:
            return
        key, interrupted = row.idempotency_key, row.state in ("sending", "failed")
    if interrupted:
        # A send may have left before a crash or a failure: the CRM's log says, before any
        # check could cancel what was in fact sent.
        try:
            logged = connector.find_sent_email(key)
        except ConnectorError:
            logged = None
        if logged is not None:
            _record_sent(store, outbox_id, logged, now, report)
            return
    with store.session() as session:
        row = session.get_one(OutboxEmail, outbox_id)
        proposal = session.get_one(Proposal, row.proposal_id)
        refusal = _refusal(session, proposal, row)
        if refusal is not None:
            if not _settle(session, row, "refused", now=now):
                return
            service.audit(session=session, proposal_id=proposal.id, event="send_refused",
                          actor="leadloop", detail={"state": proposal.state, "why": refusal})
            if ProposalState(proposal.state) in (ProposalState.APPROVED,
                                                 ProposalState.SEND_FAILED):
                lifecycle.cancel(session=session, proposal=proposal, why=refusal, now=now)
            report.refused += 1
            return
        suppressed = suppression.find(session=session, address=row.to_address) is not None
        problem = consent_problem(raw, to=row.to_address, suppressed=suppressed)
        if problem is not None:
            if not _settle(session, row, "cancelled", now=now):
                return
            if raw is not None and (raw.deleted or "opted out" in problem) and not suppressed:
                session.add(Suppression(email=row.to_address.lower(), reason=problem,
                                        crm_id=row.crm_id, created_at=now))
            lifecycle.cancel(session=session, proposal=proposal, why=problem, now=now)
            report.cancelled += 1
            return
        if not _claim(session, row, now=now, lease=SEND_LEASE, sending=sending):
            if sending is not None:
                _hold_if_capped(session, row, now=now, sending=sending, report=report)
            return  # another sender holds it, or took it since we listed it
        email = _outgoing(row, sending, secret)
    try:
        result = connector.find_sent_email(email.idempotency_key)
        if result is None:
            result = connector.send_email(email)
    except ConnectorError as exc:
        with store.session() as session:
            row = session.get_one(OutboxEmail, outbox_id)
            proposal = session.get_one(Proposal, row.proposal_id)
            row.state, row.last_error = "failed", str(exc)
            if proposal.state == ProposalState.APPROVED:
                proposal.state = transition(ProposalState.APPROVED, ProposalEvent.SEND_FAILED)
            service.audit(session=session, proposal_id=proposal.id, event="send_failed",
                          actor="leadloop", detail={"error": str(exc)})
            tasksync.enqueue(session=session, proposal_id=proposal.id, event="send_failed",
                             note=f"sending failed at {service.stamp(now)}, will retry: {exc}",
                             at=now)
        report.failed += 1
        return
    _record_sent(store, outbox_id, result, now, report)


def _outgoing(row: OutboxEmail, sending: SendingConfig | None, secret: bytes
              ) -> OutgoingEmail:
    """The message that leaves: the approved text with the footer, and the RFC 8058
    unsubscribe headers (the same on every attempt, so a resend is the same email)."""
    if sending is None:
        from leadloop.settings import SendingConfig

        sending = SendingConfig()
    return OutgoingEmail(
        idempotency_key=row.idempotency_key, lead_crm_id=row.crm_id, to=row.to_address,
        subject=row.subject, from_owner_id=row.owner_id,
        body=mail.with_footer(row.body, sending, secret=secret, proposal_id=row.proposal_id),
        headers=mail.headers(sending, secret=secret, proposal_id=row.proposal_id),
    )


def _record_sent(store: Store, outbox_id: int, result: SendResult, now: datetime,
                 report: SendReport) -> None:
    with store.session() as session:
        row = session.get_one(OutboxEmail, outbox_id)
        proposal = session.get_one(Proposal, row.proposal_id)
        row.state, row.message_id, row.sent_at = "sent", result.message_id, result.sent_at
        if may_send(ProposalState(proposal.state)):
            proposal.state = transition(ProposalState(proposal.state), ProposalEvent.SENT)
        service.audit(session=session, proposal_id=proposal.id, event="sent",
                      actor="leadloop",
                      detail={"message_id": result.message_id, "to": row.to_address,
                              "already_sent": result.already_sent or None})
        tasksync.enqueue(session=session, proposal_id=proposal.id, event="sent",
                         note=f"sent to {row.to_address} at {service.stamp(result.sent_at)}",
                         at=now)
    if result.already_sent:
        report.already_sent += 1
    else:
        report.sent += 1


def _refusal(session: Session, proposal: Proposal, row: OutboxEmail) -> str | None:
    """Why this email may not leave even though it is in the outbox, or None."""
    # Belt and braces: the outbox only ever holds approved drafts, but the send step checks
    # the proposal, its approval and who gave it again before anything leaves.
    label = service.decision_for(session=session, proposal_id=proposal.id)
    if not may_send(ProposalState(proposal.state)) or label is None or (
        label.decision != "approved"
    ):
        return f"the proposal is {proposal.state}, not approved"
    actor = label.decided_by or ""
    decider = Decider(owner_id=None, admin=True) if actor.startswith("admin:") else Decider(
        owner_id=actor)
    try:
        check(proposal, decider=decider, decision="approve")
    except NotEntitledError as exc:
        return f"the approval was not given by an entitled person ({exc})"
    leaks = leaked_notes(EmailText(row.subject, row.body), _notes(proposal))
    if leaks:
        return f"the approved email holds leadloop's internal notes ({leaks[0]!r})"
    return None


def _notes(proposal: Proposal) -> Sequence[str]:
    return [str(proposal.payload.get("description") or "")]


def _takeable(now: datetime, lease: timedelta) -> ColumnElement[bool]:
    """Rows waiting for whoever comes next: queued, failed, or claimed by a sender that died."""
    return OutboxEmail.state.in_(["queued", "failed"]) | (
        (OutboxEmail.state == "sending") & (OutboxEmail.claimed_at < now - lease))


def _settle(session: Session, row: OutboxEmail, state: str, *, now: datetime) -> bool:
    """Close a row as refused or cancelled, only if no other sender took it since we read it.

    Another sender may have claimed and sent it in between (its proposal then reads 'sent',
    which looks like a refusal): a sent row must stay sent, and counted against its caps.
    """
    done = session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == row.id, OutboxEmail.attempts == row.attempts,
               _takeable(now, SEND_LEASE))
        .values(state=state)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def _claim(session: Session, row: OutboxEmail, *, now: datetime, lease: timedelta,
           sending: SendingConfig | None) -> bool:
    """Take an outbox row for sending, atomically: of two senders, only one gets it.

    The row is marked 'sending' before anything is sent: if we die mid-send, the run that
    takes it over after the lease asks the CRM's email log before sending again. With
    ``sending``, the same statement counts what the row's mailbox and recipient domain
    claimed today and takes the row only under both caps.
    """
    conditions = [OutboxEmail.id == row.id, OutboxEmail.attempts == row.attempts,
                  _takeable(now, lease)]
    if sending is not None:
        conditions.append(schedule.under_caps(row, config=sending, now=now))
        if session.get_bind().dialect.name == "postgresql":
            # Under READ COMMITTED two claims could each count the other's row as not yet
            # claimed; claims queue on one lock (held to commit), so each counts the last.
            session.execute(text("SELECT pg_advisory_xact_lock(1500015)"))
    claimed = session.execute(
        update(OutboxEmail)
        .where(*conditions)
        .values(state="sending", attempts=row.attempts + 1, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def _hold_if_capped(session: Session, row: OutboxEmail, *, now: datetime,
                    sending: SendingConfig, report: SendReport) -> None:
    """A claim refused by a cap (not by another sender): the row waits for the next UTC day."""
    session.refresh(row)
    if row.state not in ("queued", "failed"):
        return
    by_mailbox, by_domain = schedule.counted_since(session, schedule.day_start(now))
    planner = schedule.Planner(sending, sent_by_mailbox=by_mailbox, sent_by_domain=by_domain)
    why = planner.cap_reason(owner_id=row.owner_id, domain=schedule.domain_of(row.to_address),
                             day=schedule.day_start(now).date())
    if why is None:
        return
    row.not_before = schedule.day_start(now) + timedelta(days=1)
    row.held_because = why
    report.held[why] += 1
