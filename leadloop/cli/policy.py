"""`leadloop policy`: the escalation rules an admin writes in plain words."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from drafting import Draft, LeadFacts
from drafting.guardrails import review_draft
from drafting.policy import explain, parse_policy
from drafting.policy_registry import PolicyRegistry
from leadloop.cli.common import console, settings
from leadloop.draft_inputs import real_drafts
from leadloop.files import read_user_text
from leadloop.wiring import build_pipeline, load_settings_facts, load_settings_policy
from review_api import service

app = typer.Typer(help="Escalation rules: check what they will do.", no_args_is_help=True)


@app.command("check")
def check(
    file: Path | None = typer.Argument(None, help="A rules file (default: the one in force)."),
    latest: bool = typer.Option(
        False, "--latest", help="Judge draft rules on each lead's newest stored draft "
        "(leads without one are drafted); by default every lead is drafted afresh."),
) -> None:
    """Parse a rules file and say what each rule would do on the current leads.

    Draft rules are judged on real drafts: each lead drafted with the configured drafter
    from its activity and its rep (learned rules applied), or its newest stored draft.
    """
    current = settings()
    if file is not None:
        policy = parse_policy(read_user_text(file, what="rules file",
                                             expected="escalation rules, one per line"),
                              str(file))
        where = str(file)
    else:
        # The rules in force: published on the admin page, else the settings' file.
        policy = load_settings_policy(current)
        published = PolicyRegistry(current.data_dir).latest()
        where = (f"published version {published.version}" if published is not None
                 else str(current.policy_path or "the shipped rules"))
    sheet = load_settings_facts(current)
    pipeline = build_pipeline(current)
    try:
        with pipeline.store.session() as session:
            leads = service.current_leads(session=session)
        needs_draft = any(rule.needs_draft for rule in policy.rules)
        draft, facts_for, counts = real_drafts(pipeline, leads, latest=latest) if needs_draft \
            else (None, None, {"read": 0, "drafted": 0})
        effects = explain(
            policy, leads, drafter=_Drafter(draft, pipeline.drafter.name) if draft else None,
            review=lambda d, f: review_draft(d, facts_for(f) if facts_for else f, sheet))
    finally:
        pipeline.store.close()
    console.print(f"{where}: "
                  f"{len(effects)} rule(s), judged on {len(leads)} lead(s)", highlight=False)
    if needs_draft:
        console.print(f"draft rules judged on {counts['drafted']} fresh draft(s) from "
                      f"{current.drafter} and {counts['read']} stored draft(s)", highlight=False)
    for effect in effects:
        console.print(f"  {effect.line()}", highlight=False)


class _Drafter:
    """A drafter for :func:`explain` that writes (or reads) the lead's real draft."""

    version = "policy-check"

    def __init__(self, draft: Callable[[LeadFacts], Draft], name: str) -> None:
        self._draft = draft
        self.name = name

    def draft(self, facts: LeadFacts) -> Draft:
        return self._draft(facts)
