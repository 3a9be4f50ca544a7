"""The two ways events come in: ``POST /api/event`` from the tracker, ``POST /api/v1/usage`` from services.

``/api/event`` is answered by a small ASGI layer in front of the application (it needs no
session, no CSRF cookie and no routing, and it is the hottest path of all): it reads at most
4 KB, runs the tracker pipeline, waits for the group commit and answers ``202``. It sets no
cookie. Errors have the API's one error body.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lawful.data.db import Database
from lawful.errors import Invalid, LawfulError, Unauthorized
from lawful.monitoring import usage
from lawful.monitoring.ingest import (
    INGEST,
    MAX_BODY,
    PURPOSE,
    BadEvent,
    Client,
    TooLarge,
    Tracker,
    now_ms,
    objection_from_headers,
    parse_body,
)
from lawful.monitoring.writer import WriteBehind
from lawful.web.deps import get_db
from lawful.web.errors import ERROR_RESPONSES

log = logging.getLogger("lawful.monitoring")

EVENT_PATH = "/api/event"
CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"POST"),
    (b"access-control-allow-headers", b"content-type"),
    (b"access-control-max-age", b"86400"),
]


def _error(status: int, code: str, message: str) -> bytes:
    return json.dumps(
        {"error": {"status": status, "code": code, "message": message, "detail": None}}
    ).encode()


class SessionOnDemand:
    """A purpose-bound session that is opened only when first used.

    Most events need no database before they are stored (the site, the salts and the device
    are cached), and opening a session per request would cost more than the rest of ``prepare``.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.session: Session | None = None

    def __getattr__(self, name: str) -> Any:
        if self.session is None:
            self.session = self.db.session(PURPOSE, INGEST)
        return getattr(self.session, name)

    def commit(self) -> None:
        if self.session is not None:
            self.session.commit()

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


class TrackerEndpoint:
    """ASGI middleware answering ``POST /api/event``; everything else goes on to the app."""

    def __init__(self, app: ASGIApp, *, tracker: Tracker, writer: WriteBehind) -> None:
        self.app = app
        self.tracker = tracker
        self.writer = writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != EVENT_PATH:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "OPTIONS":
            await self._answer(send, 204, b"")
            return
        if method != "POST":
            await self._answer(send, 405, _error(405, "method_not_allowed", "send events with POST"))
            return
        try:
            body = await self._body(scope, receive)
            status, answer = await self._ingest(scope, body)
        except LawfulError as exc:
            status, answer = exc.status, _error(exc.status, exc.code, exc.message)
        except Exception:
            log.exception("the tracker endpoint failed")
            status, answer = (
                500,
                _error(500, "internal_error", "the event could not be stored; send it again"),
            )
        await self._answer(send, status, answer)

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY:
                raise TooLarge(f"an event may be at most {MAX_BODY} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BadEvent("the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise TooLarge(f"an event may be at most {MAX_BODY} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _ingest(self, scope: Scope, body: bytes) -> tuple[int, bytes]:
        data = parse_body(body)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client")
        objected = objection_from_headers(headers) or self._user_objected(scope, headers)
        info = Client(client[0] if client else "", headers.get("user-agent", ""), objected)
        at = now_ms()
        tracker = self.tracker
        lazy = SessionOnDemand(tracker.db)
        try:
            session = cast(Session, lazy)
            result = tracker.prepare(session, data, info, at=at)
            if isinstance(result, str):
                site = tracker.site_id(session, str(data["s"]))
            lazy.commit()
        finally:
            lazy.close()
        if isinstance(result, str):
            await self.writer.submit((), [(site, at, result)])
            return 202, json.dumps({"status": "dropped", "reason": result}).encode()
        await self.writer.submit([result])
        return 202, b'{"status":"accepted"}'

    def _user_objected(self, scope: Scope, headers: dict[str, str]) -> bool:
        """A signed-in portal user who objected to monitoring (their cookie comes along same-site),
        or whose processing is restricted (GDPR art. 18: their data is only stored)."""
        if "lawful_portal=" not in headers.get("cookie", ""):
            return False
        from starlette.requests import Request as StarletteRequest

        from lawful.rights.service import restriction_of
        from lawful.web.auth import optional_user

        caller = optional_user(StarletteRequest(scope), self.tracker.db)
        if caller is None:
            return False
        if caller.user.monitoring_objection_at is not None:
            return True
        with self.tracker.db.unit_of_work(PURPOSE, INGEST, record=False) as session:
            return restriction_of(session, caller.user.id) is not None

    @staticmethod
    async def _answer(send: Send, status: int, body: bytes) -> None:
        headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store"), *CORS]
        if body:
            headers.append((b"content-length", str(len(body)).encode()))
        start: Message = {"type": "http.response.start", "status": status, "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": body})


# --- usage events from services ------------------------------------------------------------------

router = APIRouter(prefix="/api/v1", tags=["usage"], responses=ERROR_RESPONSES)

MAX_USAGE_BODY = 1024 * 1024


class UsageEventIn(BaseModel):
    """One usage event (the schema of the request body; each event is checked on its own)."""

    idempotency_key: str = Field(
        min_length=1, max_length=128, description="unique per service; a repeat counts once"
    )
    customer_id: str = Field(description="the customer account the usage counts for (UUID)")
    user_id: str | None = Field(default=None, description="the user who caused it, if any (UUID)")
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_.:-]{0,63}$", description="the event code, e.g. api.call")
    timestamp: datetime = Field(description="ISO 8601 with a time zone; at most 35 days old, 5 minutes ahead")
    value: Decimal | None = Field(
        default=None, description="a number with at most 6 decimals; 1 when omitted"
    )
    properties: dict[str, str | int | float | bool | None] | None = Field(
        default=None, description="at most 20 scalar properties (2 KB); no personal data"
    )


