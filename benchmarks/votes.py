"""The vote path on PostgreSQL over HTTP, beside a bare insert, at a few concurrency levels.

    .venv/bin/python benchmarks/votes.py [--levels 1,10,50] [--requests 1000]

Prepares ready battles straight in the database (a database of its own, ``agora_bench_votes``,
recreated each run): two done answers each, ``ready_at`` set, owned by one of C clients whose
signed ``agora_voter`` cookie says so. Then uvicorn (config/processes.py) serves the project with
one extra URL (benchmarks/bench_settings.py, bench_urls.py), and for every level C:

- ``insert``: C clients in a closed loop POST ``/bench/insert``, a view that INSERTs one row:
  the floor of any write over HTTP through the same server, middleware and database;
- ``vote``: C clients in a closed loop POST ``/arena/b/<id>/vote`` as htmx does (choice at
  random), each on its own battles, and read the reveal.

Both see the same number of requests after the same short unmeasured warm-up. Figures per row:
requests per second, latency p50/p90/p99, CPU% (100 = one core) of the web server, of the whole
PostgreSQL server and of this client, what the rest of the box used meanwhile (``other``), and
PostgreSQL sessions opened per request and transactions committed per request. Also the SQL
statements one vote runs (in process, with Django's test client). Results: a table on stdout and
``var/bench/votes-<timestamp>.json``.

Daphne opens a PostgreSQL connection per request and drops it only when it is garbage collected,
so even C=10 can exhaust a shared server's ``max_connections`` (100 by default), for everyone
using it: ``--private-pg 400`` runs on a PostgreSQL server of the benchmark's own.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import string
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp

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
    result_write,
    setup_django,
    table,
)

SETTINGS = "benchmarks.bench_settings"
CHOICES = ["a", "b", "tie", "both_bad"]
WARMUP_PER_CLIENT = 3


class Client:
    """One voter: a signed voter cookie, a CSRF secret, and battles of its own to vote on."""

    def __init__(self, key: str):
        from django.core import signing

        from arena.voters import SALT

        self.key = key
        csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        cookie = signing.Signer(salt=SALT).sign(key)
        self.headers = {"Cookie": f"agora_voter={cookie}; csrftoken={csrf}", "X-CSRFToken": csrf, "HX-Request": "true"}
        self.battles: list[str] = []


def prepare(levels: list[int], per_level: int) -> dict[int, list[Client]]:
    """C clients per level, each with enough ready battles for its share plus a warm-up."""
    from django.db import connection
    from django.utils import timezone

    from arena.models import Answer, AnswerState, ArenaModel, Battle, BattleState
    from benchmarks.bench_urls import TABLE

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, payload text NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now())"
        )
    models = [
        ArenaModel.objects.create(
            name=f"bench-{side}", backend="openai", endpoint="http://127.0.0.1:9/v1", model_id=f"fake-{side}"
        )
        for side in "ab"
    ]
    now = timezone.now()
    clients: dict[int, list[Client]] = {}
    battles, owners = [], []
    for level in levels:
        clients[level] = [Client(f"bench{level}-{i}-{uuid.uuid4().hex[:8]}") for i in range(level)]
        share = -(-per_level // level) + WARMUP_PER_CLIENT + 1  # + 1: queries_per_vote takes one
        for client in clients[level]:
            for _ in range(share):
                battles.append(
                    Battle(
                        voter=f"voter:{client.key}",
                        model_a=models[0],
                        model_b=models[1],
                        state=BattleState.READY,
                        ready_at=now,
                    )
                )
                owners.append(client)
    Battle.objects.bulk_create(battles, batch_size=2000)
    answers = []
    for battle, owner in zip(battles, owners, strict=True):
        owner.battles.append(battle.public_id)
        for side in (0, 1):
            answers.append(
                Answer(
                    battle=battle,
                    turn=0,
                    side=side,
                    model=models[side],
                    prompt="Say some words.",
                    state=AnswerState.DONE,
                    text=f"Answer {'AB'[side]}: some words.",
                    finish_reason="stop",
                    output_tokens=4,
                    deadline=now + timedelta(minutes=5),
                )
            )
    Answer.objects.bulk_create(answers, batch_size=4000)
    return clients


def queries_per_vote(client: Client) -> int:
    """The SQL statements of one vote, counted in this process with Django's test client."""
    from django.db import connection
    from django.test import Client as TestClient
    from django.test.utils import CaptureQueriesContext

    public_id = client.battles.pop()
    browser = TestClient()
    browser.cookies.load(client.headers["Cookie"])
    with CaptureQueriesContext(connection) as queries:
        response = browser.post(f"/arena/b/{public_id}/vote", {"choice": "a"}, HTTP_HX_REQUEST="true")
    if response.status_code != 200:
        raise RuntimeError(f"the in-process vote answered {response.status_code}")
    return len(queries)


