"""`leadloop drafts`: what reps' edits taught the drafter, and how editing is trending."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select

from drafting.learning import learn_rules, weekly_metrics
from leadloop.cli.common import console, settings
from leadloop.cli.suggest import unknown_id
from leadloop.wiring import open_store
from review_api.store.models import Decision, DraftRuleSwitch, Proposal

app = typer.Typer(help="Learned drafting rules and edit trends.", no_args_is_help=True)


def _decisions() -> tuple[list[dict[str, Any]], set[str]]:
    store = open_store(settings())
    try:
        with store.session() as session:
            rows = [dict(row) for row in session.execute(
                select(Decision.original_text, Decision.final_text, Decision.decided_by,
                       Decision.decided_at, Decision.decision)
                .join(Proposal, Proposal.id == Decision.proposal_id)
                .where(Proposal.kind == "draft")).mappings()]
            off = set(session.scalars(
                select(DraftRuleSwitch.rule_id).where(DraftRuleSwitch.enabled.is_(False))))
    finally:
        store.close()
    return rows, off


@app.command("rules")
def rules() -> None:
    """List the rules learned from reps' edits, with their ids and support."""
    rows, off = _decisions()
    learned = learn_rules(rows, disabled=off)
    table = Table("id", "scope", "rule", "support", "on", title=f"{len(learned)} learned rule(s)")
    for rule in learned:
        table.add_row(rule.id, rule.scope, rule.description, f"{rule.support}/{rule.seen}",
                      "yes" if rule.enabled else "no")
    console.print(table)
    if not learned:
        console.print(f"learned from {len(rows)} decision(s); a rule needs an edit repeated "
                      "at least 5 times")


def _switch(rule_id: str, enabled: bool, by: str) -> None:
    rows, off = _decisions()
    known = {rule.id for rule in learn_rules(rows, disabled=off)}
    if rule_id not in known:
        raise unknown_id("learned rule", rule_id, known, listing="leadloop drafts rules")
    store = open_store(settings())
    try:
        with store.session() as session:
            switch = session.get(DraftRuleSwitch, rule_id) or DraftRuleSwitch(rule_id=rule_id)
            switch.enabled, switch.changed_by = enabled, by
            switch.changed_at = datetime.now(UTC)
            session.add(switch)
    finally:
        store.close()
    console.print(f"{'enabled' if enabled else 'disabled'} {rule_id}")


@app.command("disable")
def disable(rule_id: str, by: str = typer.Option("admin", help="Who switches it off.")) -> None:
    """Switch a learned rule off; new drafts stop applying it."""
    _switch(rule_id, False, by)


@app.command("enable")
def enable(rule_id: str, by: str = typer.Option("admin", help="Who switches it on.")) -> None:
    """Switch a learned rule back on."""
    _switch(rule_id, True, by)


@app.command("stats")
def stats() -> None:
    """Edit rate and mean normalised edit distance of approved drafts, per week."""
    rows, _ = _decisions()
    table = Table("week", "decisions", "approved", "edited", "edit rate", "mean distance")
    for week in weekly_metrics(rows):
        table.add_row(str(week.week), str(week.decisions), str(week.approved), str(week.edited),
                      f"{week.edit_rate:.0%}", f"{week.mean_normalised_distance:.3f}")
    console.print(table)
