"""What the browser tests of the tracker share: a measured site served by a second HTTP server on
127.0.0.1 (another port: another origin, the same site as Lawful), and Chromium set up as a
visitor's browser (``navigator.webdriver`` false, an ordinary desktop Chrome user agent)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from playwright.sync_api import Browser, BrowserContext, Playwright
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

WAIT_S = 10.0


class PagesHandler(BaseHTTPRequestHandler):
    """Serves ``pages`` (HTML by path; the query is left out), never cached; 404 for the rest."""

    pages: ClassVar[dict[str, str]] = {}

    def page(self, path: str) -> str | None:
        return self.pages.get(path)

    def do_GET(self) -> None:
        body = self.page(self.path.split("?", 1)[0])
        if body is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        data = body.encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(handler: type[PagesHandler], name: str) -> Iterator[ThreadingHTTPServer]:
    """An HTTP server with ``handler`` on 127.0.0.1 (a free port) in a thread, stopped at the end."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def chrome_user_agent(major: str) -> str:
    return (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{major}.0.0.0 Safari/537.36"
    )


def visitor_chromium(playwright: Playwright) -> Browser:
    """Chromium whose ``navigator.webdriver`` is false and that calls itself Chrome, as a visitor's does.

    The user agent is set for the whole browser, not only per context: a beacon that outlives
    its page (sent on ``pagehide``) leaves from the browser process with the browser's own
    user agent, which headless Chromium gives as ``HeadlessChrome`` (a bot, to the server).
    """
    probe = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    major = probe.version.split(".")[0]
    probe.close()
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            *CHROMIUM_ARGS,
            "--disable-blink-features=AutomationControlled",
            f"--user-agent={chrome_user_agent(major)}",
        ],
        headless=True,
    )


def visitor_context(browser: Browser, **options: Any) -> BrowserContext:
    ctx = browser.new_context(
        user_agent=chrome_user_agent(browser.version.split(".")[0]),
        locale="en-GB",
        timezone_id="Europe/Amsterdam",
        **options,
    )
    ctx.set_default_timeout(WAIT_S * 1000)
    return ctx
