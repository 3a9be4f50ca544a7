"""Write-behind with group commit: many requests, one transaction, and no answer before the commit.

Each request hands its rows to :meth:`WriteBehind.submit` and waits. The first waiter starts a
flusher that takes what has arrived (after ``max_delay`` seconds, by default none: while one
transaction is being written the next batch gathers by itself), writes it all in one
transaction in a worker thread, and then wakes every waiter whose rows it committed. A request
is answered 2xx only after its rows are committed, so a crash loses nothing that was
acknowledged; a failed write fails every request of that batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]
Dropped = tuple[uuid.UUID, int, str]
WriteFn = Callable[[Sequence[Row], Sequence[Dropped]], None]


@dataclass(slots=True)
class _Batch:
    rows: list[Row] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class WriteBehind:
    """Group commit of rows from concurrent requests in one event loop."""

    def __init__(self, write: WriteFn, *, max_delay: float = 0.0, max_batch: int = 2000) -> None:
        self.write = write
        self.max_delay = max_delay
        self.max_batch = max_batch
        self._batch = _Batch()
        self._full = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self.flushes = 0

    async def submit(self, rows: Sequence[Row] = (), dropped: Sequence[Dropped] = ()) -> None:
        """Return once ``rows`` and ``dropped`` are committed; raise if the write failed."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        batch = self._batch
        batch.rows.extend(rows)
        batch.dropped.extend(dropped)
        batch.waiters.append(waiter)
        if self._flusher is None or self._flusher.done() or self._flusher.get_loop() is not loop:
            self._full = asyncio.Event()
            self._flusher = loop.create_task(self._flush_loop())
        elif len(batch.rows) + len(batch.dropped) >= self.max_batch:
            self._full.set()
        await waiter

    async def _flush_loop(self) -> None:
        while self._batch.waiters:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.max_delay)
            self._full.clear()
            batch, self._batch = self._batch, _Batch()
            try:
                await asyncio.to_thread(self.write, batch.rows, batch.dropped)
            except Exception as exc:  # every request of the batch learns that it was not stored
                for waiter in batch.waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
            else:
                self.flushes += 1
                for waiter in batch.waiters:
                    if not waiter.done():
                        waiter.set_result(None)
