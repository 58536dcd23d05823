"""OpenAI-compatible chat completions over HTTP: vLLM, TGI, llama.cpp's server, Ollama's /v1, hosted APIs.

One ``aiohttp.ClientSession`` per event loop, shared by every stream on that loop, so hundreds of
concurrent battles reuse a pool of keep-alive connections instead of opening one each. A session
belongs to the loop it was made on, so a worker that runs each job in ``asyncio.run`` must call
``await close_session()`` before its loop ends (sessions of loops found closed are forgotten).

Server-sent events are parsed here rather than by line-splitting: events are separated by blank
lines, may span several ``data:`` lines, carry comments (``: keep-alive``) and, from llama.cpp,
an ``error:`` field.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import os
import re
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import ClassVar

import aiohttp

from workers.backends.base import Backend, BackendError, Finished

CONNECT_TIMEOUT_S = 10.0
# aiohttp's default pool (100) would queue the 101st concurrent stream behind the others.
CONNECTION_LIMIT = 1000
# Enough of an error body to see what went wrong, not a whole HTML error page.
EXCERPT_CHARS = 300
ERROR_BODY_BYTES = 64 * 1024
INCOMPLETE = "the stream ended before the answer was complete"

_sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
# Celery threads each run their own loop; the dict of sessions is shared between them.
_sessions_lock = threading.Lock()


def session() -> aiohttp.ClientSession:
    """The shared session of the running event loop, made on first use."""
    loop = asyncio.get_running_loop()
    with _sessions_lock:
        for other in [other for other in _sessions if other.is_closed()]:
            del _sessions[other]
        current = _sessions.get(loop)
        if current is None or current.closed:
            current = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CONNECTION_LIMIT),
                # No overall limit: a long answer may stream for minutes; the caller's asyncio.timeout decides.
                timeout=aiohttp.ClientTimeout(total=None),
            )
            _sessions[loop] = current
        return current


async def close_session() -> None:
    """Close the running loop's session (call before the loop ends: at worker shutdown, at the end of a test)."""
    with _sessions_lock:
        current = _sessions.pop(asyncio.get_running_loop(), None)
    if current is not None:
        await current.close()


class OpenAIBackend(Backend):
    name: ClassVar[str] = "openai"
    label: ClassVar[str] = "OpenAI-compatible API (vLLM, TGI, llama.cpp, Ollama)"

    async def stream(self, messages: list[dict]) -> AsyncIterator[str | Finished]:
        if not self.spec.endpoint:
            raise BackendError(f"model {self.spec.name!r} has no endpoint (the base URL of its API)")
        url = f"{self.spec.endpoint.rstrip('/')}/chat/completions"
        progress = _Progress()
        response = await self._post(url, messages)
        completed = False
        try:
            if response.status >= 400:
                raise BackendError(f"{url} answered HTTP {response.status}: {await _error_body(response)}")
            if response.content_type == "application/json":
                # The request asked for no streaming (params {"stream": false}), or the server ignores it.
                text = await _whole_completion(url, response, progress)
                if text:
                    yield text
            else:
                async for text in _stream_completion(url, response, progress):
                    yield text
            completed = True
        finally:
            # An abandoned stream (an error, the caller's timeout) closes its connection, so the server
            # sees the disconnect and stops generating; a finished one goes back to the pool.
            if completed:
                response.release()
            else:
                response.close()
        yield progress.finished()

    async def _post(self, url: str, messages: list[dict]) -> aiohttp.ClientResponse:
        connect_s = min(CONNECT_TIMEOUT_S, self.spec.timeout_s)
        # sock_connect, not connect: waiting for a free connection of the pool is not a failure.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_s)
        try:
            return await session().post(url, json=self._body(messages), headers=self._headers(), timeout=timeout)
        except aiohttp.ClientConnectorError as exc:
            raise BackendError(f"cannot reach {url}: {_reason(exc.os_error)}") from exc
        except aiohttp.ServerTimeoutError as exc:
            raise BackendError(f"cannot reach {url}: no connection within {connect_s:g} s") from exc
        except aiohttp.ClientError as exc:
            raise BackendError(f"cannot reach {url}: {exc}") from exc

    def _body(self, messages: list[dict]) -> dict:
        body = {"model": self.spec.model_id, "messages": messages, "stream": True, **self.spec.params}
        # Ask for the token count; params {"stream_options": null} leave it out for a server that rejects it.
        if body["stream"] and "stream_options" not in body:
            body["stream_options"] = {"include_usage": True}
        return {key: value for key, value in body.items() if value is not None}

    def _headers(self) -> dict[str, str]:
        variable = self.spec.api_key_env
        if not variable:
            return {}
        key = os.environ.get(variable)
        if not key:
            raise BackendError(
                f"the environment variable {variable} (the API key of model {self.spec.name!r}) is not set"
            )
        return {"Authorization": f"Bearer {key}"}


@dataclass
class _Progress:
    """What the stream said so far about its end."""

    finish_reason: str | None = None
    completion_tokens: int | None = None
    text_chunks: int = 0
    done: bool = False

    def finished(self) -> Finished:
        tokens = self.completion_tokens if self.completion_tokens is not None else self.text_chunks
        return Finished(self.finish_reason or "stop", tokens)


