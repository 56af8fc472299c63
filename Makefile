# Everything a fresh machine needs: Python 3.11+ and these targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PROFILE ?= examples/sonmark.toml

.PHONY: install install-dev browser run test lint format lock bench clean

install: $(VENV)/.installed  ## virtualenv with the pinned runtime dependencies

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

install-dev: $(VENV)/.installed-dev  ## plus the test and lint tools

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $@

# The service defaults to production rules (https receivers on public addresses, a master key required);
# `make run` is a developer's machine and says so.
run: export REKISTERI_ENVIRONMENT ?= development
run: install  ## migrate, create the default controller, serve http://127.0.0.1:8000/docs
	$(BIN)/rekisteri db upgrade
	@id=$$($(BIN)/rekisteri controllers create --profile $(PROFILE) --if-missing) && \
	  echo "controller $$id ($(PROFILE))" && \
	  echo "create your first admin key (in another terminal):" && \
	  echo "  REKISTERI_ENVIRONMENT=$$REKISTERI_ENVIRONMENT $(BIN)/rekisteri keys create --controller $$id --name 'Your Name' --role admin"
	$(BIN)/rekisteri serve --with-worker

browser:  ## Chromium and its driver for the browser test (Debian's packages; needs root, else the test is skipped)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium and chromium-driver for the browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "no chromium/chromedriver: the browser test will be skipped (apt-get install chromium chromium-driver)"; fi

# One pytest worker a CPU core (pytest-xdist), each with a database of its own, tests handed out one by one
# (xdist's `xdist_group` does nothing under pytest 9). `make test PYTEST_XDIST=` runs in one process.
PYTEST_XDIST ?= -n auto

test: install-dev browser  ## the whole suite (embedded PostgreSQL unless REKISTERI_TEST_DATABASE_URL is set)
	$(BIN)/pytest $(PYTEST_XDIST) $(PYTEST_ARGS); status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ] || exit $$status

lint: install-dev  ## ruff and mypy, as CI runs them
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock:  ## re-pin dependencies (needs uv)
	uv pip compile --python-version 3.11 --no-header --no-annotate requirements.in -o requirements.lock
	uv pip compile --python-version 3.11 --no-header --no-annotate requirements-dev.in -o requirements-dev.lock

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache

bench: install-dev  ## the benchmarks: checks, exports, import, a 60 s soak, event-loop stalls (against baselines in the same run)
	$(BIN)/python -m bench.run $(BENCH_ARGS) && $(BIN)/python -m bench.bench_export \
		&& $(BIN)/python -m bench.bench_import && $(BIN)/python -m bench.bench_soak && $(BIN)/python -m bench.bench_stall
