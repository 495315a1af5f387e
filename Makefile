# Backprop Lab: `make run` starts the app, `make test` runs every check. Both install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install data run test test-quick test-system screenshots lint bench bench-engine bench-graph bench-graph-worst \
	bench-gradcheck-worst bench-held-connections bench-hostile bench-service bench-scale \
	bench-multilayer bench-layer-stats bench-ch6 clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

install: $(VENV)/.installed node_modules/.installed

# MNIST into the user cache (verified, with a progress bar) if it is missing and the mirrors
# answer; offline, it says the server will train on the subset mnist-10k instead.
data: install
	$(BIN)/python -m engine fetch

run: install data
	$(BIN)/python -m app.serve app.main:app --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	node_modules/.bin/tsc -p tsconfig.json

# Everything CI runs: the lint, then every test, the `slow` ones too (the JS unit tests under
# node --test are run by tests/test_js.py).
test: lint test-system
	$(BIN)/python -m pytest

# For developers between commits: every test but the `slow` ones (the chapter's run at its
# other seeds), no lint.
test-quick: install test-system
	$(BIN)/python -m pytest -m "not slow"

test-system:
	@test -x /usr/bin/chromium || { echo "The browser tests need Debian's Chromium: apt-get install -y chromium"; exit 1; }
	@command -v redis-server >/dev/null && test -x /usr/lib/postgresql/15/bin/initdb || { echo "The cluster tests need Redis and PostgreSQL 15: apt-get install -y redis-server postgresql"; exit 1; }
	@command -v node >/dev/null || { echo "The JS unit tests need Node (it comes with npm)"; exit 1; }

# The README's pictures, on purpose (tests write theirs into build/screenshots).
screenshots: install
	@test -x /usr/bin/chromium || { echo "The screenshots need Debian's Chromium: apt-get install -y chromium"; exit 1; }
	BACKPROP_LAB_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -q tests/browser

$(VENV)/.bench: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@

bench: bench-engine bench-graph bench-graph-worst bench-gradcheck-worst bench-held-connections \
	bench-hostile bench-service bench-scale bench-multilayer bench-layer-stats bench-ch6

bench-engine: install $(VENV)/.bench
	$(BIN)/python -m benchmarks.bench_engine

bench-graph: install
	$(BIN)/python -m benchmarks.bench_graph

bench-graph-worst: install
	$(BIN)/python -m benchmarks.bench_graph_worst

bench-gradcheck-worst: install
	$(BIN)/python -m benchmarks.bench_gradcheck_worst

bench-held-connections: install
	$(BIN)/python -m benchmarks.bench_held_connections

bench-hostile: install
	$(BIN)/python -m benchmarks.bench_hostile

bench-service: install
	$(BIN)/python -m benchmarks.bench_service

bench-layer-stats: install
	$(BIN)/python -m benchmarks.bench_layer_stats

# Celery workers, two API servers, PostgreSQL and Redis on loopback (needs redis-server and
# PostgreSQL 15 from Debian: apt-get install -y redis-server postgresql).
bench-scale: install
	$(BIN)/python -m benchmarks.bench_scale

# How long each chapter-6 page's set of runs takes at the book's settings (real page, Chromium).
bench-ch6: install
	$(BIN)/python -m benchmarks.bench_ch6_sets

bench-multilayer: install
	$(BIN)/python -m benchmarks.bench_multilayer

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache .hypothesis
