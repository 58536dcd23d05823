"""The command lines of Agora's processes, in one place.

`manage.py serve`, the tests and docker-compose.yml run exactly these
(tests/test_compose.py checks the compose file against them).
"""

from __future__ import annotations


def web_command(python: str, host: str, port: int) -> list[str]:
    return [python, "-m", "daphne", "-b", host, "-p", str(port), "config.asgi:application"]


# Each streaming answer holds one worker thread while it waits on its model, so a
# worker serves up to this many answers at once (half as many battles).
DEFAULT_WORKER_CONCURRENCY = 64


def worker_command(python: str, queue: str, concurrency: int = DEFAULT_WORKER_CONCURRENCY) -> list[str]:
    # Threads: generation tasks mostly wait on model servers, and a thread pool keeps
    # one loaded local model per process.
    return [python, "-m", "celery", "-A", "config", "worker", "--pool", "threads", "--concurrency",
            str(concurrency), "--loglevel", "INFO", "-Q", queue]


def beat_command(python: str, schedule: str) -> list[str]:
    return [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO", "--schedule", schedule]
