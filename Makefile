# The README's two commands: `make demo` (a real 3-node Galera lab with the exporter,
# Prometheus and Alertmanager) and `make test` (everything CI runs). Both install what is missing.
SHELL := /bin/bash
PYTHON ?= python3

.PHONY: deps test lint unit

deps:
	scripts/install-deps.sh

lint: deps
	ruff check .
	ruff format --check exporter
	mypy

unit: deps
	$(PYTHON) -m pytest tests/unit -q

test: deps lint
	$(PYTHON) -m pytest -q -p no:cacheprovider --durations=15

include lab/demo.mk
