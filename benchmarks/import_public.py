"""Import throughput and peak memory for LMArena-shaped battles read from Parquet.

    .venv/bin/python benchmarks/import_public.py [--rows N] [--format lmarena]

Writes N rows in the shape of LMArena's 33k conversations release (question_id, model_a/b,
winner, judge, conversation_a/b as message lists, turn, anony, language, tstamp, the
moderation structs) to a Parquet file, in a child process so that its memory is not counted,
then imports it with ``import_judgments`` into a throw-away database on the servers
DATABASE_URL names (or the embedded ones). Before the import it times the stages alone, on
the first ``--stage-rows`` rows: reading the Parquet records, and reading + parsing + checking
them, so the figure says where an import's time goes. The import itself runs in a process of its
own; it prints rows/s, the CPU per row of that process and of its PostgreSQL backend (read from
/proc when the server is local), and the process's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

MODELS = [f"model-{i:02d}" for i in range(60)]
WINNERS = ["model_a", "model_b", "tie", "tie (bothbad)"]
BATCH = 10_000


def rows(start: int, count: int, rng: random.Random) -> list[dict]:
    out = []
    for i in range(start, start + count):
        a, b = rng.sample(MODELS, 2)
        prompt = f"Question {i}: " + "lorem ipsum " * rng.randint(3, 20)
        flags = {"harassment": False, "hate": False, "self-harm": False, "sexual": False, "violence": False}
        out.append(
            {
                "question_id": f"{i:032x}",
                "model_a": a,
                "model_b": b,
                "winner": rng.choice(WINNERS),
                "judge": f"arena_user_{rng.randint(1, 20000)}",
                "conversation_a": [
                    {"role": "user", "content": prompt},
                    {"role": "assistant", "content": "answer " * rng.randint(20, 200)},
                ],
                "conversation_b": [
                    {"role": "user", "content": prompt},
                    {"role": "assistant", "content": "reply " * rng.randint(20, 200)},
                ],
                "turn": 1,
                "anony": True,
                "language": "English",
                "tstamp": 1.68e9 + i,
                "openai_moderation": {
                    "categories": flags,
                    "category_scores": {k: rng.random() / 100 for k in flags},
                    "flagged": False,
                },
                "toxic_chat_tag": {
                    "roberta-large": {"flagged": False, "probability": rng.random() / 10},
                    "t5-large": {"flagged": False, "score": rng.random() / 10},
                },
            }
        )
    return out


def write_parquet(path: Path, n: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(7)
    writer = None
    for start in range(0, n, BATCH):
        table = pa.Table.from_pylist(rows(start, min(BATCH, n - start), rng))
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=BATCH)
    writer.close()


def hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def backend_cpu_s() -> float | None:
    """CPU seconds of this connection's PostgreSQL backend, read from /proc when the server runs on
    this machine (None elsewhere): the server's share of an import's work, whatever else runs."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def import_only(database: str, path: str, format: str) -> None:
    """The child: import the file into ``database`` and print the figures as one JSON line."""
    from config import embedded

    embedded.ensure_for_process()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DATABASES["default"]["NAME"] = database
    start_rss = hwm_mb()
    server = backend_cpu_s()
    start, cpu = time.perf_counter(), time.process_time()
    out = io.StringIO()
    call_command("import_judgments", path, "--format", format, "--no-progress", stdout=out)
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    if server is not None:
        server = backend_cpu_s() - server
    lines = out.getvalue().strip().splitlines()
    figures = {
        "report": lines[-2 if "verdicts" in out.getvalue() else -1],
        "wall_s": took,
        "cpu_s": cpu,
        "server_cpu_s": server,
        "peak_rss_mb": hwm_mb(),
        "start_rss_mb": start_rss,
    }
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", default="lmarena")
    parser.add_argument("--stage-rows", type=int, default=20_000, help="rows the stage timings read")
    parser.add_argument("--write-only", help=argparse.SUPPRESS)
    parser.add_argument("--import-only", nargs=2, metavar=("DATABASE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_only:
        write_parquet(Path(args.write_only), args.rows)
        return
    if args.import_only:
        import_only(*args.import_only, args.format)
        return

    from config import embedded

    embedded.ensure_for_process()
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    from agora_datasets.imports.service import reader_for
    from annotation.imports.rows import check_row

    settings.DATABASES["default"]["TEST"]["NAME"] = "agora_benchmark_import"  # never the suite's database
    config = setup_databases(verbosity=0, interactive=False)
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "battles.parquet"
            start = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--write-only", str(path)], check=True)
            print(
                f"wrote {args.rows:,} LMArena-shaped rows to Parquet ({path.stat().st_size / 1e6:,.0f} MB) "
                f"in {time.perf_counter() - start:.1f} s"
            )

            reader = reader_for(args.format, path)
            now = datetime.now(tz=UTC)
            stage = min(args.stage_rows, args.rows)
            cpu = time.process_time()
            for count, _ in enumerate(reader.records(), start=1):
                if count >= stage:
                    break
            read_s = time.process_time() - cpu
            cpu = time.process_time()
            for count, record in enumerate(reader.records(), start=1):
                check_row(reader.parse(record, now))
                if count >= stage:
                    break
            parse_s = time.process_time() - cpu
            per = 1e6 / stage
            print(
                f"stages on {stage:,} rows, CPU µs per row: read Parquet {read_s * per:,.0f}, "
                f"read + parse + check {parse_s * per:,.0f}; the rest of the import's CPU is writing"
            )

            # The import runs in a process of its own, as `manage.py import_judgments` would: its peak
            # memory is the import's, not that of the stage timings above.
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--format",
                    args.format,
                    "--import-only",
                    connection.settings_dict["NAME"],
                    str(path),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            figures = json.loads(child.stdout.strip().splitlines()[-1])
            print(figures["report"])
            cpu, server, took = figures["cpu_s"], figures["server_cpu_s"], figures["wall_s"]
            print(
                f"import {args.rows:,} rows: {took:,.1f} s, {args.rows / took:,.0f} rows/s; the importing process's "
                f"CPU {cpu * 1e6 / args.rows:,.0f} µs per row; its peak RSS {figures['peak_rss_mb']:,.0f} MB "
                f"({figures['start_rss_mb']:,.0f} MB of it before the import: Django, pyarrow, numpy)"
            )
            if server is not None:
                print(
                    f"PostgreSQL's CPU for the import: {server * 1e6 / args.rows:,.0f} µs per row; with a core each, "
                    f"the import could go no faster than {args.rows / max(cpu, server):,.0f} rows/s (the slower side)"
                )
            print("targets (issue): >= 50,000 rows/s, <= 300 MB")
    finally:
        teardown_databases(config, verbosity=0)


if __name__ == "__main__":
    main()
