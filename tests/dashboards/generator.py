"""The dashboards' builder, dashboards/galera_dashboards, imported the way
`python dashboards/generate.py` sees it: dashboards/ is a folder of files, not a package, and the
script's folder is on sys.path."""

from __future__ import annotations

import sys

from tests.dashboards import promql

if str(promql.DASHBOARD_DIR) not in sys.path:
    sys.path.insert(0, str(promql.DASHBOARD_DIR))

import galera_dashboards
from galera_dashboards import codes, frame, queries

__all__ = ["codes", "frame", "galera_dashboards", "queries"]
