#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Every command works with nothing set up: with DATABASE_URL or REDIS_URL unset, the embedded
    # PostgreSQL and Redis are started here (unless they run) and their URLs put in the environment,
    # for the settings and for the processes `manage.py serve` starts. Reading the settings starts nothing.
    from config import embedded

    embedded.ensure_for_process()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
