"""The annotation queue under U concurrent annotators on PostgreSQL: claim and submit latency, throughput, rules kept.

    .venv/bin/python benchmarks/annotation_queue.py [--levels 10,50,100] [--overlaps 3,1] [--duration 20] [--think-ms 0]
                                         [--modes http,service] [--private-pg 400]

The workload is the Label Studio harness's (../shared/anchors/labelstudio_queue/, load_client.py):
for every cell (mode, overlap, U) a new project of 2,000 pairwise items (a 12-word prompt and two
40-word answers each, drawn as that harness draws them) and U annotators, each looping
claim → think (exponential, mean ``--think-ms``; 0 = click as soon as the page is there) → submit
a random choice, for a short unmeasured warm-up and then ``--duration`` seconds. An annotator
holding a task when the time is up submits it at once, so the client holds nothing at the end; one
that finds the queue empty stops. Two modes:

- ``http`` (comparable with the Label Studio figures): U aiohttp clients against the web server
  as it runs in production (``config.processes.web_command``), each logged in as its own
  annotator (a session created in the database, its cookie and a CSRF cookie set by the client).
  Claim = ``GET /annotate/<slug>/`` (claims the lease and renders the task page); submit =
  ``POST /annotate/<slug>/tasks/<id>/submit/`` without ``HX-Request``, so it answers with a
  redirect (not followed) and does not also claim the next task: the two are measured apart;
- ``service``: the same loop calling ``assignment_claim`` / ``assignment_submit`` from U threads
  of this process, each with a PostgreSQL connection of its own: what the queue itself costs
  without HTTP, sessions and templates (but with the ORM and the GIL).

Figures per cell: annotations stored per second in the measured window (finished after the warm-up
and before claiming stops, or before the queue ran dry), claim and submit latency p50/p99 of the
requests started after the warm-up and before the stop (client side, queueing included; the final
drain of held tasks is not measured), errors, and CPU% (100 = one
core) of the web server, of the whole PostgreSQL server, of this process and of everything else on
the box (``other``). After each cell the database is checked: no (item, annotator) annotated twice,
no item with more than ``overlap`` annotations, no lease left live once ``leases_expire`` runs at a
far-future time, as many judgments as the client saw submits succeed, and every item's
``taken``/``done``/``open`` equal to what its assignments say. Label Studio's figures for the same
cells on this machine stand beside ours (ANCHOR below), and whether the issue's target (claim p99 ≤
25 ms at 100 concurrent annotators) is met is printed per mode. Results: a table on stdout and
``var/bench/queue-<timestamp>.json`` (the web server's log under ``var/bench/queue-<timestamp>/``).

``--private-pg 400`` runs on a PostgreSQL server of the benchmark's own (its data folder is
``var/bench/pg-queue``): the web server's pool and the service mode's threads hold up to
``--pool`` connections each (AGORA_DB_POOL_SIZE, default the largest U + 4).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import secrets
import string
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from benchmarks.stack import (  # noqa: E402
    OUT_DIR,
    PYTHON,
    CpuMeter,
    Env,
    PrivatePostgres,
    Stack,
    free_port,
    install_sigterm_handler,
    loadavg,
    ms_stats,
    redis_cleanup,
    result_write,
    setup_django,
    table,
)

TARGET_CLAIM_P99_MS = 25.0  # the target, at 100 concurrent annotators
TARGET_U = 100

# Label Studio 1.23.2 on this machine (../shared/anchors/labelstudio_queue/results_summary.txt,
# PostgreSQL + gunicorn with 4 sync workers, 60 s runs after a 5 s warm-up, think time 0, the same
# 2,000-task workload): (overlap, U) -> annotations/s, claim p50/p99 ms, submit p50/p99 ms. Where
# a cell was measured twice (the sweep re-measures cells disturbed by other load), the later one.
ANCHOR_SOURCE = "Label Studio 1.23.2, PostgreSQL + gunicorn (4 workers), results_summary.txt"
ANCHOR = {
    (3, 10): (8.73, 555.8, 788.5, 598.5, 794.0),
    (3, 50): (9.52, 2620.2, 3179.2, 2744.5, 3312.6),
    (3, 100): (9.33, 5134.6, 8267.7, 5899.6, 8121.1),
    (1, 10): (9.41, 508.3, 719.4, 559.2, 767.8),
    (1, 50): (7.76, 3077.6, 4531.2, 3493.3, 4691.4),
    (1, 100): (8.23, 5362.1, 9013.1, 6744.5, 9433.9),
}

# The Label Studio harness's task texts (setup_labelstudio.make_tasks).
WORDS = (
    "alpha beta gamma delta model answer prompt token queue label review pair better worse "
    "concise verbose correct wrong helpful harmless honest fast slow clear vague"
).split()
SUBMIT_RE = re.compile(rb'id="answer-form"[^>]*action="/annotate/[^/"]+/tasks/(\d+)/submit/"')
SUBMIT_TRIES = 3


# --- data ---------------------------------------------------------------------------------------


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def project_create(slug: str, items: int, overlap: int, users: list):
    """A pairwise project of ``items`` items with the harness's texts, every user an annotator in it."""
    from django.utils import timezone

    from annotation.items import item_statistics_refresh
    from annotation.models import Candidate, Comparison, Item, Membership, Project, Role, Source

    rng = random.Random(0)
    project = Project.objects.create(name=slug, slug=slug, overlap=overlap, task_type="pairwise")
    now = timezone.now()
    prompts = [f"Prompt {i}: " + sentence(rng, 12) for i in range(items)]
    comparisons = Comparison.objects.bulk_create(
        (
            Comparison(
                key=f"{slug}:{i}",
                context=[{"role": "user", "content": prompt}],
                prompt=prompt,
                source=Source.IMPORT,
                created_at=now,
            )
            for i, prompt in enumerate(prompts)
        ),
        batch_size=2000,
    )
    Candidate.objects.bulk_create(
        (
            Candidate(comparison=c, position=p, model=f"model-{'ab'[p]}", text=sentence(rng, 40))
            for c in comparisons
            for p in (0, 1)
        ),
        batch_size=4000,
    )
    Item.objects.bulk_create((Item(project=project, comparison=c) for c in comparisons), batch_size=2000)
    item_statistics_refresh()  # as the app's own imports do (annotation/items.py)
    Membership.objects.bulk_create(Membership(project=project, user=u, role=Role.ANNOTATOR) for u in users)
    return project


