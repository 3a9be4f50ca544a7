"""Schemathesis over the whole OpenAPI document: every route, now and later, is fuzzed.

No response may be a 5xx, and every response must conform to the document. The operations are
read from the live document, so a route added later is fuzzed without touching this file.
(Schemathesis' own pytest plugin does not run under pytest 9 yet, so the operations are driven
through Hypothesis directly.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from lawful.data.db import Database
from lawful.data.migrate import upgrade
from lawful.demo import load_demo
from lawful.policy.loader import load_policy
from lawful.settings import Settings
from lawful.web.app import create_app


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "lawful.db"
    upgrade(f"sqlite:///{path}")
    db = Database(f"sqlite:///{path}", load_policy())
    load_demo(db, customers=10)
    yield create_app(Settings(), db=db)
    db.dispose()


def test_api_conforms_to_its_openapi_document(fuzzed_app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert any(op.path == "/api/v1/" for op in operations)
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate()

        check()
