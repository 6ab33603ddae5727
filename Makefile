SHELL := /bin/bash
# Socle — the two commands: `make run` and `make test` (both set themselves up).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test lint typecheck imports unit browser-deps wrk-deps load-bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -m pip install -q -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" ; test $${PIPESTATUS[0]:-0} -eq 0
	$(BIN)/python -c "import referentials, identity, matching, ror_sync, soap_clients"
	touch $(STAMP)

run: install
	mkdir -p data
	$(BIN)/socle serve

# Chromium from Debian's packages, for the browser tests (Playwright drives it).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) \
		|| { echo "could not install chromium (Debian package)"; exit 1; }; \
	fi

# wrk from Debian's packages, the load generator of the load benchmark.
wrk-deps:
	@if ! command -v wrk >/dev/null; then \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk) \
		|| { echo "could not install wrk (Debian package)"; exit 1; }; \
	fi

# SQLite, 1 and 2 workers; add ARGS="--database-url postgresql+psycopg://..." for PostgreSQL.
load-bench: install wrk-deps
	$(BIN)/python tests/benchmarks/load_bench.py $(ARGS)

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

imports: install
	$(BIN)/lint-imports

unit: install browser-deps
	$(BIN)/python -m pytest -q

test: lint typecheck imports unit

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