def users_create(count: int, prefix: str) -> list:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    User.objects.bulk_create(User(username=f"{prefix}{i:03d}") for i in range(count))
    return list(User.objects.filter(username__startswith=prefix).order_by("username"))


def session_cookies(users: list) -> list[dict[str, str]]:
    """Per user, the headers of a logged-in browser: a session made in the database, a CSRF secret."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore
    headers = []
    for user in users:
        session = store()
        session[SESSION_KEY] = str(user.pk)
        # The backend a password login goes through (the first one only counts failures and has no users).
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        headers.append(
            {
                "Cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}; {settings.CSRF_COOKIE_NAME}={csrf}",
                "X-CSRFToken": csrf,
            }
        )
    return headers


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Recorder:
    """What the annotators of one cell saw. Times are time.perf_counter() values; thread-safe."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    claims: list[tuple[float, float]] = field(default_factory=list)  # (start, seconds)
    submits: list[tuple[float, float]] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    first_errors: list[str] = field(default_factory=list)
    empty: int = 0
    first_empty: float | None = None
    stored: set = field(default_factory=set)  # (annotator, assignment) whose submit succeeded
    served_again: int = 0  # an annotator was handed a task it had already annotated

    def claim(self, annotator: int, assignment: int, started: float, ended: float) -> None:
        with self.lock:
            self.claims.append((started, ended - started))
            if (annotator, assignment) in self.stored:
                self.served_again += 1

    def submit(self, annotator: int, assignment: int, started: float, ended: float) -> None:
        with self.lock:
            self.submits.append((started, ended - started))
            self.stored.add((annotator, assignment))

    def error(self, kind: str, detail: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            if len(self.first_errors) < 3:
                self.first_errors.append(f"{kind}: {detail}"[:300])

    def empty_queue(self, when: float) -> None:
        with self.lock:
            self.empty += 1
            self.first_empty = when if self.first_empty is None else min(self.first_empty, when)


@dataclass
class Clock:
    start: float
    warm: float  # measured from here
    stop: float  # no claim starts after this

    @classmethod
    def new(cls, warmup: float, duration: float) -> Clock:
        now = time.perf_counter()
        return cls(now, now + warmup, now + warmup + duration)


def think_s(rng: random.Random, think_ms: float, clock: Clock) -> float:
    """Seconds to think (exponential, mean think_ms), cut short at the end: a task held then is submitted at once."""
    if think_ms <= 0:
        return 0.0
    return min(rng.expovariate(1000.0 / think_ms), max(0.0, clock.stop - time.perf_counter()))


# --- http mode ----------------------------------------------------------------------------------


async def http_annotator(
    base: str,
    slug: str,
    user_id: int,
    headers: dict[str, str],
    rec: Recorder,
    clock: Clock,
    think_ms: float,
    rng: random.Random,
) -> None:
    # One keep-alive connection per annotator, as the Label Studio harness has; cookies only from `headers`.
    # Idle connections close before uvicorn's (5 s), or a think time races the server closing them.
    connector = aiohttp.TCPConnector(limit=1, keepalive_timeout=4.0)
    async with aiohttp.ClientSession(
        base,
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=120),
        headers=headers,
    ) as http:
        while time.perf_counter() < clock.stop:
            started = time.perf_counter()
            try:
                async with http.get(f"/annotate/{slug}/") as response:
                    body = await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as error:
                rec.error("claim:exception", f"{type(error).__name__}: {error}")
                await asyncio.sleep(0.1)
                continue
            ended = time.perf_counter()
            found = SUBMIT_RE.search(body) if status == 200 else None
            if found is None:
                if status == 200 and b'id="queue-empty"' in body:
                    rec.empty_queue(started)
                    return
                rec.error(f"claim:{status}", body[:200].decode(errors="replace"))
                await asyncio.sleep(0.1)
                continue
            assignment = int(found.group(1))
            rec.claim(user_id, assignment, started, ended)
            pause = think_s(rng, think_ms, clock)
            if pause:
                await asyncio.sleep(pause)
            choice = rng.choice(("left", "right"))
            for _ in range(SUBMIT_TRIES):  # a retry with the same answer is idempotent
                started = time.perf_counter()
                try:
                    async with http.post(
                        f"/annotate/{slug}/tasks/{assignment}/submit/", data={"choice": choice}, allow_redirects=False
                    ) as response:
                        body = await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as error:
                    rec.error("submit:exception", f"{type(error).__name__}: {error}")
                    continue
                if status == 302:
                    rec.submit(user_id, assignment, started, time.perf_counter())
                    break
                rec.error(f"submit:{status}", body[:200].decode(errors="replace"))
                if status < 500:
                    break