async def client_loop(
    http: aiohttp.ClientSession,
    base: str,
    target: str,
    client: Client,
    count: int,
    rng: random.Random,
    latencies: list[float],
    errors: list[str],
) -> None:
    for _ in range(count):
        if target == "vote":
            url = f"{base}/arena/b/{client.battles.pop()}/vote"
        else:
            url = f"{base}/bench/insert"
        started = time.perf_counter()
        try:
            async with http.post(url, data={"choice": rng.choice(CHOICES)}, headers=client.headers) as response:
                await response.read()
                if response.status != 200:
                    errors.append(f"HTTP {response.status}")
                    continue
        except aiohttp.ClientError as error:
            errors.append(f"{type(error).__name__}: {error}"[:200])
            continue
        latencies.append(time.perf_counter() - started)


async def run_level(base: str, level: int, clients: list[Client], requests: int, meter: CpuMeter) -> list[dict]:
    rows = []
    share = -(-requests // level)
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=2.0)
    async with aiohttp.ClientSession(connector=connector) as http:
        for target in ("insert", "vote"):
            rng = random.Random(level)
            warm: list[float] = []
            await asyncio.gather(
                *(client_loop(http, base, target, c, WARMUP_PER_CLIENT, rng, warm, []) for c in clients)
            )
            latencies: list[float] = []
            errors: list[str] = []
            print(f"C={level} {target}: {share * level} requests (load {loadavg()}) …", file=sys.stderr, flush=True)
            before = meter.snapshot()
            started = time.perf_counter()
            await asyncio.gather(*(client_loop(http, base, target, c, share, rng, latencies, errors) for c in clients))
            wall = time.perf_counter() - started
            cpu = CpuMeter.delta(before, meter.snapshot())
            kinds: dict[str, int] = {}
            for error in errors:
                kinds[error.split(":")[0]] = kinds.get(error.split(":")[0], 0) + 1
            rows.append(
                {
                    "target": target,
                    "concurrency": level,
                    "wall_s": round(wall, 2),
                    "requests_ok": len(latencies),
                    "errors": len(errors),
                    "error_kinds": kinds,
                    "first_error": errors[0] if errors else None,
                    "per_s": round(len(latencies) / wall, 1),
                    "latency_ms": ms_stats(latencies),
                    "cpu_pct": cpu,
                    "pg_sessions_per_request": round(cpu["pg_sessions"] / max(len(latencies), 1), 2),
                    "pg_commits_per_request": round(cpu["pg_commits"] / max(len(latencies), 1), 2),
                }
            )
    return rows


COLUMNS = [
    ("target", lambda d: d["target"]),
    ("C", lambda d: d["concurrency"]),
    ("ok/err", lambda d: f"{d['requests_ok']}/{d['errors']}"),
    ("per s", lambda d: d["per_s"]),
    ("p50 ms", lambda d: d["latency_ms"]["p50"]),
    ("p90 ms", lambda d: d["latency_ms"]["p90"]),
    ("p99 ms", lambda d: d["latency_ms"]["p99"]),
    ("CPU% web/pg/client", lambda d: "/".join(str(d["cpu_pct"][k]) for k in ("web", "postgres", "client"))),
    ("other", lambda d: d["cpu_pct"].get("other")),
    ("pg sess/req", lambda d: d["pg_sessions_per_request"]),
    ("commits/req", lambda d: d["pg_commits_per_request"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,10,50", help="comma-separated numbers of concurrent clients")
    parser.add_argument("--requests", type=int, default=1000, help="measured requests per level and target")
    parser.add_argument("--database", default="agora_bench_votes", help="recreated on every run")
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
    install_sigterm_handler()

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = OUT_DIR / f"votes-{stamp}"
    private = PrivatePostgres(OUT_DIR / "pg", args.private_pg) if args.private_pg else None
    stack = None
    rows: list[dict] = []
    try:
        pg = private.start() if private else args.pg
        env = Env(
            database=args.database,
            pg=pg,
            redis_url=args.redis_url,
            tag=f"agora-bench-{uuid.uuid4().hex[:8]}",
            extra={"DJANGO_SETTINGS_MODULE": SETTINGS},
        )
        setup_django(env, settings_module=SETTINGS)
        clients = prepare(levels, args.requests)
        queries = queries_per_vote(clients[levels[0]][0])

        from config.processes import web_command

        stack = Stack(env, run_dir)
        port = free_port()
        stack.start("web", web_command(PYTHON, "127.0.0.1", port))
        stack.wait_for_port("web", port)
        meter = CpuMeter({"web": stack.pid("web")}, env.database, env.pg)
        for level in levels:
            rows += asyncio.run(run_level(f"http://127.0.0.1:{port}", level, clients[level], args.requests, meter))
    finally:
        if stack is not None:
            stack.stop()
            redis_cleanup(stack.env)
        if private is not None:
            private.stop()

    print()
    print(
        f"votes over HTTP (uvicorn, PostgreSQL); {args.requests} requests per row; one vote runs {queries} SQL "
        "statements; CPU% 100 = one core"
    )
    print(table(COLUMNS, rows))
    for row in rows:
        if row["first_error"]:
            print(f"  {row['target']} C={row['concurrency']} errors {row['error_kinds']}; first: {row['first_error']}")
    summary = {
        "benchmark": "votes",
        "started": stamp,
        "params": vars(args),
        "queries_per_vote": queries,
        "logs": str(run_dir),
        "rows": rows,
    }
    result_write(summary)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
