# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install chromium demo up smoke test test-fast lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for tests/browser (Playwright drives it; it downloads no browser of its
# own) and Thai fonts for its screenshots. Where they cannot be installed the browser tests
# skip and say so; nothing else does.
chromium:
	@dpkg -s chromium fonts-thai-tlwg >/dev/null 2>&1 \
		|| (apt-get update -qq && apt-get install -y -qq chromium fonts-thai-tlwg) \
		|| echo "Chromium could not be installed: the browser tests (tests/browser) will skip"

demo: $(STAMP)  ## all services on the embedded defaults, pilot seeded, funnel printed; Ctrl-C stops
	$(BIN)/skillbridge demo

up: $(STAMP)
	$(BIN)/skillbridge up

smoke: $(STAMP)  ## the demo, exiting 0 once every seeded journey reached its expected end state
	$(BIN)/skillbridge smoke

test: $(STAMP) chromium  ## the whole suite; uses PostgreSQL at 127.0.0.1:5432 when reachable
	$(BIN)/ruff check .
	$(BIN)/mypy shared services deploy
	$(BIN)/pytest

test-fast: $(STAMP)  ## unit and handler tests: no broker, no PostgreSQL, seconds
	$(BIN)/pytest tests/unit tests/handlers

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy shared services deploy

bench: $(STAMP)  ## one run, four parts (throughput, latency at 20/100/200 learners/s, drain, raw broker); LEARNERS=N (default 10,000), BENCH_ARGS="--latency-seconds 2 --profile"; writes var/bench/journey-<UTC>.json
	$(BIN)/skillbridge bench $(if $(LEARNERS),--learners $(LEARNERS),) $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
