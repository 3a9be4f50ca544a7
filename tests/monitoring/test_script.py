"""The tracker script: its size budget, what its source may not touch, and how ``/js/lawful.js``
is served (type, caching, ETag revalidation, the gzip variant, no cookie)."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from collections.abc import Iterator
from importlib.resources import files

import pytest
from fastapi.testclient import TestClient

from lawful.data.db import Database
from lawful.settings import Settings
from lawful.web.app import create_app

BUDGET = 1024  # bytes, gzipped at level 9
SOURCE = files("lawful.monitoring").joinpath("static/lawful.js").read_bytes()
TEXT = SOURCE.decode("utf-8")
URL = "/js/lawful.js"


@pytest.fixture
def client(sqlite_db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(), db=sqlite_db), raise_server_exceptions=False) as client:
        yield client


def test_the_script_fits_in_one_kilobyte_gzipped() -> None:
    size = len(gzip.compress(SOURCE, compresslevel=9))
    assert size <= BUDGET, f"lawful.js is {size} bytes gzipped; the budget is {BUDGET}"
    assert len(SOURCE) > size  # it is text that compresses, not an empty file


def test_the_source_writes_no_cookie_and_no_storage() -> None:
    for forbidden in ("document.cookie", "setItem", "sessionStorage", "indexedDB", "caches."):
        assert forbidden not in TEXT, f"lawful.js must not use {forbidden}"
    # localStorage is only read, for the visitor's opt-out flag.
    uses = re.findall(r"localStorage\s*(\.\s*\w+|\[)\s*(=(?!=))?", TEXT)
    assert uses, "lawful.js should read localStorage.lawful_ignore"
    for member, assignment in uses:
        assert member.replace(" ", "") == ".lawful_ignore" and not assignment, (
            f"localStorage{member}{assignment}"
        )


def test_the_source_honours_the_objection_signals() -> None:
    assert "globalPrivacyControl" in TEXT
    assert "webdriver" in TEXT
    assert re.search(r"lawful_ignore\s*===?\s*\"true\"", TEXT)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed: no syntax check")
def test_the_source_is_valid_javascript(tmp_path: object) -> None:
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run(
        [node, "--check", "-"], input=SOURCE, capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr.decode()


def test_the_script_is_served_plain_with_its_headers(client: TestClient) -> None:
    response = client.get(URL, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.content == SOURCE
    assert response.headers["content-type"] == "application/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"
    assert re.fullmatch(r'"[0-9a-f]+"', response.headers["etag"])
    assert int(response.headers["content-length"]) == len(SOURCE)


def test_the_gzip_variant_decompresses_to_the_file(client: TestClient) -> None:
    with client.stream("GET", URL, headers={"Accept-Encoding": "br, gzip;q=0.8"}) as response:
        raw = b"".join(response.iter_raw())
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["content-type"] == "application/javascript; charset=utf-8"
        assert response.headers["cache-control"] == "public, max-age=3600"
        assert int(response.headers["content-length"]) == len(raw)
        gzip_etag = response.headers["etag"]
    assert len(raw) < len(SOURCE)
    assert gzip.decompress(raw) == SOURCE
    plain = client.get(URL, headers={"Accept-Encoding": "identity"}).headers["etag"]
    assert gzip_etag != plain  # two representations, two entity tags


def test_gzip_with_q_zero_gets_the_plain_file(client: TestClient) -> None:
    response = client.get(URL, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert response.content == SOURCE


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_matching_etag_is_answered_304(client: TestClient, encoding: str) -> None:
    first = client.get(URL, headers={"Accept-Encoding": encoding})
    etag = first.headers["etag"]
    again = client.get(URL, headers={"Accept-Encoding": encoding, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "public, max-age=3600"
    stale = client.get(URL, headers={"Accept-Encoding": encoding, "If-None-Match": '"not-this-one"'})
    assert stale.status_code == 200
    assert len(stale.content) == len(SOURCE)


def test_head_answers_without_a_body(client: TestClient) -> None:
    response = client.head(URL, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == len(SOURCE)


def test_the_script_is_not_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert URL not in paths
    assert client.get(URL).status_code == 200  # while it is served


def test_serving_the_script_sets_no_cookie(client: TestClient) -> None:
    """A visitor's browser gets nothing to keep from the tracker: not even a CSRF token."""
    response = client.get(URL)
    assert response.status_code == 200
    assert "set-cookie" not in response.headers, response.headers["set-cookie"]