async def http_cell(
    base: str,
    slug: str,
    users: list,
    headers: list[dict[str, str]],
    clock_args: tuple[float, float],
    think_ms: float,
    rec: Recorder,
) -> Clock:
    clock = Clock.new(*clock_args)
    await asyncio.gather(
        *(
            http_annotator(base, slug, u.pk, h, rec, clock, think_ms, random.Random(u.pk))
            for u, h in zip(users, headers, strict=True)
        )
    )
    return clock


# --- service mode -------------------------------------------------------------------------------


def service_annotator(
    project, user, rec: Recorder, clock: Clock, think_ms: float, rng: random.Random, ready: threading.Barrier
) -> None:
    from django.db import connection

    from annotation.queue import QueueEmpty, QueueError, assignment_claim, assignment_submit

    try:
        connection.ensure_connection()  # take a connection from the pool before the clock starts
        ready.wait()
        while time.perf_counter() < clock.stop:
            started = time.perf_counter()
            try:
                assignment = assignment_claim(project=project, annotator=user, rng=rng)
            except QueueEmpty:
                rec.empty_queue(started)
                return
            except Exception as error:  # noqa: BLE001 - counted and shown, the loop goes on
                rec.error(f"claim:{type(error).__name__}", str(error))
                continue
            rec.claim(user.pk, assignment.pk, started, time.perf_counter())
            pause = think_s(rng, think_ms, clock)
            if pause:
                time.sleep(pause)
            data = {"choice": rng.choice(("left", "right"))}
            for _ in range(SUBMIT_TRIES):
                started = time.perf_counter()
                try:
                    assignment_submit(assignment_id=assignment.pk, annotator=user, data=data)
                except QueueError as error:
                    rec.error(f"submit:{type(error).__name__}", str(error))
                    break
                except Exception as error:  # noqa: BLE001
                    rec.error(f"submit:{type(error).__name__}", str(error))
                    continue
                rec.submit(user.pk, assignment.pk, started, time.perf_counter())
                break
    finally:
        connection.close()  # back to the pool


