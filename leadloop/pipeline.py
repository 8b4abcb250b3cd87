"""The pipeline steps: sync, score, propose, write back, reconcile, send.

Each step commits its own work in batches and can be re-run at any point: a crash between
two steps, or inside one, never loses a decision, never duplicates a CRM task (proposal keys
are idempotency keys) and never sends an email twice or without approval.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.base import (
    CRMConnector,
    Owner,
    RawLead,
    ScoreWrite,
    SyncCursor,
    parse_lead,
)
from connectors.errors import BadRecordError
from connectors.outcomes import OutcomeKind
from connectors.storable import crm_id_problem, storable_fields, storable_id
from drafting import Draft, Drafter, LeadFacts
from drafting.batch import draft_many
from drafting.guardrails import ProductFacts, load_product_facts, review_draft
from drafting.learning import LearnedRule, learn_rules
from drafting.learning import apply as apply_rules
from drafting.limits import DraftLimits
from drafting.policy import Policy, load_policy
from drafting.rep_examples import attach as attach_rep_examples
from leadloop.draft_inputs import lead_facts
from leadloop.steps import cursor as cursor_rule
from leadloop.steps import outcomes as outcomes_step
from leadloop.steps import reconcile as reconcile_step
from leadloop.steps import send as send_step
from leadloop.steps.reconcile import ReconcileReport
from leadloop.steps.send import SendReport
from leadloop.steps.task_updates import (
    TaskPushReport,
    WriteBackReport,
    push_task_updates,
)
from leadloop.steps.task_updates import write_back as write_back_step
from review_api import lifecycle, outcomes, service, suppression
from review_api.store.db import Store
from review_api.store.models import (
    Decision,
    DraftRuleSwitch,
    Lead,
    LeadSnapshot,
    OutboxEmail,
    OutcomeEventRow,
    Proposal,
    Score,
    SyncRun,
    SyncSkip,
    subscores_sql,
    subscores_text,
)
from review_api.taskbody import render_draft_notes, render_score_task
from review_api.workflow import ProposalState
from scoring import LeadScore, Weights, score_leads
from scoring.features import future_dated_events

__all__ = ["Pipeline", "ProposeReport", "ReconcileReport", "ScoreReport", "SendReport",
           "SyncReport", "TaskPushReport", "batched"]

if TYPE_CHECKING:
    from leadloop.settings import SendingConfig
    from scoring.blend import ScoringModel

log = logging.getLogger(__name__)

T = TypeVar("T")
Progress = Callable[[str, int | None], Callable[[int], None]]
BATCH = 200
LEADS_STREAM = "leads"
TASKS_STREAM = "tasks"
MAX_EMAILS_PER_LEAD = 2  # a first email and one follow-up after no reply
NO_MODEL_NOTE = "no model promoted yet: the score is the points score alone"


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
    future_dated: list[str] = field(default_factory=list)
    """Leads stored with events dated after the sync (left out of recency and decay)."""


@dataclass
class ScoreReport:
    model_note: str = ""
    scored: int = 0
    changed: int = 0
    overrides_proposed: int = 0
    written_back: int = 0
    write_errors: list[str] = field(default_factory=list)


@dataclass
class ProposeReport(WriteBackReport):
    drafts_proposed: int = 0
    flagged: int = 0
    not_drafted: list[tuple[str, str]] = field(default_factory=list)
    draft_errors: list[str] = field(default_factory=list)
    fallbacks: int = 0


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
        model_note: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        progress: Progress = _no_progress, sending: SendingConfig | None = None,
        draft_limits: DraftLimits | None = None,
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
        self.model_note = model_note  # why a promoted champion is not used, if it is not
        self.blend = blend
        self.min_labels = min_labels
        self.draft_concurrency = draft_concurrency
        self.draft_limits = draft_limits  # shared with other workers (Redis), when given
        self.clock = clock
        self.progress = progress
        self.sending = sending  # None: no window, holidays or caps (tests of other steps)
        self._owners: dict[str, Owner] | None = None

    # ----- cursors -------------------------------------------------------------------------
    def _cursor(self, session: Session, stream: str) -> SyncCursor | None:
        # Read a little before the cursor only while a late change may still show up there
        # (leadloop/steps/cursor.py); re-reads are harmless (snapshots and decisions dedupe).
        return cursor_rule.load(session, stream, self.lookback)

    @staticmethod
    def _advance(session: Session, stream: str, modified_at: datetime, last_id: str) -> None:
        cursor_rule.advance(session, stream, modified_at, last_id)

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
        started = self.clock()
        tick = self.progress("sync", None)
        for batch in batched(self.connector.fetch_leads(since=since), BATCH):
            with self.store.session() as session:
                self._store_batch(session, batch, report)
                last = batch[-1]
                # The cursor moves in the same transaction as the batch it covers.
                # An id no store can hold (a skipped lead) is kept as a skip record shows it.
                self._advance(session, LEADS_STREAM, last.modified_at, storable_id(last.crm_id))
            report.fetched += len(batch)
            tick(len(batch))
        with self.store.session() as session:
            run = session.get_one(SyncRun, report.run_id)
            run.fetched, run.stored, run.unchanged = report.fetched, report.stored, report.unchanged
            run.deleted, run.skipped = report.deleted, len(report.skipped)
            run.finished_at = self.clock()
            cursor_rule.finish(session, LEADS_STREAM, started)
        return report

    def _store_batch(self, session: Session, batch: Sequence[RawLead], report: SyncReport) -> None:
        """Store one page of leads with a few queries, not a few per lead."""
        ids = {raw.crm_id for raw in batch if not crm_id_problem(raw.crm_id)}
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
        now = self.clock()
        for raw in batch:
            if (raw.crm_id, raw.modified_at) in seen:
                report.unchanged += 1
                continue
            seen.add((raw.crm_id, raw.modified_at))
            if problem := crm_id_problem(raw.crm_id):  # an id no store can key a row by
                report.skipped.append((storable_id(raw.crm_id), problem))
                session.add(SyncSkip(run_id=report.run_id, crm_id=storable_id(raw.crm_id),
                                     reason=problem))
                continue
            if raw.deleted:
                lead = leads.get(raw.crm_id)
                if lead is not None and not lead.deleted:
                    snapshot = LeadSnapshot(
                        crm_id=raw.crm_id, crm_modified_at=raw.modified_at,
                        payload=storable_fields(raw.fields), deleted=True,
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
            if future_dated_events(record.events, now=now):
                report.future_dated.append(raw.crm_id)
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
        self._cancel_without_consent(session, fresh)

    def _cancel_without_consent(
        self, session: Session, fresh: Sequence[tuple[LeadSnapshot, str, str, bool]]
    ) -> None:
        """A lead deleted in the CRM loses its pending proposals; one who opted out, its
        pending drafts. Their tasks are closed, saying why."""
        gone = {snap.crm_id: "the lead was deleted in the CRM" for snap, *_, deleted in fresh
                if deleted}
        opted = {snap.crm_id: "the lead opted out of email" for snap, *_, deleted in fresh
                 if not deleted and snap.payload.get("email_opt_out")}
        if not gone and not opted:
            return
        now = self.clock()
        for proposal in session.scalars(select(Proposal).where(
                Proposal.state == ProposalState.PENDING,
                Proposal.crm_id.in_(set(gone) | set(opted)))):
            why = gone.get(proposal.crm_id)
            if why is None and proposal.kind == service.DRAFT:
                why = opted[proposal.crm_id]
            if why is not None:
                lifecycle.cancel(session=session, proposal=proposal, why=why, now=now)

    # ----- score ---------------------------------------------------------------------------
    def score(self, crm_ids: Collection[str] | None = None, *, push: bool = True) -> ScoreReport:
        """Score every live lead (or those named); a tier change the admin guards becomes a
        score override. ``push=False`` leaves writing scores to the CRM to the caller."""
        report = ScoreReport()
        now = self.clock()
        with self.store.session() as session:
            query = (select(Lead, LeadSnapshot)
                     .join(LeadSnapshot, Lead.snapshot_id == LeadSnapshot.id)
                     .where(Lead.deleted.is_(False)))
            if crm_ids is not None:
                query = query.where(Lead.crm_id.in_(list(crm_ids)))
            rows = session.execute(query).all()
            if not rows:
                return report
            snapshots = {lead.crm_id: snap for lead, snap in rows}
            leads = {lead.crm_id: lead for lead, _ in rows}
            payloads = [snap.payload for snap in snapshots.values()]
            if self.model is None:
                # Points alone; scikit-learn is not even loaded until a model is promoted.
                results = score_leads(payloads, self.weights, now=now)
                report.model_note = self.model_note or NO_MODEL_NOTE
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
                        previous.fit_score, previous.engagement_score, previous.grade,
                    ) != (result.score, result.tier, snap.id, result.weights_version,
                          result.model_version, result.fit_score, result.engagement_score,
                          result.grade):
                        changed.append((result, Score(
                            crm_id=result.crm_id, snapshot_id=snap.id, score=result.score,
                            tier=result.tier, factors=_factors(result),
                            weights_version=result.weights_version,
                            model_version=result.model_version, fit_score=result.fit_score,
                            engagement_score=result.engagement_score, grade=result.grade,
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
        if push:
            report.written_back, report.write_errors = self.push_scores()
        return report

    def push_scores(self) -> tuple[int, list[str]]:
        """Write every effective score the CRM does not show yet; returns (written, errors)."""
        written, errors = 0, []
        with self.store.session() as session:
            # A lead scored before sub-scores existed gets them at its next push.
            stale = session.execute(
                select(Lead.crm_id, Lead.effective_score, Lead.effective_tier, Lead.fit_score,
                       Lead.engagement_score, Lead.grade).where(
                    Lead.deleted.is_(False), Lead.effective_score.is_not(None),
                    (Lead.crm_score.is_(None)) | (Lead.crm_score != Lead.effective_score)
                    | Lead.crm_subscores.is_distinct_from(subscores_sql()),
                ).order_by(Lead.crm_id)
            ).all()
        for batch in batched(stale, BATCH):
            outcomes = self.connector.write_scores(
                [ScoreWrite(row.crm_id, int(row.effective_score), str(row.effective_tier),
                            row.fit_score, row.engagement_score, row.grade) for row in batch])
            with self.store.session() as session:
                for row, outcome in zip(batch, outcomes, strict=True):
                    if outcome.ok:
                        lead_row = session.get_one(Lead, row.crm_id)
                        lead_row.crm_score = row.effective_score
                        lead_row.crm_subscores = subscores_text(
                            row.fit_score, row.engagement_score, row.grade)
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
            lead.fit_score, lead.engagement_score = result.fit_score, result.engagement_score
            lead.grade = result.grade
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
            "fit_score": result.fit_score, "engagement_score": result.engagement_score,
            "grade": result.grade,
            "subject": f"Score change to review: {old_tier} -> {result.tier}",
            "description": render_score_task(
                old_score=lead.effective_score, old_tier=old_tier, new_score=result.score,
                new_tier=result.tier, factors=factors, proposal_key=key,
                subscores=(result.fit_score, result.engagement_score, result.grade)),
        }
        service.create_proposal(
            session=session, key=key, kind=service.SCORE_OVERRIDE, crm_id=lead.crm_id,
            owner_id=lead.owner_id, payload=payload, expires_at=now + self.proposal_ttl,
            score_id=score_row.id, weights_version=result.weights_version,
            model_version=result.model_version, now=now,
        )
        report.overrides_proposed += 1

    # ----- propose -------------------------------------------------------------------------
    def propose(
        self, crm_ids: Collection[str] | None = None, *, write_back: bool = True,
    ) -> ProposeReport:
        """Draft emails for the leads the policy selects (among those named, if named), check
        them, write pending tasks (unless ``write_back=False``: the caller does it)."""
        report = ProposeReport()
        now = self.clock()
        owners = self._owners_by_id()
        with self.store.session() as session:
            candidates = self._draft_candidates(session, crm_ids)
            sent_before = _sent_counts(session, [lead.crm_id for lead, _, _ in candidates])
            rows = self._edit_rows(session) if self.learn_from_edits else []
            rules = self._learned_rules(session, rows) if self.learn_from_edits else []
        owner_of: dict[str, str] = {}  # a model drafter's few-shot examples: the rep's own edits
        attach_rep_examples(self.drafter, rows, lambda facts: owner_of.get(facts.crm_id, ""))
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
                facts = lead_facts(record, score_row, owner, now,
                                   emails_sent=sent_before.get(lead.crm_id, 0))
                owner_of[facts.crm_id] = lead.owner_id or ""
                todo.append((lead, snap, score_row, record, facts))
            # Drafts are made concurrently; one that fails is counted and blocks no other.
            results = draft_many(self.drafter, [t[-1] for t in todo],
                                 concurrency=self.draft_concurrency, limits=self.draft_limits)
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
        if write_back:
            self.write_back(report)
        return report

    def _record_draft(
        self, session: Session, lead: Lead, snap: LeadSnapshot, score_row: Score,
        record: dict[str, Any], facts: LeadFacts, draft: Draft, owners: dict[str, Owner],
        now: datetime,
    ) -> _Recorded | None:
        """Check one draft and store it as a pending proposal; None if it already exists."""
        # A follow-up after no reply has its own key: the lead's record may be unchanged.
        key = f"draft:{lead.crm_id}:{snap.id}" + (
            f":follow-up-{facts.emails_sent}" if facts.emails_sent else "")
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
            "fit_score": lead.fit_score, "engagement_score": lead.engagement_score,
            "grade": lead.grade,
            "confidence": draft.confidence, "applied_rules": list(draft.applied_rules),
            "review": review.to_dict(), "flags": flags,
            "escalations": [{"action": e.action, "reason": e.reason, "rule_line": e.rule_line}
                            for e in escalations],
            "description": render_draft_notes(
                score=lead.effective_score, tier=lead.effective_tier, factors=factors,
                flags=flags, proposal_key=key,
                subscores=(lead.fit_score, lead.engagement_score, lead.grade)),
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
        if any(e.action == "require_manager" for e in escalations):
            # Only the manager may approve it (authority.check); with no manager on record,
            # only an admin may. Its task is written straight to whoever must decide.
            manager = owner.manager_id if owner else None
            proposal.approver_id = manager or ""
            if manager:
                proposal.assignee_id = manager
            service.audit(session=session, proposal_id=proposal.id, event="escalated",
                          actor="leadloop", at=now,
                          detail={"from": lead.owner_id, "to": manager or "an admin",
                                  "approver": manager or "an admin",
                                  "reason": "; ".join(e.reason for e in escalations
                                                      if e.action == "require_manager")})
        return _Recorded(draft.fallback_reason, bool(flags))

    def _learned_rules(self, session: Session, rows: list[dict[str, Any]]) -> list[LearnedRule]:
        """What reps' edits taught, minus the rules an admin switched off."""
        disabled = session.scalars(
            select(DraftRuleSwitch.rule_id).where(DraftRuleSwitch.enabled.is_(False))).all()
        return learn_rules(rows, disabled=disabled)

    def _edit_rows(self, session: Session) -> list[dict[str, Any]]:
        """Every decision on a draft: what was proposed and what the rep approved."""
        return [dict(row) for row in session.execute(
            select(Decision.original_text, Decision.final_text, Decision.decided_by,
                   Decision.decided_at, Decision.decision)
            .join(Proposal, Proposal.id == Decision.proposal_id)
            .where(Proposal.kind == service.DRAFT)
        ).mappings()]

    def _draft_candidates(
        self, session: Session, crm_ids: Collection[str] | None = None,
    ) -> list[tuple[Lead, LeadSnapshot, Score]]:
        # A lead whose email went unanswered for N days may get one follow-up; until then,
        # and while a draft is open, it is busy.
        unanswered = select(OutcomeEventRow.proposal_id).where(
            OutcomeEventRow.kind == OutcomeKind.NO_REPLY, OutcomeEventRow.proposal_id.is_not(None))
        busy = select(Proposal.crm_id).where(
            Proposal.kind == service.DRAFT,
            Proposal.state.in_([ProposalState.PENDING, ProposalState.APPROVED,
                                ProposalState.SEND_FAILED])
            | ((Proposal.state == ProposalState.SENT) & Proposal.id.not_in(unanswered)),
        )
        query = (
            select(Lead, LeadSnapshot)
            .join(LeadSnapshot, Lead.snapshot_id == LeadSnapshot.id)
            .where(Lead.deleted.is_(False), Lead.effective_tier.in_(self.draft_tiers),
                   Lead.crm_id.not_in(busy))
            .order_by(Lead.effective_score.desc(), Lead.crm_id)
        )
        if crm_ids is not None:
            query = query.where(Lead.crm_id.in_(list(crm_ids)))
        rows = session.execute(query).all()
        ids = [lead.crm_id for lead, _ in rows]
        latest = _latest_scores(session, ids)
        answered = outcomes.answered_leads(session=session, crm_ids=ids)
        sent = _sent_counts(session, ids)
        chosen = []
        for lead, snap in rows:
            if lead.crm_id in answered or sent.get(lead.crm_id, 0) >= MAX_EMAILS_PER_LEAD:
                continue  # it replied: a person takes it from here; or it had its follow-up
            # Opted-out leads never get a draft, whatever the tiers say.
            if snap.payload.get("email_opt_out") or snap.payload.get("status", "open") != "open":
                continue
            if suppression.find(session=session, address=lead.email) is not None:
                continue  # on the suppression list: no draft, so no email
            if lead.crm_id in latest:
                chosen.append((lead, snap, latest[lead.crm_id]))
            if len(chosen) >= self.max_drafts_per_run:
                break
        return chosen

    def write_back(self, report: ProposeReport | None = None) -> ProposeReport:
        """Create a pending CRM task for every proposal that has none yet (idempotent)."""
        report = report or ProposeReport()
        with self.store.session() as session:
            waiting = session.scalar(select(func.count()).select_from(Proposal).where(
                (Proposal.crm_task_id.is_(None) & (Proposal.state == ProposalState.PENDING))
                | (Proposal.crm_task_id == ""))) or 0
        write_back_step(store=self.store, connector=self.connector,
                        due=self.clock().date() + self.task_due,
                        tick=self.progress("write back", waiting), report=report)
        return report

    def push_task_updates(self) -> TaskPushReport:
        """Show in the CRM every change to a proposal that the CRM did not make."""
        self.write_back()  # a task asked for but not confirmed is confirmed first
        return push_task_updates(store=self.store, connector=self.connector, now=self.clock())

    # ----- reconcile -----------------------------------------------------------------------
    def reconcile(self) -> ReconcileReport:
        """Read the reps' decisions from CRM tasks; refuse, with a reason on the task, what
        may not take effect; expire and escalate what is due; show it all in the CRM."""
        report = ReconcileReport()
        now = self.clock()
        with self.store.session() as session:
            since = self._cursor(session, TASKS_STREAM)
        started = self.clock()
        tick = self.progress("reconcile", None)
        for batch in batched(self.connector.fetch_task_changes(since=since), BATCH):
            with self.store.session() as session:
                for change in batch:
                    report.changes += 1
                    reconcile_step.apply_change(session, change, now, report)
                last = batch[-1]
                self._advance(session, TASKS_STREAM, last.modified_at, last.task_id)
            tick(len(batch))
        with self.store.session() as session:
            cursor_rule.finish(session, TASKS_STREAM, started)
            report.expired = lifecycle.expire_due(session=session, now=now)
            if self.escalate_after is not None:
                managers = {o.owner_id: o.manager_id for o in self.connector.list_owners()}
                report.escalated = lifecycle.escalate_due(
                    session=session, now=now, after=self.escalate_after, managers=managers)
        # An approved score override (here or through the API) now shows in the CRM too.
        report.scores_written, errors = self.push_scores()
        report.errors.extend(errors)
        pushed = self.push_task_updates()
        report.tasks_updated = pushed.pushed
        report.errors.extend(pushed.errors)
        return report

    # ----- send ----------------------------------------------------------------------------
    def send(self) -> SendReport:
        """Send approved drafts from the outbox, exactly once each, each after a consent
        check; then show what was sent or cancelled on the CRM tasks."""
        with self.store.session() as session:
            due = session.scalar(select(func.count()).select_from(OutboxEmail).where(
                OutboxEmail.state.in_(["queued", "sending", "failed"]))) or 0
        report = send_step.send(store=self.store, connector=self.connector, clock=self.clock,
                                tick=self.progress("send", due), sending=self.sending)
        self.push_task_updates()
        return report

    # ----- outcomes ------------------------------------------------------------------------
    no_reply_days = 14  # settings: outcome_no_reply_days

    def outcomes(self) -> outcomes_step.OutcomeReport:
        """Import replies, bounces and meetings from the CRM; infer opt-outs and no-replies."""
        with self.store.session() as session:
            since = self._cursor(session, outcomes_step.OUTCOMES_STREAM)
        return outcomes_step.import_outcomes(
            store=self.store, connector=self.connector, since=since, now=self.clock(),
            no_reply_days=self.no_reply_days, advance=self._advance,
            tick=self.progress("outcomes", None))

    # ----- all -----------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Every step once, in order."""
        return {
            "sync": self.sync(), "score": self.score(), "propose": self.propose(),
            "reconcile": self.reconcile(), "send": self.send(), "outcomes": self.outcomes(),
        }

    def _owners_by_id(self) -> dict[str, Owner]:
        if self._owners is None:
            self._owners = {o.owner_id: o for o in self.connector.list_owners()}
        return self._owners


