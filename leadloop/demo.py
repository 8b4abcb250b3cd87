"""`leadloop demo`: the whole loop on the sandbox CRM, with reps played by a seeded script.

Round one scores fresh leads and proposes drafts; then a week passes, some leads show new
interest, and scores that cross a guarded tier boundary become score overrides; each later
round a week on brings new leads. Reps (:mod:`leadloop.demo_reps`, preferences from the
seed) decide inside the sandbox CRM the way they would in a real one; reconcile turns those
decisions into labels, the next round's drafts apply what their edits taught, and only
approved drafts are sent. A table shows each round's edit distance and unedited approvals.
Two weeks after the last sends the outcomes (replies, bounces, meetings) come back from the
CRM and the summary shows the funnel.
"""

from __future__ import annotations

import importlib
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from connectors.base import CRMConnector
from connectors.sandbox import SandboxConnector, SandboxCRM
from leadloop.checks import sandbox_tasks_out_of_step, sent_without_entitled_approval
from leadloop.demo_reps import RepTaste, draw_tastes, preferred
from leadloop.demo_rounds import RoundStats, last_decision, print_rounds, round_stats
from leadloop.errors import LeadloopError
from leadloop.pipeline import Pipeline
from leadloop.settings import Settings
from leadloop.wiring import build_pipeline, open_store
from review_api import service
from review_api.store.db import Store
from review_api.store.models import (
    Decision,
    Lead,
    OutboxEmail,
    Proposal,
    Score,
    SyncSkip,
)

REJECT_REASONS = (
    "not a fit right now",
    "already in a conversation with this lead",
    "tone is wrong for this account",
    "wrong contact: should go to their manager",
)
SCORE_REJECT_REASONS = (
    "activity was a student researching, not a buyer",
    "account is already a customer of a partner",
)
# Every real CRM export holds a few broken records; the demo shows they are skipped, named.
MESSY_LEADS: list[dict[str, Any]] = [
    {"first_name": "No", "last_name": "Email", "company": "Nowhere GmbH", "email": None},
    {"first_name": "Lots", "last_name": "Ofpeople", "company": "Vague Inc",
     "email": "lots@vague.example", "employees": "lots"},
    {"first_name": "Long", "last_name": "Notes", "company": "Verbose Ltd",
     "email": "long@verbose.example", "notes": "blah " * 20_000},
    {"first_name": "Nul\x00l", "last_name": "Byte", "company": "Odd Unicode Co",
     "email": "nul@odd.example"},
]


@dataclass
class DemoSummary:
    """What the demo did, counted from the store and from the CRM's own records."""

    leads_in_crm: int = 0
    leads_synced: int = 0
    leads_skipped: int = 0
    leads_scored: int = 0
    proposals: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, int] = field(default_factory=dict)
    labels_logged: int = 0
    emails_sent: int = 0
    sent_without_approval: int = 0
    tasks_out_of_step: int = 0
    out_of_step_examples: list[str] = field(default_factory=list)
    approvals_refused: int = 0
    sends_cancelled: int = 0
    most_sent_by_a_rep_in_a_day: int = 0  # from the CRM's email log, per UTC day
    one_click_in_log: int = 0  # logged emails whose headers offer RFC 8058 one-click
    mailbox_cap: int = 0
    held: Counter[str] = field(default_factory=Counter)  # holds met on the way, by reason
    seconds: float = 0.0
    store_url: str = ""
    crm: str = "sandbox"
    skipped_examples: list[tuple[str, str]] = field(default_factory=list)
    funnel: dict[str, int] = field(default_factory=dict)  # sent, replied, meeting_booked...
    rounds: list[RoundStats] = field(default_factory=list)
    rules_learned: int = 0
    tastes: dict[str, RepTaste] = field(default_factory=dict)


@contextmanager
def demo_connector(crm_name: str, crm: SandboxCRM) -> Iterator[CRMConnector]:
    """The connector the demo runs through: the sandbox itself, or a real CRM connector
    talking to the sandbox's Salesforce or HubSpot face on loopback."""
    if crm_name == "sandbox":
        yield SandboxConnector(crm)
        return
    try:
        link = importlib.import_module(f"connectors.{crm_name}.sandbox_link")
    except ModuleNotFoundError:
        raise LeadloopError(
            f"the demo cannot run through {crm_name!r} yet: its sandbox face is not built"
        ) from None
    with link.connect_to_sandbox(crm) as connector:
        yield connector


