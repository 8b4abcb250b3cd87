"""Plain functions over the store: proposals, decisions, labels, the outbox, the audit trail.

Decisions made in the CRM (reconciled) and through the API both go through :func:`decide`,
so they move the same state machine and produce the same labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from review_api import outcomes, tasksync
from review_api.authority import Decider, check
from review_api.errors import (
    BadDecisionError,
    ConflictError,
    InvalidTransitionError,
    ProposalNotFoundError,
)
from review_api.keys import ForbiddenError, Principal, Role
from review_api.labels import edit_distance, text_diff
from review_api.schemas import DecisionIn
from review_api.store.models import (
    AuditEvent,
    Decision,
    Lead,
    LeadSnapshot,
    OutboxEmail,
    Proposal,
    Score,
    utcnow,
)
from review_api.taskbody import EmailText, leaked_notes, parse_email_text
from review_api.workflow import ProposalEvent, ProposalState, transition

DRAFT = "draft"
SCORE_OVERRIDE = "score_override"


def audit(
    *, session: Session, event: str, actor: str, detail: dict[str, Any],
    proposal_id: int | None = None, at: datetime | None = None,
) -> None:
    """Append one entry to the audit trail."""
    entry = AuditEvent(proposal_id=proposal_id, event=event, actor=actor, detail=detail)
    if at is not None:
        entry.at = at
    session.add(entry)


def get(*, session: Session, proposal_id: int) -> Proposal | None:
    """The proposal with this id, if any."""
    return session.get(Proposal, proposal_id)


def get_or_raise(*, session: Session, proposal_id: int) -> Proposal:
    """The proposal with this id; ProposalNotFoundError otherwise."""
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise ProposalNotFoundError(proposal_id)
    return proposal


def get_by_key(*, session: Session, key: str) -> Proposal | None:
    """The proposal with this idempotency key, if any."""
    return session.scalars(select(Proposal).where(Proposal.key == key)).one_or_none()


def list_proposals(
    *, session: Session, state: str | None = None, kind: str | None = None,
    owner_id: str | None = None, limit: int = 50, offset: int = 0,
    visible_to: str | None = None, awake_at: datetime | None = None,
) -> Sequence[Proposal]:
    """Proposals, newest first, filtered by state, kind and owner.

    ``visible_to`` keeps a rep's own and assigned proposals; ``awake_at`` hides those
    snoozed past that time.
    """
    query = select(Proposal).order_by(Proposal.id.desc()).limit(limit).offset(offset)
    if visible_to is not None:
        query = query.where((Proposal.owner_id == visible_to)
                            | (Proposal.assignee_id == visible_to))
    if awake_at is not None:
        query = query.where((Proposal.snoozed_until.is_(None))
                            | (Proposal.snoozed_until <= awake_at))
    if state:
        query = query.where(Proposal.state == state)
    if kind:
        query = query.where(Proposal.kind == kind)
    if owner_id:
        query = query.where(Proposal.owner_id == owner_id)
    return session.scalars(query).all()


def decision_for(*, session: Session, proposal_id: int) -> Decision | None:
    """The decision taken on a proposal, if any."""
    return session.scalars(
        select(Decision).where(Decision.proposal_id == proposal_id)
    ).one_or_none()


def create_proposal(
    *, session: Session, key: str, kind: str, crm_id: str, owner_id: str,
    payload: dict[str, Any], expires_at: datetime, score_id: int | None = None,
    weights_version: str | None = None, model_version: str | None = None,
    drafter_version: str | None = None, audit_detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[Proposal, bool]:
    """Record a pending proposal once per key; returns it and whether it is new."""
    existing = get_by_key(session=session, key=key)
    if existing is not None:
        return existing, False
    proposal = Proposal(
        key=key, kind=kind, crm_id=crm_id, owner_id=owner_id, state=ProposalState.PENDING,
        payload=payload, expires_at=expires_at, score_id=score_id,
        weights_version=weights_version, model_version=model_version,
        drafter_version=drafter_version,
    )
    if now is not None:
        proposal.created_at = proposal.updated_at = now
    session.add(proposal)
    session.flush()
    audit(
        session=session, proposal_id=proposal.id, event="proposed", actor="leadloop",
        detail=audit_detail or {"kind": kind}, at=now,
    )
    return proposal, True


def _original_email(proposal: Proposal) -> EmailText:
    return EmailText(subject=proposal.payload["subject"], body=proposal.payload["body"])


def stamp(moment: datetime) -> str:
    """A time as task notes show it."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _edited_email(original: EmailText, decision: DecisionIn) -> EmailText:
    if decision.final_subject is not None or decision.final_body is not None:
        return EmailText(
            subject=(original.subject if decision.final_subject is None
                     else decision.final_subject.strip()),
            body=original.body if decision.final_body is None else decision.final_body.rstrip())
    if decision.final_text is not None:
        return parse_email_text(decision.final_text, fallback_subject=original.subject)
    return original


