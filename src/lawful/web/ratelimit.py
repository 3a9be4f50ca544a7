"""Rate limits per client IP address for the public forms (sign-up, its confirmation, and the
confirmation of a rights request from its mailed link).

A sliding window kept in memory, per process: the addresses are never stored, and they are
forgotten when their window has passed. With several worker processes each counts on its own, so
the effective limit is the limit times the number of workers (``lawful serve`` runs one).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from lawful.errors import TooManyRequests


class RateLimiter:
    def __init__(
        self, limit: int, window_seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError("a rate limit needs a positive limit and window")
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._swept = clock()

    def _sweep(self, now: float) -> None:
        if now - self._swept < self.window:
            return
        self._swept = now
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self.window]:
            del self._hits[key]

    def allow(self, key: str) -> bool:
        """Count one attempt of ``key``; False when it is over the limit (not counted then)."""
        now = self.clock()
        with self._lock:
            self._sweep(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def check(self, key: str, what: str) -> None:
        """Raise :class:`TooManyRequests` (429) when ``key`` is over the limit."""
        if not self.allow(key):
            minutes = max(1, round(self.window / 60))
            raise TooManyRequests(
                f"too many {what} from your network address; try again in up to {minutes} minutes"
            )
