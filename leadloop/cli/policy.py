"""`leadloop policy`: the escalation rules an admin writes in plain words."""

from __future__ import annotations

from pathlib import Path

import typer

from drafting import TemplateDrafter
from drafting.guardrails import review_draft
from drafting.policy import explain, parse_policy
from leadloop.cli.common import console, settings
from leadloop.files import read_user_text
from leadloop.wiring import (
    check_templates,
    load_settings_facts,
    load_settings_policy,
    open_store,
)
from review_api import service

app = typer.Typer(help="Escalation rules: check what they will do.", no_args_is_help=True)


@app.command("check")
def check(
    file: Path | None = typer.Argument(None, help="A rules file (default: the one in force)."),
) -> None:
    """Parse a rules file and say what each rule would do on the current leads."""
    current = settings()
    if file is not None:
        policy = parse_policy(read_user_text(file, what="rules file",
                                             expected="escalation rules, one per line"),
                              str(file))
    else:
        policy = load_settings_policy(current)
    sheet = load_settings_facts(current)
    store = open_store(current)
    try:
        with store.session() as session:
            leads = service.current_leads(session=session)
    finally:
        store.close()
    check_templates(current)
    drafter = TemplateDrafter(current.templates_path)
    effects = explain(policy, leads, drafter=drafter,
                      review=lambda draft, facts: review_draft(draft, facts, sheet))
    console.print(f"{file or current.policy_path or 'the shipped rules'}: "
                  f"{len(effects)} rule(s), judged on {len(leads)} lead(s)", highlight=False)
    for effect in effects:
        console.print(f"  {effect.line()}", highlight=False)
