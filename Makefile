# The two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

.PHONY: run test smoke install chromium migrate demo stop lint clean

$(VENV)/.installed: pyproject.toml client/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# The CPU build of torch: pinned so pip never pulls a CUDA build of several GB.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[test]"
	# The Python client (client/, its own package): the API's tests drive the server through it.
	$(PIP) install -q -e ./client
	touch $@

install: $(VENV)/.installed

# Starts PostgreSQL and Redis (embedded unless DATABASE_URL/REDIS_URL are set), migrates,
# loads the demo data once, then serves http://127.0.0.1:8000 with a Celery worker.
run: install
	$(PY) manage.py serve

# The browser tests drive Debian's Chromium (never a downloaded browser build).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The tests that kill the database's connections run in a process of their own: after the rest of the
# suite, the test process's own connection pool could not be refilled in time once they were killed.
test: install chromium
	$(PY) -m pytest tests/arena/test_worker_failures.py
	$(PY) -m pytest --ignore=tests/arena/test_worker_failures.py

# The quick end-to-end part of the suite, against the embedded servers in a scratch folder.
smoke: install
	env -u DATABASE_URL -u REDIS_URL AGORA_VAR_DIR=$(CURDIR)/var/smoke $(PY) -m pytest -m smoke; \
	  status=$$?; AGORA_VAR_DIR=$(CURDIR)/var/smoke $(PY) -m config.embedded stop; exit $$status

migrate: install
	$(PY) manage.py migrate

demo: install
	$(PY) manage.py load_demo

# Style, formatting and the one-way import graph between the apps (pyproject.toml, [tool.importlinter]).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

stop:
	$(PY) -m config.embedded stop

clean: stop
	rm -rf var
