"""pytest plugin: the test session's embedded servers, started before pytest-django reads the settings.

Loaded with ``-p config.pytest_embedded`` (pyproject.toml, addopts). With DATABASE_URL or REDIS_URL
unset (``make smoke``), the embedded PostgreSQL and Redis under $AGORA_VAR_DIR are started unless they
run, and their URLs put in the environment, as manage.py does; the tests' child processes (worker, ASGI
server, `manage.py serve`) inherit them. pytest-django reads the settings in its own
pytest_load_initial_conftests (tryfirst), before any conftest.py is imported: this wrapper runs first.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    from config import embedded  # at the hook, not when pytest loads this plugin (it loads every -p plugin first)

    embedded.ensure_for_process()
    return (yield)
