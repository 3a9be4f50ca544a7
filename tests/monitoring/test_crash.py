"""Crash safety: a server killed with SIGKILL mid-stream has stored every event it acknowledged, once.

Also the client address behind a proxy: ``X-Forwarded-For`` counts only from a trusted peer.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.factories import make_site

from lawful.data.db import Database
from lawful.data.migrate import upgrade
from lawful.data.purpose import Actor
from lawful.monitoring.models import PageEvent
from lawful.policy.model import Policy

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    def __init__(self, data_dir: Path, port: int, env: dict[str, str] | None = None) -> None:
        self.port = port
        environment = {
            **os.environ,
            "LAWFUL_DATA_DIR": str(data_dir),
            "LAWFUL_LOG_LEVEL": "warning",
            **(env or {}),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lawful.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server did not start: {self.process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the server did not start within 30 s")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        assert self.process.stderr is not None
        self.process.stderr.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.process.stderr is not None:
            self.process.stderr.close()


def post(port: int, body: dict[str, object], headers: dict[str, str] | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(
            "POST",
            "/api/event",
            body=json.dumps(body),
            headers={"content-type": "text/plain", "user-agent": CHROME, **(headers or {})},
        )
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.fixture
def data_dir(tmp_path: Path, policy: Policy) -> Path:
    upgrade(f"sqlite:///{tmp_path / 'lawful.db'}")
    db = Database(f"sqlite:///{tmp_path / 'lawful.db'}", policy)
    make_site(db, domain="shop.test")
    db.dispose()
    return tmp_path


def stored_paths(data_dir: Path, policy: Policy) -> list[str]:
    db = Database(f"sqlite:///{data_dir / 'lawful.db'}", policy)
    try:
        with db.unit_of_work("monitoring", Actor.system("tests")) as session:
            return list(session.scalars(select(PageEvent.path)))
    finally:
        db.dispose()


def test_sigkill_loses_no_acknowledged_event(data_dir: Path, policy: Policy) -> None:
    port = free_port()
    server = Server(data_dir, port)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    counter = iter(range(1_000_000))

    def stream() -> None:
        while not stop.is_set():
            with lock:
                n = next(counter)
            path = f"/event/{n}"
            try:
                status = post(port, {"n": "pageview", "s": "shop.test", "u": f"https://shop.test{path}"})
            except OSError:
                continue  # the server is gone: this event was never acknowledged
            if 200 <= status < 300:
                with lock:
                    acknowledged.append(path)

    threads = [threading.Thread(target=stream) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 300 and time.monotonic() < deadline:
            time.sleep(0.02)
        server.kill()  # in the middle of the stream: requests are in flight
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        server.stop()
    assert len(acknowledged) >= 300

    restarted = Server(data_dir, free_port())
    try:
        stored = stored_paths(data_dir, policy)
    finally:
        restarted.stop()
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged events were lost"
    assert len(stored) == len(set(stored)), "an event was stored twice"


def test_forwarded_for_counts_only_from_a_trusted_proxy(data_dir: Path, policy: Policy) -> None:
    body = {"n": "pageview", "s": "shop.test", "u": "https://shop.test/"}
    forwarded = {"x-forwarded-for": "198.51.100.23"}
    trusted = Server(data_dir, free_port(), {"FORWARDED_ALLOW_IPS": "127.0.0.1"})
    try:
        assert post(trusted.port, body, forwarded) == 202
    finally:
        trusted.stop()
    untrusted = Server(data_dir, free_port(), {"FORWARDED_ALLOW_IPS": "192.0.2.1"})
    try:
        assert post(untrusted.port, body, forwarded) == 202
    finally:
        untrusted.stop()
    db = Database(f"sqlite:///{data_dir / 'lawful.db'}", policy)
    try:
        with db.unit_of_work("monitoring", Actor.system("tests")) as session:
            prefixes = list(session.scalars(select(PageEvent.ip_prefix).order_by(PageEvent.id)))
    finally:
        db.dispose()
    assert prefixes == ["198.51.100.0/24", "127.0.0.0/24"]
