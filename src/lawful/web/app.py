"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from lawful import __version__
from lawful.agreements.documents import statement_document, terms_document
from lawful.agreements.publication import Publication
from lawful.background import running
from lawful.billing import service as billing_service
from lawful.billing.invoices import invoice_attachments
from lawful.data.check import assert_metadata
from lawful.data.db import Database
from lawful.mail.service import mailer_for
from lawful.monitoring import jobs
from lawful.monitoring.api import TrackerEndpoint
from lawful.monitoring.ingest import INGEST, Tracker, store_batch
from lawful.monitoring.writer import WriteBehind
from lawful.retention import jobs as retention_jobs
from lawful.rights.service import rights_attachments
from lawful.schema import metadata
from lawful.settings import Settings
from lawful.users.service import AuthConfig
from lawful.web import api
from lawful.web.auth import CsrfCookieMiddleware
from lawful.web.deps import get_db
from lawful.web.errors import ErrorBody, install_error_handlers
from lawful.web.ratelimit import RateLimiter
from lawful.web.routes import routers

log = logging.getLogger("lawful.web")


class Health(BaseModel):
    status: str
    database: str


async def _deliver(database: Database, settings: Settings) -> None:
    """Send the outbox in the background (the mail about a changed statement or terms), so that a
    slow or unreachable SMTP server never delays the start."""
    try:
        sent = await asyncio.to_thread(billing_service.send_pending, database, settings)
        log.info("sent %d queued e-mails after publishing new document versions", sent)
    except Exception:
        log.exception("sending the outbox after publication failed; the daily job retries")


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> FastAPI:
    """Build the app for ``settings`` (from the environment when omitted).

    Start-up fails when the schema and the policy disagree: a personal column without a
    category, or a category that no purpose declares.
    """
    settings = settings or Settings()
    policy = db.policy if db is not None else settings.loaded_policy
    assert_metadata(metadata, policy)
    database = db or Database(settings.url, policy)
    owns_db = db is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:  # publish new versions of the statement and the terms, and mail customers the changes
            await asyncio.to_thread(app.state.publication.ensure)
        except Exception:
            log.exception("publishing the statement and the terms failed; retried on first use")
        announce = _deliver(database, settings) if app.state.publication.mailed else None
        async with (
            running(announce),
            jobs.scheduled(database, settings.maintenance_minutes),
            billing_service.scheduled(database, settings),
            retention_jobs.scheduled(database, settings.retention_hour),
        ):
            yield
        with database.unit_of_work("monitoring", INGEST, record=False) as session:
            app.state.tracker.tally.flush(session)
        if owns_db:
            database.dispose()

    app = FastAPI(
        title="Lawful",
        version=__version__,
        description="The back office whose privacy statement is true by construction.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.policy = policy
    app.state.db = database
    app.state.auth = AuthConfig.from_settings(settings)
    app.state.mailer = mailer_for(settings)
    app.state.publication = Publication(
        database,
        [statement_document(policy), terms_document(settings.terms)],
        base_url=settings.base_url,
        organisation=policy.organisation.name,
    )
    app.state.signup_limit = RateLimiter(settings.signup_ip_limit, settings.signup_window_minutes * 60)
    app.state.confirm_limit = RateLimiter(settings.confirm_ip_limit, settings.signup_window_minutes * 60)
    app.state.attachments = [invoice_attachments(policy, settings), rights_attachments(database)]
    install_error_handlers(app)
    app.add_middleware(CsrfCookieMiddleware, secure=settings.secure_cookies)
    # Outermost: the tracker endpoint answers before any other layer (no cookie, no session).
    tracker = Tracker(database, policy)
    app.state.tracker = tracker
    app.state.writer = WriteBehind(lambda rows, dropped: store_batch(tracker, rows, dropped))
    app.add_middleware(TrackerEndpoint, tracker=tracker, writer=app.state.writer)
    app.mount("/static", StaticFiles(packages=[("lawful.web", "static")]), name="static")
    app.include_router(api.router)
    for router in routers():
        app.include_router(router)

    @app.get(
        "/healthz",
        summary="Liveness and database health",
        response_model=Health,
        responses={503: {"model": ErrorBody, "description": "the database is unreachable"}},
    )
    def healthz(database: Database = Depends(get_db)) -> Health | JSONResponse:
        try:
            database.ping()
        except Exception:
            log.exception("health check: database unreachable")
            body = {
                "error": {
                    "status": 503,
                    "code": "unavailable",
                    "message": "the database is unreachable",
                    "detail": None,
                }
            }
            return JSONResponse(body, status_code=503)
        return Health(status="ok", database=database.dialect)

    return app
