"""Invitation and password-reset mail through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import FAST, SYSTEM, api_sign_in, make_customer, make_user

from lawful.customers.models import Customer
from lawful.data.db import Database
from lawful.mail.models import MailStatus, OutboundMail
from lawful.settings import Settings
from lawful.users.models import UserRole
from lawful.web.app import create_app

ADMIN = "boss@acme.example"
NEWBIE = "newbie@acme.example"


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def customer(database: Database) -> Customer:
    customer, _ = make_customer(database, contacts=0)
    make_user(database, customer_id=customer.id, email=ADMIN, name="Bo Boss", role=UserRole.admin)
    return customer


def _client(database: Database, config: Settings) -> TestClient:
    return TestClient(create_app(config, db=database), raise_server_exceptions=False)


def _outbox(database: Database, to: str) -> list[OutboundMail]:
    with database.unit_of_work("contract", SYSTEM) as session:
        return list(session.scalars(select(OutboundMail).where(OutboundMail.to_address == to)))


def _link(message: Any, kind: str) -> str:
    found = re.search(rf"http://testserver/portal/{kind}/([A-Za-z0-9_-]+)", message.get_content())
    assert found, message.get_content()
    return found.group(1)


def test_an_invitation_arrives_by_smtp_and_its_link_works(
    database: Database, customer: Customer, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    config = FAST.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_starttls": False,
            "base_url": "http://testserver",
        }
    )
    with _client(database, config) as admin:
        api_sign_in(admin, email=ADMIN)
        invited = admin.post("/api/v1/users", json={"email": NEWBIE, "name": "Nel Newbie"})
        assert invited.status_code == 201, invited.text
    # (the admin's own invitation, still pending from the set-up, goes out with it)
    [(recipients, message)] = [m for m in inbox.messages if NEWBIE in m[0]]
    assert recipients == [NEWBIE]
    assert message["To"] == NEWBIE and "invited" in message["Subject"]
    assert "Bo Boss" in message.get_content()
    token = _link(message, "invitation")

    [mail] = _outbox(database, NEWBIE)
    assert mail.status == MailStatus.sent and mail.sent_at is not None
    assert mail.body == ""  # the link is not kept once it has left

    password = "my very own secret 42"
    with _client(database, config) as newbie:
        accepted = newbie.post("/api/v1/auth/invitations/accept", json={"token": token, "password": password})
        assert accepted.status_code == 200, accepted.text
        api_sign_in(newbie, email=NEWBIE, password=password)
        assert newbie.get("/api/v1/users/me").json()["email"] == NEWBIE


def test_a_password_reset_arrives_by_smtp(
    database: Database, customer: Customer, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    config = FAST.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_starttls": False,
            "base_url": "http://testserver",
        }
    )
    with _client(database, config) as client:
        assert client.post("/api/v1/auth/password-reset", json={"email": ADMIN}).status_code == 202
        assert (
            client.post("/api/v1/auth/password-reset", json={"email": "nobody@acme.example"}).status_code
            == 202
        )
        resets = [m for m in inbox.messages if m[1]["Subject"] == "Reset your password"]
        assert [recipients for recipients, _ in resets] == [[ADMIN]]
        token = _link(resets[0][1], "reset")
        new = "a fresh password 2026"
        done = client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": new})
        assert done.status_code == 204
        api_sign_in(client, email=ADMIN, password=new)


def test_without_smtp_the_mail_stays_in_the_outbox(
    database: Database, customer: Customer, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    assert FAST.smtp_host is None
    with _client(database, FAST) as admin:
        api_sign_in(admin, email=ADMIN)
        assert admin.post("/api/v1/users", json={"email": NEWBIE, "name": "Nel Newbie"}).status_code == 201
    assert inbox.messages == []
    [mail] = _outbox(database, NEWBIE)
    assert mail.status == MailStatus.pending and mail.sent_at is None
    assert "/portal/invitation/" in mail.body
