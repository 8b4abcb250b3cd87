"""The pipeline steps: sync, score, propose, write back, reconcile, send.

Each step commits its own work in batches and can be re-run at any point: a crash between
two steps, or inside one, never loses a decision, never duplicates a CRM task (proposal keys
are idempotency keys) and never sends an email twice or without approval.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from connectors.base import (
    CRMConnector,
    OutgoingEmail,
    Owner,
    ProposalKind,
    RawLead,
    ReviewTaskRequest,
    ScoreWrite,
    SyncCursor,
    TaskChange,
    TaskDecision,
    parse_lead,
)
from connectors.errors import BadRecordError, ConnectorError
from drafting import Draft, Drafter, LeadFacts
from drafting.batch import draft_many
from drafting.guardrails import ProductFacts, load_product_facts, review_draft
from drafting.learning import LearnedRule, learn_rules
from drafting.learning import apply as apply_rules
from drafting.policy import Policy, load_policy
from review_api import service
from review_api.errors import ReviewError
from review_api.schemas import DecisionIn
from review_api.store.db import Store
from review_api.store.models import (
    Decision,
    DraftRuleSwitch,
    Lead,
    LeadSnapshot,
    OutboxEmail,
    Proposal,
    Score,
    SyncRun,
    SyncSkip,
)
from review_api.store.models import SyncCursor as CursorRow
from review_api.taskbody import EmailText, render_draft_task, render_score_task
from review_api.workflow import ProposalEvent, ProposalState, may_send, transition
from scoring import LeadScore, Weights, score_leads

if TYPE_CHECKING:
    from scoring.blend import ScoringModel

log = logging.getLogger(__name__)

T = TypeVar("T")
Progress = Callable[[str, int | None], Callable[[int], None]]
BATCH = 200
LEADS_STREAM = "leads"
TASKS_STREAM = "tasks"
MAX_SEND_ATTEMPTS = 5
NO_MODEL_NOTE = "no model promoted yet: the score is the points score alone"
# A sender that died mid-send leaves its row 'sending'; after this lease another run may take
# it over, asking the CRM's email log first. A live sender finishes well within it.
SEND_LEASE = timedelta(minutes=5)


def _no_progress(_label: str, _total: int | None) -> Callable[[int], None]:
    return lambda _n: None


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of at most ``size`` items."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


@dataclass
class SyncReport:
    """What a sync read and what became of it."""

    run_id: int = 0
    fetched: int = 0
    stored: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ScoreReport:
    model_note: str = ""
    scored: int = 0
    changed: int = 0
    overrides_proposed: int = 0
    written_back: int = 0
    write_errors: list[str] = field(default_factory=list)


@dataclass
class ProposeReport:
    drafts_proposed: int = 0
    flagged: int = 0
    not_drafted: list[tuple[str, str]] = field(default_factory=list)
    draft_errors: list[str] = field(default_factory=list)
    tasks_created: int = 0
    tasks_existing: int = 0
    task_errors: list[str] = field(default_factory=list)
    fallbacks: int = 0


@dataclass
class ReconcileReport:
    changes: int = 0
    approved: int = 0
    rejected: int = 0
    already_decided: int = 0
    unknown: int = 0
    expired: int = 0
    escalated: int = 0
    scores_written: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class SendReport:
    sent: int = 0
    already_sent: int = 0
    failed: int = 0
    refused: int = 0


class Pipeline:
    """The steps of the loop over one store, one CRM connector, one set of weights."""

    def __init__(
        self, *, store: Store, connector: CRMConnector, weights: Weights, drafter: Drafter,
        draft_tiers: Sequence[str] = ("A", "B"), max_drafts_per_run: int = 200,
        proposal_ttl: timedelta = timedelta(hours=72), task_due: timedelta = timedelta(days=2),
        lookback: timedelta = timedelta(seconds=5),
        escalate_after: timedelta | None = None,
        policy: Policy | None = None, product_facts: ProductFacts | None = None,
        learn_from_edits: bool = True, draft_concurrency: int = 8,
        model: ScoringModel | None = None, blend: float = 0.5, min_labels: int = 200,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        progress: Progress = _no_progress,
    ) -> None:
        self.store = store
        self.connector = connector
        self.weights = weights
        self.drafter = drafter
        self.draft_tiers = tuple(draft_tiers)
        self.max_drafts_per_run = max_drafts_per_run
        self.proposal_ttl = proposal_ttl
        self.task_due = task_due
        self.lookback = lookback
        self.escalate_after = escalate_after
        self.policy = policy or load_policy(None)
        self.product_facts = product_facts or load_product_facts(None)
        self.learn_from_edits = learn_from_edits
        self.model = model
        self.blend = blend
        self.min_labels = min_labels
        self.draft_concurrency = draft_concurrency
        self.clock = clock
        self.progress = progress
        self._owners: dict[str, Owner] | None = None

    # ----- cursors -------------------------------------------------------------------------
    def _cursor(self, session: Session, stream: str) -> SyncCursor | None:
        row = session.get(CursorRow, stream)
        if row is None:
            return None
        # Read a little before the cursor: a CRM may commit a change with an earlier stamp
        # after we read past it. Re-reads are harmless (snapshots and decisions dedupe).
        return SyncCursor(row.modified_at - self.lookback, "" if self.lookback else row.last_id)

    @staticmethod
    def _advance(session: Session, stream: str, modified_at: datetime, last_id: str) -> None:
        row = session.get(CursorRow, stream)
        if row is None:
            session.add(CursorRow(stream=stream, modified_at=modified_at, last_id=last_id))
        elif (modified_at, last_id) > (row.modified_at, row.last_id):
            row.modified_at, row.last_id = modified_at, last_id

    # ----- sync ----------------------------------------------------------------------------
    def sync(self) -> SyncReport:
        """Read changed leads from the CRM into snapshots; malformed ones are skipped, named."""
        report = SyncReport()
        with self.store.session() as session:
            run = SyncRun(connector=self.connector.name)
            session.add(run)
            session.flush()
            report.run_id = run.id
            since = self._cursor(session, LEADS_STREAM)
        tick = self.progress("sync", None)
        for batch in batched(self.connector.fetch_leads(since=since), BATCH):
            with self.store.session() as session:
                self._store_batch(session, batch, report)
                last = batch[-1]
                # The cursor moves in the same transaction as the batch it covers.
                self._advance(session, LEADS_STREAM, last.modified_at, last.crm_id)
            report.fetched += len(batch)
            tick(len(batch))
        with self.store.session() as session:
            run = session.get_one(SyncRun, report.run_id)
            run.fetched, run.stored, run.unchanged = report.fetched, report.stored, report.unchanged
            run.deleted, run.skipped = report.deleted, len(report.skipped)
            run.finished_at = self.clock()
        return report

    def _store_batch(self, session: Session, batch: Sequence[RawLead], report: SyncReport) -> None:
        """Store one page of leads with a few queries, not a few per lead."""
        ids = {raw.crm_id for raw in batch}
        seen = {(row.crm_id, row.crm_modified_at) for row in session.execute(
            select(LeadSnapshot.crm_id, LeadSnapshot.crm_modified_at)
            .where(LeadSnapshot.crm_id.in_(ids))
        )}
        leads = {lead.crm_id: lead for lead in session.scalars(
            select(Lead).where(Lead.crm_id.in_(ids)))}
        current = {row.crm_id: row.payload for row in session.execute(
            select(LeadSnapshot.crm_id, LeadSnapshot.payload)
            .join(Lead, Lead.snapshot_id == LeadSnapshot.id)
            .where(Lead.crm_id.in_(ids), Lead.deleted.is_(False))
        )}
        fresh: list[tuple[LeadSnapshot, str, str, bool]] = []
        for raw in batch:
            if (raw.crm_id, raw.modified_at) in seen:
                report.unchanged += 1
                continue
            seen.add((raw.crm_id, raw.modified_at))
            if raw.deleted:
                lead = leads.get(raw.crm_id)
                if lead is not None and not lead.deleted:
                    snapshot = LeadSnapshot(
                        crm_id=raw.crm_id, crm_modified_at=raw.modified_at,
                        payload=_jsonable(dict(raw.fields)), deleted=True,
                    )
                    fresh.append((snapshot, lead.owner_id, lead.email, True))
                    report.deleted += 1
                continue
            try:
                record = parse_lead(raw)
            except BadRecordError as exc:
                report.skipped.append((raw.crm_id, exc.reason))
                session.add(SyncSkip(run_id=report.run_id, crm_id=raw.crm_id, reason=exc.reason))
                continue
            payload = record.model_dump(mode="json")
            if _same_lead(current.get(raw.crm_id), payload):
                # Only the stamp moved (a CRM bumps it when we write a score back): no new
                # snapshot, so nothing downstream mistakes it for new information.
                report.unchanged += 1
                continue
            snapshot = LeadSnapshot(crm_id=raw.crm_id, crm_modified_at=raw.modified_at,
                                    payload=payload)
            fresh.append((snapshot, record.owner_id, record.email, False))
            report.stored += 1
        session.add_all([snapshot for snapshot, *_ in fresh])
        session.flush()  # one multi-row INSERT gives every snapshot its id
        for snapshot, owner_id, email, deleted in fresh:
            lead = leads.get(snapshot.crm_id)
            if lead is None:
                lead = Lead(crm_id=snapshot.crm_id, snapshot_id=snapshot.id, owner_id=owner_id,
                            email=email, deleted=deleted)
                session.add(lead)
                leads[snapshot.crm_id] = lead
            else:
                lead.snapshot_id, lead.owner_id, lead.email = snapshot.id, owner_id, email
                lead.deleted = deleted

    # ----- score ---------------------------------------------------------------------------
    def score(self) -> ScoreReport:
        """Score every live lead; a tier change the admin guards becomes a score override."""
        report = ScoreReport()
        now = self.clock()
        with self.store.session() as session:
            rows = session.execute(
                select(Lead, LeadSnapshot).join(LeadSnapshot, Lead.snapshot_id == LeadSnapshot.id)
                .where(Lead.deleted.is_(False))
            ).all()
            if not rows:
                return report
            snapshots = {lead.crm_id: snap for lead, snap in rows}
            leads = {lead.crm_id: lead for lead, _ in rows}
            payloads = [snap.payload for snap in snapshots.values()]
            if self.model is None:
                # Points alone; scikit-learn is not even loaded until a model is promoted.
                results = score_leads(payloads, self.weights, now=now)
                report.model_note = NO_MODEL_NOTE
            else:
                from scoring.blend import score_leads_blended

                results = score_leads_blended(payloads, self.weights, now=now, model=self.model,
                                              blend=self.blend, min_labels=self.min_labels)
                report.model_note = results[0].model_note if results else ""
            latest = _latest_scores(session, list(leads))
            pending: dict[str, list[Proposal]] = {}
            for proposal in session.scalars(
                select(Proposal).where(Proposal.kind == service.SCORE_OVERRIDE,
                                       Proposal.state == ProposalState.PENDING)
            ):
                pending.setdefault(proposal.crm_id, []).append(proposal)
            tick = self.progress("score", len(results))
            for chunk in batched(results, 1000):
                changed: list[tuple[LeadScore, Score]] = []
                for result in chunk:
                    snap = snapshots[result.crm_id]
                    previous = latest.get(result.crm_id)
                    if previous is None or (
                        previous.score, previous.tier, previous.snapshot_id,
                        previous.weights_version, previous.model_version,
                    ) != (result.score, result.tier, snap.id, result.weights_version,
                          result.model_version):
                        changed.append((result, Score(
                            crm_id=result.crm_id, snapshot_id=snap.id, score=result.score,
                            tier=result.tier, factors=_factors(result),
                            weights_version=result.weights_version,
                            model_version=result.model_version,
                        )))
                session.add_all([row for _, row in changed])
                session.flush()  # one multi-row INSERT, and every new score has its id
                for result, score_row in changed:
                    lead = leads[result.crm_id]
                    self._apply_or_propose(session, lead, result, score_row,
                                           pending.get(lead.crm_id, []), now, report)
                report.scored += len(chunk)
                report.changed += len(changed)
                tick(len(chunk))
        report.written_back, report.write_errors = self.push_scores()
        return report

    def push_scores(self) -> tuple[int, list[str]]:
        """Write every effective score the CRM does not show yet; returns (written, errors)."""
        written, errors = 0, []
        with self.store.session() as session:
            stale = session.execute(
                select(Lead.crm_id, Lead.effective_score, Lead.effective_tier).where(
                    Lead.deleted.is_(False), Lead.effective_score.is_not(None),
                    (Lead.crm_score.is_(None)) | (Lead.crm_score != Lead.effective_score),
                ).order_by(Lead.crm_id)
            ).all()
        for batch in batched(stale, BATCH):
            outcomes = self.connector.write_scores(
                [ScoreWrite(row.crm_id, int(row.effective_score), str(row.effective_tier))
                 for row in batch])
            with self.store.session() as session:
                for row, outcome in zip(batch, outcomes, strict=True):
                    if outcome.ok:
                        session.get_one(Lead, row.crm_id).crm_score = row.effective_score
                        written += 1
                    else:
                        errors.append(f"{outcome.crm_id}: {outcome.error}")
        return written, errors

    def _apply_or_propose(
        self, session: Session, lead: Lead, result: LeadScore, score_row: Score,
        pending: list[Proposal], now: datetime, report: ScoreReport,
    ) -> None:
        """Apply the new score, or propose it for approval.

        ``pending`` holds the lead's open score overrides; a new score replaces them.
        """
        old_tier = lead.effective_tier
        # A segment's profile may set its own tiers and which changes need a rep.
        weights = self.weights.for_profile(result.profile)
        if not weights.needs_approval(old_tier, result.tier):
            _supersede(session, pending, now)
            lead.effective_score, lead.effective_tier = result.score, result.tier
            return
        if any(p.payload["new_tier"] == result.tier for p in pending):
            return
        _supersede(session, pending, now)
        key = f"score:{lead.crm_id}:{score_row.id}"
        factors = [f["label"] for f in score_row.factors["items"]]
        payload = {
            "old_score": lead.effective_score, "old_tier": old_tier,
            "new_score": result.score, "new_tier": result.tier, "factors": factors,
            "tier_thresholds": weights.tier_thresholds(),
            "points_score": result.points_score, "probability": result.probability,
            "subject": f"Score change to review: {old_tier} -> {result.tier}",
            "description": render_score_task(
                old_score=lead.effective_score, old_tier=old_tier, new_score=result.score,
                new_tier=result.tier, factors=factors, proposal_key=key),
        }
        service.create_proposal(
            session=session, key=key, kind=service.SCORE_OVERRIDE, crm_id=lead.crm_id,
            owner_id=lead.owner_id, payload=payload, expires_at=now + self.proposal_ttl,
            score_id=score_row.id, weights_version=result.weights_version,
            model_version=result.model_version, now=now,
        )
        report.overrides_proposed += 1

    # ----- propose -------------------------------------------------------------------------
    def propose(self) -> ProposeReport:
        """Draft emails for the leads the policy selects, check them, write pending tasks."""
        report = ProposeReport()
        now = self.clock()
        owners = self._owners_by_id()
        with self.store.session() as session:
            candidates = self._draft_candidates(session)
            rules = self._learned_rules(session) if self.learn_from_edits else []
        tick = self.progress("draft", len(candidates))
        for batch in batched(candidates, 50):
            todo = []
            for lead, snap, score_row in batch:
                record = {**snap.payload, "score": lead.effective_score,
                          "tier": lead.effective_tier}
                gate = self.policy.before_draft(record)
                if not gate.draft:
                    report.not_drafted.append((lead.crm_id, "; ".join(gate.reasons)))
                    continue
                owner = owners.get(lead.owner_id)
                facts = LeadFacts.from_mapping({
                    **record, "recent_activity": tuple(score_row.factors.get("activity", [])),
                    "top_factors": tuple(f["label"] for f in score_row.factors["items"]),
                    "rep_name": owner.name if owner else "",
                })
                todo.append((lead, snap, score_row, record, facts))
            # Drafts are made concurrently; one that fails is counted and blocks no other.
            results = draft_many(self.drafter, [t[-1] for t in todo],
                                 concurrency=self.draft_concurrency)
            with self.store.session() as session:
                for (lead, snap, score_row, record, facts), result in zip(
                        todo, results, strict=True):
                    if result.draft is None:
                        report.draft_errors.append(f"{lead.crm_id}: {result.error}")
                        continue
                    created = self._record_draft(session, lead, snap, score_row, record, facts,
                                                 apply_rules(rules, result.draft, lead.owner_id),
                                                 owners, now)
                    if created is not None:
                        report.drafts_proposed += 1
                        report.fallbacks += created.fallback_reason is not None
                        report.flagged += bool(created.payload_flags)
            tick(len(batch))
        self.write_back(report)
        return report

    def _record_draft(
        self, session: Session, lead: Lead, snap: LeadSnapshot, score_row: Score,
        record: dict[str, Any], facts: LeadFacts, draft: Draft, owners: dict[str, Owner],
        now: datetime,
    ) -> _Recorded | None:
        """Check one draft and store it as a pending proposal; None if it already exists."""
        key = f"draft:{lead.crm_id}:{snap.id}"
        if service.get_by_key(session=session, key=key) is not None:
            return None
        review = review_draft(draft, facts, self.product_facts)
        escalations = self.policy.after_draft(draft, review, record)
        flags = review.summary_lines() + [
            f"{'Needs the manager' if e.action == 'require_manager' else 'Second look'}: "
            f"{e.reason} (rule on line {e.rule_line})" for e in escalations]
        factors = [f["label"] for f in score_row.factors["items"]]
        payload: dict[str, Any] = {
            "subject": draft.subject, "body": draft.body, "to": lead.email,
            "facts_used": list(draft.facts_used), "template_id": draft.template_id,
            "fallback_reason": draft.fallback_reason, "factors": factors,
            "score": lead.effective_score, "tier": lead.effective_tier,
            "confidence": draft.confidence, "applied_rules": list(draft.applied_rules),
            "review": review.to_dict(), "flags": flags,
            "escalations": [{"action": e.action, "reason": e.reason, "rule_line": e.rule_line}
                            for e in escalations],
            "description": render_draft_task(
                EmailText(draft.subject, draft.body), score=lead.effective_score,
                tier=lead.effective_tier, factors=factors, flags=flags, proposal_key=key),
        }
        proposal, _ = service.create_proposal(
            session=session, key=key, kind=service.DRAFT, crm_id=lead.crm_id,
            owner_id=lead.owner_id, payload=payload, expires_at=now + self.proposal_ttl,
            score_id=score_row.id, weights_version=score_row.weights_version,
            drafter_version=f"{draft.drafter}:{draft.drafter_version}",
            audit_detail={"kind": service.DRAFT, "inputs": asdict(facts), "prompt": draft.prompt,
                          "output": draft.body, "subject": draft.subject,
                          "token_usage": draft.token_usage,
                          "fallback_reason": draft.fallback_reason,
                          "applied_rules": list(draft.applied_rules),
                          "review": payload["review"], "escalations": payload["escalations"]},
            now=now,
        )
        owner = owners.get(lead.owner_id)
        if any(e.action == "require_manager" for e in escalations) and owner and owner.manager_id:
            proposal.assignee_id = owner.manager_id
            service.audit(session=session, proposal_id=proposal.id, event="escalated",
                          actor="leadloop", at=now,
                          detail={"from": lead.owner_id, "to": owner.manager_id,
                                  "reason": "; ".join(e.reason for e in escalations
                                                      if e.action == "require_manager")})
        return _Recorded(draft.fallback_reason, bool(flags))

    def _learned_rules(self, session: Session) -> list[LearnedRule]:
        """What reps' edits taught, minus the rules an admin switched off."""
        rows = [dict(row) for row in session.execute(
            select(Decision.original_text, Decision.final_text, Decision.decided_by,
                   Decision.decided_at, Decision.decision)
            .join(Proposal, Proposal.id == Decision.proposal_id)
            .where(Proposal.kind == service.DRAFT)
        ).mappings()]
        disabled = session.scalars(
            select(DraftRuleSwitch.rule_id).where(DraftRuleSwitch.enabled.is_(False))).all()
        return learn_rules(rows, disabled=disabled)

    def _draft_candidates(self, session: Session) -> list[tuple[Lead, LeadSnapshot, Score]]:
        busy = select(Proposal.crm_id).where(
            Proposal.kind == service.DRAFT,
            Proposal.state.in_([ProposalState.PENDING, ProposalState.APPROVED,
                                ProposalState.SENT, ProposalState.SEND_FAILED]),
        )
        rows = session.execute(
            select(Lead, LeadSnapshot)
            .join(LeadSnapshot, Lead.snapshot_id == LeadSnapshot.id)
            .where(Lead.deleted.is_(False), Lead.effective_tier.in_(self.draft_tiers),
                   Lead.crm_id.not_in(busy))
            .order_by(Lead.effective_score.desc(), Lead.crm_id)
        ).all()
        latest = _latest_scores(session, [lead.crm_id for lead, _ in rows])
        chosen = []
        for lead, snap in rows:
            # Opted-out leads never get a draft, whatever the tiers say.
            if snap.payload.get("email_opt_out") or snap.payload.get("status", "open") != "open":
                continue
            if lead.crm_id in latest:
                chosen.append((lead, snap, latest[lead.crm_id]))
            if len(chosen) >= self.max_drafts_per_run:
                break
        return chosen

    def write_back(self, report: ProposeReport | None = None) -> ProposeReport:
        """Create a pending CRM task for every proposal that has none yet (idempotent)."""
        report = report or ProposeReport()
        due = self.clock().date() + self.task_due
        with self.store.session() as session:
            waiting = session.scalars(
                select(Proposal).where(Proposal.crm_task_id.is_(None),
                                       Proposal.state == ProposalState.PENDING)
                .order_by(Proposal.id)
            ).all()
            requests = [
                (p.id, ReviewTaskRequest(
                    proposal_key=p.key, kind=ProposalKind(p.kind), lead_crm_id=p.crm_id,
                    owner_id=p.owner_id, subject=p.payload["subject"],
                    body=p.payload["description"], due_date=due,
                    proposed_score=p.payload.get("new_score")))
                for p in waiting
            ]
        tick = self.progress("write back", len(requests))
        for batch in batched(requests, BATCH):
            results = self.connector.upsert_review_tasks([r for _, r in batch])
            with self.store.session() as session:
                for (proposal_id, _), result in zip(batch, results, strict=True):
                    proposal = session.get_one(Proposal, proposal_id)
                    if result.task_id is None:
                        report.task_errors.append(f"{proposal.key}: {result.error}")
                        service.audit(session=session, proposal_id=proposal_id,
                                      event="task_write_failed", actor="leadloop",
                                      detail={"error": result.error})
                        continue
                    proposal.crm_task_id = result.task_id
                    if result.created:
                        report.tasks_created += 1
                    else:
                        report.tasks_existing += 1
                    service.audit(session=session, proposal_id=proposal_id,
                                  event="task_written", actor="leadloop",
                                  detail={"task_id": result.task_id, "created": result.created})
            tick(len(batch))
        return report

    # ----- reconcile -----------------------------------------------------------------------
    def reconcile(self) -> ReconcileReport:
        """Read the reps' decisions from CRM tasks into labels; approved drafts join the outbox."""
        report = ReconcileReport()
        now = self.clock()
        with self.store.session() as session:
            since = self._cursor(session, TASKS_STREAM)
        tick = self.progress("reconcile", None)
        for batch in batched(self.connector.fetch_task_changes(since=since), BATCH):
            with self.store.session() as session:
                for change in batch:
                    report.changes += 1
                    self._apply_change(session, change, now, report)
                last = batch[-1]
                self._advance(session, TASKS_STREAM, last.modified_at, last.task_id)
            tick(len(batch))
        with self.store.session() as session:
            report.expired = service.expire_due(session=session, now=now)
            if self.escalate_after is not None:
                managers = {o.owner_id: o.manager_id for o in self.connector.list_owners()}
                report.escalated = service.escalate_due(
                    session=session, now=now, after=self.escalate_after, managers=managers)
        # An approved score override (here or through the API) now shows in the CRM too.
        report.scores_written, errors = self.push_scores()
        report.errors.extend(errors)
        return report

    def _apply_change(
        self, session: Session, change: TaskChange, now: datetime, report: ReconcileReport
    ) -> None:
        if change.decision is None:
            return
        proposal = service.get_by_key(session=session, key=change.proposal_key)
        if proposal is None:
            report.unknown += 1
            return
        if proposal.state != ProposalState.PENDING:
            report.already_decided += 1
            return
        if change.decision is TaskDecision.APPROVED:
            decision = DecisionIn(
                decision="approve",
                final_text=change.final_text if proposal.kind == service.DRAFT else None,
                final_score=change.final_score if proposal.kind != service.DRAFT else None,
                decided_by=change.decided_by or proposal.owner_id,
            )
        else:
            decision = DecisionIn(decision="reject", reason=change.reason or "no reason given",
                                  decided_by=change.decided_by or proposal.owner_id)
        try:
            # decide() checks everything before it changes anything, so a refusal leaves
            # the session clean and the rest of the batch goes on.
            service.decide(session=session, proposal=proposal, decision=decision,
                           source="crm", now=now)
        except (ReviewError, ValueError) as exc:
            report.errors.append(f"{change.proposal_key}: {exc}")
            service.audit(session=session, proposal_id=proposal.id, event="reconcile_refused",
                          actor="leadloop", detail={"error": str(exc), "task": change.task_id})
            return
        if decision.decision == "approve":
            report.approved += 1
        else:
            report.rejected += 1

    # ----- send ----------------------------------------------------------------------------
    def send(self) -> SendReport:
        """Send approved drafts from the outbox, exactly once each."""
        report = SendReport()
        with self.store.session() as session:
            ids = session.scalars(
                select(OutboxEmail.id).where(
                    OutboxEmail.state.in_(["queued", "sending", "failed"]),
                    OutboxEmail.attempts < MAX_SEND_ATTEMPTS,
                ).order_by(OutboxEmail.id)
            ).all()
        tick = self.progress("send", len(ids))
        for outbox_id in ids:
            self._send_one(outbox_id, report)
            tick(1)
        return report

    def _send_one(self, outbox_id: int, report: SendReport) -> None:
        now = self.clock()
        with self.store.session() as session:
            row = session.get_one(OutboxEmail, outbox_id)
            proposal = session.get_one(Proposal, row.proposal_id)
            label = service.decision_for(session=session, proposal_id=proposal.id)
            # Belt and braces: the outbox only ever holds approved drafts, but the send step
            # checks the proposal and its label again before anything leaves.
            if not may_send(ProposalState(proposal.state)) or label is None or (
                label.decision != "approved"
            ):
                row.state = "refused"
                service.audit(session=session, proposal_id=proposal.id, event="send_refused",
                              actor="leadloop", detail={"state": proposal.state})
                report.refused += 1
                return
            if not _claim(session, row, now=now, lease=SEND_LEASE):
                return  # another sender holds it, or took it since we listed it
            email = OutgoingEmail(
                idempotency_key=row.idempotency_key, lead_crm_id=row.crm_id, to=row.to_address,
                subject=row.subject, body=row.body, from_owner_id=row.owner_id,
            )
        try:
            result = self.connector.find_sent_email(email.idempotency_key)
            if result is None:
                result = self.connector.send_email(email)
        except ConnectorError as exc:
            with self.store.session() as session:
                row = session.get_one(OutboxEmail, outbox_id)
                proposal = session.get_one(Proposal, row.proposal_id)
                row.state, row.last_error = "failed", str(exc)
                if proposal.state == ProposalState.APPROVED:
                    proposal.state = transition(ProposalState.APPROVED, ProposalEvent.SEND_FAILED)
                service.audit(session=session, proposal_id=proposal.id, event="send_failed",
                              actor="leadloop", detail={"error": str(exc)})
            report.failed += 1
            return
        with self.store.session() as session:
            row = session.get_one(OutboxEmail, outbox_id)
            proposal = session.get_one(Proposal, row.proposal_id)
            row.state, row.message_id, row.sent_at = "sent", result.message_id, result.sent_at
            proposal.state = transition(ProposalState(proposal.state), ProposalEvent.SENT)
            service.audit(session=session, proposal_id=proposal.id, event="sent",
                          actor="leadloop",
                          detail={"message_id": result.message_id, "to": row.to_address,
                                  "already_sent": result.already_sent or None})
        if result.already_sent:
            report.already_sent += 1
        else:
            report.sent += 1

    # ----- all -----------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Every step once, in order."""
        return {
            "sync": self.sync(), "score": self.score(), "propose": self.propose(),
            "reconcile": self.reconcile(), "send": self.send(),
        }

    def _owners_by_id(self) -> dict[str, Owner]:
        if self._owners is None:
            self._owners = {o.owner_id: o for o in self.connector.list_owners()}
        return self._owners


