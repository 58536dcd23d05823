"""Streamed responses that hold one chunk in memory, under ASGI as under WSGI (the API's NDJSON stream, a
project's raw export page).

Under ASGI, Django reads a synchronous iterator whole into a list before it sends the first byte
(``StreamingHttpResponse.__aiter__``): a million-row NDJSON response would sit in the server's memory. So
the server gets an asynchronous iterator that pulls each chunk from the synchronous generator in the
request's own sync thread (the one its database connection belongs to), one chunk at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse


def streamed(request, chunks: Callable[[], Iterator[bytes]], content_type: str) -> StreamingHttpResponse:
    content = _Pulled(chunks) if isinstance(request, ASGIRequest) else chunks()
    return StreamingHttpResponse(content, content_type=content_type)


class _Pulled:
    """An asynchronous iterator over ``make()``'s chunks, each pulled in the request's sync thread. Django
    calls its ``close`` when the response ends (finished or cut off), in that same thread, so the query
    ends and the connection goes back before the request's connections are closed."""

    def __init__(self, make: Callable[[], Iterator[bytes]]):
        self.make = make
        self.iterator: Iterator[bytes] | None = None
        self.pull = sync_to_async(self._step, thread_sensitive=True)

    def _step(self) -> bytes | None:
        if self.iterator is None:  # made here, so that it runs in the thread it will be read in
            self.iterator = self.make()
        return next(self.iterator, None)

    def __aiter__(self) -> _Pulled:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.pull()
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    def close(self) -> None:
        if self.iterator is not None:
            self.iterator.close()