def decide(
    *, session: Session, proposal: Proposal, decision: DecisionIn, source: str, now: datetime,
    decider: Decider,
) -> Decision:
    """Apply a rep's decision: move the state, store the label, queue an approved email,
    and queue the push of the outcome to the CRM task.

    Raises:
        NotEntitledError: ``decider`` may not take this decision (authority.check).
        ConflictError: the proposal changed since the version the rep saw.
        InvalidTransitionError: the proposal is no longer pending.
        BadDecisionError: the decision does not fit the proposal's kind.
    """
    if decision.expected_version is not None and decision.expected_version != proposal.version:
        raise ConflictError(
            f"proposal {proposal.id} is at version {proposal.version}, "
            f"not {decision.expected_version}; reload it and decide again"
        )
    state = ProposalState(proposal.state)
    event = ProposalEvent.APPROVE if decision.decision == "approve" else ProposalEvent.REJECT
    new_state = transition(state, event)
    check(proposal, decider=decider, decision=decision.decision)

    label = Decision(
        proposal_id=proposal.id, decision="approved" if event is ProposalEvent.APPROVE
        else "rejected", reason=decision.reason, decided_by=decision.decided_by or "unknown",
        decided_at=now, source=source,
    )
    email: EmailText | None = None
    new_score: tuple[int, str] | None = None
    if proposal.kind == DRAFT:
        if decision.final_score is not None:
            raise BadDecisionError("a draft takes an edited email, not a score")
        original = _original_email(proposal)
        label.original_text = original.as_text()
        if event is ProposalEvent.APPROVE:
            email = _edited_email(original, decision)
            if not email.body.strip():
                raise BadDecisionError("the approved email is empty; write it or reject it")
            if not email.subject.strip():
                raise BadDecisionError("the approved email has no subject; write one")
            leaks = leaked_notes(email, [str(proposal.payload.get("description") or "")])
            if leaks:
                raise BadDecisionError(
                    f"the approved email holds a line of leadloop's notes for you "
                    f"({leaks[0]!r}); take it out of the email")
            label.final_text = email.as_text()
            label.diff = text_diff(label.original_text, label.final_text)
            label.edit_distance = edit_distance(label.original_text, label.final_text)
    else:
        if any(e is not None for e in (decision.final_text, decision.final_subject,
                                        decision.final_body)):
            raise BadDecisionError("a score override takes a score, not an email")
        proposed = int(proposal.payload["new_score"])
        label.original_score = proposed
        if event is ProposalEvent.APPROVE:
            final_score = decision.final_score if decision.final_score is not None else proposed
            label.final_score = final_score
            new_score = final_score, tier_for(final_score, proposal.payload["tier_thresholds"])

    # Everything is checked; now the writes. The state change goes first: its UPDATE is
    # guarded by the state and version the proposal was read at, so of two concurrent
    # deciders the second changes no row, gets ConflictError and writes nothing.
    session.flush()  # anything the caller added goes in first, in order
    changed = {"state": new_state.value, "version": proposal.version + 1, "updated_at": utcnow()}
    moved = session.execute(_MOVE, {"proposal_id": proposal.id, "seen_state": state.value,
                                    "seen_version": proposal.version,
                                    "new_state": changed["state"], "at": changed["updated_at"]})
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError(f"someone decided proposal {proposal.id} first; reload it")
    for name, value in changed.items():  # the loaded object says what the row now says
        set_committed_value(proposal, name, value)
    session.execute(_INSERT_DECISION, {column.key: getattr(label, column.key)
                                       for column in _table(Decision).columns
                                       if column.key != "id"})
    if email is not None:
        _enqueue(session=session, proposal=proposal, email=email)
    if new_score is not None:
        _apply_score(session=session, crm_id=proposal.crm_id, score=new_score[0],
                     tier=new_score[1], payload=proposal.payload)
    session.execute(_INSERT_AUDIT, {
        "proposal_id": proposal.id, "event": f"decision_{label.decision}",
        "actor": decision.decided_by or "unknown", "at": now,
        "detail": {"source": source, "reason": decision.reason,
                   "edit_distance": label.edit_distance, "final_score": label.final_score,
                   "final_text": label.final_text},
    })
    where = "in the CRM" if source == "crm" else "in leadloop"
    who = decision.decided_by or "unknown"
    if label.decision == "rejected":
        then = "nothing was sent" if proposal.kind == DRAFT else "the score stays as it was"
        note = f"rejected {where} by {who} at {stamp(now)}; {then}"
    elif proposal.kind == DRAFT:
        note = f"approved {where} by {who} at {stamp(now)}; queued to send"
    else:
        note = f"approved {where} by {who} at {stamp(now)}; score {label.final_score} in force"
    tasksync.enqueue(session=session, proposal_id=proposal.id, event="decided", note=note,
                     at=now)
    return label


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


