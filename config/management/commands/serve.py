"""python manage.py serve — the whole app in one command.

Migrates, loads the demo data once, then runs the ASGI web server (uvicorn) and a
Celery worker with its beat schedule as child processes, and keeps them running: a
child that exits by itself is logged and started again, after a pause that doubles
with each exit in a row (1 s up to 30 s) and starts over once it has stayed up a
minute. Ctrl+C stops them and, in the embedded default, the PostgreSQL and Redis
manage.py started for it (config/embedded.py); the children inherit their URLs from
the environment manage.py set. It lives in config, not workers: it reaches the
annotation models and config's process commands, and workers import no app.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from annotation.models import Judgment
from config import embedded
from config.processes import DEFAULT_WORKER_CONCURRENCY, beat_command, web_command, worker_command

FIRST_PAUSE_S = 1.0
LONGEST_PAUSE_S = 30.0
STAYED_UP_S = 60.0  # a child up this long has recovered: its next exit waits FIRST_PAUSE_S again


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started: float = 0.0
    pause_s: float = FIRST_PAUSE_S
    restart_at: float | None = None


def _cannot_listen(host: str, port: int) -> str | None:
    """Why nothing can listen on host:port now (e.g. "address already in use"); None when it can."""
    try:
        with socket.create_server((host, port)):
            return None
    except OSError as error:
        return error.strerror or str(error)


class Command(BaseCommand):
    help = "Serve the app: web (ASGI) and a Celery worker, on the configured or embedded servers."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-demo", action="store_true", help="do not load the demo data")
        parser.add_argument(
            "--concurrency", type=int, default=DEFAULT_WORKER_CONCURRENCY, help="worker threads (answers at once)"
        )

    def handle(self, *args, host: str, port: int, no_demo: bool, concurrency: int, **options):
        # A web server that cannot listen exits at once, and would be started again forever:
        # say so now, the usual case being a second `make run`.
        if problem := _cannot_listen(host, port):
            raise CommandError(
                f"Cannot serve on {host}:{port}: {problem}. Is Agora (or something else) already running there? "
                "Stop it, or choose another port: python manage.py serve --port 8001"
            )
        call_command("migrate", interactive=False, verbosity=0)
        if not no_demo and not Judgment.objects.exists():
            call_command("load_demo")
        call_command("collectstatic", interactive=False, verbosity=0)

        python = sys.executable
        schedule = str(settings.BASE_DIR / "var" / "celerybeat-schedule")
        children = [
            Child("web", web_command(python, host, port)),
            Child("worker", worker_command(python, settings.CELERY_TASK_DEFAULT_QUEUE, concurrency)),
            Child("beat", beat_command(python, schedule)),
        ]
        for child in children:
            self._start(child)
        self.stdout.write(self.style.SUCCESS(f"Agora is serving http://{host}:{port}/ (Ctrl+C stops it)"))

        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            while not stopping:
                for child in children:
                    self._supervise(child)
                time.sleep(0.3)
        finally:
            running = [c.process for c in children if c.process is not None and c.process.poll() is None]
            for process in running:
                process.send_signal(signal.SIGTERM)
            for process in running:
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
            if settings.EMBEDDED:
                embedded.stop()
                self.stdout.write("stopped the web server, the worker and the embedded PostgreSQL and Redis")

    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(child.command)
        child.started = time.monotonic()
        child.restart_at = None
        self.stdout.write(f"{child.name} started (pid {child.process.pid})")

    def _supervise(self, child: Child) -> None:
        """Start again a child that exited by itself, once its pause is over."""
        now = time.monotonic()
        if child.restart_at is not None:
            if now >= child.restart_at:
                self._start(child)
            return
        code = child.process.poll()
        if code is None:
            return
        if now - child.started >= STAYED_UP_S:
            child.pause_s = FIRST_PAUSE_S
        child.restart_at = now + child.pause_s
        self.stderr.write(
            f"{child.name} (pid {child.process.pid}) exited with code {code}; starting it again in {child.pause_s:g} s"
        )
        child.pause_s = min(child.pause_s * 2, LONGEST_PAUSE_S)
