"""What the users, authentication and API-token routes accept and show.

Input models refuse unknown fields. E-mail addresses and passwords are plain strings here: the
service checks them (so a wrong address on sign-in is a wrong address, not a malformed request).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from lawful.users.models import AccountStatus, UserRole
from lawful.web.api import Input, Text, omittable

Name = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Address = Annotated[Text, Field(max_length=254)]
Password = Annotated[Text, Field(max_length=256)]
Token = Annotated[Text, Field(max_length=200)]


class UserOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    email: str
    role: UserRole
    status: AccountStatus
    created_at: datetime


class UserPage(BaseModel):
    items: list[UserOut]
    total: int
    page: int
    per_page: int


class InviteIn(Input):
    email: Address
    name: Name
    role: UserRole = UserRole.member
    customer_id: uuid.UUID | None = Field(
        default=None, description="required for staff; a customer's admin invites into their own customer"
    )


class ProfilePatch(Input):
    name: Name = omittable()


class UserPatch(Input):
    role: UserRole


class LoginIn(Input):
    email: Address
    password: Password


class SignedIn(BaseModel):
    second_factor_required: bool = Field(
        description="true: send the code from the authenticator app to .../second-factor next"
    )
    csrf_token: str = Field(description="send it in the X-CSRF-Token header of every unsafe request")


class CodeIn(Input):
    code: Annotated[Text, Field(max_length=12)]


class ResetIn(Input):
    email: Address


class Message(BaseModel):
    message: str


class NewPasswordIn(Input):
    token: Token
    password: Password


class TokenIn(Input):
    label: Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    days: int = Field(default=90, ge=1, le=366, description="the token expires after this many days")


class TokenOut(BaseModel):
    id: uuid.UUID
    label: str
    prefix: str = Field(description="the first characters of the token, to recognise it")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenList(BaseModel):
    items: list[TokenOut]


class TokenCreated(TokenOut):
    token: str = Field(description="shown once: store it now; only its hash is kept")
