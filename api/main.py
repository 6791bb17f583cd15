"""The motcua HTTP API (FastAPI)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from api import observability, pages
from api.deps import SessionDep
from api.edge import EdgeLimits
from api.rate_limits import RateLimits
from api.request_ids import RequestIds
from api.routes import (
    agency_answers,
    attachments,
    audit,
    auth,
    calendars,
    dossier_papers,
    dossiers,
    inbox,
    letters,
    me,
    officers,
    operations,
    payment_platform,
    portal,
    procedures,
    results,
    statistics,
    units,
)
from api.security_headers import SecurityHeaders
from infrastructure.lookup_secret import LookupSecrets
from infrastructure.request_context import configure_logging
from infrastructure.settings import get_settings
from infrastructure.tokens import TokenIssuer, TokenVerifier
from readmodel.db import engine_for, reader_for
from readmodel.schema import init_db


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    # Blocking work (database reads) runs in a thread pool; past a few threads per core they only contend
    # for the interpreter lock and the connection pool.
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
    app.state.engine = engine_for(settings.sqlalchemy_url)
    app.state.reader = reader_for(settings.sqlalchemy_url)
    init_db(app.state.engine, migrate_schema=settings.migrate_on_start)
    app.state.temporal = None  # connected on first use, so the API serves polls while Temporal starts
    app.state.temporal_lock = asyncio.Lock()
    app.state.token_issuer = TokenIssuer(settings) if settings.issues_own_tokens else None
    app.state.token_verifier = TokenVerifier(settings, app.state.token_issuer)
    app.state.lookup_secrets = LookupSecrets.from_settings(settings)
    app.state.rate_limits = RateLimits.from_settings(settings)
    async with httpx.AsyncClient(timeout=httpx.Timeout(settings.agency_call_timeout_seconds)) as http:
        app.state.http = http
        yield


async def read_model_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database could not be reached or gave up on a statement (restarting, a failover, a timeout): the request
    may be retried, so clients are told so rather than handed a server error."""
    logging.getLogger("api").warning("read model unavailable for %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "the read model is unavailable for a moment; try again"},
        status_code=503,
        headers={"Retry-After": "2"},
    )


def create_app() -> FastAPI:
    app = FastAPI(
        title="motcua",
        summary="One-door processing of administrative-procedure dossiers",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(procedures.router)
    app.include_router(dossiers.router)
    app.include_router(dossier_papers.router)
    app.include_router(inbox.router)
    app.include_router(me.router)
    app.include_router(calendars.router)
    app.include_router(statistics.router)
    app.include_router(operations.router)
    app.include_router(units.router)
    app.include_router(officers.router)
    app.include_router(audit.router)
    app.include_router(auth.router)
    app.include_router(results.router)
    app.include_router(results.verification)
    app.include_router(letters.router)
    app.include_router(portal.router)
    app.include_router(agency_answers.router)
    app.include_router(payment_platform.router)
    app.include_router(attachments.uploads)
    app.include_router(attachments.router)
    pages.install(app)
    observability.install(app)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestIds)
    app.add_exception_handler(OperationalError, read_model_unavailable)
    # Outermost of the middlewares: a body is bounded before any of them, or a route, starts on it.
    app.add_middleware(EdgeLimits)

    @app.get("/health", tags=["operations"])
    def health(session: SessionDep) -> dict[str, str]:
        session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        return {"status": "ok"}

    return app


configure_logging(get_settings().log_format)
app = create_app()
