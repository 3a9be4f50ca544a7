"""``GET /js/lawful.js``: the tracker script that a measured site includes with one tag.

The file ships inside the package and is read, hashed and gzipped once. Browsers may cache it
for an hour and revalidate it with its ETag; a client that accepts gzip gets the precompressed
variant (under its own ETag, as a different representation).
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.responses import Response

router = APIRouter(include_in_schema=False)

MEDIA_TYPE = "application/javascript; charset=utf-8"
CACHE_CONTROL = "public, max-age=3600"


@dataclass(frozen=True, slots=True)
class Script:
    """The tracker script as served: plain and gzipped, each with its ETag."""

    body: bytes
    gzipped: bytes
    etag: str
    gzip_etag: str


@lru_cache(maxsize=1)
def tracker_script() -> Script:
    """The packaged ``static/lawful.js``, read and compressed once per process."""
    body = files("lawful.monitoring").joinpath("static/lawful.js").read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:20]
    return Script(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        etag=f'"{digest}"',
        gzip_etag=f'"{digest}-gzip"',
    )


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value admits gzip (``gzip;q=0`` refuses it)."""
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip() not in ("gzip", "x-gzip", "*"):
            continue
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


@router.api_route("/js/lawful.js", methods=["GET", "HEAD"])
def lawful_js(request: Request) -> Response:
    script = tracker_script()
    gzipped = accepts_gzip(request.headers.get("accept-encoding", ""))
    etag = script.gzip_etag if gzipped else script.etag
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "ETag": etag,
        "Vary": "Accept-Encoding",
        # Any site may load it, also with crossorigin/integrity or under Cross-Origin-Embedder-Policy.
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if _matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        return Response(script.gzipped, media_type=MEDIA_TYPE, headers=headers)
    return Response(script.body, media_type=MEDIA_TYPE, headers=headers)
