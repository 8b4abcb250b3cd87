"""`leadloop policy`: the escalation rules an admin writes in plain words."""

from __future__ import annotations

from pathlib import Path

import typer

from drafting import TemplateDrafter
from drafting.guardrails import load_product_facts, review_draft
from drafting.policy import explain, load_policy
from leadloop.cli.common import console, settings
from leadloop.wiring import open_store
from review_api import service

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
            leads = service.current_leads(session=session)
    finally:
        store.close()
    drafter = TemplateDrafter(current.templates_path)
    effects = explain(policy, leads, drafter=drafter,
                      review=lambda draft, facts: review_draft(draft, facts, sheet))
    console.print(f"{file or current.policy_path or 'the shipped rules'}: "
                  f"{len(effects)} rule(s), judged on {len(leads)} lead(s)", highlight=False)
    for effect in effects:
        console.print(f"  {effect.line()}", highlight=False)