# The statements of a decision, built once: a decision runs them with parameters only.
_MOVE = (
    update(_table(Proposal))
    .where(Proposal.id == bindparam("proposal_id"), Proposal.state == bindparam("seen_state"),
           Proposal.version == bindparam("seen_version"))
    .values(state=bindparam("new_state"), version=Proposal.version + 1,
            updated_at=bindparam("at"))
)
_INSERT_DECISION = insert(_table(Decision))
_INSERT_AUDIT = insert(_table(AuditEvent))
_INSERT_OUTBOX = insert(_table(OutboxEmail)).values(
    # The lead's address as last synced, read inside the insert; the proposal's if the lead
    # is gone.
    to_address=func.coalesce(
        select(Lead.email).where(Lead.crm_id == bindparam("lead_id")).scalar_subquery(),
        bindparam("fallback_to"),
    ),
)


def tier_for(score: int, thresholds: dict[str, int]) -> str:
    """The tier a score falls in, given thresholds such as {"A": 70, "B": 45, "C": 25}."""
    for tier, floor in sorted(thresholds.items(), key=lambda kv: -kv[1]):
        if score >= floor:
            return tier
    return "D"


def _apply_score(
    *, session: Session, crm_id: str, score: int, tier: str, payload: dict[str, Any]
) -> None:
    lead = session.get(Lead, crm_id)
    if lead is not None:
        lead.effective_score = score
        lead.effective_tier = tier
        if payload.get("grade") is not None:  # overrides proposed before sub-scores have none
            lead.fit_score = payload.get("fit_score")
            lead.engagement_score = payload.get("engagement_score")
            lead.grade = payload["grade"]


def _enqueue(*, session: Session, proposal: Proposal, email: EmailText) -> None:
    session.execute(_INSERT_OUTBOX, {
        "proposal_id": proposal.id, "idempotency_key": proposal.key, "crm_id": proposal.crm_id,
        "owner_id": proposal.owner_id, "lead_id": proposal.crm_id,
        "fallback_to": proposal.payload.get("to"),
        "subject": email.subject, "body": email.body, "state": "queued", "attempts": 0,
        "queued_at": utcnow(),
    })


