"""Responses that hand over a file: a package of someone's personal data, a bundle for an authority.

They name the file (``Content-Disposition``: saved as an attachment, or shown ``inline``) and are
never kept by a cache on the way (``Cache-Control: no-store``), because they hold personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse, Response


def download_headers(filename: str, *, inline: bool = False, nosniff: bool = False) -> dict[str, str]:
    """The headers of a file download; ``nosniff``: browsers take the media type as given."""
    headers = {
        "content-disposition": f'{"inline" if inline else "attachment"}; filename="{filename}"',
        "cache-control": "no-store",
    }
    if nosniff:
        headers["x-content-type-options"] = "nosniff"
    return headers


def download(
    content: bytes,
    media_type: str,
    filename: str,
    *,
    inline: bool = False,
    nosniff: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``content`` as the file ``filename``, with ``headers`` besides the download's own."""
    return Response(
        content,
        media_type=media_type,
        headers={**download_headers(filename, inline=inline, nosniff=nosniff), **(headers or {})},
    )


def json_download(body: Any, filename: str) -> JSONResponse:
    """``body`` as the JSON file ``filename``."""
    return JSONResponse(body, headers=download_headers(filename))
