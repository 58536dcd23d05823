"""docker-compose.yml cannot be run here (no Docker engine): read it, and hold it to
the process commands that the tests run natively."""

from __future__ import annotations

import json

import yaml

from config.processes import beat_command, web_command, worker_command
from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_it_defines_the_whole_topology_with_health_checks():
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert "healthcheck" in SERVICES[name], name
    for name in ("web", "worker", "beat"):
        env = SERVICES[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://redis:")
        assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert SERVICES["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_its_commands_are_the_ones_the_tests_run():
    assert SERVICES["web"]["command"] == web_command("python", "0.0.0.0", 8000)
    assert SERVICES["worker"]["command"] == worker_command("python", "agora")
    assert SERVICES["beat"]["command"] == beat_command("python", "/tmp/celerybeat-schedule")


def test_the_image_serves_the_web_command_by_default():
    cmd = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    assert json.loads(cmd.removeprefix("CMD ")) == web_command("python", "0.0.0.0", 8000)


def test_every_long_running_service_is_started_again_when_it_exits_and_migrate_runs_once():
    for name in ("postgres", "redis", "web", "worker", "beat", "vllm"):
        assert SERVICES[name]["restart"] == "unless-stopped", name
    assert SERVICES["migrate"]["restart"] == "no"