@dataclass(frozen=True)
class _Recorded:
    fallback_reason: str | None
    payload_flags: bool


def _factors(result: LeadScore) -> dict[str, Any]:
    return {
        "points_score": result.points_score, "probability": result.probability,
        "profile": result.profile, "fit_score": result.fit_score,
        "engagement_score": result.engagement_score, "grade": result.grade,
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


def _sent_counts(session: Session, crm_ids: Sequence[str]) -> dict[str, int]:
    """How many of our emails each lead has been sent."""
    return {str(crm_id): int(n) for crm_id, n in session.execute(
        select(OutboxEmail.crm_id, func.count()).where(
            OutboxEmail.crm_id.in_(crm_ids), OutboxEmail.state == "sent")
        .group_by(OutboxEmail.crm_id))}


def _supersede(session: Session, pending: list[Proposal], now: datetime) -> None:
    for proposal in pending:
        if proposal.state == ProposalState.PENDING:
            lifecycle.supersede(session=session, proposal=proposal,
                              why="a newer score replaced it", now=now)
    pending.clear()


def _same_lead(before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    """True when two lead payloads differ in nothing but their modification stamp."""
    if before is None:
        return False
    return {k: v for k, v in before.items() if k != "modified_at"} == {
        k: v for k, v in after.items() if k != "modified_at"}