def _wire_id(crm_name: str) -> Callable[[str], str]:
    """How the demo's connector spells a sandbox id (HubSpot's face numbers them)."""
    if crm_name == "sandbox":
        return str
    link = importlib.import_module(f"connectors.{crm_name}.sandbox_link")
    return getattr(link, "wire_id", str)


def run_demo(
    settings: Settings, *, leads: int, seed: int, crm_name: str = "sandbox", rounds: int = 4,
) -> DemoSummary:
    """Seed the sandbox, run ``rounds`` rounds of the loop with simulated reps, and count."""
    if settings.database_url is not None:
        raise LeadloopError(
            "leadloop demo starts from an empty embedded store and would not touch "
            f"{settings.masked()['database_url']}; unset LEADLOOP_DATABASE_URL to run it"
        )
    started = time.perf_counter()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("leadloop.db", "leadloop.db-wal", "leadloop.db-shm",
                  "sandbox.db", "sandbox.db-wal", "sandbox.db-shm"):
        (settings.data_dir / stale).unlink(missing_ok=True)
    if settings.sandbox_path is not None:
        settings.sandbox_path.unlink(missing_ok=True)

    # One clock for the CRM and leadloop, so the CRM's email log dates each send on the
    # day leadloop sent it as the demo moves through the days.
    moment = {"now": datetime.now(UTC)}
    crm = SandboxCRM(settings.sandbox_file, clock=lambda: moment["now"])
    crm.seed(leads, seed=seed, now=moment["now"])
    owners = [o.owner_id for o in SandboxConnector(crm).list_owners()]
    crm.add_leads([{**lead, "owner_id": owners[i % len(owners)]}
                   for i, lead in enumerate(MESSY_LEADS)])
    store = open_store(settings)
    rng = random.Random(seed)
    tastes = draw_tastes([o.owner_id for o in SandboxConnector(crm).list_owners()], seed)
    with demo_connector(crm_name, crm) as connector:
        pipeline = build_pipeline(settings, store=store, connector=connector)
        pipeline.clock = lambda: moment["now"]
        summary = _rounds(pipeline, crm, rng, store, _wire_id(crm_name), moment,
                          _Plan(rounds, tastes, seed, max(20, leads // 10)))
    summary.tastes = tastes
    summary.mailbox_cap = settings.sending.max_per_mailbox_per_day
    summary.seconds = time.perf_counter() - started
    summary.store_url = settings.masked()["store_url"]
    summary.crm = crm_name
    return summary


@dataclass(frozen=True)
class _Plan:
    rounds: int
    tastes: dict[str, RepTaste]
    seed: int
    new_leads: int  # leads that arrive each round after the second


def _rounds(
    pipeline: Pipeline, crm: SandboxCRM, rng: random.Random, store: Store,
    wire_id: Callable[[str], str], moment: dict[str, datetime], plan: _Plan,
) -> DemoSummary:
    held: Counter[str] = Counter()
    stats: list[RoundStats] = []
    try:
        # Round one: fresh leads are scored and the best get drafts.
        pipeline.sync()
        pipeline.score()
        pipeline.propose()
        _reps_decide_drafts(crm, rng, plan.tastes, eager_reps=True)
        refused = pipeline.reconcile().refused
        stats.append(round_stats(pipeline, 1, 0))
        cancelled = _send_through_the_days(pipeline, moment, held,
                                           until=moment["now"] + timedelta(days=7))
        for number in range(2, plan.rounds + 1):
            # A week passes: some leads come back to the pricing page or join a webinar,
            # and from the third round on new leads arrive.
            week_later = moment["now"] = moment["now"] + timedelta(days=7)
            if number > 2:
                crm.seed(plan.new_leads, seed=plan.seed * 1000 + number, now=week_later)
            _new_interest(crm, rng, week_later)
            last = last_decision(pipeline)
            pipeline.sync()
            pipeline.score()
            pipeline.propose()
            _reps_decide_scores(crm, rng)
            _reps_decide_drafts(crm, rng, plan.tastes, eager_reps=False)
            refused += pipeline.reconcile().refused
            stats.append(round_stats(pipeline, number, last))
            # Between rounds only today's sends; the last round sends through the weeks.
            days = 21 if number == plan.rounds else 1
            cancelled += _send_through_the_days(pipeline, moment, held,
                                                until=moment["now"] + timedelta(days=days))
        # Two weeks on, the CRM holds the leads' replies, bounces, meetings and opt-outs.
        moment["now"] = moment["now"] + timedelta(days=pipeline.no_reply_days)
        pipeline.sync()
        funnel = pipeline.outcomes().funnel
        summary = _summarise(pipeline, crm, wire_id)
        summary.held, summary.rounds, summary.funnel = held, stats, funnel
        with pipeline.store.session() as session:
            summary.rules_learned = len(pipeline._learned_rules(
                session, pipeline._edit_rows(session)))
        summary.approvals_refused, summary.sends_cancelled = refused, cancelled
        return summary
    finally:
        store.close()


def _send_through_the_days(pipeline: Pipeline, moment: dict[str, datetime],
                           held: Counter[str], *, until: datetime) -> int:
    """Send now, then at each planned time the outbox waits for (the clock moves there),
    until nothing waits or ``until``; returns the sends cancelled for want of consent."""
    start, cancelled = moment["now"], 0
    while True:
        report = pipeline.send()
        cancelled += report.cancelled
        if moment["now"] == start:
            held.update(report.held)
        with pipeline.store.session() as session:
            due = session.scalar(select(func.min(OutboxEmail.not_before)).where(
                OutboxEmail.state.in_(["queued", "failed"])))
        if due is None or due >= until or due <= moment["now"]:
            return cancelled
        moment["now"] = due


def _reps_decide_drafts(crm: SandboxCRM, rng: random.Random, tastes: dict[str, RepTaste], *,
                        eager_reps: bool) -> None:
    for task in crm.list_tasks(status="Not Started"):
        if task.kind != "draft":
            continue
        lead = crm.get_lead(task.lead_crm_id)
        lead_owner = lead["owner_id"]
        if eager_reps and task.owner_id != lead_owner and rng.random() < 0.5:
            # A task that needs the manager: the rep who owns the lead approves it anyway,
            # as reps do; reconcile refuses it and hands the task back to the manager.
            crm.approve_task(task.task_id, by=lead_owner)
            continue
        taste = tastes.get(task.owner_id, RepTaste())
        if rng.random() < taste.reject_rate:
            crm.reject_task(task.task_id, by=task.owner_id, reason=rng.choice(REJECT_REASONS))
            continue
        wanted = preferred(task.email_body, taste, company=str(lead.get("company") or ""),
                           rng=rng)
        if wanted.strip() == task.email_body.strip():
            crm.approve_task(task.task_id, by=task.owner_id)
        else:
            crm.approve_task(task.task_id, by=task.owner_id, email_body=wanted)


def _reps_decide_scores(crm: SandboxCRM, rng: random.Random) -> None:
    for task in crm.list_tasks(status="Not Started"):
        if task.kind != "score_override":
            continue
        roll = rng.random()
        if roll < 0.6:
            crm.approve_task(task.task_id, by=task.owner_id)
        elif roll < 0.8:
            proposed = task.proposed_score if task.proposed_score is not None else 50
            crm.set_final_score(task.task_id, by=task.owner_id,
                                score=max(0, min(100, proposed - rng.randint(5, 15))))
        else:
            crm.reject_task(task.task_id, by=task.owner_id,
                            reason=rng.choice(SCORE_REJECT_REASONS))


def _new_interest(crm: SandboxCRM, rng: random.Random, now: datetime) -> None:
    live = [lead for lead in crm.list_leads() if lead.get("status") == "open"]
    for lead in rng.sample(live, k=max(1, len(live) // 8)):
        events = list(lead.get("events") or [])
        for day in sorted(rng.sample(range(1, 7), k=rng.randint(2, 4))):
            events.append({"kind": "page_view", "detail": "/pricing",
                           "at": (now - timedelta(days=day)).isoformat()})
        if rng.random() < 0.5:
            events.append({"kind": "webinar", "detail": "Product tour",
                           "at": (now - timedelta(days=2)).isoformat()})
        crm.update_lead(lead["crm_id"], events=events)


def _summarise(pipeline: Pipeline, crm: SandboxCRM,
               wire_id: Callable[[str], str]) -> DemoSummary:
    summary = DemoSummary(leads_in_crm=crm.count_leads())
    with pipeline.store.session() as session:
        summary.leads_synced = session.scalar(select(func.count()).select_from(Lead)) or 0
        summary.leads_skipped = session.scalar(
            select(func.count(func.distinct(SyncSkip.crm_id)))) or 0
        summary.skipped_examples = [
            (s.crm_id, s.reason) for s in session.scalars(select(SyncSkip).limit(4))]
        summary.leads_scored = session.scalar(
            select(func.count(func.distinct(Score.crm_id)))) or 0
        summary.proposals = service.counts_by(session=session, column=Proposal.kind,
                                              model=Proposal)
        for kind, decision, n in session.execute(
            select(Proposal.kind, Decision.decision, func.count())
            .join(Decision, Decision.proposal_id == Proposal.id)
            .group_by(Proposal.kind, Decision.decision)
        ):
            summary.decisions[f"{kind} {decision}"] = int(n)
        summary.labels_logged = session.scalar(select(func.count()).select_from(Decision)) or 0
        summary.emails_sent = session.scalar(
            select(func.count()).select_from(OutboxEmail).where(OutboxEmail.state == "sent")
        ) or 0
    # Counted from the CRM's own email log, not from our outbox: an email that left without
    # an approval by an entitled person would show here even if our bookkeeping were wrong.
    per_rep_day = Counter((e.from_owner_id, e.sent_at.date()) for e in crm.sent_emails())
    summary.most_sent_by_a_rep_in_a_day = max(per_rep_day.values(), default=0)
    summary.one_click_in_log = sum(
        e.headers.get("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
        and "List-Unsubscribe" in e.headers for e in crm.sent_emails())
    summary.sent_without_approval = len(sent_without_entitled_approval(
        pipeline.store, [email.idempotency_key for email in crm.sent_emails()]))
    # Counted from the CRM's tasks against the store's proposals, one by one.
    problems = sandbox_tasks_out_of_step(pipeline.store, crm, wire_id)
    summary.tasks_out_of_step, summary.out_of_step_examples = len(problems), problems[:5]
    return summary


def print_summary(summary: DemoSummary) -> None:
    """The demo's closing table."""
    from rich.table import Table
    from rich.text import Text

    from leadloop.cli.common import console
    from leadloop.steps.schedule import held_summary
    table = Table("", "count", title=f"leadloop demo (CRM: {summary.crm})")
    table.add_row("leads in the sandbox CRM", str(summary.leads_in_crm))
    table.add_row("leads synced", str(summary.leads_synced))
    table.add_row("leads skipped (malformed)", str(summary.leads_skipped))
    table.add_row("leads scored", str(summary.leads_scored))
    for kind, n in sorted(summary.proposals.items()):
        table.add_row(f"proposals: {kind}", str(n))
    for kind, n in sorted(summary.decisions.items()):
        table.add_row(f"decisions: {kind}", str(n))
    table.add_row("labels logged", str(summary.labels_logged))
    table.add_row("emails sent", str(summary.emails_sent))
    table.add_row("of them with one-click unsubscribe headers (CRM email log)",
                  str(summary.one_click_in_log))
    table.add_row("emails replied to (a meeting counts too)",
                  str(summary.funnel.get("replied", 0)))
    table.add_row("meetings booked", str(summary.funnel.get("meeting_booked", 0)))
    table.add_row(f"most sent by one rep in a UTC day (cap {summary.mailbox_cap})",
                  str(summary.most_sent_by_a_rep_in_a_day))
    style = "green" if summary.sent_without_approval == 0 else "bold red"
    table.add_row("approvals refused (not entitled, wrong action, empty)",
                  str(summary.approvals_refused))
    table.add_row("sends cancelled (no consent at send time)", str(summary.sends_cancelled))
    table.add_row("emails sent without approval",
                  Text(str(summary.sent_without_approval), style=style))
    steps_style = "green" if summary.tasks_out_of_step == 0 else "bold red"
    table.add_row("CRM tasks out of step with leadloop",
                  Text(str(summary.tasks_out_of_step), style=steps_style))
    console.print(table)
    if summary.held:
        console.print(Text("on the day each round approved them, " + held_summary(summary.held)))
    if summary.funnel:
        from leadloop.cli.outcomes import funnel_line
        console.print(Text(funnel_line(summary.funnel)))
    console.print(f"emails sent without approval: {summary.sent_without_approval}")
    console.print(f"CRM tasks out of step with leadloop: {summary.tasks_out_of_step}")
    for problem in summary.out_of_step_examples:
        console.print(f"out of step: {problem}")
    for crm_id, reason in summary.skipped_examples:
        console.print(f"skipped {crm_id}: {reason}")
    if summary.rounds:
        print_rounds(summary.rounds, summary.rules_learned, summary.tastes)
    console.print(f"finished in {summary.seconds:.1f} s; the store is {summary.store_url}")
    console.print("next: leadloop review list, leadloop serve, or open the store in a notebook")

