"""The whole topology end to end: ASGI server, Redis (layer and broker), a Celery worker.

Marked smoke: CI also runs these against the embedded servers.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
import websockets

pytestmark = pytest.mark.smoke


def test_the_asgi_server_answers_http_over_the_database(asgi_server):
    with urllib.request.urlopen(f"http://{asgi_server}/healthz", timeout=10) as response:
        assert json.load(response) == {"ok": True}
    with urllib.request.urlopen(f"http://{asgi_server}/", timeout=10) as response:
        page = response.read().decode()
    assert "<title>Home · Agora</title>" in page


def test_a_websocket_message_goes_through_a_worker_and_back(asgi_server, celery_worker_process):
    async def round_trip() -> dict:
        async with websockets.connect(
            f"ws://{asgi_server}/ws/ping/", origin=f"http://{asgi_server}"
        ) as socket:
            await socket.send(json.dumps({"ping": "hello-42"}))
            return json.loads(await asyncio.wait_for(socket.recv(), timeout=30))

    assert asyncio.run(round_trip()) == {"pong": "hello-42"}


def test_the_run_command_serves_the_demo_and_stops_cleanly(transactional_db):
    """`manage.py serve` (what `make run` calls): migrate, demo, web + worker, Ctrl+C."""
    import signal
    import subprocess
    import sys

    from django.db import connection

    from tests.conftest import ROOT, free_port, stack_env, wait_for_port

    port = free_port()
    env = stack_env(connection.settings_dict["NAME"]) | {"AGORA_DEMO_PASSWORD": "demo-pass-123"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--concurrency", "1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        wait_for_port(port, process, timeout=120)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            page = response.read().decode()
        assert "<th scope=\"row\">Judgments</th><td>8931</td>" in page
        assert "<th scope=\"row\">Models</th><td>59</td>" in page
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "demo account: admin / demo-pass-123" in output
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
