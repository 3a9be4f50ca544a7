from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lawful.data.db import Database
from lawful.settings import Settings
from lawful.web.app import create_app


@pytest.fixture
def app(sqlite_db: Database) -> FastAPI:
    return create_app(Settings(), db=sqlite_db)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
