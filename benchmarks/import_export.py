"""Import and raw-export throughput and peak memory on generated arena battles.

    .venv/bin/python benchmarks/import_export.py [N]     (default N = 100000)

Runs against a throw-away test database on the servers DATABASE_URL names (or
the embedded ones), so no real data is touched. Prints records per second and
the peak resident memory of this process after each phase: constant-memory
streaming shows as a peak that does not grow with N.
"""

from __future__ import annotations

import io
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config import embedded  # noqa: E402

embedded.ensure_for_process()  # the embedded servers when DATABASE_URL/REDIS_URL are unset, as manage.py

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

MODELS = [f"model-{i:02d}" for i in range(40)]
WINNERS = ["model_a", "model_b", "tie", "tie (bothbad)"]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_battles(path: Path, n: int) -> None:
    rng = random.Random(7)
    with open(path, "w") as handle:
        for i in range(n):
            a, b = rng.sample(MODELS, 2)
            prompt = f"Question {i}: " + "lorem ipsum " * rng.randint(5, 60)
            handle.write(
                json.dumps(
                    {
                        "question_id": f"b{i}",
                        "model_a": a,
                        "model_b": b,
                        "winner": rng.choice(WINNERS),
                        "judge": f"user-{rng.randint(1, 5000)}",
                        "turn": 1,
                        "language": "English",
                        "tstamp": 1.7e9 + i,
                        "prompt": prompt,
                        "response_a": "answer " * rng.randint(20, 300),
                        "response_b": "reply " * rng.randint(20, 300),
                    }
                )
                + "\n"
            )


def main(n: int) -> None:
    from django.conf import settings

    settings.DATABASES["default"]["TEST"]["NAME"] = "agora_benchmark"  # never the test suite's database
    config = setup_databases(verbosity=0, interactive=False)
    try:
        with tempfile.TemporaryDirectory() as folder:
            source, raw = Path(folder) / "battles.jsonl", Path(folder) / "raw.jsonl"
            write_battles(source, n)
            size_mb = source.stat().st_size / 1e6
            start = time.perf_counter()
            call_command("import_judgments", str(source), "--format", "arena", "--no-progress", stdout=io.StringIO())
            took = time.perf_counter() - start
            print(
                f"import  {n:>9,} records ({size_mb:,.0f} MB): {took:7.1f} s  {n / took:>9,.0f} records/s  "
                f"peak RSS {peak_mb():,.0f} MB"
            )
            start = time.perf_counter()
            call_command("export_dataset", "--format", "raw", "--output", str(raw), stdout=io.StringIO())
            took = time.perf_counter() - start
            print(f"export  {n:>9,} judgments: {took:7.1f} s  {n / took:>9,.0f} rows/s  peak RSS {peak_mb():,.0f} MB")
    finally:
        teardown_databases(config, verbosity=0)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
