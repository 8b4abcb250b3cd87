"""Thin HTTP routes: authenticate, look up, check access, call the service."""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from connectors.errors import ConnectorError
from connectors.hubspot.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSignatureError,
)
from review_api import labels, service
from review_api.authority import Decider, NotEntitledError
from review_api.deps import (
    AdminDep,
    AnalystDep,
    DeciderDep,
    NowDep,
    ReaderDep,
    get_store,
)
from review_api.errors import BadRequestError, ReviewError
from review_api.keys import Principal, Role, create_key, list_keys, revoke
from review_api.schemas import (
    DecisionIn,
    DecisionOut,
    ErrorOut,
    PlannedSendOut,
    ProposalDetail,
    ProposalOut,
)
from review_api.store.db import is_current
from review_api.webhooks import (
    ACK,
    FLOW_SIGNATURE_HEADER,
    FLOW_TIMESTAMP_HEADER,
    WebhookBodyError,
    WebhookError,
    Webhooks,
    new_notifications,
    verify_flow_call,
)

router = APIRouter()
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 422)
}
States = Literal[
    "pending", "approved", "rejected", "expired", "superseded", "sent", "send_failed",
    "cancelled",
]
MAX_BULK = 100
MAX_ID = 2_147_483_647  # ids are 32-bit on every backend we support
ProposalId = Annotated[int, Path(ge=1, le=MAX_ID, description="The proposal's id.")]
KeyId = Annotated[int, Path(ge=1, le=MAX_ID, description="The key's id.")]


@router.get("/healthz", tags=["operations"])
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", tags=["operations"], responses={503: {"model": ErrorOut}})
def readyz(request: Request, response: Response) -> dict[str, str]:
    """The database answers and its schema is at the newest migration."""
    store = get_store(request)
    try:
        with store.session() as session:
            session.execute(text("SELECT 1"))
        current = is_current(store.engine)
    except Exception:  # noqa: BLE001 - any failure here means "not ready", said plainly
        response.status_code = 503
        return {"status": "database unreachable"}
    if not current:
        response.status_code = 503
        return {"status": "database schema is not at the newest migration"}
    return {"status": "ready"}


@router.get("/health", tags=["operations"], include_in_schema=False)
def health(request: Request) -> dict[str, str]:
    """Kept for old probes: the database answers."""
    with get_store(request).session() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/metrics", tags=["operations"], responses=ERRORS,
            response_class=Response)
async def metrics(request: Request, caller: AnalystDep) -> Response:
    """Prometheus metrics (analyst or admin key)."""
    registry = request.app.state.metrics.registry
    # The proposal gauges are counted in the store at scrape time.
    text = await caller.run(lambda _session, _who: generate_latest(registry))
    return Response(text, media_type=CONTENT_TYPE_LATEST)


