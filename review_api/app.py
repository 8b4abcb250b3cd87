"""The review API: one FastAPI app; errors become JSON in one handler."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError

from review_api.errors import ReviewError
from review_api.store.db import Store
from review_api.views import router

STATUS = {
    "not_found": 404,
    "conflict": 409,
    "invalid_transition": 409,
    "bad_decision": 422,
    "store": 503,
}


def create_app(store: Store, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The review API over ``store``."""
    app = FastAPI(title="leadloop review API", version="0.1.0")
    app.state.store = store
    app.state.clock = clock
    app.include_router(router)

    @app.exception_handler(ReviewError)
    async def review_error(_request: Request, exc: ReviewError) -> JSONResponse:
        return JSONResponse({"code": exc.code, "message": str(exc)},
                            status_code=STATUS.get(exc.code, 400))

    @app.exception_handler(StaleDataError)
    async def stale(_request: Request, _exc: StaleDataError) -> JSONResponse:
        return JSONResponse(
            {"code": "conflict", "message": "someone decided this proposal first; reload it"},
            status_code=409,
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
        return JSONResponse({"code": "bad_request", "message": f"{where}: {message}"},
                            status_code=422)

    return app
