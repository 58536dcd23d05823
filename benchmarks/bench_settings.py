"""Settings for benchmarks/votes.py only: the project's settings with one extra URL (see bench_urls.py).

    DJANGO_SETTINGS_MODULE=benchmarks.bench_settings

Production code carries nothing for the benchmark; this module adds the bare insert view beside it.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.bench_urls"
