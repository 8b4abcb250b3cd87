"""Admin routes: the scoring weights (get, preview, publish) and the escalation rules
(get, check, publish), on the same data directory and store the pipeline uses."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from drafting import TemplateDrafter
from drafting.guardrails import load_product_facts, review_draft
from drafting.policy import explain, parse_policy
from drafting.policy_registry import PolicyRegistry, policy_in_force
from review_api import service
from review_api.deps import AdminDep, NowDep
from review_api.errors import ReviewError
from review_api.keys import Principal
from review_api.schemas import ErrorOut
from scoring.preview import diff_weights, preview
from scoring.registry import WeightsRegistry, weights_in_force
from scoring.weights import parse_weights

MAX_RULES_TEXT = 100_000  # characters; escaped as JSON, still under the 1 MB body limit
router = APIRouter(prefix="/admin", tags=["admin"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 413, 422, 503)
}


@dataclass(frozen=True)
class AdminFiles:
    """Where the admin's files live: the data directory, and files the settings name."""

    data_dir: Path
    weights_file: Path | None = None
    policy_file: Path | None = None
    product_facts_file: Path | None = None
    templates_file: Path | None = None


class AdminOffError(ReviewError):
    """The server was started without a data directory for admin files."""

    code = "store"


def _files(request: Request) -> AdminFiles:
    files: AdminFiles | None = request.app.state.admin_files
    if files is None:
        raise AdminOffError("admin routes need the data directory: start with leadloop serve")
    return files


class WeightsOut(BaseModel):
    """The weights in force."""

    version: str
    source: str = Field(description="file (named in settings), published, or default")
    text: str
    published: list[dict[str, str]]


class WeightsIn(BaseModel):
    """A candidate weights file."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_RULES_TEXT)
    note: str = Field(default="", max_length=2_000)


@router.get("/weights", response_model=WeightsOut, responses=ERRORS)
async def get_weights(request: Request, caller: AdminDep) -> WeightsOut:
    """The weights the pipeline scores with, and every published version."""
    return await caller.run(lambda _session, _who: _weights(_files(request)))


def _weights(files: AdminFiles) -> WeightsOut:
    weights, text, source = weights_in_force(files.data_dir, files.weights_file)
    versions = WeightsRegistry(files.data_dir).versions()
    return WeightsOut(version=weights.version, source=source, text=text,
                      published=[{k: str(v) for k, v in asdict(record).items()}
                                 for record in versions])


@router.post("/weights/preview", responses=ERRORS)
async def preview_weights(body: WeightsIn, request: Request, caller: AdminDep,
                          now: NowDep) -> dict[str, Any]:
    """What the candidate weights would do to the current leads, before publishing."""

    def work(session: Session, _who: Principal) -> dict[str, Any]:
        files = _files(request)
        current, _, _ = weights_in_force(files.data_dir, files.weights_file)
        candidate = parse_weights(body.text, source="request body")
        result = preview(service.current_leads(session=session), current, candidate, now=now)
        return {"from": current.version, "to": candidate.version,
                "changes": diff_weights(current, candidate), **asdict(result)}

    return await caller.run(work)


@router.post("/weights", status_code=201, responses=ERRORS)
async def publish_weights(body: WeightsIn, request: Request,
                          caller: AdminDep) -> dict[str, Any]:
    """Validate and publish a new weights version; the next scoring run uses it."""
    return await caller.run(lambda _session, who: _publish(_files(request), body, who))


def _publish(files: AdminFiles, body: WeightsIn, who: Principal) -> dict[str, Any]:
    if not body.note.strip():
        raise BadAdminRequestError("say why in 'note': it is kept with the version")
    record = WeightsRegistry(files.data_dir).publish(body.text, author=who.actor,
                                                     note=body.note, source="request body")
    out: dict[str, Any] = {k: str(v) for k, v in asdict(record).items()}
    if files.weights_file is not None:
        out["warning"] = (f"LEADLOOP_WEIGHTS_PATH names {files.weights_file}; that file stays "
                          "in force until the setting is removed")
    return out


class RulesIn(BaseModel):
    """Escalation rules to check."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=MAX_RULES_TEXT)


class BadAdminRequestError(ReviewError):
    """An admin request that is well-formed but incomplete."""

    code = "bad_request"


class RulesPublishIn(RulesIn):
    """Escalation rules to publish, and why."""

    note: str = Field(max_length=2_000)


@router.get("/policy", responses=ERRORS)
async def get_policy(request: Request, caller: AdminDep) -> dict[str, Any]:
    """The escalation rules in force, as text, where they come from, and every published
    version."""
    return await caller.run(lambda _session, _who: _policy(_files(request)))


def _policy(files: AdminFiles) -> dict[str, Any]:
    _rules, text, where = policy_in_force(files.data_dir, files.policy_file)
    return {"path": where, "text": text, "published": [
        asdict(record) for record in PolicyRegistry(files.data_dir).versions()]}


@router.post("/policy", status_code=201, responses=ERRORS)
async def publish_policy(body: RulesPublishIn, request: Request,
                         caller: AdminDep) -> dict[str, str]:
    """Validate and publish escalation rules with a note; the next pipeline run uses them."""
    return await caller.run(lambda _session, who: asdict(PolicyRegistry(
        _files(request).data_dir).publish(body.text, author=who.actor, note=body.note)))


@router.post("/policy/check", responses=ERRORS)
async def check_policy(body: RulesIn, request: Request, caller: AdminDep) -> dict[str, Any]:
    """Parse rules and say what each would do on the current leads (nothing is saved)."""
    return await caller.run(lambda session, _who: _check_policy(request, session, body.text))


def _check_policy(request: Request, session: Session, text: str) -> dict[str, Any]:
    files = _files(request)
    policy = parse_policy(text, "request body")
    sheet = load_product_facts(files.product_facts_file)
    leads = service.current_leads(session=session)
    effects = explain(policy, leads, drafter=TemplateDrafter(files.templates_file),
                      review=lambda draft, facts: review_draft(draft, facts, sheet))
    return {"leads": len(leads), "rules": [
        {"line": e.line_no, "rule": e.rule, "action": e.action, "matched": e.matched,
         "examples": list(e.examples), "says": e.line()} for e in effects]}
