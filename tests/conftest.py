"""Shared fixtures: personas (logged-in clients) and the real processes (ASGI server, Celery worker)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.test import Client

from config.processes import web_command, worker_command

if TYPE_CHECKING:
    from tests.surface import World

ROOT = Path(__file__).resolve().parent.parent

# Nothing in the suite may reach the Hugging Face Hub: a test that would download says so at once.
# Set before any test imports datasets, transformers or huggingface_hub, which read them on import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port} after {timeout}s")


def log_file(name: str):
    """Child processes log to var/test-logs/NAME-PID.log, to read when a test fails."""
    folder = ROOT / "var" / "test-logs"
    folder.mkdir(parents=True, exist_ok=True)
    return open(folder / f"{name}-{os.getpid()}.log", "w")


def stack_env(db_name: str) -> dict[str, str]:
    """The environment for child processes: the same servers, the test database."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db_name}"
    env["REDIS_URL"] = settings.REDIS_URL
    env["AGORA_CHANNELS_PREFIX"] = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    env["AGORA_CELERY_QUEUE"] = settings.CELERY_TASK_DEFAULT_QUEUE
    env["PYTHONUNBUFFERED"] = "1"
    return env


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- personas ---------------------------------------------------------------------------------------


@pytest.fixture
def world(db) -> World:
    """The small world of tests/surface.py: a project of each task type with its annotator and owner,
    another project with its own owner, staff, the annotator's battle and an export job."""
    from tests.surface import world_create

    return world_create()


@pytest.fixture
def persona_client(world):
    """A fresh Client logged in as one of the world's personas (tests/surface.PERSONAS): "anonymous",
    "annotator", "owner", "other_owner" or "staff". The users are ``world.users[persona]``."""

    def make(persona: str) -> Client:
        client = Client()
        world.login(client, persona)
        return client

    return make


@pytest.fixture
def anonymous_client(persona_client) -> Client:
    return persona_client("anonymous")


@pytest.fixture
def annotator_client(persona_client) -> Client:
    """An annotator of every project of the world but the other one."""
    return persona_client("annotator")


@pytest.fixture
def owner_client(persona_client) -> Client:
    """The owner of every project of the world but the other one."""
    return persona_client("owner")


@pytest.fixture
def other_owner_client(persona_client) -> Client:
    """The owner of the other project only."""
    return persona_client("other_owner")


@pytest.fixture
def staff_client(persona_client) -> Client:
    """A superuser."""
    return persona_client("staff")


@pytest.fixture
def login(client):
    """Log the test's ``client`` in as a user the test made (whoever was logged in before is logged out);
    returns the client."""

    def log_in(user) -> Client:
        client.force_login(user)
        return client

    return log_in


# --- the real processes ------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _isolated_queues():
    # Each test session gets its own Celery queue and channel-layer prefix, so a
    # worker left over from another run on the same Redis never takes our tasks.
    suffix = f"test{os.getpid()}"
    settings.CELERY_TASK_DEFAULT_QUEUE = f"agora-{suffix}"
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"agora-{suffix}"
    from config.celery import app

    app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
    yield


@contextlib.contextmanager
def running_worker(db_name: str, concurrency: int = 4, log_name: str = "worker"):
    """A real Celery worker process on DB_NAME and this session's queue, ready when entered."""
    env = stack_env(db_name)
    name = f"agora-test-{os.getpid()}-{time.monotonic_ns()}@localhost"
    log = log_file(log_name)
    process = subprocess.Popen(
        worker_command(sys.executable, env["AGORA_CELERY_QUEUE"], concurrency)
        + ["-n", name, "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_worker(name, process)
        yield process
    finally:
        stop(process)
        log.close()


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real Celery worker process on the test database and this session's queue."""
    from django.db import connection

    with running_worker(connection.settings_dict["NAME"]) as process:
        yield process


def _wait_for_worker(name: str, process: subprocess.Popen, timeout: float = 60) -> None:
    from config.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the Celery worker exited at start; see var/test-logs/worker-*.log")
        # Ping this worker by name: another run's worker on the same Redis must not answer for it.
        replies = app.control.ping(destination=[name], timeout=0.5) or []
        if replies:
            return
    raise TimeoutError("the Celery worker did not answer a ping")


@pytest.fixture
def asgi_server(transactional_db):
    """A real ASGI server (uvicorn) on a free port, on the test database."""
    from django.db import connection

    env = stack_env(connection.settings_dict["NAME"])
    port = free_port()
    log = log_file("web")
    process = subprocess.Popen(
        web_command(sys.executable, "127.0.0.1", port),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process)
        yield f"127.0.0.1:{port}"
    finally:
        stop(process)
        log.close()
