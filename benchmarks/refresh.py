"""The whole rating refresh at scale: read the judgments from PostgreSQL, fit, intervals, store.

    .venv/bin/python benchmarks/refresh.py [--judgments 1000000] [--models 100] [--bootstrap 100]

Fills a database of its own (``agora_bench_refresh``, recreated) with N arena-style judgments over
M models, written by PostgreSQL itself (``generate_series``) so the set-up takes seconds: one
comparison and two candidates per judgment, outcomes drawn from planted strengths (ties 15%),
random style counts. Then runs the refresh exactly as the Celery task does
(``ratings.services.run_execute``) for the boards below and prints, per board, the time to read,
to fit (with the bootstrap), to store, the total, and the process's peak RSS.

Boards: Bradley–Terry with a 100-round bootstrap; style control with sandwich intervals (the
leaderboard's style board) and with a 100-round bootstrap; Rao–Kupper with a 100-round bootstrap.
Target: the first two within 5 s each at 1M.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stack import Env, setup_django  # noqa: E402

FILL_SQL = """
    CREATE TEMP TABLE strengths AS
        SELECT i AS idx, 'model-' || lpad(i::text, 3, '0') AS name, random() * 3 - 1.5 AS theta
        FROM generate_series(0, %(models)s - 1) AS i;
    INSERT INTO annotation_comparison (id, key, context, prompt, category, language, source, metadata, created_at)
        SELECT g, 'bench:' || g, '[{"role": "user", "content": "q"}]', 'q', '', '', 'arena', '{}',
               now() - (%(n)s - g) * interval '1 millisecond'
        FROM generate_series(1, %(n)s) AS g;
    CREATE TEMP TABLE pairs AS
        SELECT g, a, (a + 1 + floor(random() * (%(models)s - 1))::int) %% %(models)s AS b, random() AS u
        FROM (SELECT g, floor(random() * %(models)s)::int AS a FROM generate_series(1, %(n)s) AS g) s;
    INSERT INTO annotation_candidate (comparison_id, position, model, text, metadata, finish_reason,
                                      style_tokens, style_headers, style_lists, style_bold)
        SELECT p.g, side, s.name, '', '{}', 'stop', 100 + floor(random() * 400)::int, floor(random() * 5)::int,
               floor(random() * 8)::int, floor(random() * 6)::int
        FROM pairs p CROSS JOIN (VALUES (0), (1)) AS sides(side)
        JOIN strengths s ON s.idx = CASE WHEN side = 0 THEN p.a ELSE p.b END;
    INSERT INTO annotation_judgment (comparison_id, source, judge_kind, judge, display_order, outcome, both_bad,
                                     principles, rationale, metadata, created_at)
        SELECT p.g, 'arena', 'voter', 'voter:' || (p.g %% 5000), '[0, 1]',
               CASE WHEN p.u > 0.85 THEN 'tie'
                    WHEN p.u < 0.85 / (1 + exp(sb.theta - sa.theta)) THEN 'a' ELSE 'b' END,
               false, '{}', '', '{}', now() - (%(n)s - p.g) * interval '1 millisecond'
        FROM pairs p JOIN strengths sa ON sa.idx = p.a JOIN strengths sb ON sb.idx = p.b;
    ANALYZE;
"""

BOARDS = [
    ("BT + bootstrap", {"method": "bt"}),
    ("BT + style, sandwich", {"method": "bt", "style": True, "ci": "sandwich"}),
    ("BT + style + bootstrap", {"method": "bt", "style": True}),
    ("Rao–Kupper + bootstrap", {"method": "rao-kupper"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--bootstrap", type=int, default=100)
    parser.add_argument("--database", default="agora_bench_refresh", help="recreated on every run")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database of an earlier run (same --judgments and --models) instead of refilling",
    )
    args = parser.parse_args()

    env = Env(database=args.database, pg=args.pg, redis_url=args.redis_url, tag=f"agora-bench-{uuid.uuid4().hex[:8]}")
    setup_django(env, fresh=not args.reuse)
    from django.db import connection

    from annotation.models import Judgment

    if args.reuse and Judgment.objects.count() == args.judgments:
        print(f"reusing {args.judgments:,} judgments in {args.database}")
    else:
        if args.reuse:
            raise SystemExit(f"--reuse: {args.database} does not hold {args.judgments:,} judgments; run without it")
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(FILL_SQL, {"n": args.judgments, "models": args.models})
        print(f"filled {args.judgments:,} judgments over {args.models} models in {time.perf_counter() - started:.1f} s")

    from ratings.boards import Board
    from ratings.services import run_create, run_execute

    print(f"load average {' '.join(open('/proc/loadavg').read().split()[:3])}")
    print(f"{'board':<26} {'read s':>7} {'fit s':>7} {'store s':>8} {'total s':>8} {'peak RSS MB':>12}  state")
    for label, fields in BOARDS:
        board = Board(bootstrap=args.bootstrap, **fields)
        run = run_execute(run_create(board=board, trigger="manual", enqueue=False).pk)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t = run.timings
        print(
            f"{label:<26} {t.get('read_s', 0):7.2f} {t.get('fit_s', 0):7.2f} {t.get('store_s', 0):8.3f} "
            f"{run.duration_ms / 1000:8.2f} {peak:12.0f}  {run.state} {run.error}"
        )


if __name__ == "__main__":
    main()
