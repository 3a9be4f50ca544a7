"""The app: health, the API root, the policy it enforces, the rendered statement."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Column, Integer, MetaData, String, Table

from lawful.data.db import Database
from lawful.errors import PolicyError
from lawful.policy.loader import policy_hash
from lawful.policy.model import Policy
from lawful.settings import Settings
from lawful.web.app import create_app


def test_healthz_reports_the_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "sqlite"}


def test_healthz_is_503_when_the_database_is_gone(policy: Policy, tmp_path: object) -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none", policy)
    with TestClient(create_app(Settings(), db=db)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"


def test_api_root_names_the_policy_version(client: TestClient, policy: Policy) -> None:
    body = client.get("/api/v1/").json()
    assert body["policy"]["hash"] == policy_hash(policy)
    assert body["policy"]["version"] == policy.version
    assert client.get(body["links"]["openapi"]).status_code == 200


def test_the_policy_endpoint_serves_the_enforced_policy(client: TestClient, policy: Policy) -> None:
    body = client.get("/api/v1/policy").json()
    assert [p["key"] for p in body["purposes"]] == policy.keys
    assert Policy.model_validate(body) == policy.model_copy(update={"source": ""})


def test_the_record_of_processing_is_served(client: TestClient, policy: Policy) -> None:
    body = client.get("/api/v1/policy/record").json()
    assert len(body["activities"]) == len(policy.purposes)


def test_privacy_page_is_the_rendered_statement(client: TestClient, policy: Policy) -> None:
    response = client.get("/privacy")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for purpose in policy.public_purposes:
        assert purpose.title in response.text


def test_start_up_fails_when_the_schema_disagrees_with_the_policy(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    md = MetaData()
    Table("leads", md, Column("id", Integer, primary_key=True), Column("email", String))
    monkeypatch.setattr("lawful.web.app.metadata", md)
    with pytest.raises(PolicyError, match="leads.email"):
        create_app(Settings(), db=sqlite_db)
