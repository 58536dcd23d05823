"""The settings: reading them starts nothing, and a value that does not parse stops the start with its name."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import embedded
from config.env import env_bool, env_float, env_int, env_list
from tests.conftest import ROOT

# --- reading the settings starts nothing ---------------------------------------------------------------

# Any process started or socket opened while the settings are read (and Django set up on them) fails the
# probe: the embedded servers would need both.
QUIET_PROBE = """
import json, os, socket, subprocess

def refuse(*args, **kwargs):
    raise AssertionError("reading the settings started a process or opened a socket")

socket.socket.connect = socket.socket.connect_ex = socket.socket.bind = refuse
subprocess.Popen.__init__ = refuse
os.fork = os.posix_spawn = os.posix_spawnp = refuse

import config.settings as s
import django
django.setup()
db = s.DATABASES["default"]
print(json.dumps({"embedded": s.EMBEDDED, "db": [db["HOST"], db["PORT"], db["NAME"]], "redis": s.REDIS_URL}))
"""


def read_settings(var_dir, **variables: str) -> dict:
    """What a fresh interpreter makes of the settings with no server URL set and VAR_DIR as AGORA_VAR_DIR."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "AGORA_ENV")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", AGORA_VAR_DIR=str(var_dir), **variables)
    out = subprocess.run(
        [sys.executable, "-c", QUIET_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_reading_the_settings_with_no_urls_starts_no_server(tmp_path):
    found = read_settings(tmp_path)
    # No data folder, state file, lock or pid file: nothing was started, nor prepared.
    assert list(tmp_path.iterdir()) == []
    assert found["embedded"] is True
    # Never started here: a port nothing listens on, never a default one where another server may be.
    assert found["db"] == ["127.0.0.1", embedded.NEVER_STARTED_PORT, embedded.PG_DATABASE]
    assert found["redis"] == f"redis://127.0.0.1:{embedded.NEVER_STARTED_PORT}/0"


def test_with_no_urls_the_settings_point_where_the_embedded_servers_listen(tmp_path):
    (tmp_path / embedded.STATE_FILE).write_text(json.dumps({"pg_port": 54321, "redis_port": 54322}))
    found = read_settings(tmp_path)
    assert found["db"] == ["127.0.0.1", 54321, embedded.PG_DATABASE]
    assert found["redis"] == "redis://127.0.0.1:54322/0"
    assert sorted(p.name for p in tmp_path.iterdir()) == [embedded.STATE_FILE]


def test_a_set_url_is_used_as_it_is(tmp_path):
    found = read_settings(tmp_path, DATABASE_URL="postgres://u@db.example:5433/d", REDIS_URL="redis://cache:6380/2")
    assert found == {"embedded": False, "db": ["db.example", 5433, "d"], "redis": "redis://cache:6380/2"}
    assert list(tmp_path.iterdir()) == []


def test_manage_py_in_production_starts_nothing_and_asks_for_the_urls(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(AGORA_ENV="production", DJANGO_SECRET_KEY="x" * 50, AGORA_VAR_DIR=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode != 0
    assert "AGORA_ENV=production needs DATABASE_URL and REDIS_URL" in out.stderr
    assert list(tmp_path.iterdir()) == []


# --- what the entry points do before the settings are read ---------------------------------------------


@pytest.fixture
def servers(monkeypatch):
    """config.embedded with its start replaced by a recorder; the environment restored afterwards."""
    started = []
    monkeypatch.setattr(embedded, "_ensured_here", False)
    monkeypatch.setattr(
        embedded,
        "ensure_running",
        lambda: started.append(True) or {"DATABASE_URL": "postgres://embedded/x", "REDIS_URL": "redis://embedded/0"},
    )
    for name in ("DATABASE_URL", "REDIS_URL", "DATABASE_URL_FILE", "REDIS_URL_FILE", "AGORA_ENV"):
        monkeypatch.delenv(name, raising=False)
    return started


def test_an_entry_point_starts_the_servers_when_a_url_is_unset(servers, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://mine/db")
    assert embedded.ensure_for_process() is True
    assert servers == [True] and embedded.ensured_here()
    assert os.environ["DATABASE_URL"] == "postgres://mine/db"  # a URL set is kept
    assert os.environ["REDIS_URL"] == "redis://embedded/0"


def test_an_entry_point_leaves_set_urls_and_production_alone(servers, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://mine/db")
    secret = tmp_path / "redis_url"
    secret.write_text("redis://mine/0\n")
    monkeypatch.setenv("REDIS_URL_FILE", str(secret))
    assert embedded.ensure_for_process() is False
    monkeypatch.delenv("REDIS_URL_FILE")
    monkeypatch.setenv("AGORA_ENV", "production")
    assert embedded.ensure_for_process() is False  # the settings refuse to start without the URLs
    assert servers == [] and not embedded.ensured_here()
    assert "REDIS_URL" not in os.environ


# --- config/env.py ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [("1", True), ("true", True), ("Yes", True), (" ON ", True), ("0", False), ("false", False), ("No", False)],
)
def test_env_bool_reads_yes_and_no(monkeypatch, value, expected):
    monkeypatch.setenv("AGORA_TEST_FLAG", value)
    assert env_bool("AGORA_TEST_FLAG", not expected) is expected


@pytest.mark.parametrize("value", ["ture", "2", "y", "enabled"])
def test_env_bool_refuses_anything_else_naming_the_variable_and_the_values(monkeypatch, value):
    monkeypatch.setenv("DJANGO_DEBUG", value)
    with pytest.raises(ImproperlyConfigured) as refused:
        env_bool("DJANGO_DEBUG", False)
    message = str(refused.value)
    assert "DJANGO_DEBUG" in message and repr(value) in message
    assert all(word in message for word in ("1", "true", "yes", "on", "0", "false", "no", "off"))


def test_unset_or_blank_means_the_default(monkeypatch):
    monkeypatch.delenv("AGORA_TEST_VALUE", raising=False)
    assert env_bool("AGORA_TEST_VALUE", True) is True and env_int("AGORA_TEST_VALUE", 7) == 7
    monkeypatch.setenv("AGORA_TEST_VALUE", "  ")
    assert env_bool("AGORA_TEST_VALUE", True) is True and env_float("AGORA_TEST_VALUE", 2) == 2.0
    assert isinstance(env_float("AGORA_TEST_VALUE", 2), float)


def test_env_int_and_env_float_read_numbers(monkeypatch):
    monkeypatch.setenv("AGORA_TEST_VALUE", " 16 ")
    assert env_int("AGORA_TEST_VALUE", 1) == 16 and env_float("AGORA_TEST_VALUE", 1) == 16.0
    monkeypatch.setenv("AGORA_TEST_VALUE", "0.25")
    assert env_float("AGORA_TEST_VALUE", 1) == 0.25
    monkeypatch.setenv("AGORA_TEST_VALUE", "-3")
    assert env_int("AGORA_TEST_VALUE", 1) == -3


@pytest.mark.parametrize("value", ["16x", "sixteen", "1.5", "1e3", "0x10"])
def test_env_int_refuses_what_is_not_a_whole_number(monkeypatch, value):
    monkeypatch.setenv("AGORA_DB_POOL_SIZE", value)
    with pytest.raises(ImproperlyConfigured, match=r"AGORA_DB_POOL_SIZE=.* is not a whole number"):
        env_int("AGORA_DB_POOL_SIZE", 16)


@pytest.mark.parametrize("value", ["5s", "five", "nan", "1,5"])
def test_env_float_refuses_what_is_not_a_number(monkeypatch, value):
    monkeypatch.setenv("AGORA_REAP_INTERVAL_S", value)
    with pytest.raises(ImproperlyConfigured, match=r"AGORA_REAP_INTERVAL_S=.* is not a number"):
        env_float("AGORA_REAP_INTERVAL_S", 5)


def test_a_variable_is_read_from_its_file(monkeypatch, tmp_path):
    secret = tmp_path / "size"
    secret.write_text("12\n")
    monkeypatch.setenv("AGORA_TEST_VALUE_FILE", str(secret))
    assert env_int("AGORA_TEST_VALUE", 1) == 12
    monkeypatch.setenv("AGORA_TEST_LIST", " a, ,b ")
    assert env_list("AGORA_TEST_LIST") == ["a", "b"]


def test_a_bad_value_stops_the_settings_with_its_name(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_DEBUG"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", AGORA_VAR_DIR=str(tmp_path), DJANGO_DEBUG="ture")
    env.update(AGORA_ARENA_MAX_TURNS="8")
    out = subprocess.run(
        [sys.executable, "-c", "import config.settings"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode != 0 and "DJANGO_DEBUG='ture' is not a yes/no value" in out.stderr
    env.update(DJANGO_DEBUG="1", AGORA_ARENA_MAX_TURNS="8 turns")
    out = subprocess.run(
        [sys.executable, "-c", "import config.settings"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode != 0 and "AGORA_ARENA_MAX_TURNS='8 turns' is not a whole number" in out.stderr
