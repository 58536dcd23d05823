"""What the live benchmarks share: a dedicated database, child processes, CPU accounting.

Not a test fixture: the benchmarks run the production command lines
(config/processes.py) against PostgreSQL and Redis servers on loopback, with a
database of their own (never the test suite's) and a Celery queue and
channel-layer prefix of their own, so tests running beside them are not touched.
Every child is stopped by its PID when the benchmark ends, also on Ctrl-C, and
gets SIGTERM from the kernel if the benchmark itself is killed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "var" / "bench"
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100.0
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def ms_stats(seconds: list[float]) -> dict:
    def ms(x: float | None) -> float | None:
        return None if x is None else round(x * 1000.0, 1)

    return {
        "n": len(seconds), "p50": ms(pct(seconds, 50)), "p90": ms(pct(seconds, 90)), "p99": ms(pct(seconds, 99)),
        "mean": ms(statistics.fmean(seconds)) if seconds else None, "max": ms(max(seconds)) if seconds else None,
    }


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- environment and database -------------------------------------------------


@dataclass
class Env:
    """The environment every process of one benchmark run shares."""

    database: str
    pg: str  # postgres://user@host:port, without the database
    redis_url: str
    tag: str  # unique per run: Celery queue and channel-layer prefix
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        return f"{self.pg}/{self.database}"

    def variables(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "AGORA_CELERY_QUEUE": self.tag,
            "AGORA_CHANNELS_PREFIX": self.tag,
            # The benchmark's visitors all come from 127.0.0.1 and start hundreds of battles a minute.
            "AGORA_ARENA_PROMPTS_PER_MINUTE": "1000000",
            "AGORA_ARENA_PROMPTS_PER_MINUTE_PER_IP": "1000000",
            # Measure what production runs: no query log, no debug pages (AGORA_ENV stays development
            # so plain-HTTP cookies keep working on loopback).
            "DJANGO_DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
            **self.extra,
        }

    def child_env(self) -> dict[str, str]:
        return dict(os.environ) | self.variables()


def setup_django(env: Env, *, fresh: bool = True, settings_module: str = "config.settings") -> None:
    """Point this process at the benchmark's database (recreated when fresh), migrate, set Django up."""
    import psycopg

    with psycopg.connect(f"{env.pg}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [env.database]).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{env.database}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{env.database}"')
    os.environ.update(env.variables())
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- child processes ------------------------------------------------------------


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: a benchmark killed with SIGKILL still takes its children down.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


class Stack:
    """The child processes of one run, stopped in reverse order by PID."""

    def __init__(self, env: Env, log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, command: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "w")
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env.child_env() | (extra_env or {}), stdout=log, stderr=subprocess.STDOUT,
            # Own session: a Ctrl-C in the terminal reaches the benchmark only, which then stops them in order.
            start_new_session=True, preexec_fn=_die_with_parent,
        )
        log.close()
        self.procs[name] = process
        return process

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def wait_for_port(self, name: str, port: int, timeout: float = 60) -> None:
        process = self.procs[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.log_dir / name}.log")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{name} does not listen on {port} after {timeout:g} s")

    def wait_for_worker(self, name: str, node: str, timeout: float = 90) -> None:
        from config.celery import app

        process = self.procs[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.log_dir / name}.log")
            if app.control.ping(destination=[node], timeout=0.5):
                return
        raise TimeoutError(f"the Celery worker {node} did not answer a ping")

    def stop(self) -> None:
        for name, process in reversed(list(self.procs.items())):
            if process.poll() is None:
                process.terminate()
        for name, process in reversed(list(self.procs.items())):
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                print(f"{name} ignored SIGTERM for 15 s; killing it", file=sys.stderr)
                process.kill()
                process.wait()
        self.procs.clear()


def install_sigterm_handler() -> None:
    """SIGTERM unwinds like Ctrl-C, so the finally blocks stop the children."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


# --- CPU ------------------------------------------------------------------------


def _host_jiffies() -> tuple[int, int]:
    with open("/proc/stat") as handle:
        values = [int(x) for x in handle.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def _cpu_s(process: psutil.Process) -> float | None:
    try:
        times = process.cpu_times()
        return times.user + times.system
    except psutil.Error:
        return None


class CpuMeter:
    """CPU% (100 = one core) of named processes over a measured phase, and of everything else.

    ``postgres`` sums the backends serving our database (their titles name it); a backend that
    ends during the phase takes its CPU with it, so that figure is a lower bound. ``redis`` is
    the whole server, shared with anyone else using it. ``other`` is the host's busy time minus
    all of these: other people's work on the box.
    """

    def __init__(self, pids: dict[str, int], database: str):
        self.pids = dict(pids)
        self.database = database

    def _backends(self) -> dict[int, float]:
        found = {}
        for process in psutil.process_iter(["name", "cmdline"]):
            cmdline = " ".join(process.info.get("cmdline") or [])
            if cmdline.startswith("postgres:") and f" {self.database} " in cmdline:
                cpu = _cpu_s(process)
                if cpu is not None:
                    found[process.pid] = cpu
        return found

    def _redis(self) -> float:
        return sum(_cpu_s(p) or 0.0 for p in psutil.process_iter(["name"]) if p.info["name"] == "redis-server")

    def snapshot(self) -> dict:
        return {
            "t": time.monotonic(),
            "named": {name: _cpu_s(psutil.Process(pid)) for name, pid in self.pids.items()},
            "client": sum(os.times()[:2]),
            "postgres": self._backends(),
            "redis": self._redis(),
            "host": _host_jiffies(),
            "loadavg": loadavg(),
        }

    @staticmethod
    def delta(before: dict, after: dict) -> dict:
        wall = after["t"] - before["t"]

        def pct_of(seconds: float) -> float:
            return round(100.0 * seconds / wall, 1)

        cpu = {}
        for name, start in before["named"].items():
            end = after["named"].get(name)
            cpu[name] = pct_of(end - start) if start is not None and end is not None else None
        cpu["client"] = pct_of(after["client"] - before["client"])
        cpu["postgres"] = pct_of(sum(t - before["postgres"].get(pid, 0.0) for pid, t in after["postgres"].items()))
        cpu["redis"] = pct_of(after["redis"] - before["redis"])
        busy = after["host"][0] - before["host"][0]
        total = after["host"][1] - before["host"][1]
        if total > 0:
            host = 100.0 * (os.cpu_count() or 1) * busy / total
            cpu["host"] = round(host, 1)
            cpu["other"] = round(host - sum(v for k, v in cpu.items() if k != "host" and v), 1)
        cpu["loadavg"] = f"{before['loadavg']} -> {after['loadavg']}"
        return cpu
