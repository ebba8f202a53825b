# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# rustup installs cargo in ~/.cargo/bin and adds it to PATH in login shells only: look there too
# (after the PATH's own), so a non-login shell builds the native decoder as a login shell does.
export PATH := $(PATH):$(HOME)/.cargo/bin

.PHONY: setup demo test unit e2e services down status lint bench soak clean

setup: $(STAMP)

# The native decoder (native/) is built by the editable install: a change to its sources installs again.
$(STAMP): pyproject.toml native/Cargo.toml native/Cargo.lock $(wildcard native/src/*.rs)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m costline.dev.vendor
	@touch $@

# Starts Kafka and ClickHouse, runs a sample day end to end, prints the costs, stops everything.
demo: setup
	$(BIN)/python -m costline.dev.vendor
	$(BIN)/costline demo

# Starts Kafka and ClickHouse (and installs Debian's Chromium for the dashboard's browser
# tests if missing), runs every test against them, stops them again.
test: setup
	$(BIN)/python -m costline.dev.vendor
	$(BIN)/python -m costline.dev.browser
	$(BIN)/costline services up
	$(BIN)/python -m pytest tests; status=$$?; $(BIN)/costline services down; exit $$status

unit: setup
	$(BIN)/python -m pytest tests/unit

services: setup
	$(BIN)/costline services up

down: setup
	$(BIN)/costline services down

status: setup
	$(BIN)/costline services status

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# A short benchmark run (a few minutes); see `python -m bench.run --help` to scale it up.
# It reports every issue #12 goal in its JSON last line, two workers' ratio to one
# (e2e_ratio_2_workers_to_1) and the restart after 1M events (restart_ready_s) included:
# those two add about 3 minutes, most of it the worker counting the restart's history.
# Installs the bench-only extras (the quixstreams peer) first.
bench: setup
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# A bounded soak, about 3 minutes and a drain: steady traffic, SIGKILLed workers, ClickHouse
# stopped for 30 s, hostile input. Ends in a JSON line; fails if any loss figure is not 0.
# SOAK_ARGS=--short is the one-minute version.
soak: setup
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

clean: down
	rm -rf .costline
