# medleads: `make demo` runs the main job, `make test` runs every check CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo stop test fast lint typecheck unit test-services bench bench-cluster chaos cluster cluster-down cluster-status cluster-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Besides PostgreSQL, the cluster test (tests/e2e/test_cluster.py) talks to this machine's Redis
# (started here when it does not answer) and Debian's HAProxy (installed when missing, as root).
test-services:
	@redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || ! command -v redis-server >/dev/null || redis-server --bind 127.0.0.1 --port 6379 --daemonize yes >/dev/null
	@[ "$$(id -u)" != 0 ] || $(MAKE) --no-print-directory cluster-deps || true

# The chaos suite and the failover drill (~20 min, mostly waiting: outages, crash detection,
# reviews suspending) run in a second pytest process beside the rest (~14 min); their report is
# printed once both are done and either failing fails the target. The slowest tests are listed
# at the end of each (the whole run must stay under 30 minutes).
LONG := tests/e2e/test_chaos.py tests/e2e/test_cluster.py
unit: $(STAMP) test-services
	@mkdir -p test-output
	@echo "$(LONG): in a second pytest process, report in test-output/long.log"
	@$(BIN)/pytest -p no:cacheprovider --durations=5 $(LONG) > test-output/long.log 2>&1 & long=$$!; \
	trap 'kill $$long 2>/dev/null' INT TERM; \
	$(BIN)/pytest --durations=15 $(addprefix --ignore=,$(LONG)); rest=$$?; \
	wait $$long; long_rc=$$?; \
	echo "===== $(LONG), run beside the rest (test-output/long.log) ====="; \
	cat test-output/long.log; \
	test $$rest -eq 0 && test $$long_rc -eq 0

test: lint typecheck unit

# The inner loop (under two minutes): lint, then the pure and database tests on SQLite (`make test`
# also runs each database test on PostgreSQL), first failure stops.
fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -x -m "not slow" -k "not postgresql" tests/unit tests/integration

demo: $(STAMP)
	$(BIN)/medleads demo

stop: $(STAMP)
	$(BIN)/medleads stop

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# The failover drill on a cluster of its own (~10 min): appends to benchmarks/RESULTS.md.
bench-cluster: $(STAMP) test-services
	$(BIN)/python -m benchmarks.cluster_drill

# The fault suite (~20 min): fuzz and outages on throwaway stacks (SQLite, then PostgreSQL); appends to docs/reliability.md.
chaos: $(STAMP)
	$(BIN)/python -m benchmarks.chaos

# Prefect's distributed topology on this machine (docs/scaling.md): PostgreSQL and Redis (this
# machine's servers), two API replicas and two intakes behind HAProxy, services, two workers.
# HAProxy comes from Debian's packages, installed here when missing (apt-get, as root).
cluster-deps:
	@command -v haproxy >/dev/null || (apt-get install -y -q haproxy || (apt-get update -q && apt-get install -y -q haproxy))

cluster: $(STAMP) cluster-deps
	$(BIN)/medleads cluster up
	$(BIN)/medleads cluster status

cluster-status: $(STAMP)
	$(BIN)/medleads cluster status

cluster-down: $(STAMP)
	$(BIN)/medleads cluster down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
