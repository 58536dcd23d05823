"""One asyncio event loop per worker process, on a daemon thread.

Every generation task of the process streams on this loop: the backends' HTTP
connections, the channel layer's Redis connection and the stream buffers are
shared by all concurrent answers instead of being opened per task. A Celery
thread hands its coroutine over and blocks on the result, so the worker's
concurrency still bounds how many answers stream at once.

The loop is uvloop's: every chunk of every answer passes through it (read from
the model server, pushed to the stream buffer, published to the group), and
uvloop spends a fraction of the stock loop's CPU on each of those steps.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def _get_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = uvloop.new_event_loop()
            threading.Thread(target=loop.run_forever, name="agora-stream-loop", daemon=True).start()
            _loop = loop
        return _loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the process's stream loop and wait for its result."""
    return asyncio.run_coroutine_threadsafe(coro, _get_loop()).result()
