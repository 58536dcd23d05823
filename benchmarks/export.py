"""Dataset export at scale: N arena-style judgments in PostgreSQL → ``trl-preference`` JSONL and Parquet.

    .venv/bin/python benchmarks/export.py [--judgments 1000000] [--models 100] [--reuse]

Fills a database of its own (``agora_bench_export``, recreated unless ``--reuse``) with N judgments, one
comparison and two candidates each, written by PostgreSQL itself (``generate_series``, as
benchmarks/refresh.py does) but with realistic texts: a prompt of about a hundred characters and answers of
a few hundred. Then runs ``export_dataset`` exactly as the command does, once per file format, each in a
fresh child process, and prints rows, seconds, rows per second, the child's peak RSS (its own, from
``wait4``), the file's size and whether the targets hold (≥ 50k rows/s, peak RSS ≤ 300 MB). For context,
it first times a ``count(*)`` of the exported join and a ``COPY`` of the same columns to nowhere.
The pseudonym salt is fixed, so the printed sha256 of each file compares across code versions.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.refresh import FILL_SQL as REFRESH_FILL_SQL  # noqa: E402
from benchmarks.stack import Env, loadavg, setup_django  # noqa: E402

TARGET_ROWS_PER_S = 50_000
TARGET_PEAK_MB = 300
SALT = "bench-export"

# setseed: every fill draws the same data, so row counts and checksums compare across runs and machines.
FILL_SQL = """
    SELECT setseed(0.25);
    CREATE TEMP TABLE strengths AS
        SELECT i AS idx, 'model-' || lpad(i::text, 3, '0') AS name, random() * 3 - 1.5 AS theta
        FROM generate_series(0, %(models)s - 1) AS i;
    CREATE TEMP TABLE words AS
        SELECT array['the', 'model', 'answer', 'because', 'first', 'consider', 'which', 'result', 'value',
                     'function', 'example', 'however', 'returns', 'simple', 'question', 'number'] AS w;
    CREATE TEMP TABLE prompts AS
        SELECT g, 'Question ' || g || ': how would you ' || w[1 + g %% 16] || ' the ' || w[1 + (g / 16) %% 16]
                  || ' of a ' || w[1 + (g / 256) %% 16] || ' in ' || (g %% 97) || ' steps, and why?' AS text
        FROM generate_series(1, %(n)s) AS g, words;
    INSERT INTO annotation_comparison (id, key, context, prompt, category, language, source, metadata, created_at)
        SELECT g, 'bench:' || lpad(g::text, 8, '0'), jsonb_build_array(jsonb_build_object('role', 'user',
               'content', text)), text, '', 'English', 'arena', '{}', now() - (%(n)s - g) * interval '1 millisecond'
        FROM prompts;
    CREATE TEMP TABLE pairs AS
        SELECT g, a, (a + 1 + floor(random() * (%(models)s - 1))::int) %% %(models)s AS b, random() AS u
        FROM (SELECT g, floor(random() * %(models)s)::int AS a FROM generate_series(1, %(n)s) AS g) s;
    INSERT INTO annotation_candidate (comparison_id, position, model, text, metadata, finish_reason,
                                      style_tokens, style_headers, style_lists, style_bold)
        SELECT p.g, side, s.name,
               'Sure — "' || w[1 + (p.g + side) %% 16] || '" first.' || chr(10) || repeat(w[1 + (p.g * 7 + side) %% 16]
               || ' ' || w[1 + (p.g * 3 + side) %% 16] || ' ' || w[1 + (p.g + 5 * side) %% 16] || ', ',
               8 + (p.g * 13 + side * 5) %% 25) || 'done.',
               '{}', 'stop', 100 + floor(random() * 400)::int, floor(random() * 5)::int,
               floor(random() * 8)::int, floor(random() * 6)::int
        FROM pairs p CROSS JOIN (VALUES (0), (1)) AS sides(side) CROSS JOIN words
        JOIN strengths s ON s.idx = CASE WHEN side = 0 THEN p.a ELSE p.b END;
""" + REFRESH_FILL_SQL[REFRESH_FILL_SQL.index("    INSERT INTO annotation_judgment") :]  # its votes, ANALYZE

# The columns a trl-preference row is made of, for the baselines.
JOIN_SQL = """
    SELECT c.key, c.context, j.judge, j.outcome, a.model, a.text, b.model, b.text
    FROM annotation_judgment j JOIN annotation_comparison c ON c.id = j.comparison_id
    JOIN annotation_candidate a ON a.comparison_id = c.id AND a.position = 0
    JOIN annotation_candidate b ON b.comparison_id = c.id AND b.position = 1
    ORDER BY c.key, j.judge, j.source
