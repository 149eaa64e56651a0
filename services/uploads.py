"""One worker process for reading uploaded files (exports people send the bot).

Parsing a big file is CPU work, which a thread would still fight the event loop for
(the GIL): it runs in a separate process, started on first use, whose memory is not the
bot's. A worker that died (killed for its memory) is replaced on the next upload.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any, TypeVar

T = TypeVar("T")
_workers: ProcessPoolExecutor | None = None


def _executor() -> ProcessPoolExecutor:
    global _workers
    if _workers is None:
        _workers = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
    return _workers


async def in_worker(func: Callable[..., T], *args: Any) -> T:
    """`func(*args)` in the worker process (a module-level function, picklable args)."""
    global _workers
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_executor(), func, *args)
    except BrokenProcessPool:
        _workers = None
        raise
