"""Background jobs that live as long as the app: started in its lifespan, cancelled at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


@contextlib.asynccontextmanager
async def running(job: Coroutine[Any, Any, None] | None) -> AsyncIterator[asyncio.Task[None] | None]:
    """Run ``job`` as a task for the duration of the block (``None``: nothing runs)."""
    task = asyncio.create_task(job) if job is not None else None
    try:
        yield task
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
