"""The one error hierarchy of Lawful.

Every expected business condition is a subclass of :class:`LawfulError`; it carries the HTTP
status the web layer answers with and a stable machine-readable ``code``. The web layer turns
any of them into the single error body shape of the API (see ``lawful.web.errors``).
"""

from __future__ import annotations

from typing import Any


class LawfulError(Exception):
    """Base of every expected error: a message for people, a status for HTTP, a code for machines."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, status: int | None = None, *, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.detail = detail


class NotFound(LawfulError):
    status = 404
    code = "not_found"


class Conflict(LawfulError):
    status = 409
    code = "conflict"


class Forbidden(LawfulError):
    status = 403
    code = "forbidden"


class PolicyError(LawfulError):
    """The policy file cannot be loaded: it names the file, the purpose and the bad key."""

    status = 500
    code = "policy_error"


class PurposeViolation(Forbidden):
    """A statement touched personal data that the active purpose does not declare.

    Raised before the statement reaches the database.
    """

    code = "purpose_violation"


class Unauthorized(LawfulError):
    """Not signed in, or the credentials are wrong."""

    status = 401
    code = "unauthorized"


class TooManyRequests(LawfulError):
    status = 429
    code = "too_many_requests"


class Invalid(LawfulError):
    """Input that is well-formed but not acceptable (a weak password, an invalid VAT number)."""

    status = 422
    code = "invalid"


class Gone(LawfulError):
    """A token that expired or was already used."""

    status = 410
    code = "gone"