def current_leads(*, session: Session) -> list[dict[str, Any]]:
    """Every live lead as last synced, with its effective score and tier added."""
    return [{**snap.payload, "score": lead.effective_score, "tier": lead.effective_tier}
            for lead, snap in session.execute(
                select(Lead, LeadSnapshot).join(LeadSnapshot, Lead.snapshot_id == LeadSnapshot.id)
                .where(Lead.deleted.is_(False)))]


def counts_by(*, session: Session, column: Any, model: Any) -> dict[str, int]:
    """Row counts of ``model`` grouped by ``column``."""
    rows = session.execute(select(column, func.count()).select_from(model).group_by(column))
    return {str(key): int(n) for key, n in rows}


def can_see(principal: Principal, proposal: Proposal) -> bool:
    """Reps see the proposals of leads they own or that were assigned to them."""
    if principal.role is not Role.REP:
        return True
    return principal.owner_id in (proposal.owner_id, proposal.assignee_id)


def get_visible(*, session: Session, proposal_id: int, principal: Principal) -> Proposal:
    """The proposal, if this caller may see it."""
    proposal = get_or_raise(session=session, proposal_id=proposal_id)
    if not can_see(principal, proposal):
        raise ForbiddenError(f"proposal {proposal_id} is for a lead you do not own")
    return proposal


def snooze(*, session: Session, proposal: Proposal, until: datetime, actor: str,
           now: datetime) -> Proposal:
    """Hide a pending proposal from the rep's queue until ``until`` (not past its expiry)."""
    if proposal.state != ProposalState.PENDING:
        raise InvalidTransitionError(proposal.state, "snooze")
    if until <= now:
        raise BadDecisionError("snooze until a time in the future")
    if proposal.expires_at is not None and until >= proposal.expires_at:
        raise BadDecisionError(
            f"the proposal expires at {proposal.expires_at.isoformat()}; snooze to before then"
        )
    proposal.snoozed_until = until
    audit(session=session, proposal_id=proposal.id, event="snoozed", actor=actor,
          detail={"until": until.isoformat()}, at=now)
    return proposal


def outbox_for(*, session: Session, proposal_id: int) -> OutboxEmail | None:
    """The approved email of a proposal in the outbox, if it has one."""
    return session.scalars(
        select(OutboxEmail).where(OutboxEmail.proposal_id == proposal_id)).one_or_none()


def audit_chain(*, session: Session, proposal: Proposal) -> dict[str, Any]:
    """Everything that led to, and followed from, one proposal."""
    score = session.get(Score, proposal.score_id) if proposal.score_id else None
    snapshot = session.get(LeadSnapshot, score.snapshot_id) if score else None
    lead = session.get(Lead, proposal.crm_id)
    current = session.get(LeadSnapshot, lead.snapshot_id) if lead else None
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.proposal_id == proposal.id).order_by(AuditEvent.id)
    ).all()
    outbox = outbox_for(session=session, proposal_id=proposal.id)
    return {
        "lead_snapshot": snapshot.payload if snapshot else None,
        "score": None if score is None else {
            "score": score.score, "tier": score.tier, "factors": score.factors,
            "fit_score": score.fit_score, "engagement_score": score.engagement_score,
            "grade": score.grade, "weights_version": score.weights_version,
            "model_version": score.model_version,
            "scored_at": score.scored_at,
        },
        "events": [{"at": e.at, "event": e.event, "actor": e.actor, "detail": e.detail}
                   for e in events],
        "send": None if outbox is None else {
            "state": outbox.state, "attempts": outbox.attempts, "message_id": outbox.message_id,
            "sent_at": outbox.sent_at, "last_error": outbox.last_error,
            "not_before": outbox.not_before, "held_because": outbox.held_because,
        },
        **outcomes.chain(session=session, proposal_id=proposal.id,
                         lead_status=(current.payload or {}).get("status") if current else None,
                         sent=outbox is not None and outbox.state == "sent"),
    }
