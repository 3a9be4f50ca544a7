"""Every router of the app, in one list, so that the app factory stays short.

A domain package with pages or API routes adds its routers here.
"""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    return []
