# The README's two commands: `make demo` (a real 3-node Galera lab with the exporter,
# Prometheus and Alertmanager) and `make test` (everything CI runs). Both install what is missing.
SHELL := /bin/bash
PYTHON ?= python3

.PHONY: deps test lint static check unit

deps:
	scripts/install-deps.sh

lint: deps static

# Every Python folder; the folders mypy checks are pyproject.toml's [tool.mypy] files.
static:
	ruff check .
	ruff format --check exporter dashboards lab tests bench rules
	mypy

# For contributors (after one `make deps` or `make test`): lint, types and the fast tier, every
# test that starts no real Galera node and takes under a few seconds. Under 3 minutes on 2
# cores. Tiers come from fixtures and marks: tests/support/tiers.py.
check: static
	$(PYTHON) -m pytest -q -p no:cacheprovider -m "not cluster and not slow"

unit: deps
	$(PYTHON) -m pytest tests/unit -q

# The whole suite, on $(TEST_WORKERS) pytest-xdist workers: most real-cluster tests wait on
# Galera and Prometheus rather than compute, so more workers than cores pays (4 on 2 cores,
# now that every deadline test runs `alone`). Tests sharing a lab stay on one worker
# (tests/support/workers.py). TEST_WORKERS=0 runs serially. Tests marked `alone` compare wall
# time with deadlines, which CPU contention skews: they run afterwards, by themselves.
TEST_WORKERS ?= 4

test: deps lint
	$(PYTHON) -m pytest -q -p no:cacheprovider --durations=15 -n $(TEST_WORKERS) --dist loadgroup -m "not alone"
	$(PYTHON) -m pytest -q -p no:cacheprovider --durations=5 -m alone

include lab/demo.mk
