"""Arena fixtures: our OpenAI-compatible server on loopback, registered models, a beat process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from arena.registry import model_register
from config.processes import beat_command
from tests.conftest import ROOT, log_file, stack_env, stop
from tests.fakes.openai_server import FakeOpenAIServer

# Names and ids a leak test can look for: nothing else on the page contains them.
MODEL_NAMES = ["Quokka Instruct 13B", "Narwhal Chat 70B"]
MODEL_IDS = ["quokka-13b-instruct", "narwhal-70b-chat"]


@pytest.fixture(scope="session")
def fake_openai():
    # 16 chunks at 40/s: 0.4 s per answer, long enough to see chunks arrive before the end.
    with FakeOpenAIServer(tokens=16, rate=40) as server:
        yield server


def register_openai(name: str, model_id: str, endpoint: str, **settings):
    settings.setdefault("timeout_s", 10.0)
    return model_register(name=name, backend="openai", endpoint=endpoint, model_id=model_id, **settings)[0]


@pytest.fixture
def two_models(db, fake_openai):
    return [register_openai(n, i, fake_openai.url) for n, i in zip(MODEL_NAMES, MODEL_IDS, strict=True)]


@pytest.fixture
def celery_beat_process(transactional_db, tmp_path):
    """A real beat process that schedules the reaper every half second."""
    from django.db import connection

    env = stack_env(connection.settings_dict["NAME"])
    env["AGORA_REAP_INTERVAL_S"] = "0.5"
    log = log_file("beat")
    process = subprocess.Popen(
        beat_command(sys.executable, str(tmp_path / "beat-schedule")),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    time.sleep(1.0)
    if process.poll() is not None:
        raise RuntimeError("celery beat exited at start; see var/test-logs/beat-*.log")
    try:
        yield process
    finally:
        stop(process)
        log.close()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


@pytest.fixture(autouse=True)
def _no_rate_limits_unless_a_test_sets_them(settings):
    # Rate-limit counters live in Redis for a minute; tests that do not test them must not trip them.
    settings.AGORA_ARENA_PROMPTS_PER_MINUTE = 0
    settings.AGORA_ARENA_PROMPTS_PER_MINUTE_PER_IP = 0
