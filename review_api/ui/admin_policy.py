"""The escalation rules editor at /ui/admin/policy: the rules in force as text, and what
each rule of an edited text would do on the current leads and on the pending drafts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from drafting import TemplateDrafter
from drafting.errors import DraftingError
from drafting.guardrails import load_product_facts, review_draft
from drafting.policy import RuleEffect, explain, load_policy, parse_policy
from review_api import service
from review_api.admin import AdminFiles
from review_api.keys import Principal, Role
from review_api.store.models import Proposal
from review_api.ui.admin_weights import admin_files
from review_api.ui.render import NavLink, render
from review_api.ui.session import VisitDep

router = APIRouter(include_in_schema=False)
NAV = [NavLink("Rules", "/ui/admin/policy", (Role.ADMIN,))]
PAGE = "/ui/admin/policy"
MAX_TEXT = 100_000
ACTIONS = {"never_draft": "no draft", "escalate": "second look",
           "require_manager": "manager must approve"}


@dataclass(frozen=True, slots=True)
class RuleRow:
    """A rule, what it would do on the current leads, and the pending drafts it holds now."""

    effect: RuleEffect
    pending_drafts: int


def _rules_in_force(files: AdminFiles) -> tuple[str, str]:
    policy = load_policy(files.policy_file)
    path = Path(policy.path)
    text = path.read_text("utf-8") if path.is_file() else "\n".join(
        rule.text for rule in policy.rules)
    return str(files.policy_file or "the shipped rules"), text


def pending_escalations(session: Session) -> tuple[int, Counter[str]]:
    """Pending drafts, and how many each rule (by its wording) escalated."""
    by_reason: Counter[str] = Counter()
    payloads = session.scalars(select(Proposal.payload).where(
        Proposal.state == "pending", Proposal.kind == service.DRAFT)).all()
    for payload in payloads:
        for escalation in payload.get("escalations") or []:
            by_reason[str(escalation.get("reason", ""))] += 1
    return len(payloads), by_reason


def check_rules(session: Session, files: AdminFiles, text: str) -> dict[str, Any]:
    """Each rule's effect on the current leads (drafts written with the template drafter)
    and on the pending drafts; a rules text that does not parse gives one line saying why."""
    try:
        policy = parse_policy(text, "the rules")
    except DraftingError as exc:
        return {"problem": str(exc), "rows": [], "leads": 0, "pending": 0}
    sheet = load_product_facts(files.product_facts_file)
    leads = service.current_leads(session=session)
    effects = explain(policy, leads, drafter=TemplateDrafter(files.templates_file),
                      review=lambda draft, facts: review_draft(draft, facts, sheet))
    pending, by_reason = pending_escalations(session)
    # An escalation stores its rule's conditions as its reason: the same wording, the same rule.
    reasons = {rule.line_no: " and ".join(c.text for c in rule.conditions)
               for rule in policy.rules}
    rows = [RuleRow(effect=effect, pending_drafts=by_reason.get(reasons.get(effect.line_no, ""), 0)
                    if effect.line_no in reasons else 0) for effect in effects]
    return {"problem": "", "rows": rows, "leads": len(leads), "pending": pending}


def _page(visit: Any, session: Session, who: Principal, text: str | None,
          status: int = 200) -> HTMLResponse:
    files = admin_files(visit.request)
    where, in_force = _rules_in_force(files)
    shown = in_force if text is None else text
    return render(visit, "admin/policy.html", who=who, status=status, where=where,
                  text=shown, edited=text is not None and text != in_force,
                  actions=ACTIONS, **check_rules(session, files, shown))


@router.get(PAGE)
async def policy_page(visit: VisitDep) -> HTMLResponse:
    """The rules in force and what each does now."""
    return await visit.run(lambda session, who: _page(visit, session, who, None), Role.ADMIN)


@router.post(PAGE)
async def policy_check(visit: VisitDep) -> HTMLResponse:
    """What an edited rules text would do (nothing is saved)."""
    posted = await visit.form()
    text = posted.get("rules", "")[:MAX_TEXT]
    return await visit.run(lambda session, who: _page(visit, session, who, text), Role.ADMIN)
