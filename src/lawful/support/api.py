"""JSON API of support."""

from __future__ import annotations

from fastapi import APIRouter

from lawful.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