class UsageBatchIn(BaseModel):
    events: list[UsageEventIn] = Field(min_length=1, max_length=usage.MAX_BATCH)


class UsageOutcome(BaseModel):
    index: int
    idempotency_key: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None = None


class UsageBatchOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[UsageOutcome]


def _service_key(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise Unauthorized("send the usage service key as 'Authorization: Bearer lwu_…'")
    return header[7:].strip()


@router.post(
    "/usage",
    summary="Report usage: one event, or a batch of up to 1,000 answered per event",
    status_code=200,
    response_model=UsageBatchOut,
    responses={
        202: {"model": UsageOutcome, "description": "one event: accepted, or a duplicate counted before"},
        413: {"description": "the body is larger than 1 MiB"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/UsageEventIn"},
                            {"$ref": "#/components/schemas/UsageBatchIn"},
                        ]
                    }
                }
            },
        }
    },
)
async def report_usage(request: Request, db: Database = Depends(get_db)) -> Any:
    key = _service_key(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_USAGE_BODY:
        raise LawfulError(f"a request may be at most {MAX_USAGE_BODY} bytes", 413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_USAGE_BODY:
            raise LawfulError(f"a request may be at most {MAX_USAGE_BODY} bytes", 413)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LawfulError(f"the body is not valid JSON: {exc}", 400) from None
    events, batch = usage.events_of(payload)
    from starlette.concurrency import run_in_threadpool

    outcomes = await run_in_threadpool(_record, db, key, events)
    if not batch:
        only = outcomes[0]
        if only.status == "rejected":
            raise Invalid(
                only.reason or "the event was refused", detail={"idempotency_key": only.idempotency_key}
            )
        return JSONResponse(
            UsageOutcome.model_validate(only, from_attributes=True).model_dump(), status_code=202
        )
    results = [UsageOutcome.model_validate(o, from_attributes=True) for o in outcomes]
    return UsageBatchOut(
        accepted=sum(o.status == "accepted" for o in outcomes),
        duplicates=sum(o.status == "duplicate" for o in outcomes),
        rejected=sum(o.status == "rejected" for o in outcomes),
        results=results,
    )


def _record(db: Database, key: str, events: list[Any]) -> list[usage.Outcome]:
    with db.unit_of_work(PURPOSE, INGEST) as session:
        service = usage.authenticate(session, key)
        return usage.record(session, service, events, now=datetime.now(UTC))
