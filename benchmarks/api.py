"""The JSON API (/api/v1/) under load, through the Python client: bulk push, a large NDJSON read, small reads.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agora_bench_api REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python benchmarks/api.py [--items 100000] [--batch 10000] [--judgments 1000000]
                                           [--duration 20] [--clients 50] [--fresh]

    quick run: .venv/bin/python benchmarks/api.py --items 10000 --judgments 50000 --duration 5

The web server is the production command line (config/processes.py's ``web_command``: one uvicorn process)
on a database of the benchmark's own (``--database``, default ``agora_bench_api``; a name that does not start
with ``agora_bench`` is refused, so the tests' database is never touched; DATABASE_URL only gives the server's
address). The caller is a staff user with a write token whose rate limit is 10**9 a minute.

1. Push: ``--items`` item records (a prompt of 100-300 characters, two answers of 300-800) pushed with
   ``client.items.push(slug, records, batch_size=--batch)`` into a fresh project; the same records pushed
   again (a retry: must add 0); and the same records as a JSONL file imported by
   ``manage.py project_items <slug> --file items.jsonl`` (a subprocess, same environment) into a second fresh
   project. The API's overhead is the ratio of the two rates. Target: >= 10,000 items/s through the API.
2. Read: ``--judgments`` N judgments read as NDJSON from ``GET /api/v1/judgments/stream?project=<slug>``,
   once with a raw httpx stream (counts lines: the server's rate) and once with
   ``client.judgments.stream(project=…)`` (a dict per row: the client's parsing on top), each in a child
   process of its own (its peak RSS: VmHWM, since a child's ru_maxrss starts at the size of the parent that
   forked it) against a freshly started web server (its process tree's RSS sampled every 0.1 s). The data
   set is N AI judgments (two judges per comparison, source "ai", metadata {"project": slug}) on comparisons
   that are the project's items: written as a raw-export JSONL file, imported with
   ``manage.py import_judgments FILE --format agora``, then each comparison added as an item of project
   ``read-<N>`` in one INSERT … SELECT; the project filter so selects exactly them. It is kept in the
   database and reused by the next run with the same N (``--fresh`` recreates the database).
   Targets: >= 50,000 rows/s, <= 300 MB peak RSS for the client process and for the server process.
3. Small reads: ``--clients`` concurrent clients (asyncio, an httpx.AsyncClient with one connection each)
   cycling through ``GET /projects/<slug>``, ``GET /projects/<slug>/items?limit=10`` and
   ``GET /judgments?project=<slug>&limit=10`` on the read project for ``--duration`` seconds after a 1 s
   warm-up; requests/s, p50/p95/p99 latency (client side, queueing included) and errors, beside one client
   alone for the service time without queueing. Target: p99 <= 50 ms at 50 clients.

Every phase also gives CPU seconds per unit of work (item, row, request) of the client, the web server
(psutil on its process) and the PostgreSQL backends serving the benchmark's database (sampled per backend),
and the host's busy cores (other people's work included): the machine has 2 cores, so those figures say
where the time goes and what a bigger host would give. Results: tables on stdout and
``var/bench/api-<timestamp>.json``; the web server's logs under ``var/bench/api-<timestamp>/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

from benchmarks.stack import (  # noqa: E402
    OUT_DIR,
    PYTHON,
    ROOT,
    CpuMeter,
    Env,
    Stack,
    _cpu_s,
    free_port,
    install_sigterm_handler,
    loadavg,
    pct,
    redis_cleanup,
    result_write,
    setup_django,
    table,
)

TARGET_PUSH_PER_S = 10_000
TARGET_READ_PER_S = 50_000
TARGET_RSS_MB = 300
TARGET_P99_MS = 50.0
JUDGES = ("judge-alpha", "judge-beta")  # AI judges per comparison of the read data set
MODELS = [f"model-{k:02d}" for k in range(12)]
CATEGORIES = ("coding", "math", "writing", "reasoning", "chat", "extraction", "roleplay", "stem")
WORDS = (
    "the model answer because first consider which result value function example however returns simple "
    "question number data table query index server client request response stream memory latency batch "
    "python string list object field record token cost time error check write read import export project"
).split()
BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
API = "/api/v1"


# --- data ---------------------------------------------------------------------------------------


class Texts:
    """Texts of realistic sizes made quickly: a pool of sentences, composed by index arithmetic."""

    def __init__(self, seed: int = 7, size: int = 509):
        rng = random.Random(seed)
        self.pool = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "." for _ in range(size)
        ]

    def text(self, i: int, salt: int, chars: int) -> str:
        parts, length, k = [], 0, 0
        while length < chars:
            sentence = self.pool[(i * 31 + salt * 131 + k * 17) % len(self.pool)]
            parts.append(sentence)
            length += len(sentence) + 1
            k += 1
        return " ".join(parts)

    def prompt(self, i: int) -> str:
        return f"Question {i}: " + self.text(i, 0, 100 + (i * 37) % 200)

    def answer(self, i: int, side: int) -> str:
        return self.text(i, 1 + side, 300 + (i * 53 + side * 101) % 500)


def models_of(i: int) -> tuple[str, str]:
    """Two different models for item (or comparison) i, every pair in turn."""
    a = MODELS[i % len(MODELS)]
    b = MODELS[(i * 5 + 1 + i // len(MODELS)) % len(MODELS)]
    return (a, b) if b != a else (a, MODELS[(i + 1) % len(MODELS)])


def item_records(n: int, texts: Texts) -> list[dict]:
    records = []
    for i in range(n):
        a, b = models_of(i)
        records.append(
            {
                "id": f"it-{i:07d}",
                "prompt": texts.prompt(i),
                "candidates": [{"model": a, "text": texts.answer(i, 0)}, {"model": b, "text": texts.answer(i, 1)}],
                "category": CATEGORIES[i % len(CATEGORIES)],
            }
        )
    return records


def raw_lines(slug: str, n: int, texts: Texts):
    """N raw-export lines (agora_datasets/exports/raw.py's shape): AI judgments made for the project, two judges
    per comparison, each comparison keyed as the project's item ``project:<slug>:<id>`` (annotation/items.py)."""
    import orjson

    for c in range((n + len(JUDGES) - 1) // len(JUDGES)):
        prompt = texts.prompt(c)
        a, b = models_of(c)
        created = (BASE_TIME + timedelta(seconds=c)).isoformat()
        comparison = {
            "key": f"project:{slug}:c{c:07d}",
            "context": [{"role": "user", "content": prompt}],
            "source": "import",
            "created_at": created,
            "category": CATEGORIES[c % len(CATEGORIES)],
            "language": "en",
            "metadata": {"project": slug},
        }
        candidates = [
            {"position": 0, "model": a, "text": texts.answer(c, 0)},
            {"position": 1, "model": b, "text": texts.answer(c, 1)},
        ]
        for j, judge in enumerate(JUDGES):
            if c * len(JUDGES) + j >= n:
                return
            outcome = "abt"[(c * 7 + j * 3) % 3]
            yield (
                orjson.dumps(
                    {
                        "agora_raw": 1,
                        "comparison": comparison,
                        "candidates": candidates,
                        "judgment": {
                            "source": "ai",
                            "judge_kind": "ai",
                            "judge": judge,
                            "created_at": created,
                            "display_order": [0, 1] if (c + j) % 2 else [1, 0],
                            "outcome": "tie" if outcome == "t" else outcome,
                            "rationale": texts.text(c, 5 + j, 80),
                            "metadata": {"project": slug},
                        },
                    }
                )
                + b"\n"
            )


# --- measuring ----------------------------------------------------------------------------------


def thread_cpu_s() -> float:
    """CPU seconds of the calling thread (the client's work, without the sampler's)."""
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime + usage.ru_stime


def _host_busy() -> tuple[float, float]:
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)  # guest is in user
    return total - idle, total


class Sampler:
    """Over one phase, every ``interval`` s: the RSS of the web server's process tree (its peak), and the CPU of
    each PostgreSQL backend serving our database (backends that start and end during the phase included, but
    for their last ``interval``). With the web server's own CPU and the host's busy cores at both ends."""

    def __init__(self, server_pid: int | None, database: str, postmaster: psutil.Process | None, interval=0.1):
        self.server = psutil.Process(server_pid) if server_pid else None
        self.database = f" {database} "
        self.postmaster = postmaster
        self.interval = interval
        self.backends: dict[int, list[float]] = {}  # pid -> [cpu at first sight (0 if new), cpu last seen]
        self.ours: dict[int, bool] = {}
        self.peak_rss = 0
        self.start_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_rss(self) -> int:
        if self.server is None:
            return 0
        total = 0
        try:
            for process in [self.server, *self.server.children(recursive=True)]:
                total += process.memory_info().rss
        except psutil.Error:
            pass
        return total

    def _sample_pg(self, first: bool = False) -> None:
        if self.postmaster is None:
            return
        try:
            children = self.postmaster.children()
        except psutil.Error:
            return
        for child in children:
            pid = child.pid
            if pid not in self.ours:
                try:
                    self.ours[pid] = self.database in " ".join(child.cmdline()) + " "
                except psutil.Error:
                    continue
            if not self.ours[pid]:
                continue
            cpu = _cpu_s(child)
            if cpu is None:
                continue
            if pid not in self.backends:
                self.backends[pid] = [cpu if first else 0.0, cpu]
            else:
                self.backends[pid][1] = cpu

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_rss = max(self.peak_rss, self._tree_rss())
            self._sample_pg()

    def __enter__(self) -> Sampler:
        self.t0 = time.perf_counter()
        self.server_cpu0 = _cpu_s(self.server) if self.server else 0.0
        self.host0 = _host_busy()
        self.start_rss = self.peak_rss = self._tree_rss()
        self._sample_pg(first=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample_pg()
        self.peak_rss = max(self.peak_rss, self._tree_rss())
        self.wall = time.perf_counter() - self.t0
        self.server_cpu = (_cpu_s(self.server) or 0.0) - self.server_cpu0 if self.server else 0.0
        self.pg_cpu = sum(last - first for first, last in self.backends.values())
        busy, total = _host_busy()
        share = (busy - self.host0[0]) / max(total - self.host0[1], 1e-9)
        self.host_cores = share * (os.cpu_count() or 1)

    def figures(self) -> dict:
        return {
            "wall_s": round(self.wall, 3),
            "server_cpu_s": round(self.server_cpu, 3),
            "pg_cpu_s": round(self.pg_cpu, 3),
            "server_rss_start_mb": round(self.start_rss / 2**20),
            "server_rss_peak_mb": round(self.peak_rss / 2**20),
            "host_busy_cores": round(self.host_cores, 2),
        }


def run_child(command: list[str], env: dict[str, str]) -> tuple[str, float, float, float]:
    """Run a child to its end: its stdout, wall seconds, CPU seconds (from wait4) and peak RSS in MB (sampled
    every 50 ms: on Linux a child's ru_maxrss starts at the size of the process that forked it, this one)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
        watched = psutil.Process(process.pid)
        peak = 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)  # reaped here, not by Popen
            if pid:
                break
            try:
                peak = max(peak, watched.memory_info().rss)
            except psutil.Error:
                pass
            time.sleep(0.05)
        wall = time.perf_counter() - started
        process.returncode = code = os.waitstatus_to_exitcode(status)
        if code:
            err.seek(0)
            text = err.read().decode(errors="replace")[-3000:]
            raise SystemExit(f"{' '.join(command[:4])} … failed ({code}):\n{text}")
        out.seek(0)
        return out.read().decode(), wall, usage.ru_utime + usage.ru_stime, peak / 2**20


def vm_hwm_mb() -> float:
    """This process's peak RSS since it started (its exec), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def per(seconds: float, count: int) -> float:
    """Microseconds per unit."""
    return round(seconds * 1e6 / count, 1) if count else 0.0


# --- the web server -------------------------------------------------------------------------------


class Web:
    """The production web command on a free port; restartable, so each read starts from a fresh process."""

    def __init__(self, stack: Stack, token: str):
        self.stack = stack
        self.token = token
        self.name = ""
        self.count = 0
        self.port = 0

    def start(self) -> str:
        """Start it and send it a request of each kind, unmeasured: the URLconf and what the API imports are loaded
        on the first request (about a second), which no measured phase should pay."""
        import httpx

        from config.processes import web_command

        self.count += 1
        self.name = f"web-{self.count}"
        self.port = free_port()
        self.stack.start(self.name, web_command(PYTHON, "127.0.0.1", self.port))
        self.stack.wait_for_port(self.name, self.port)
        base = f"http://127.0.0.1:{self.port}"
        with httpx.Client(base_url=base + API, headers={"Authorization": f"Bearer {self.token}"}, timeout=60) as http:
            for path, params in (("/projects", None), ("/judgments", {"limit": 1})):
                http.get(path, params=params).raise_for_status()
        return base

    def restart(self) -> str:
        self.stack.kill(self.name, signal.SIGTERM)
        return self.start()

    @property
    def pid(self) -> int:
        return self.stack.pid(self.name)


# --- setup ---------------------------------------------------------------------------------------


def caller_create() -> tuple[object, str]:
    """A staff user and a write token of theirs with a rate limit no benchmark reaches."""
    from django.contrib.auth import get_user_model

    from api.tokens import token_create

    user, _ = get_user_model().objects.get_or_create(
        username="bench-api", defaults={"is_staff": True, "is_superuser": True}
    )
    _, raw = token_create(user=user, name=f"bench {uuid.uuid4().hex[:6]}", scope="write", rate_limit=10**9)
    return user, raw


def project_make(slug: str, user):
    from annotation.models import Project
    from annotation.projects import project_create

    found = Project.objects.filter(slug=slug).first()
    return found or project_create(creator=user, name=slug, slug=slug, task_type="pairwise", changes={})


def read_dataset(n: int, user, env: Env, folder: Path, texts: Texts) -> dict:
    """Project ``read-<n>`` with n AI judgments on its items: reused when the database holds it whole."""
    from django.db import connection

    from annotation.models import Item, Judgment

    slug = f"read-{n}"
    project = project_make(slug, user)
    comparisons = (n + len(JUDGES) - 1) // len(JUDGES)
    prefix = f"project:{slug}:"
    have_items = Item.objects.filter(project=project).count()
    have = Judgment.objects.filter(source="ai", metadata__project=slug).count()
    if have_items == comparisons and have == n:
        print(f"read data set: reusing project {slug} ({have:,} judgments on {have_items:,} items)", flush=True)
        return {"slug": slug, "reused": True}

    info: dict = {"slug": slug, "reused": False}
    path = folder / f"{slug}.jsonl"
    started = time.perf_counter()
    with open(path, "wb") as handle:
        for line in raw_lines(slug, n, texts):
            handle.write(line)
    info["jsonl_mb"] = round(path.stat().st_size / 1e6)
    info["write_s"] = round(time.perf_counter() - started, 1)
    print(f"read data set: wrote {n:,} raw rows ({info['jsonl_mb']:,} MB) in {info['write_s']} s", flush=True)

    connection.close()  # the import takes its own connections; ours would sit idle
    command = [PYTHON, "manage.py", "import_judgments", str(path), "--format", "agora", "--no-progress"]
    out, wall, cpu, rss = run_child(command, env.child_env())
    path.unlink()
    info |= {"import_s": round(wall, 1), "import_rows_per_s": round(n / wall), "import_cpu_s": round(cpu, 1)}
    info["import_peak_rss_mb"] = round(rss)
    info["import_report"] = out.strip().splitlines()[0] if out.strip() else ""
    print(
        f"read data set: import_judgments --format agora: {wall:.1f} s ({n / wall:,.0f} rows/s, its CPU "
        f"{per(cpu, n):.0f} µs/row, peak RSS {rss:.0f} MB)",
        flush=True,
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Every imported comparison becomes an item of the project, as a push would make it (annotation/items.py).
        cursor.execute(
            """
            INSERT INTO annotation_item (project_id, comparison_id, priority, taken, done, open, is_gold,
                                         gold_tolerance, retired)
            SELECT %s, id, 0, 0, 0, true, false, 0, false FROM annotation_comparison WHERE key LIKE %s
            ON CONFLICT DO NOTHING
            """,
            [project.pk, prefix + "%"],
        )
        cursor.execute("ANALYZE annotation_item")
        cursor.execute("ANALYZE annotation_judgment")
        cursor.execute("ANALYZE annotation_comparison")
        cursor.execute("ANALYZE annotation_candidate")
    info["items_s"] = round(time.perf_counter() - started, 1)
    have_items = Item.objects.filter(project=project).count()
    if have_items != comparisons:
        raise SystemExit(f"project {slug} has {have_items:,} items, expected {comparisons:,}: run with --fresh")
    print(f"read data set: {have_items:,} items added to {slug} in {info['items_s']} s", flush=True)
    return info


# --- 1. push ---------------------------------------------------------------------------------------


def push_phase(args, base: str, token: str, user, web: Web, env: Env, folder: Path, texts: Texts, postmaster) -> dict:
    from agora_client import Client

    stamp = uuid.uuid4().hex[:6]
    records = item_records(args.items, texts)
    path = folder / "items.jsonl"
    with open(path, "w") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    size = path.stat().st_size
    print(f"push: {args.items:,} item records, {size / 1e6:.1f} MB as JSONL ({size / args.items:,.0f} B each)")

    api_slug, cmd_slug = f"push-api-{stamp}", f"push-cmd-{stamp}"
    project_make(api_slug, user)
    project_make(cmd_slug, user)
    from django.db import connection

    connection.close()
    rows = []
    with Client(base, token, timeout=600) as client:
        for label in ("API push (client.items.push)", "API push again (a retry)"):
            cpu = thread_cpu_s()
            with Sampler(web.pid, env.database, postmaster) as sampled:
                report = client.items.push(api_slug, records, batch_size=args.batch)
            rows.append(
                {
                    "path": label,
                    "items": report.read,
                    "added": report.added,
                    "already": report.already,
                    "client_cpu_s": round(thread_cpu_s() - cpu, 3),
                    **sampled.figures(),
                }
            )
            print(f"  {label}: {sampled.wall:.1f} s", flush=True)
    command = [PYTHON, "manage.py", "project_items", cmd_slug, "--file", str(path)]
    with Sampler(None, env.database, postmaster) as sampled:
        out, wall, cpu, rss = run_child(command, env.child_env())
    added = int(out.split(":")[1].split()[0]) if ":" in out else 0
    rows.append(
        {
            "path": "manage.py project_items --file",
            "items": args.items,
            "added": added,
            "already": args.items - added,
            "client_cpu_s": round(cpu, 3),
            "command_peak_rss_mb": round(rss),
            **sampled.figures(),
        }
    )
    print(f"  manage.py project_items: {wall:.1f} s", flush=True)
    path.unlink()
    for row in rows:
        row["items_per_s"] = round(row["items"] / row["wall_s"])
    return {"records_bytes": size, "batch": args.batch, "projects": [api_slug, cmd_slug], "rows": rows}


def _rss(row: dict) -> str:
    return f"{row['server_rss_start_mb']}->{row['server_rss_peak_mb']}"


def push_report(push: dict, items: int) -> None:
    rows = push["rows"]
    api, retry, command = rows
    print(
        f"\n== 1. push: {items:,} items ({push['records_bytes'] / items:,.0f} B of JSON each), "
        f"batch {push['batch']:,}, into fresh projects"
    )
    columns = [
        ("path", lambda r: r["path"]),
        ("items", lambda r: f"{r['items']:,}"),
        ("added", lambda r: f"{r['added']:,}"),
        ("seconds", lambda r: f"{r['wall_s']:.1f}"),
        ("items/s", lambda r: f"{r['items_per_s']:,}"),
        ("client µs/item", lambda r: per(r["client_cpu_s"], r["items"])),
        ("server µs/item", lambda r: per(r["server_cpu_s"], r["items"]) if r["server_cpu_s"] else "-"),
        ("pg µs/item", lambda r: per(r["pg_cpu_s"], r["items"])),
        ("server RSS MB", lambda r: _rss(r) if r["server_cpu_s"] else "-"),
        ("host cores", lambda r: r["host_busy_cores"]),
    ]
    print(table(columns, rows, left=("path",)))
    ratio = api["items_per_s"] / command["items_per_s"]
    met = api["items_per_s"] >= TARGET_PUSH_PER_S
    print(
        f"API ÷ command: {ratio:.2f} (the command's 'client' column is the whole command process: start-up, reading, "
        f"checking and writing; its peak RSS {command['command_peak_rss_mb']} MB)"
    )
    print(
        f"retry added {retry['added']:,} (must be 0): {'ok' if retry['added'] == 0 else 'WRONG'}; "
        f"target >= {TARGET_PUSH_PER_S:,} items/s through the API: {'met' if met else 'MISSED'}"
    )
    work = {k: api[k] for k in ("client_cpu_s", "server_cpu_s", "pg_cpu_s")}
    total = sum(work.values())
    serial = api["items"] / total if total else 0
    print(
        f"where the time goes (API push): client {per(work['client_cpu_s'], api['items'])} + web server "
        f"{per(work['server_cpu_s'], api['items'])} + PostgreSQL {per(work['pg_cpu_s'], api['items'])} µs of CPU "
        f"per item = {per(total, api['items'])} µs. A push request runs these one after another (the server reads and "
        f"checks the whole request, then writes it in one transaction), so one stream of pushes does at most "
        f"~{serial:,.0f} items/s on cores like these, whatever their number; {TARGET_PUSH_PER_S:,} items/s needs "
        f"<= {1e6 / TARGET_PUSH_PER_S:,.0f} µs an item ({total * TARGET_PUSH_PER_S / api['items']:.1f}x less). "
        "Pushes in parallel overlap only their reading and checking: the writes of every bulk import take one "
        "lock in turn (annotation/imports/sql.py's BULK_WRITE_LOCK_SQL, held to the commit)."
    )


# --- 2. read -----------------------------------------------------------------------------------------


def read_child(args) -> None:
    """The child: read the stream once, print one JSON line with its figures (no Django here)."""
    started = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    base, token, slug = args.base, os.environ["AGORA_BENCH_TOKEN"], args.child_read[1]
    rows = size = 0
    first = None
    if args.child_read[0] == "raw":
        import httpx

        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base + API, headers=headers, timeout=900) as http:
            with http.stream("GET", "/judgments/stream", params={"project": slug}) as response:
                response.raise_for_status()
                for chunk in response.iter_raw():
                    if first is None:
                        first = time.perf_counter() - started
                    rows += chunk.count(b"\n")
                    size += len(chunk)
    else:
        from agora_client import Client

        outcomes: dict[str, int] = defaultdict(int)
        with Client(base, token, timeout=900) as client:
            for row in client.judgments.stream(project=slug):
                if first is None:
                    first = time.perf_counter() - started
                rows += 1
                outcomes[row["judgment"]["outcome"]] += 1  # touch the row, as a caller would
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    print(
        json.dumps(
            {
                "rows": rows,
                "bytes": size,
                "seconds": seconds,
                "first_byte_s": first,
                "cpu_s": cpu,
                # VmHWM, not ru_maxrss: that one starts at the size of the parent that forked this process.
                "peak_rss_mb": vm_hwm_mb(),
            }
        )
    )


def read_phase(args, web: Web, token: str, env: Env, postmaster, slug: str) -> list[dict]:
    rows = []
    for mode, label in (("raw", "raw httpx stream"), ("client", "client.judgments.stream")):
        base = web.restart()  # a fresh server process: its peak RSS is this read's alone
        time.sleep(0.5)
        command = [PYTHON, __file__, "--child-read", mode, slug, "--base", base]
        print(f"read: {label} of {args.judgments:,} judgments …", flush=True)
        with Sampler(web.pid, env.database, postmaster) as sampled:
            out, _, _, _ = run_child(command, env.child_env() | {"AGORA_BENCH_TOKEN": token})
        child = json.loads(out.strip().splitlines()[-1])
        rows.append({"mode": label, **child, **sampled.figures()})
        print(f"  {child['rows']:,} rows in {child['seconds']:.1f} s", flush=True)
    return rows


def read_report(rows: list[dict], n: int, dataset: dict) -> None:
    print(
        f"\n== 2. read: {n:,} judgments as NDJSON, GET {API}/judgments/stream?project={dataset['slug']} (AI judgments "
        "made for the project's items, selected by the project filter); each read against a freshly started server"
    )
    if not dataset.get("reused"):
        print(
            f"data set made for this run: raw JSONL written in {dataset['write_s']} s, imported by import_judgments in "
            f"{dataset['import_s']} s ({dataset['import_rows_per_s']:,} rows/s), items added in {dataset['items_s']} s"
        )
    columns = [
        ("reader", lambda r: r["mode"]),
        ("rows", lambda r: f"{r['rows']:,}"),
        ("MB", lambda r: f"{r['bytes'] / 1e6:,.0f}" if r["bytes"] else "-"),
        ("seconds", lambda r: f"{r['seconds']:.1f}"),
        ("rows/s", lambda r: f"{r['rows'] / r['seconds']:,.0f}"),
        ("first byte s", lambda r: f"{r['first_byte_s']:.1f}" if r["first_byte_s"] is not None else "-"),
        ("client µs/row", lambda r: per(r["cpu_s"], r["rows"])),
        ("server µs/row", lambda r: per(r["server_cpu_s"], r["rows"])),
        ("pg µs/row", lambda r: per(r["pg_cpu_s"], r["rows"])),
        ("client peak MB", lambda r: f"{r['peak_rss_mb']:.0f}"),
        ("server RSS MB start->peak", _rss),
        ("host cores", lambda r: r["host_busy_cores"]),
    ]
    print(table(columns, rows, left=("reader",)))
    for row in rows:
        rate = row["rows"] / row["seconds"]
        problems = []
        if row["rows"] != n:
            problems.append(f"read {row['rows']:,} rows, expected {n:,}")
        if rate < TARGET_READ_PER_S:
            problems.append(f"{rate:,.0f} rows/s < {TARGET_READ_PER_S:,}")
        if row["peak_rss_mb"] > TARGET_RSS_MB:
            problems.append(f"client {row['peak_rss_mb']:.0f} MB > {TARGET_RSS_MB}")
        if row["server_rss_peak_mb"] > TARGET_RSS_MB:
            problems.append(f"server {row['server_rss_peak_mb']} MB > {TARGET_RSS_MB}")
        verdict = "met" if not problems else "MISSED: " + "; ".join(problems)
        print(f"  {row['mode']}: targets (>= {TARGET_READ_PER_S:,} rows/s, <= {TARGET_RSS_MB} MB each side) {verdict}")
    raw, parsed = rows
    rows_n, parsed_n = raw["rows"] or 1, parsed["rows"] or 1
    server, pg = raw["server_cpu_s"], raw["pg_cpu_s"]
    busiest = max(server, pg)
    print(
        f"where the time goes (raw read): web server {per(server, rows_n)} µs + PostgreSQL {per(pg, rows_n)} µs of CPU "
        f"per row. One stream is one server thread and one PostgreSQL backend, each on one core at most: the busier "
        f"({'web server' if server >= pg else 'PostgreSQL'}) caps it at ~{rows_n / max(busiest, 1e-9):,.0f} rows/s "
        f"on cores like these, so {TARGET_READ_PER_S:,} rows/s needs that side "
        f"{TARGET_READ_PER_S * busiest / rows_n:.1f}x faster, not more cores (more cores serve more streams). "
        f"The client's parsing (client.judgments.stream) "
        f"costs {per(parsed['cpu_s'], parsed_n)} µs per row on its own core "
        f"(~{parsed_n / max(parsed['cpu_s'], 1e-9):,.0f} rows/s at most)."
    )
    first = raw["first_byte_s"] or 0.0
    if first > 0.25 * raw["seconds"]:
        grown = raw["server_rss_peak_mb"] - raw["server_rss_start_mb"]
        held = grown * 2**20 > 0.5 * raw["bytes"]
        why = (
            f"the server held the whole body in memory first (its RSS grew {grown:,} MB)"
            if held
            else "the server's memory stayed flat, so the query gave no row before then (e.g. a sort of every "
            "selected row, built, before the first)"
        )
        print(f"  nothing arrived for {first:.1f} s of {raw['seconds']:.1f} s: {why}")


# --- 3. small reads -------------------------------------------------------------------------------


async def small_client(base: str, token: str, paths: list, start: int, stop_at: float, results: list) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base + API, headers=headers, timeout=30, limits=limits) as http:
        i = start
        while time.perf_counter() < stop_at:
            kind, path, params = paths[i % len(paths)]
            i += 1
            began = time.perf_counter()
            try:
                response = await http.get(path, params=params)
                status = response.status_code
            except httpx.HTTPError as error:
                status = type(error).__name__
            results.append((kind, began, time.perf_counter() - began, status))


async def small_run(base: str, token: str, paths: list, clients: int, warmup: float, duration: float) -> tuple:
    results: list = []
    started = time.perf_counter()
    warm, stop_at = started + warmup, started + warmup + duration
    await asyncio.gather(*(small_client(base, token, paths, k, stop_at, results) for k in range(clients)))
    return results, warm, stop_at


def small_phase(args, base: str, token: str, web: Web, env: Env, postmaster, slug: str) -> list[dict]:
    """Each endpoint alone with one client (its service time and its CPU per request), then ``--clients``
    clients on all three in turn."""
    paths = [
        ("project", f"/projects/{slug}", None),
        ("items", f"/projects/{slug}/items", {"limit": 10}),
        ("judgments", "/judgments", {"project": slug, "limit": 10}),
    ]
    alone = min(4.0, args.duration)
    cells = [(1, [path], alone, path[0]) for path in paths] + [(args.clients, paths, args.duration, "")]
    rows = []
    for clients, chosen_paths, duration, only in cells:
        print(f"small reads: {clients} client(s), {only or 'all endpoints'}, {duration:g} s …", flush=True)
        cpu = thread_cpu_s()
        with Sampler(web.pid, env.database, postmaster) as sampled:
            results, warm, stop_at = asyncio.run(small_run(base, token, chosen_paths, clients, 1.0, duration))
        client_cpu = thread_cpu_s() - cpu
        measured = [r for r in results if warm <= r[1] < stop_at]
        every = len(results) or 1
        for kind in [only] if only else ["project", "items", "judgments", "all"]:
            chosen = [r for r in measured if kind in ("all", r[0])]
            seconds = [r[2] for r in chosen if r[3] == 200]
            errors = [r[3] for r in chosen if r[3] != 200]
            row = {
                "clients": clients,
                "endpoint": kind,
                "requests": len(chosen),
                "per_s": round(len(chosen) / duration, 1),
                "p50_ms": _ms(pct(seconds, 50)),
                "p95_ms": _ms(pct(seconds, 95)),
                "p99_ms": _ms(pct(seconds, 99)),
                "max_ms": _ms(max(seconds) if seconds else None),
                "errors": len(errors),
                "error_kinds": sorted({str(e) for e in errors}),
            }
            if kind == only or kind == "all":  # CPU over the whole run (warm-up included) per request sent in it
                row |= {
                    "client_us": per(client_cpu, every),
                    "server_us": per(sampled.server_cpu, every),
                    "pg_us": per(sampled.pg_cpu, every),
                    "host_busy_cores": sampled.figures()["host_busy_cores"],
                }
            rows.append(row)
    return rows


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def small_report(rows: list[dict], clients: int) -> None:
    print(
        "\n== 3. small reads: GET /projects/<slug>, /projects/<slug>/items?limit=10, "
        "/judgments?project=<slug>&limit=10; each alone with 1 client, then all in turn with "
        f"{clients}; closed loop (each client sends its next request when the last answers); latency client side"
    )
    columns = [
        ("clients", lambda r: r["clients"]),
        ("endpoint", lambda r: r["endpoint"]),
        ("requests", lambda r: r["requests"]),
        ("req/s", lambda r: r["per_s"]),
        ("p50 ms", lambda r: r["p50_ms"]),
        ("p95 ms", lambda r: r["p95_ms"]),
        ("p99 ms", lambda r: r["p99_ms"]),
        ("max ms", lambda r: r["max_ms"]),
        ("errors", lambda r: r["errors"]),
        ("client µs/req", lambda r: r.get("client_us", "")),
        ("server µs/req", lambda r: r.get("server_us", "")),
        ("pg µs/req", lambda r: r.get("pg_us", "")),
        ("host cores", lambda r: r.get("host_busy_cores", "")),
    ]
    print(table(columns, rows, left=("endpoint",)))
    for row in rows:
        if row["errors"]:
            print(f"  {row['clients']} clients, {row['endpoint']}: errors {row['error_kinds']}")
    loaded = next(r for r in rows if r["clients"] == clients and r["endpoint"] == "all")
    p99 = loaded["p99_ms"]
    met = p99 is not None and p99 <= TARGET_P99_MS and not loaded["errors"]
    print(f"target p99 <= {TARGET_P99_MS:g} ms at {clients} clients: {p99} ms -> {'met' if met else 'MISSED'}")
    costs = ", ".join(
        f"{r['endpoint']} {r['server_us'] / 1000:.1f} + {r['pg_us'] / 1000:.1f}"
        for r in rows
        if r["clients"] == 1 and "server_us" in r
    )
    server, pg, client = loaded["server_us"], loaded["pg_us"], loaded["client_us"]
    cores = os.cpu_count() or 1
    need = 1000 * clients / TARGET_P99_MS  # requests/s at which Little's law gives a 50 ms wait
    print(
        f"where the time goes: CPU ms per request, web server + PostgreSQL, each endpoint alone: {costs}. In the mix "
        f"a request costs the web server {server / 1000:.1f} ms, PostgreSQL {pg / 1000:.1f} ms and the client "
        f"{client / 1000:.1f} ms: one server process (GIL: one core of Python) answers at most "
        f"~{1e6 / max(server, 1e-9):,.0f} requests/s, PostgreSQL ~{1e6 / max(pg, 1e-9):,.0f} per core, this box "
        f"({cores} cores for all three) ~{cores * 1e6 / max(server + pg + client, 1e-9):,.0f}. {clients} clients in a "
        f"closed loop each wait about {clients} / throughput = {1000 * clients / max(loaded['per_s'], 1e-9):,.0f} ms "
        f"(Little's law), whatever the code does; p99 <= {TARGET_P99_MS:g} ms needs ~{need:,.0f} requests/s: "
        f"~{need * server / 1e6:.1f} cores of web server (uvicorn --workers, or replicas) and "
        f"~{need * pg / 1e6:.1f} of PostgreSQL at these costs"
    )


# --- main ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="items pushed (and imported by the command)")
    parser.add_argument("--batch", type=int, default=10_000, help="items a push request (the server takes 100,000)")
    parser.add_argument("--judgments", type=int, default=1_000_000, help="judgments in the read data set")
    parser.add_argument("--duration", type=float, default=20, help="seconds of small reads at --clients")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients of the small reads")
    parser.add_argument("--phases", default="push,read,small", help="which of push, read, small to run")
    database_url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/agora_bench_api"))
    parser.add_argument(
        "--database", default="agora_bench_api", help="the benchmark's own database (kept between runs for its data)"
    )
    parser.add_argument("--pg", default=f"{database_url.scheme}://{database_url.netloc}", help="the server, no db")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/8"))
    parser.add_argument("--fresh", action="store_true", help="recreate the database (and the read data set)")
    parser.add_argument("--child-read", nargs=2, metavar=("MODE", "SLUG"), help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_read:
        read_child(args)
        return
    if not args.database.startswith("agora_bench"):
        parser.error("--database must start with agora_bench: it is the benchmark's own, recreated with --fresh")
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    if phases - {"push", "read", "small"}:
        parser.error("--phases takes push, read and/or small")
    install_sigterm_handler()

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    env = Env(database=args.database, pg=args.pg, redis_url=args.redis_url, tag=f"agora-bench-{uuid.uuid4().hex[:8]}")
    summary: dict = {"benchmark": "api", "started": stamp, "params": vars(args), "loadavg_before": loadavg()}
    print(f"API benchmark on {args.database}: {os.cpu_count()} CPUs, load average {loadavg()}", flush=True)
    setup_django(env, fresh=args.fresh)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Django's logging set-up would log every request
    from django.db import ProgrammingError, connection

    try:
        user, token = caller_create()
    except ProgrammingError as error:  # a kept database whose tables an edited (not added) migration changed
        raise SystemExit(f"{args.database} does not match the code's models ({error}): run with --fresh") from None
    texts = Texts()
    stack = Stack(env, OUT_DIR / f"api-{stamp}")
    web = Web(stack, token)
    postmaster = CpuMeter({}, env.database, env.pg).postmaster
    try:
        with tempfile.TemporaryDirectory(prefix="agora-bench-api-") as folder:
            dataset = None
            if phases & {"read", "small"}:
                dataset = read_dataset(args.judgments, user, env, Path(folder), texts)
                summary["read_dataset"] = dataset
            connection.close()
            base = web.start()
            if "push" in phases:
                summary["push"] = push_phase(args, base, token, user, web, env, Path(folder), texts, postmaster)
            if "read" in phases:
                summary["read"] = read_phase(args, web, token, env, postmaster, dataset["slug"])
                base = web.restart()
            if "small" in phases:
                summary["small"] = small_phase(args, base, token, web, env, postmaster, dataset["slug"])
    finally:
        stack.stop()
        redis_cleanup(env)
    summary["loadavg_after"] = loadavg()

    if "push" in summary:
        push_report(summary["push"], args.items)
    if "read" in summary:
        read_report(summary["read"], args.judgments, summary["read_dataset"])
    if "small" in summary:
        small_report(summary["small"], args.clients)
    print(f"\nload average: before {summary['loadavg_before']}, after {summary['loadavg_after']}")
    print(
        "CPU columns: client = the pushing/reading process (for the command, the whole command process); server = "
        "the uvicorn process; pg = the PostgreSQL backends of this database; host cores = the box's busy cores over "
        "the phase (other people's work included)"
    )
    result_write(summary)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