def service_cell(project, users: list, clock_args: tuple[float, float], think_ms: float, rec: Recorder) -> Clock:
    clock = Clock(0.0, 0.0, 0.0)

    def go() -> None:  # run by the barrier once every thread holds its connection, before it lets them go
        started = Clock.new(*clock_args)
        clock.start, clock.warm, clock.stop = started.start, started.warm, started.stop

    ready = threading.Barrier(len(users), action=go)
    threads = [
        threading.Thread(
            target=service_annotator, args=(project, u, rec, clock, think_ms, random.Random(u.pk), ready), daemon=True
        )
        for u in users
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return clock


# --- checks and figures -------------------------------------------------------------------------


def queue_checks(project, stored: int) -> dict:
    """The queue's promises, read from the database after a cell."""
    from django.db.models import Count, Q
    from django.utils import timezone

    from annotation.models import Assignment, AssignmentState, Item, Judgment, Source
    from annotation.queue import leases_expire

    leases = Assignment.objects.filter(item__project=project, state=AssignmentState.LEASED)
    leased_at_end = leases.count()
    leases_expire(now=timezone.now() + timedelta(days=3650))
    judgments = Judgment.objects.filter(source=Source.QUEUE, comparison__items__project=project)
    per_pair = judgments.values("comparison_id", "judge").annotate(n=Count("id"))
    per_item = judgments.values("comparison_id").annotate(n=Count("id"))
    counters_wrong = 0
    for taken, done, is_open, gold, live, completed in (
        Item.objects.filter(project=project)
        .annotate(
            live=Count("assignments", filter=Q(assignments__state=AssignmentState.LEASED)),
            completed=Count("assignments", filter=Q(assignments__state=AssignmentState.DONE)),
        )
        .values_list("taken", "done", "open", "is_gold", "live", "completed")
    ):
        counters_wrong += taken != live + completed or done != completed or is_open != (gold or taken < project.overlap)
    checks = {
        "judgments": judgments.count(),
        "submits_ok": stored,
        "items_complete": Item.objects.filter(project=project, done__gte=project.overlap).count(),
        "pairs_twice": per_pair.filter(n__gt=1).count(),
        "items_over_overlap": per_item.filter(n__gt=project.overlap).count(),
        "leases_at_end": leased_at_end,
        "leases_live_after_expiry": leases.count(),
        "item_counters_wrong": counters_wrong,
    }
    problems = [
        f"{name}={checks[name]}"
        for name in ("pairs_twice", "items_over_overlap", "leases_live_after_expiry", "item_counters_wrong")
        if checks[name]
    ]
    if checks["judgments"] != stored:
        problems.append(f"judgments {checks['judgments']} != submits {stored}")
    checks["ok"] = not problems
    checks["summary"] = "ok" if not problems else " ".join(problems)
    return checks


def figures(rec: Recorder, clock: Clock, ended: float) -> dict:
    # Requests started in the measured window. The drain at its end (every task still held is submitted at
    # once, up to U submits in the same instant) is no load a team of annotators makes: not measured.
    claims = [seconds for started, seconds in rec.claims if clock.warm <= started < clock.stop]
    submits = [seconds for started, seconds in rec.submits if clock.warm <= started < clock.stop]
    # Annotations finished within the measured window (which ends early if the queue ran dry).
    end = min(ended, clock.stop)
    done = sum(1 for started, seconds in rec.submits if clock.warm <= started + seconds <= end)
    window = max(end - clock.warm, 1e-9)
    return {
        "window_s": round(window, 2),
        "annotations_per_s": round(done / window, 1),
        "claim_ms": ms_stats(claims),
        "submit_ms": ms_stats(submits),
        "claims_ok": len(rec.claims),
        "submits_ok": len(rec.stored),
        "claims_empty": rec.empty,
        "queue_drained_at_s": None if rec.first_empty is None else round(rec.first_empty - clock.start, 1),
        "errors": sum(rec.errors.values()),
        "error_kinds": dict(rec.errors),
        "first_errors": rec.first_errors,
        "served_again": rec.served_again,
    }


def run_cell(
    mode: str, overlap: int, users: list, args, meter: CpuMeter, *, base: str = "", headers: list | None = None
) -> dict:
    level = len(users)
    slug = f"{mode}-ov{overlap}-u{level}"
    project = project_create(slug, args.items, overlap, users)
    rec = Recorder()
    clock_args = (args.warmup, args.duration)
    print(
        f"{mode} overlap={overlap} U={level}: {args.warmup:g} s warm-up + {args.duration:g} s (load {loadavg()}) …",
        file=sys.stderr,
        flush=True,
    )
    before = meter.snapshot()
    if mode == "http":
        clock = asyncio.run(http_cell(base, slug, users, headers or [], clock_args, args.think_ms, rec))
    else:
        clock = service_cell(project, users, clock_args, args.think_ms, rec)
    ended = time.perf_counter()
    cpu = CpuMeter.delta(before, meter.snapshot())
    row = {
        "mode": mode,
        "overlap": overlap,
        "users": level,
        **figures(rec, clock, ended),
        "cpu_pct": cpu,
        "checks": queue_checks(project, len(rec.stored)),
    }
    anchor = ANCHOR.get((overlap, level))
    if anchor:
        row["anchor"] = dict(
            zip(("annotations_per_s", "claim_p50", "claim_p99", "submit_p50", "submit_p99"), anchor, strict=True)
        )
    return row


def _pair(stats: dict) -> str:
    return f"{stats['p50']}/{stats['p99']}"


def _cpu(row: dict) -> str:
    cpu = row["cpu_pct"]
    return "/".join("-" if cpu.get(k) is None else f"{cpu[k]:.0f}" for k in ("web", "postgres", "client", "other"))


def _anchor(row: dict, *keys: str) -> str:
    anchor = row.get("anchor")
    return "/".join(f"{anchor[k]:.0f}" if "_p" in k else str(anchor[k]) for k in keys) if anchor else "-"


COLUMNS = [
    ("mode", lambda r: r["mode"]),
    ("ov", lambda r: r["overlap"]),
    ("U", lambda r: r["users"]),
    ("ann/s", lambda r: r["annotations_per_s"]),
    ("claim p50/p99 ms", lambda r: _pair(r["claim_ms"])),
    ("submit p50/p99 ms", lambda r: _pair(r["submit_ms"])),
    ("U/(ann/s) ms", lambda r: round(1000 * r["users"] / r["annotations_per_s"]) if r["annotations_per_s"] else "-"),
    ("err", lambda r: r["errors"]),
    ("drained s", lambda r: "-" if r["queue_drained_at_s"] is None else r["queue_drained_at_s"]),
    ("checks", lambda r: r["checks"]["summary"]),
    ("CPU% web/pg/cli/other", _cpu),
    ("LS ann/s", lambda r: _anchor(r, "annotations_per_s")),
    ("LS claim p50/p99", lambda r: _anchor(r, "claim_p50", "claim_p99")),
    ("LS submit p50/p99", lambda r: _anchor(r, "submit_p50", "submit_p99")),
]


def verdicts(rows: list[dict]) -> list[str]:
    lines = []
    for row in rows:
        if row["users"] != TARGET_U:
            continue
        p99 = row["claim_ms"]["p99"]
        met = p99 is not None and p99 <= TARGET_CLAIM_P99_MS
        lines.append(
            f"  {row['mode']:>7} overlap {row['overlap']}: claim p99 {p99} ms at U={TARGET_U} -> "
            f"{'met' if met else 'NOT met'}"
        )
    return lines


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"load average: {loadavg()}"


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="10,50,100", help="comma-separated numbers of concurrent annotators U")
    parser.add_argument("--overlaps", default="3", help="comma-separated overlaps (annotators per item), e.g. 3,1")
    parser.add_argument("--modes", default="http,service", help="http (through the web server), service (in process)")
    parser.add_argument("--items", type=int, default=2000, help="pairwise items per project (one project per cell)")
    parser.add_argument("--duration", type=float, default=20, help="measured seconds of claiming per cell")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds before them")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0,
        help="mean think time between claim and submit (exponential); 0 = closed loop at full speed",
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=0,
        help="AGORA_DB_POOL_SIZE of the web server and of this process (default: largest U + 4)",
    )
    parser.add_argument("--database", default="agora_bench_queue", help="recreated on every run")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument(
        "--private-pg",
        type=int,
        default=0,
        metavar="MAX_CONNECTIONS",
        help="run on a PostgreSQL server of its own with this many connections instead of --pg",
    )
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    overlaps = [int(overlap) for overlap in args.overlaps.split(",")]
    modes = [mode.strip() for mode in args.modes.split(",")]
    if set(modes) - {"http", "service"}:
        parser.error("--modes takes http and/or service")
    pool = args.pool or max(levels) + 4
    install_sigterm_handler()

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = OUT_DIR / f"queue-{stamp}"
    private = PrivatePostgres(OUT_DIR / "pg-queue", args.private_pg) if args.private_pg else None
    stack = None
    env = None
    rows: list[dict] = []
    load_before = uptime()
    try:
        pg = private.start() if private else args.pg
        env = Env(
            database=args.database,
            pg=pg,
            redis_url=args.redis_url,
            tag=f"agora-bench-{uuid.uuid4().hex[:8]}",
            extra={"AGORA_DB_POOL_SIZE": str(pool)},
        )
        setup_django(env)
        users = users_create(max(levels), "annotator")
        for mode in modes:
            meter_pids = {}
            base, headers = "", None
            if mode == "http":
                from config.processes import web_command

                headers = session_cookies(users)
                stack = Stack(env, run_dir)
                port = free_port()
                stack.start("web", web_command(PYTHON, "127.0.0.1", port))
                stack.wait_for_port("web", port)
                base, meter_pids = f"http://127.0.0.1:{port}", {"web": stack.pid("web")}
            meter = CpuMeter(meter_pids, env.database, env.pg)
            for overlap in overlaps:
                for level in levels:
                    rows.append(
                        run_cell(
                            mode,
                            overlap,
                            users[:level],
                            args,
                            meter,
                            base=base,
                            headers=headers[:level] if headers else None,
                        )
                    )
                    print(f"  {table(COLUMNS, rows[-1:]).splitlines()[-1].strip()}", file=sys.stderr, flush=True)
            if stack is not None:
                stack.stop()
                stack = None
    finally:
        if stack is not None:
            stack.stop()
        if env is not None:
            redis_cleanup(env)
        if private is not None:
            private.stop()
    load_after = uptime()

    print()
    print(
        f"annotation queue on PostgreSQL: {args.items} pairwise items per cell, {args.warmup:g} s warm-up + "
        f"{args.duration:g} s, think time {args.think_ms:g} ms (mean, exponential); pool {pool}; latencies in ms, "
        "client side; CPU% 100 = one core"
    )
    print(table(COLUMNS, rows))
    for row in rows:
        if row["first_errors"]:
            print(
                f"  {row['mode']} ov={row['overlap']} U={row['users']} errors {row['error_kinds']}; "
                f"first: {row['first_errors'][0]}"
            )
    print(
        f"LS = {ANCHOR_SOURCE}: its HTTP API on the same box, to compare with the http rows; service rows are "
        "the queue called in process, no HTTP. CPU% cli = this process: the HTTP clients (http), the queue's "
        "Python side (service); other = the rest of the box, other people's work included."
    )
    print(
        "checks: no (item, annotator) twice, no item over its overlap, no live lease after leases_expire(far "
        "future), judgments == submits, item taken/done/open == recounts. drained s: when an annotator first "
        "found the queue empty (the cell then ends early)."
    )
    if not args.think_ms:
        print(
            "think time 0: every annotator clicks again as soon as it gets an answer, a closed loop, so claim + "
            "submit latency is about U / throughput (column U/(ann/s)): it measures how the 2 shared cores divide "
            "among U clients, not the cost of one claim. --think-ms (e.g. 3000) gives latencies at a load "
            "people generate."
        )
    print(f"target (issue): claim p99 <= {TARGET_CLAIM_P99_MS:g} ms at {TARGET_U} concurrent annotators")
    print("\n".join(verdicts(rows)) or f"  (no cell with U={TARGET_U})")
    print(f"load: before {load_before}\n      after  {load_after}")
    summary = {
        "benchmark": "queue",
        "started": stamp,
        "params": vars(args),
        "pool": pool,
        "logs": str(run_dir),
        "uptime_before": load_before,
        "uptime_after": load_after,
        "anchor_source": ANCHOR_SOURCE,
        "target_claim_p99_ms": TARGET_CLAIM_P99_MS,
        "rows": rows,
    }
    result_write(summary)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
