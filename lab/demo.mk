# `make demo` / `make demo-down`: a real 3-node MariaDB Galera cluster on 127.0.0.11-13 with one
# galera-exporter per node, Prometheus (loading rules/*.yml), Alertmanager and a webhook sink.
# Meant to be included by the top-level Makefile (`include lab/demo.mk`); works alone too:
#   make -f lab/demo.mk demo
# LAB_DIR holds the datadirs, logs and the pid/state files `demo-down` stops processes by.

LAB_REPO := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
LAB_DIR ?= $(LAB_REPO)/.lab
LAB_PYTHON ?= python3
GALERA_LAB = GALERA_LAB_DIR=$(LAB_DIR) $(LAB_PYTHON) -m galera_lab.cli
# What `demo` runs first; `make demo DEMO_INSTALL=true` skips it on a machine already set up.
DEMO_INSTALL ?= scripts/install-deps.sh --runtime-only

.PHONY: demo demo-down demo-status

demo:
	cd $(LAB_REPO) && $(DEMO_INSTALL)
	$(GALERA_LAB) up

demo-status:
	$(GALERA_LAB) status

demo-down:
	$(GALERA_LAB) down --purge
