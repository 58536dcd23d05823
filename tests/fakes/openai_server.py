"""Our own OpenAI-compatible chat server, on loopback, for tests and benchmarks: the remote GPU we do not have.

It streams real server-sent events the way vLLM does: ``chat.completion.chunk`` events, the role
in the first delta, a last chunk with finish_reason "stop", a usage chunk when
``stream_options.include_usage`` asks for one, then ``data: [DONE]``. The text says where it
comes from: chunk 0 is ``"[<rid>] w0"`` and chunk i is ``" w<i>"``, rid being a short random
request id, so a client can tell which request and which chunk it is looking at. Chunks leave on
an absolute schedule, ``rate`` per second.

The requested model id picks a misbehaviour, so a registered model can be made to fail:
``error`` → HTTP 500 with an OpenAI error body; ``stall`` → 3 chunks, then nothing until the client
hangs up; ``cut`` → half the chunks, then the connection is closed with no finish and no [DONE];
``garbled`` → half the chunks, then one that is not JSON; ``abort`` → half the chunks, then an
``{"error": …}`` event (what vLLM sends when generation fails mid-answer); ``xss`` → a Markdown
answer carrying a script tag, an onerror handler and a javascript: link; ``unstorable`` → an answer
with a NUL character and an unpaired surrogate.
The headers ``X-Fake-Tokens`` and ``X-Fake-Rate`` override the chunk count and rate per request.

In a test::

    with FakeOpenAIServer(tokens=8, rate=100) as server:
        spec = ModelSpec(name="m", backend="openai", endpoint=server.url, model_id="fake")

As a script (for benchmarks; ``--log`` writes one JSON line per request with the time each chunk
was written)::

    python -m tests.fakes.openai_server --port 8001 --tokens 64 --rate 50 --log emit.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

HOST = "127.0.0.1"  # loopback only: this server answers anyone who asks
STALLED_CHUNKS = 3
# Checked in this order against the requested model id; the first one it contains applies.
MODES = ["error", "stall", "cut", "garbled", "abort", "xss", "unstorable", "judge-first", "judge-long"]
# A NUL and an unpaired surrogate: JSON carries both ("\\u0000", "\\ud800"); PostgreSQL stores neither.
UNSTORABLE_WORDS = ["[u] a\x00b", " c\ud800d", " end"]
XSS_ANSWER = (
    "Here is my **answer**, with a list:\n\n"
    "- a script: <script>alert(1)</script>\n"
    "- an image: <img src=x onerror=alert(2)>\n"
    "- a [link](javascript:alert(3))\n"
)
_TOKEN = re.compile(r"\s*\S+|\s+")


@dataclass
class RequestRecord:
    """What the server saw of one chat request; tests read these, benchmarks the log lines."""

    rid: str
    model: str
    t_recv: float
    body: dict
    authorization: str | None = None
    emit: list[float] = field(default_factory=list)  # time.time() after each text chunk was written
    t_done: float | None = None
    ok: bool = False  # the whole answer, finish and [DONE] were sent
    disconnected: bool = False  # the client went away before the end

    @property
    def mode(self) -> str:
        return next((mode for mode in MODES if mode in self.model), "normal")

    def log_line(self) -> dict:
        return {
            "rid": self.rid,
            "model": self.model,
            "t_recv": self.t_recv,
            "emit": self.emit,
            "t_done": self.t_done,
            "ok": self.ok,
        }


class FakeOpenAI:
    """The request handlers and what they recorded; one per server."""

    def __init__(self, tokens: int = 64, rate: float = 50.0, log_path: Path | str | None = None):
        self.tokens = tokens
        self.rate = rate
        self.log_path = Path(log_path) if log_path else None
        self.requests: list[RequestRecord] = []
        # Set at shutdown, so stalled handlers give up and the server can stop.
        self.closing = threading.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/health", self.health)
        return app

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def models(self, request: web.Request) -> web.Response:
        names = ["fake"] + [f"fake-{mode}" for mode in MODES]
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "agora-tests"} for name in names]
        return web.json_response({"object": "list", "data": data})

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error_response(400, "the request body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error_response(400, "messages must be a list")
        record = RequestRecord(
            rid=secrets.token_hex(3),
            model=str(body.get("model") or "fake"),
            t_recv=time.time(),
            body=body,
            authorization=request.headers.get("Authorization"),
        )
        self.requests.append(record)
        try:
            if record.mode == "error":
                return _error_response(500, f"the fake server was asked to fail for model {record.model}")
            words = self._words(request, record)
            rate = float(request.headers.get("X-Fake-Rate", self.rate))
            if body.get("stream"):
                return await self._stream(request, record, words, rate)
            return await self._whole(request, record, words)
        finally:
            record.t_done = time.time()
            self._log(record)

    def _words(self, request: web.Request, record: RequestRecord) -> list[str]:
        if record.mode == "xss":
            return _TOKEN.findall(XSS_ANSWER)
        if record.mode == "unstorable":
            return UNSTORABLE_WORDS
        if record.mode.startswith("judge"):
            return _TOKEN.findall(_verdict(record))
        count = int(request.headers.get("X-Fake-Tokens", self.tokens))
        return [f"[{record.rid}] w0"] + [f" w{i}" for i in range(1, count)]

    async def _stream(
        self, request: web.Request, record: RequestRecord, words: list[str], rate: float
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        chunk = _chunk_maker(record)
        if record.mode == "stall":
            words = words[:STALLED_CHUNKS]
        elif record.mode in ("cut", "garbled", "abort"):
            words = words[: len(words) // 2]
        try:
            await _send_on_schedule(response, record, words, rate, chunk)
            if record.mode == "stall":
                await self._until_disconnected(request, record)
                return response
            if record.mode == "cut":
                # Closing the socket mid-body: the client sees an unfinished chunked response.
                request.transport.close()
                return response
            if record.mode == "garbled":
                await response.write(b'data: {"choices": [{"delta": {"content": "\n\n')
            if record.mode == "abort":
                await _send(response, {"error": {"message": "the fake model failed mid-answer", "code": 500}})
            await _send(response, chunk({}, "stop"))
            if (record.body.get("stream_options") or {}).get("include_usage"):
                await _send(response, chunk(None, None, usage=_usage(record, len(words))))
            # Marked before the last write: a client that has read [DONE] may look at the record at once.
            record.ok = record.mode not in ("garbled", "abort")
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:
            record.ok = False
            record.disconnected = True
        except asyncio.CancelledError:
            record.ok = False
            record.disconnected = True
            raise
        return response

    async def _whole(self, request: web.Request, record: RequestRecord, words: list[str]) -> web.StreamResponse:
        if record.mode == "stall":
            await self._until_disconnected(request, record)
            return web.Response(status=499)
        if record.mode == "cut":
            request.transport.close()
            return web.Response(status=499)
        if record.mode == "garbled":
            return web.Response(text='{"choices": [', content_type="application/json")
        if record.mode == "abort":
            return _error_response(500, "the fake model failed mid-answer")
        record.ok = True
        return web.json_response(
            {
                "id": f"chatcmpl-{record.rid}",
                "object": "chat.completion",
                "created": int(record.t_recv),
                "model": record.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(words)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": _usage(record, len(words)),
            }
        )

    async def _until_disconnected(self, request: web.Request, record: RequestRecord) -> None:
        # aiohttp does not cancel a handler when its client goes away; watching the transport does tell.
        while not self.closing.is_set():
            if request.transport is None or request.transport.is_closing():
                record.disconnected = True
                return
            await asyncio.sleep(0.02)

    def _log(self, record: RequestRecord) -> None:
        if self.log_path is not None:
            with open(self.log_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record.log_line()) + "\n")


_ANSWER_BLOCK = re.compile(
    r"\[The Start of Assistant ([AB])'s Answer\]\n(.*?)\n\[The End of Assistant \1's Answer\]", re.DOTALL
)


def _verdict(record: RequestRecord) -> str:
    """A pretend AI judge: ``judge-first`` always prefers A (a position-biased judge, so its two orders
    disagree); ``judge-long`` prefers the longer answer (consistent in both orders)."""
    if record.mode == "judge-first":
        return "Both are fine, but A is better. [[A]]"
    text = str(record.body["messages"][-1].get("content", ""))
    answers = dict(_ANSWER_BLOCK.findall(text))
    a, b = len(answers.get("A", "")), len(answers.get("B", ""))
    return "They are equally good. [[C]]" if a == b else f"The longer one is better. [[{'A' if a > b else 'B'}]]"


def _chunk_maker(record: RequestRecord):
    def chunk(delta: dict | None, finish_reason: str | None, usage: dict | None = None) -> dict:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
        payload: dict[str, Any] = {
            "id": f"chatcmpl-{record.rid}",
            "object": "chat.completion.chunk",
            "created": int(record.t_recv),
            "model": record.model,
            "choices": choices,
        }
        if usage is not None:
            payload["usage"] = usage
        return payload

    return chunk


async def _send_on_schedule(
    response: web.StreamResponse, record: RequestRecord, words: list[str], rate: float, chunk
) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    for number, word in enumerate(words):
        # Absolute schedule: chunk i leaves at start + i/rate however late the previous one was.
        if rate > 0:
            delay = start + number / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        delta = {"role": "assistant", "content": word} if number == 0 else {"content": word}
        await _send(response, chunk(delta, None))
        record.emit.append(time.time())


async def _send(response: web.StreamResponse, payload: dict) -> None:
    await response.write(f"data: {json.dumps(payload)}\n\n".encode())


def _usage(record: RequestRecord, completion_tokens: int) -> dict:
    prompt_tokens = sum(len(str(message.get("content", "")).split()) for message in record.body["messages"])
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _error_response(status: int, message: str) -> web.Response:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return web.json_response({"error": {"message": message, "type": kind, "code": status}}, status=status)


def _listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    return sock


async def _start_site(handlers: FakeOpenAI, sock: socket.socket) -> web.AppRunner:
    # access_log=None: a benchmark's thousands of requests would flood the output.
    runner = web.AppRunner(handlers.app(), access_log=None, shutdown_timeout=0.25)
    await runner.setup()
    # A deep backlog: a benchmark opens hundreds of connections at once.
    await web.SockSite(runner, sock, backlog=1024).start()
    return runner


class FakeOpenAIServer:
    """The server in a background thread of the calling process, with its own event loop."""

    def __init__(self, port: int = 0, tokens: int = 64, rate: float = 50.0, log_path: Path | str | None = None):
        self.port = port
        self.handlers = FakeOpenAI(tokens=tokens, rate=rate, log_path=log_path)
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def requests(self) -> list[RequestRecord]:
        return self.handlers.requests

    def start(self) -> str:
        """Start serving; return the base URL, ``http://127.0.0.1:<port>/v1``."""
        sock = _listening_socket(self.port)
        self.port = sock.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}/v1"
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(sock, started), name="fake-openai", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake OpenAI server did not start")
        return self.url

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self.handlers.closing.set()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve(self, sock: socket.socket, started: threading.Event) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        runner = loop.run_until_complete(_start_site(self.handlers, sock))
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()


async def _serve_forever(handlers: FakeOpenAI, port: int) -> None:
    sock = _listening_socket(port)
    runner = await _start_site(handlers, sock)
    print(f"fake OpenAI server on http://{HOST}:{sock.getsockname()[1]}/v1", flush=True)
    # A benchmark stops its server with SIGTERM (Popen.terminate), or Ctrl+C.
    stopped = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stopped.set)
    try:
        await stopped.wait()
    finally:
        handlers.closing.set()
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--tokens", type=int, default=64, help="chunks per answer")
    parser.add_argument("--rate", type=float, default=50.0, help="chunks per second (0: no waits)")
    parser.add_argument("--log", type=Path, help="append one JSON line per request to this file")
    args = parser.parse_args(argv)
    handlers = FakeOpenAI(tokens=args.tokens, rate=args.rate, log_path=args.log)
    asyncio.run(_serve_forever(handlers, args.port))


if __name__ == "__main__":
    main()
