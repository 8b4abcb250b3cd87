"""`leadloop policy`: the escalation rules an admin writes in plain words."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy import select

from drafting import TemplateDrafter
from drafting.guardrails import load_product_facts, review_draft
from drafting.policy import explain, load_policy
from leadloop.cli.common import console, settings
from leadloop.wiring import open_store
from review_api.store.models import Lead, LeadSnapshot

app = typer.Typer(help="Escalation rules: check what they will do.", no_args_is_help=True)


@app.command("check")
def check(
    file: Path | None = typer.Argument(None, help="A rules file (default: the one in force)."),
) -> None:
    """Parse a rules file and say what each rule would do on the current leads."""
    current = settings()
    policy = load_policy(file or current.policy_path)
    sheet = load_product_facts(current.product_facts_path)
    store = open_store(current)
    try:
        with store.session() as session:
            leads = [{**snap.payload, "score": lead.effective_score, "tier": lead.effective_tier}
                     for lead, snap in session.execute(
                         select(Lead, LeadSnapshot)
                         .join(LeadSnapshot, Lead.snapshot_id == LeadSnapshot.id)
                         .where(Lead.deleted.is_(False)))]
    finally:
        store.close()
    drafter = TemplateDrafter(current.templates_path)
    effects = explain(policy, leads, drafter=drafter,
                      review=lambda draft, facts: review_draft(draft, facts, sheet))
    console.print(f"{file or current.policy_path or 'the shipped rules'}: "
                  f"{len(effects)} rule(s), judged on {len(leads)} lead(s)", highlight=False)
    for effect in effects:
        console.print(f"  {effect.line()}", highlight=False)