"""


def child(args: argparse.Namespace, env: Env) -> None:
    """One export in this process; prints a JSON line with the manifest's numbers and the seconds."""
    os.environ.update(env.variables())
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from agora_datasets.exports.dataset import export_dataset
    from agora_datasets.exports.formats import Options, get_format
    from agora_datasets.exports.privacy import Privacy
    from agora_datasets.exports.selection import ExportFilters

    fmt = get_format("trl-preference")
    options = Options(privacy=Privacy.create(salt=SALT), margin=True)
    started = time.perf_counter()
    manifest = export_dataset(
        fmt, ExportFilters(), options, Path(args.child_output), file_format=args.child, chunk_size=args.chunk_size
    )
    seconds = time.perf_counter() - started
    entry = manifest["files"][0]
    print(json.dumps({"rows": entry["rows"], "bytes": entry["bytes"], "sha256": entry["sha256"], "seconds": seconds}))


def measure(args: argparse.Namespace, file_format: str, folder: Path) -> dict:
    """A fresh child exports one file format; its own peak RSS comes from wait4."""
    output = folder / f"trl-preference.{file_format}"
    command = [
        sys.executable,
        __file__,
        "--child",
        file_format,
        "--child-output",
        str(output),
        "--database",
        args.database,
        "--pg",
        args.pg,
        "--redis-url",
        args.redis_url,
        "--chunk-size",
        str(args.chunk_size),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{file_format} export failed ({process.returncode})")
    result = json.loads(stdout.strip().splitlines()[-1])
    output.unlink()
    return result | {"peak_mb": usage.ru_maxrss / 1024}


def baselines(connection) -> None:
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(f"SELECT count(*) FROM ({JOIN_SQL}) AS rows")
        count = cursor.fetchone()[0]
        print(f"baseline count(*) of the sorted join: {count:,} rows in {time.perf_counter() - started:.2f} s")
    raw = connection.connection  # the psycopg connection under Django's wrapper
    started = time.perf_counter()
    size = 0
    with raw.cursor() as cursor, cursor.copy(f"COPY ({JOIN_SQL}) TO STDOUT") as copy:
        for block in copy:
            size += len(block)
    seconds = time.perf_counter() - started
    print(
        f"baseline COPY of the same columns to nowhere: {size / 1e6:,.0f} MB in {seconds:.2f} s "
        f"({count / seconds:,.0f} rows/s)"
    )


def prepare(args: argparse.Namespace, connection) -> None:
    """Fill the database, or with --reuse keep what an earlier run filled."""
    from annotation.models import Judgment

    held = Judgment.objects.count()
    if held and held != args.judgments:
        raise SystemExit(f"{args.database} holds {held:,} judgments, not {args.judgments:,}: run without --reuse")
    if held:
        print(f"reusing {held:,} judgments in {args.database}")
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(FILL_SQL, {"n": args.judgments, "models": args.models})
    print(f"filled {args.judgments:,} judgments over {args.models} models in {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--database", default="agora_bench_export", help="recreated on every run unless --reuse")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database of an earlier run (same --judgments) instead of refilling",
    )
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument(
        "--file-format", action="append", choices=("jsonl", "parquet"), help="repeat for several (default: both)"
    )
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--child", choices=("jsonl", "parquet"), help=argparse.SUPPRESS)
    parser.add_argument("--child-output", help=argparse.SUPPRESS)
    args = parser.parse_args()

    env = Env(database=args.database, pg=args.pg, redis_url=args.redis_url, tag=f"agora-bench-{uuid.uuid4().hex[:8]}")
    if args.child:
        child(args, env)
        return
    setup_django(env, fresh=not args.reuse)
    from django.db import connection

    prepare(args, connection)
    print(f"load average before: {loadavg()}  ({os.cpu_count()} CPUs)")
    if not args.no_baseline:
        baselines(connection)
    connection.close()
    print(f"{'file':<8} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'peak RSS MB':>12} {'file MB':>8}  targets  sha256")
    with tempfile.TemporaryDirectory(prefix="agora-bench-export-") as folder:
        for file_format in args.file_format or ["jsonl", "parquet"]:
            r = measure(args, file_format, Path(folder))
            rate = r["rows"] / r["seconds"]
            met = rate >= TARGET_ROWS_PER_S and r["peak_mb"] <= TARGET_PEAK_MB
            verdict = "met" if met else (f"MISSED (≥ {TARGET_ROWS_PER_S:,} rows/s, ≤ {TARGET_PEAK_MB} MB)")
            print(
                f"{file_format:<8} {r['rows']:>10,} {r['seconds']:8.1f} {rate:9,.0f} {r['peak_mb']:12.0f} "
                f"{r['bytes'] / 1e6:8.1f}  {verdict}  {r['sha256'][:16]}",
                flush=True,
            )
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    main()