async def _stream_completion(url: str, response: aiohttp.ClientResponse, progress: _Progress) -> AsyncIterator[str]:
    try:
        async for event in _events(response):
            if event.event == "error":
                raise BackendError(f"{url} reported an error: {_error_message(event.data)}")
            if event.data == "[DONE]":
                progress.done = True
                return
            text = _apply_chunk(url, _parse_chunk(url, event.data), progress)
            if text:
                yield text
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
        raise BackendError(f"{INCOMPLETE} ({url}: {exc})") from exc
    if progress.finish_reason is None:
        raise BackendError(f"{INCOMPLETE} ({url} closed the stream without a finish reason or [DONE])")


async def _whole_completion(url: str, response: aiohttp.ClientResponse, progress: _Progress) -> str:
    try:
        raw = await response.text()
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
        raise BackendError(f"{INCOMPLETE} ({url}: {exc})") from exc
    completion = _parse_chunk(url, raw)
    _apply_chunk(url, completion, progress)
    choices = completion.get("choices") or [{}]
    text = (choices[0].get("message") or {}).get("content") or ""
    progress.text_chunks = int(bool(text))
    return text


def _parse_chunk(url: str, data: str) -> dict:
    try:
        chunk = json.loads(data)
    except ValueError:
        chunk = None
    if not isinstance(chunk, dict):
        raise BackendError(f"malformed JSON from {url}: {_excerpt(data)}")
    if chunk.get("error"):
        raise BackendError(f"{url} reported an error: {_error_message(data)}")
    return chunk


def _apply_chunk(url: str, chunk: dict, progress: _Progress) -> str:
    """Note the chunk's finish reason and usage; return its text."""
    usage = chunk.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
        progress.completion_tokens = usage["completion_tokens"]
    choices = chunk.get("choices")
    # A usage chunk has no choices.
    if not choices:
        return ""
    if not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise BackendError(f"malformed chunk from {url}: {_excerpt(json.dumps(chunk))}")
    choice = choices[0]
    if choice.get("finish_reason"):
        progress.finish_reason = choice["finish_reason"]
    text = (choice.get("delta") or {}).get("content") or ""
    if text:
        progress.text_chunks += 1
    return text


async def _error_body(response: aiohttp.ClientResponse) -> str:
    raw = b""
    try:
        while len(raw) < ERROR_BODY_BYTES and (piece := await response.content.read(ERROR_BODY_BYTES)):
            raw += piece
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError):
        pass
    return _error_message(raw.decode("utf-8", errors="replace")) or "(empty body)"


def _error_message(body: str) -> str:
    """The message of an error body: OpenAI's {"error": {"message"}}, TGI's {"error": "…"}, FastAPI's {"detail"}."""
    try:
        data = json.loads(body)
    except ValueError:
        return _excerpt(body)
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            error = error.get("message") or error.get("detail") or error
        if isinstance(error, str):
            return _excerpt(error)
        if data.get("detail"):
            return _excerpt(json.dumps(data["detail"]))
    return _excerpt(body)


def _reason(error: OSError) -> str:
    # "Connection refused" rather than asyncio's "Connect call failed ('127.0.0.1', 1)"; DNS errnos are negative.
    return os.strerror(error.errno) if error.errno and error.errno > 0 else (error.strerror or str(error))


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


# ---------------------------------------------------------------- server-sent events


@dataclass(frozen=True)
class ServerSentEvent:
    data: str
    event: str = "message"


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class SSEParser:
    """Incremental parser of a text/event-stream (html.spec.whatwg.org/multipage/server-sent-events.html).

    Feed it text as it arrives; it returns the events completed so far. Only ``data`` and
    ``event`` matter here (``id`` and ``retry`` are for browsers that reconnect); llama.cpp's
    server reports a failure as an ``error:`` field, which becomes an event named "error".
    """

    def __init__(self) -> None:
        self._pending = ""
        self._data: list[str] = []
        self._event = ""

    def feed(self, text: str) -> list[ServerSentEvent]:
        text = self._pending + text
        # A final "\r" may be the first half of "\r\n": wait for the next piece to decide.
        held = "\r" if text.endswith("\r") else ""
        *lines, rest = _LINE_BREAK.split(text[: len(text) - len(held)])
        self._pending = rest + held
        return [event for line in lines if (event := self._line(line)) is not None]

    def close(self) -> list[ServerSentEvent]:
        """The events left at the end of the stream; a last event without its blank line still counts."""
        events = self.feed("\n")
        last = self._line("")
        return events + ([last] if last else [])

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "error":
            self._event = "error"
            self._data.append(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        # Per the spec an event with no data is not dispatched (a lone "event:" line, comments only).
        event = ServerSentEvent("\n".join(self._data), self._event or "message") if self._data else None
        self._data, self._event = [], ""
        return event


async def _events(response: aiohttp.ClientResponse) -> AsyncIterator[ServerSentEvent]:
    parser = SSEParser()
    # Incremental: a multi-byte character may be split between two network reads.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    async for piece in response.content.iter_any():
        for event in parser.feed(decoder.decode(piece)):
            yield event
    for event in parser.feed(decoder.decode(b"", final=True)) + parser.close():
        yield event
