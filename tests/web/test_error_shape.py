"""One error body shape for the whole API; an HTML page for a browser."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lawful.errors import Conflict, NotFound, PurposeViolation


def assert_error_shape(body: dict[str, Any], status: int, code: str) -> None:
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "detail"}
    assert error["status"] == status
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]


def test_unknown_route_is_a_404_with_the_error_body(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert_error_shape(response.json(), 404, "not_found")


def test_wrong_method_is_a_405_with_the_error_body(client: TestClient) -> None:
    response = client.delete("/api/v1/policy")
    assert response.status_code == 405
    assert_error_shape(response.json(), 405, "method_not_allowed")


@pytest.fixture
def raising(app: FastAPI, client: TestClient) -> TestClient:
    """Routes that raise each kind of error (added to this test's app only)."""

    @app.get("/api/v1/_test/{kind}")
    def boom(kind: str, number: int = 0) -> dict[str, str]:
        errors: dict[str, Exception] = {
            "not-found": NotFound("no customer with that id"),
            "conflict": Conflict("that e-mail address is already invited"),
            "purpose": PurposeViolation("purpose 'monitoring' does not declare user.contact.email"),
            "crash": ZeroDivisionError("division by zero in a secret place"),
        }
        raise errors[kind]

    return client


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("not-found", 404, "not_found"),
        ("conflict", 409, "conflict"),
        ("purpose", 403, "purpose_violation"),
        ("crash", 500, "internal_error"),
    ],
)
def test_each_error_has_the_same_shape(raising: TestClient, kind: str, status: int, code: str) -> None:
    response = raising.get(f"/api/v1/_test/{kind}")
    assert response.status_code == status
    assert_error_shape(response.json(), status, code)


def test_a_500_does_not_leak_internals(raising: TestClient) -> None:
    body = raising.get("/api/v1/_test/crash").json()
    assert "secret" not in body["error"]["message"] and "ZeroDivision" not in str(body)


def test_validation_errors_name_the_field(raising: TestClient) -> None:
    response = raising.get("/api/v1/_test/not-found", params={"number": "seven"})
    assert response.status_code == 422
    body = response.json()
    assert_error_shape(body, 422, "invalid")
    assert body["error"]["detail"][0]["loc"] == ["query", "number"]
    assert "number" in body["error"]["message"]


def test_a_browser_gets_an_html_error_page(client: TestClient) -> None:
    response = client.get("/no-such-page", headers={"accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>404" in response.text


def test_the_api_answers_json_even_to_a_browser(client: TestClient) -> None:
    response = client.get("/api/v1/nothing", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert_error_shape(response.json(), 404, "not_found")
