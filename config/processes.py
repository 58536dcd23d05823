"""The command lines of Agora's processes, in one place.

`manage.py serve`, the tests and docker-compose.yml run exactly these
(tests/test_compose.py checks the compose file against them).
"""

from __future__ import annotations


def web_command(python: str, host: str, port: int) -> list[str]:
    # uvicorn on uvloop and httptools: a quarter less CPU per arena battle than daphne (Twisted) in
    # benchmarks/streaming.py. The pieces are named rather than "auto", so a missing one fails at
    # start instead of falling back to a slower one. No per-message deflate: frames are a few words
    # each, compressing them costs more than it saves. No lifespan (Channels' router has none), no
    # X-Forwarded-* trusted (REMOTE_ADDR is the peer, which the per-IP rate limit counts), and no
    # log line per request or websocket: warnings and errors only.
    return [
        python,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        host,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--ws",
        "websockets-sansio",
        "--ws-per-message-deflate",
        "false",
        "--lifespan",
        "off",
        "--no-proxy-headers",
        "--log-level",
        "warning",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "10",
    ]


# Each streaming answer holds one worker thread while it waits on its model, so a
# worker serves up to this many answers at once (half as many battles).
DEFAULT_WORKER_CONCURRENCY = 64


def worker_command(python: str, queue: str, concurrency: int = DEFAULT_WORKER_CONCURRENCY) -> list[str]:
    # Threads: generation tasks mostly wait on model servers, and a thread pool keeps
    # one loaded local model per process.
    return [
        python,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
        "-Q",
        queue,
    ]


def beat_command(python: str, schedule: str) -> list[str]:
    return [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO", "--schedule", schedule]
