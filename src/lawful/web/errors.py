"""One error body for the whole API, and an HTML error page for people.

Every error the API answers has the body ``{"error": {"status", "code", "message", "detail"}}``:
business conditions (:class:`~lawful.errors.LawfulError` and its subclasses), HTTP errors,
validation errors (422) and unexpected failures (500, without internals). A browser asking for
a page gets the same facts as an HTML page.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from lawful.errors import LawfulError
from lawful.web.templating import templates

log = logging.getLogger("lawful.web")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ErrorDetail(BaseModel):
    status: int = Field(description="the HTTP status, repeated")
    code: str = Field(
        description="a stable machine-readable code, e.g. not_found, invalid, purpose_violation"
    )
    message: str = Field(description="what went wrong, for people")
    detail: Any = Field(default=None, description="structured details, e.g. the invalid fields")


class ErrorBody(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": _CODES[status].replace("_", " ")}
    for status in (400, 401, 403, 404, 422, 500)
}


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api") or request.url.path in ("/healthz", "/openapi.json"):
        return False
    return "text/html" in request.headers.get("accept", "")


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if _wants_html(request):
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "code": code, "message": message},
            status_code=status,
            headers=headers,
        )
    body = ErrorBody(error=ErrorDetail(status=status, code=code, message=message, detail=detail))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LawfulError)
    async def _lawful(request: Request, exc: LawfulError) -> Response:
        login_url = getattr(exc, "login_url", None)
        if login_url and _wants_html(request):
            return RedirectResponse(f"{login_url}?next={quote(request.url.path)}", status_code=303)
        if exc.status >= 500:
            log.error("%s: %s", exc.code, exc.message)
        return error_response(request, exc.status, exc.code, exc.message, exc.detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(request, exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = [
            {
                "loc": [str(x) for x in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
            for err in exc.errors()
        ]
        summary = "; ".join(f"{'.'.join(f['loc'])}: {f['msg']}" for f in fields[:5])
        return error_response(request, 422, "invalid", f"the request is invalid: {summary}", fields)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            request, 500, "internal_error", "something went wrong on our side; it has been logged"
        )