@router.get("/proposals", response_model=list[ProposalOut], responses=ERRORS)
async def list_proposals(
    caller: ReaderDep,
    now: NowDep,
    state: States | None = None,
    kind: Literal["draft", "score_override"] | None = None,
    owner_id: Annotated[str | None, Query(max_length=64)] = None,
    include_snoozed: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[ProposalOut]:
    """Proposals, newest first; a rep sees only their own and those assigned to them."""

    def work(session: Session, who: Principal) -> list[ProposalOut]:
        rows = service.list_proposals(
            session=session, state=state, kind=kind, owner_id=owner_id, limit=limit,
            offset=offset, visible_to=who.owner_id if who.role is Role.REP else None,
            awake_at=None if include_snoozed else now,
        )
        return [ProposalOut.model_validate(row) for row in rows]

    return await caller.run(work)


@router.get("/proposals/{proposal_id}", response_model=ProposalDetail, responses=ERRORS)
async def get_proposal(proposal_id: ProposalId, caller: ReaderDep) -> ProposalDetail:
    """One proposal with its decision."""

    def work(session: Session, who: Principal) -> ProposalDetail:
        proposal = service.get_visible(session=session, proposal_id=proposal_id, principal=who)
        detail = ProposalDetail.model_validate(proposal)
        label = service.decision_for(session=session, proposal_id=proposal_id)
        detail.decision = DecisionOut.model_validate(label) if label else None
        outbox = service.outbox_for(session=session, proposal_id=proposal_id)
        detail.planned_send = PlannedSendOut.model_validate(outbox) if outbox else None
        return detail

    return await caller.run(work)


def decide_as(request: Request, session: Session, proposal_id: int, decision: DecisionIn,
              who: Principal, now: datetime, source: str = "api") -> DecisionOut:
    """``who`` decides a proposal through service.decide (the API's and the pages' one path);
    a refusal is kept in the audit trail even though the request's transaction rolls back."""
    proposal = service.get_visible(session=session, proposal_id=proposal_id, principal=who)
    decision = decision.model_copy(update={"decided_by": who.actor})
    decider = Decider(owner_id=who.owner_id, admin=who.role is Role.ADMIN)
    try:
        label = service.decide(session=session, proposal=proposal, decision=decision,
                               source=source, now=now, decider=decider)
    except NotEntitledError as exc:
        # The request's transaction rolls back; the refusal is kept in one of its own.
        with get_store(request).session() as own:
            service.audit(session=own, proposal_id=proposal_id, event="decision_refused",
                          actor=who.actor, at=now,
                          detail={"source": source, "decision": decision.decision,
                                  "reason": str(exc), "must_decide": exc.must_decide})
        raise
    api_metrics = request.app.state.metrics
    api_metrics.decisions.labels(label.decision, proposal.kind).inc()
    api_metrics.decision_latency.observe(max(0.0, (now - proposal.created_at).total_seconds()))
    return DecisionOut.model_validate(label)


@router.post("/proposals/{proposal_id}/decision", response_model=DecisionOut, responses=ERRORS)
async def decide(proposal_id: ProposalId, decision: DecisionIn, request: Request,
                 caller: DeciderDep, now: NowDep) -> DecisionOut:
    """Approve (optionally with an edited text or score) or reject with a reason."""
    return await caller.run(
        lambda session, who: decide_as(request, session, proposal_id, decision, who, now))


class SnoozeIn(BaseModel):
    """Hide a proposal from the queue until a time."""

    model_config = ConfigDict(extra="forbid")
    until: datetime


@router.post("/proposals/{proposal_id}/snooze", response_model=ProposalOut, responses=ERRORS)
async def snooze(proposal_id: ProposalId, body: SnoozeIn, caller: DeciderDep,
                 now: NowDep) -> ProposalOut:
    """Snooze a pending proposal (never past its expiry)."""
    until = body.until if body.until.tzinfo else body.until.replace(tzinfo=now.tzinfo)

    def work(session: Session, who: Principal) -> ProposalOut:
        proposal = service.get_visible(session=session, proposal_id=proposal_id, principal=who)
        service.snooze(session=session, proposal=proposal, until=until, actor=who.actor,
                       now=now)
        session.flush()
        return ProposalOut.model_validate(proposal)

    return await caller.run(work)


class BulkItem(DecisionIn):
    """One decision in a bulk call."""

    proposal_id: int = Field(ge=1, le=MAX_ID)


class BulkIn(BaseModel):
    """Up to MAX_BULK decisions; each is taken, or refused, on its own."""

    model_config = ConfigDict(extra="forbid")
    items: list[BulkItem] = Field(min_length=1, max_length=MAX_BULK)


class Receipt(BaseModel):
    """What became of one item of a bulk call."""

    proposal_id: int
    ok: bool
    code: str | None = None
    message: str | None = None
    decision: DecisionOut | None = None


@router.post("/decisions", response_model=list[Receipt], responses=ERRORS)
async def bulk_decide(body: BulkIn, request: Request, caller: DeciderDep,
                      now: NowDep) -> list[Receipt]:
    """Decide many proposals; one receipt per item, in order. A refused item stops nothing."""

    def work() -> list[Receipt]:
        who = caller.principal()
        store = get_store(request)
        receipts = []
        for item in body.items:
            decision = DecisionIn.model_validate(item.model_dump(exclude={"proposal_id"}))
            try:
                with store.session() as session:  # each item commits or fails alone
                    label = decide_as(request, session, item.proposal_id, decision, who, now)
                receipts.append(Receipt(proposal_id=item.proposal_id, ok=True, decision=label))
            except ReviewError as exc:
                receipts.append(Receipt(proposal_id=item.proposal_id, ok=False, code=exc.code,
                                        message=str(exc)))
        return receipts

    return await run_in_threadpool(work)


@router.get("/proposals/{proposal_id}/audit", responses=ERRORS)
async def audit(proposal_id: ProposalId, caller: ReaderDep) -> dict[str, Any]:
    """The whole chain for one proposal: lead, score, prompt, draft, decisions, send, outcome."""

    def work(session: Session, who: Principal) -> dict[str, Any]:
        proposal = service.get_visible(session=session, proposal_id=proposal_id, principal=who)
        label = service.decision_for(session=session, proposal_id=proposal_id)
        return {
            "proposal": ProposalOut.model_validate(proposal).model_dump(mode="json"),
            "decision": (DecisionOut.model_validate(label).model_dump(mode="json")
                         if label else None),
            **service.audit_chain(session=session, proposal=proposal),
        }

    return await caller.run(work)


@router.get("/labels", responses=ERRORS, response_class=Response)
async def get_labels(
    caller: AnalystDep,
    since: Annotated[str | None, Query(
        description="Only decisions at or after this ISO 8601 time, e.g. 2026-11-01T00:00:00Z",
        json_schema_extra={"format": "date-time"})] = None,
    kind: Literal["draft", "score_override"] | None = None,
    format: Literal["csv", "parquet"] = "csv",  # noqa: A002 - the query parameter's name
) -> Response:
    """Every decision as a labelled row (analyst or admin key), as CSV or Parquet."""

    def work(session: Session, _who: Principal) -> Response:
        frame = labels.load(session=session, since=_iso_time("since", since), kind=kind)
        # Lead fields vary by CRM and field map: one JSON object per cell keeps every format
        # able to hold them (Parquet cannot infer a struct from differing or empty dicts).
        frame = frame.assign(lead=frame["lead"].map(json.dumps))
        if format == "parquet":
            buffer = io.BytesIO()
            frame.to_parquet(buffer, index=False)
            return Response(buffer.getvalue(), media_type="application/vnd.apache.parquet")
        return Response(frame.to_csv(index=False), media_type="text/csv")

    return await caller.run(work)


def _iso_time(name: str, value: str | None) -> datetime | None:
    try:
        return labels.parse_since(value)
    except ValueError as exc:
        raise BadRequestError(f"{name}: {exc}") from None


class KeyIn(BaseModel):
    """A key to create."""

    model_config = ConfigDict(extra="forbid")
    role: Role
    owner_id: str | None = Field(default=None, max_length=64)
    name: str = Field(default="", max_length=128)


class KeyOut(BaseModel):
    """A key as listed: never its secret."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    prefix: str
    role: str
    owner_id: str | None
    name: str
    created_at: datetime
    revoked_at: datetime | None


class NewKeyOut(KeyOut):
    """A key just created: the only time its secret is shown."""

    key: str


@router.post("/admin/keys", response_model=NewKeyOut, status_code=201, responses=ERRORS)
async def create_api_key(body: KeyIn, caller: AdminDep) -> NewKeyOut:
    """Create an API key (admin)."""
    row, plain = await caller.run(lambda session, _who: create_key(
        session=session, role=body.role, owner_id=body.owner_id, name=body.name))
    return NewKeyOut.model_validate({**KeyOut.model_validate(row).model_dump(), "key": plain})


@router.get("/admin/keys", response_model=list[KeyOut], responses=ERRORS)
async def get_api_keys(caller: AdminDep) -> list[KeyOut]:
    """Every API key, without secrets (admin)."""
    return await caller.run(lambda session, _who: [
        KeyOut.model_validate(row) for row in list_keys(session=session)])


@router.post("/admin/keys/{key_id}/revoke", response_model=KeyOut, responses=ERRORS)
async def revoke_api_key(key_id: KeyId, caller: AdminDep, now: NowDep) -> KeyOut:
    """Revoke an API key (admin); it stops working at once."""
    return await caller.run(lambda session, _who: KeyOut.model_validate(
        revoke(session=session, key_id=key_id, now=now)))


webhook_router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _webhooks(request: Request) -> Webhooks:
    hooks: Webhooks | None = request.app.state.webhooks
    if hooks is None:
        raise WebhookError("webhooks are not enabled on this server")
    return hooks


def _refuse(request: Request, source: str, exc: ReviewError | ConnectorError) -> None:
    request.app.state.metrics.webhook_rejections.labels(source, exc.code).inc()


@webhook_router.post("/salesforce", responses={**ERRORS, 200: {"content": {"text/xml": {}}}},
                     response_class=Response)
async def salesforce_webhook(request: Request, background: BackgroundTasks) -> Response:
    """A Salesforce outbound message (SOAP) about Task changes, or a signed Flow call (JSON);
    verified, acknowledged, then reconciled at once. A redelivered outbound message is
    acknowledged again, and nothing more."""
    hooks = _webhooks(request)
    body = await request.body()
    # The checks record each delivery in the store: database work, so on a worker thread.
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            task_ids = await run_in_threadpool(
                verify_flow_call, hooks, body=body,
                signature=request.headers.get(FLOW_SIGNATURE_HEADER),
                timestamp=request.headers.get(FLOW_TIMESTAMP_HEADER))
            reply: Response = JSONResponse({"accepted": len(task_ids)})
            changed = True
        else:
            # Acknowledged even when every notification was taken before: without the
            # ACK, Salesforce would keep resending it for a day.
            changed = bool(await run_in_threadpool(new_notifications, hooks, body))
            reply = Response(ACK, media_type="text/xml")
    except WebhookError as exc:
        _refuse(request, "salesforce", exc)
        raise
    if changed:
        background.add_task(hooks.on_task_change)
    return reply


def _json_events(body: bytes) -> list[object]:
    """A verified HubSpot call's events; a body that is not a JSON array is a bad request."""
    try:
        events = json.loads(body)
    except ValueError:
        raise WebhookBodyError("body is not JSON") from None
    if not isinstance(events, list):
        raise WebhookBodyError("expected a JSON array of HubSpot events")
    return events


@webhook_router.post("/hubspot", responses=ERRORS)
async def hubspot_webhook(request: Request, background: BackgroundTasks) -> dict[str, int]:
    """HubSpot v3-signed webhook events; verified (signature, age, replay), then reconciled."""
    hooks = _webhooks(request)
    body = await request.body()
    try:
        if hooks.hubspot is None:
            raise WebhookError(
                "HubSpot webhooks are off: set LEADLOOP_WEBHOOKS__HUBSPOT_APP_SECRET")
        await run_in_threadpool(  # it records the signature in the store
            hooks.hubspot.verify,
            method=request.method, uri=str(request.url), body=body,
            signature=request.headers.get(SIGNATURE_HEADER),
            timestamp=request.headers.get(TIMESTAMP_HEADER))
        events = _json_events(body)
    except (WebhookError, WebhookSignatureError) as exc:
        _refuse(request, "hubspot", exc)
        if isinstance(exc, WebhookSignatureError):
            raise WebhookError(str(exc)) from None
        raise
    background.add_task(hooks.on_task_change)
    return {"accepted": len(events)}
