# Sinatra control plane. `make run` serves the app; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000

.PHONY: run test lint bench bench-http clean chromium wrk lock

# The stamps re-run pip only when a requirements file changes.
$(VENV)/.runtime-installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	touch $@

# PORT goes to devenv too: it points SINATRA_BASE_URL (the links the app prints) at this port.
run: $(VENV)/.runtime-installed
	PORT=$(PORT) $(PY) -m sinatra.devenv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

test: $(VENV)/.dev-installed chromium
	$(PY) -m pytest -n auto

# The browser tests drive Debian's chromium, never a browser downloaded by Playwright.
chromium:
	@[ -x /usr/bin/chromium ] || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "The browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; fi; }

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# In-process figures (docs/performance.md): resolve() against its floor at 1 and 10,000 tenants,
# the DEK cache's memory, rewrap_credentials against its floor, the admin lists at 100 and 1,000
# tenants. A scratch SQLite file, or a scratch database on the server DATABASE_URL names.
bench: $(VENV)/.dev-installed
	$(PY) -m bench.resolve
	$(PY) -m bench.dek_memory
	$(PY) -m bench.rewrap
	$(PY) -m bench.admin

# POST /api/v1/resolve under wrk against a bare Django JSON view, both served by gunicorn with
# deploy/gunicorn.conf.py on 127.0.0.1, at 1 and 10,000 tenants (bench/http.py); PostgreSQL when
# DATABASE_URL names a server (a scratch database of its own), else a temporary SQLite file.
bench-http: $(VENV)/.dev-installed wrk
	$(PY) -m bench.http

# The HTTP benchmark's load generator is Debian's wrk.
wrk:
	@[ -x /usr/bin/wrk ] || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; \
	  else echo "make bench-http needs Debian's wrk: sudo apt-get install wrk"; exit 1; fi; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles

# Recompile the pinned, hashed requirement files from requirements*.in (after changing a pin
# there), from PyPI alone, then reinstall. See README, "Dependencies".
lock: $(VENV)/.dev-installed
	PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
	  --strip-extras --no-emit-index-url --no-emit-find-links --output-file requirements.txt requirements.in
	PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
	  --strip-extras --no-emit-index-url --no-emit-find-links --output-file requirements-dev.txt requirements-dev.in
