"""python manage.py serve — the whole app in one command.

Migrates, loads the demo data once, then runs the ASGI web server (uvicorn) and a
Celery worker with its beat schedule as child processes. Ctrl+C stops them and,
in the embedded default, the PostgreSQL and Redis this command started.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from annotation.models import Judgment
from config.processes import DEFAULT_WORKER_CONCURRENCY, beat_command, web_command, worker_command


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
        call_command("migrate", interactive=False, verbosity=0)
        if not no_demo and not Judgment.objects.exists():
            call_command("load_demo")
        call_command("collectstatic", interactive=False, verbosity=0)

        python = sys.executable
        schedule = str(settings.BASE_DIR / "var" / "celerybeat-schedule")
        children = [
            subprocess.Popen(web_command(python, host, port)),
            subprocess.Popen(worker_command(python, settings.CELERY_TASK_DEFAULT_QUEUE, concurrency)),
            subprocess.Popen(beat_command(python, schedule)),
        ]
        self.stdout.write(self.style.SUCCESS(f"Agora is serving http://{host}:{port}/ (Ctrl+C stops it)"))

        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.3)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(20)
                except subprocess.TimeoutExpired:
                    child.kill()
            if settings.EMBEDDED:
                from config import embedded

                embedded.stop()
                self.stdout.write("stopped the web server, the worker and the embedded PostgreSQL and Redis")
        if not stopping:
            raise CommandError("a child process exited; see its output above")