@dataclass(frozen=True)
class _Recorded:
    fallback_reason: str | None
    payload_flags: bool


def _claim(session: Session, row: OutboxEmail, *, now: datetime, lease: timedelta) -> bool:
    """Take an outbox row for sending, atomically: of two senders, only one gets it.

    The row is marked 'sending' before anything is sent: if we die mid-send, the run that
    takes it over after the lease asks the CRM's email log before sending again.
    """
    takeable = OutboxEmail.state.in_(["queued", "failed"]) | (
        (OutboxEmail.state == "sending") & (OutboxEmail.claimed_at < now - lease))
    claimed = session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == row.id, OutboxEmail.attempts == row.attempts, takeable)
        .values(state="sending", attempts=row.attempts + 1, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def _factors(result: LeadScore) -> dict[str, Any]:
    return {
        "points_score": result.points_score, "probability": result.probability,
        "profile": result.profile,
        "items": [{"label": str(f), "points": f.points, "group": f.group}
                  for f in result.factors],
        # Engagement reasons without their points read as recent activity in a draft.
        "activity": [f.label for f in result.factors if f.group == "engagement"],
    }


def _latest_scores(session: Session, crm_ids: Sequence[str]) -> dict[str, Score]:
    latest: dict[str, Score] = {}
    for chunk in batched(crm_ids, 500):
        newest = (select(func.max(Score.id)).where(Score.crm_id.in_(chunk))
                  .group_by(Score.crm_id))
        for row in session.scalars(select(Score).where(Score.id.in_(newest))):
            latest[row.crm_id] = row
    return latest


def _supersede(session: Session, pending: list[Proposal], now: datetime) -> None:
    for proposal in pending:
        if proposal.state != ProposalState.PENDING:
            continue
        proposal.state = transition(ProposalState.PENDING, ProposalEvent.SUPERSEDE)
        service.audit(session=session, proposal_id=proposal.id, event="superseded",
                      actor="leadloop", detail={"reason": "a newer score replaced it"}, at=now)
    pending.clear()


def _same_lead(before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    """True when two lead payloads differ in nothing but their modification stamp."""
    if before is None:
        return False
    return {k: v for k, v in before.items() if k != "modified_at"} == {
        k: v for k, v in after.items() if k != "modified_at"}


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, str | int | float | bool | type(None) | list | dict):
            out[key] = value
        else:
            out[key] = str(value)
    return out
