"""The escalation rules editor at /ui/admin/policy: the rules in force as text, what each
rule of an edited text would do on the current leads and on the pending drafts, publish
with a note, the version history with diffs, and rollback."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from drafting import TemplateDrafter
from drafting.errors import DraftingError
from drafting.guardrails import load_product_facts, review_draft
from drafting.policy import RuleEffect, explain, parse_policy
from drafting.policy_registry import PolicyRegistry, policy_in_force
from review_api import service
from review_api.admin import AdminFiles
from review_api.errors import ReviewError
from review_api.keys import Principal, Role
from review_api.store.models import Proposal
from review_api.ui.admin_weights import admin_files
from review_api.ui.render import NavLink, render
from review_api.ui.session import VisitDep

router = APIRouter(include_in_schema=False)
NAV = [NavLink("Rules", "/ui/admin/policy", (Role.ADMIN,))]
PAGE = "/ui/admin/policy"
MAX_TEXT = 100_000
VERSION = Annotated[str, Query(max_length=40, pattern=r"^[A-Za-z0-9_.-]*$")]
ACTIONS = {"never_draft": "no draft", "escalate": "second look",
           "require_manager": "manager must approve"}


@dataclass(frozen=True, slots=True)
class RuleRow:
    """A rule, what it would do on the current leads, and the pending drafts it holds now."""

    effect: RuleEffect
    pending_drafts: int


class RulesPageError(ReviewError):
    """A rules action that cannot be done as asked (an unknown version, ...)."""

    code = "bad_request"


def _rules_in_force(files: AdminFiles) -> tuple[str, str]:
    _policy, text, where = policy_in_force(files.data_dir, files.policy_file)
    return where, text


def _history(files: AdminFiles, a: str, b: str) -> dict[str, Any]:
    """Every publish and rollback, newest first, each with the lines it changed; and the
    diff between two chosen versions."""
    registry = PolicyRegistry(files.data_dir)
    versions = registry.versions()
    rows = []
    for index, record in enumerate(versions):
        before = versions[index - 1].version if index else None
        changes = registry.diff(before, record.version) if before else [
            f"+{line}" for line in registry.text(record.version).splitlines()]
        rows.append({"record": record, "changes": changes or ["no change"],
                     "in_force": index == len(versions) - 1,
                     "restored": any(v.version == record.version for v in versions[:index])})
    diff: list[str] | None = None
    problem = ""
    if a and b:
        try:
            diff = registry.diff(a, b) if a != b else ["the same version"]
        except DraftingError as exc:
            problem = str(exc)
    return {"history": rows[::-1], "diff": diff, "diff_problem": problem, "a": a, "b": b}


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


def _page(visit: Any, session: Session, who: Principal, text: str | None, *,
          status: int = 200, notice: str = "", note: str = "", publish_problem: str = "",
          a: str = "", b: str = "") -> HTMLResponse:
    files = admin_files(visit.request)
    where, in_force = _rules_in_force(files)
    shown = in_force if text is None else text
    return render(visit, "admin/policy.html", who=who, status=status, where=where,
                  text=shown, edited=text is not None and text != in_force,
                  actions=ACTIONS, notice=notice, note=note, publish_problem=publish_problem,
                  override=files.policy_file, **check_rules(session, files, shown),
                  **_history(files, a, b))


@router.get(PAGE)
async def policy_page(visit: VisitDep, a: VERSION = "", b: VERSION = "",
                      published: VERSION = "", restored: VERSION = "") -> HTMLResponse:
    """The rules in force, what each does now, and the published versions."""
    notice = (f"Published {published}: the next pipeline run uses these rules." if published
              else f"Rolled back: {restored} is in force again." if restored else "")
    return await visit.run(lambda session, who: _page(visit, session, who, None,
                                                      notice=notice, a=a, b=b), Role.ADMIN)


@router.post(PAGE)
async def policy_post(visit: VisitDep) -> Response:
    """Check what an edited rules text would do (nothing is saved), or publish it with a
    note (only rules that parse)."""
    posted = await visit.form()
    text = posted.get("rules", "")[:MAX_TEXT]
    note = posted.get("note", "")[:2000]
    publishing = posted.get("action", "check") == "publish"

    def work(session: Session, who: Principal) -> Response:
        if publishing:
            try:
                record = PolicyRegistry(admin_files(visit.request).data_dir).publish(
                    text, author=who.actor, note=note)
            except DraftingError as exc:
                return _page(visit, session, who, text, status=422, note=note,
                             publish_problem=str(exc))
            return RedirectResponse(f"{PAGE}?{urlencode({'published': record.version})}",
                                    status_code=303)
        return _page(visit, session, who, text, note=note)

    return await visit.run(work, Role.ADMIN)


@router.post(PAGE + "/rollback")
async def policy_rollback(visit: VisitDep) -> Response:
    """Put an older published version back in force, as a new entry in the history."""
    posted = await visit.form()
    version = posted.get("version", "")[:40]

    def work(_session: Session, who: Principal) -> Response:
        try:
            record = PolicyRegistry(admin_files(visit.request).data_dir).restore(
                version, author=who.actor, note=posted.get("note", "")[:2000])
        except DraftingError as exc:
            raise RulesPageError(str(exc)) from None
        return RedirectResponse(f"{PAGE}?{urlencode({'restored': record.version})}",
                                status_code=303)

    return await visit.run(work, Role.ADMIN)
