"""Streamed responses that hold one chunk in memory, under ASGI as under WSGI.

Under ASGI, Django reads a synchronous iterator whole into a list before it sends the first byte
(``StreamingHttpResponse.__aiter__``): a million-row NDJSON response would sit in the server's memory. So
the server gets an asynchronous iterator that pulls each chunk from the synchronous generator in the
request's own sync thread (the one its database connection belongs to), one chunk at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse


def streamed(request, chunks: Callable[[], Iterator[bytes]], content_type: str) -> StreamingHttpResponse:
    content = _pulled(chunks) if isinstance(request, ASGIRequest) else chunks()
    return StreamingHttpResponse(content, content_type=content_type)


async def _pulled(make: Callable[[], Iterator[bytes]]) -> AsyncIterator[bytes]:
    iterator: Iterator[bytes] | None = None

    def step() -> bytes | None:
        nonlocal iterator
        if iterator is None:  # made here, so that it runs in the thread it will be read in
            iterator = make()
        return next(iterator, None)

    pull = sync_to_async(step, thread_sensitive=True)
    try:
        while (chunk := await pull()) is not None:
            yield chunk
    finally:
        if iterator is not None:  # a client that went away: end the query, give the connection back
            await sync_to_async(iterator.close, thread_sensitive=True)()
