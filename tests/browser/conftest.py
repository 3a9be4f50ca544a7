"""Browser tests: a real Lawful server on loopback, a real SMTP server, and Debian's Chromium.

Fixtures:

- ``smtp_server``: an aiosmtpd server on 127.0.0.1 (a free port) that keeps every message;
  ``smtp_server.wait_for(address)`` waits for a message to an address and
  ``smtp_server.first_url(address)`` gives the first link in it.
- ``live_server``: uvicorn serving :func:`lawful.web.app.create_app` in a background thread on
  127.0.0.1 (a free port), on a fresh migrated SQLite file, with SMTP pointing at
  ``smtp_server``, ``base_url`` the server's own address and cheap argon2 parameters. It has
  ``url``, ``db`` (to put data in with ``tests.factories``), ``settings`` and ``smtp``.
- ``browser`` (one Chromium per test session), ``context`` and ``page`` (new ones per test):
  Playwright's sync API driving ``/usr/bin/chromium`` (``playwright install`` is never needed).

Every test in this folder is marked ``browser``. Without ``/usr/bin/chromium`` the tests that
need a browser skip and say why; under ``CI=true`` they fail instead (``make test`` installs it).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from lawful.data.db import Database
from lawful.policy.model import Policy
from lawful.settings import Settings
from lawful.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
HERE = Path(__file__).parent
URL = re.compile(r"https?://[^\s<>\"')]+")
TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder ``browser`` (select or deselect them with ``-m``)."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


def free_socket() -> socket.socket:
    """A listening-ready TCP socket on 127.0.0.1 with a port the system chose."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    with free_socket() as sock:
        port: int = sock.getsockname()[1]
        return port


# --- SMTP -------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """The messages an SMTP server on loopback received, in order."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        message = message_from_bytes(raw, policy=default_policy)
        assert isinstance(message, EmailMessage)
        with self._arrived:
            self.messages.append(([r.lower() for r in envelope.rcpt_tos], message))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """The messages received for ``address`` so far."""
        address = address.lower()
        with self._arrived:
            return [m for rcpts, m in self.messages if address in rcpts]

    def wait_for(self, address: str, *, timeout: float = 10.0, count: int = 1) -> EmailMessage:
        """The newest message to ``address`` once at least ``count`` have arrived; fails after
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = [m for rcpts, m in self.messages if address.lower() in rcpts]
                if len(found) >= count:
                    return found[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    received = [rcpts for rcpts, _ in self.messages]
                    pytest.fail(f"no message to {address} within {timeout} s (received for: {received})")
                self._arrived.wait(left)

    @staticmethod
    def body(message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain", "html"))
        assert part is not None, "the message has no text body"
        return str(part.get_content())

    @classmethod
    def url_in(cls, message: EmailMessage) -> str:
        match = URL.search(cls.body(message))
        assert match, f"no link in the message {message['Subject']!r}"
        return match.group(0).rstrip(".,;")

    def first_url(self, address: str, *, timeout: float = 10.0, count: int = 1) -> str:
        """The first link in the newest message to ``address`` (waiting for it)."""
        return self.url_in(self.wait_for(address, timeout=timeout, count=count))


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), ready_timeout=10)
    controller.start()
    mailbox.port = controller.port
    try:
        yield mailbox
    finally:
        controller.stop()


# --- the app ----------------------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    db: Database
    settings: Settings
    smtp: Mailbox


@pytest.fixture
def live_server(
    smtp_server: Mailbox, policy: Policy, tmp_path: Path, sqlite_template: Path
) -> Iterator[LiveServer]:
    path = tmp_path / "live.db"
    path.write_bytes(sqlite_template.read_bytes())
    db = Database(f"sqlite:///{path}", policy)
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        data_dir=tmp_path,
        base_url=url,
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_starttls=False,
        smtp_timeout=5.0,
        mail_from="Lawful <no-reply@lawful.test>",
        log_level="warning",
    )
    app = create_app(settings, db=db)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            pytest.fail("the live server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(url, db, settings, smtp_server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        db.dispose()
        assert not thread.is_alive(), "the live server did not stop"


# --- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: `make test` installs Debian's chromium (as root, with apt-get)"
        if IN_CI:
            pytest.fail(f"{reason}; under CI=true the browser tests must run")
        pytest.skip(reason)
    manager = sync_playwright()
    driver = manager.start()
    try:
        yield driver
    finally:
        manager.__exit__(None, None, None)


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture(scope="module")
def tracked_browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium as a visitor's (:func:`tests.browser.sites.visitor_chromium`), one per test module."""
    from tests.browser.sites import visitor_chromium

    chromium = visitor_chromium(playwright)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def visitor(tracked_browser: Browser) -> Iterator[BrowserContext]:
    """A new context of ``tracked_browser``, as a visitor's (:func:`tests.browser.sites.visitor_context`)."""
    from tests.browser.sites import visitor_context

    ctx = visitor_context(tracked_browser)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(locale="en-GB", timezone_id="Europe/Amsterdam")
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    tab = context.new_page()
    try:
        yield tab
    finally:
        tab.close()
