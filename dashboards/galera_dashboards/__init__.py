"""The two Grafana dashboards (cluster overview, node detail) built as JSON from plain Python.

`python dashboards/generate.py` writes them; tests/dashboards checks that the committed files
equal what `generated()` returns. Modules: grafana (Grafana's JSON model: panels, targets,
mappings, variables), codes (state codes and their value mappings), queries (the PromQL),
frame (what both dashboards share), overview and node_detail (one module per dashboard).

Conventions: fixed uids, a `datasource` variable (no datasource uid in any panel), `cluster` and
`instance` variables, every selector filtered by them (cluster-wide panels by `cluster` only:
they must see every node), `$__rate_interval` for rates, value mappings for state codes.
"""

from __future__ import annotations

import json
from pathlib import Path

from galera_dashboards.grafana import Json
from galera_dashboards.node_detail import node_detail
from galera_dashboards.overview import overview

DASHBOARD_DIR = Path(__file__).resolve().parent.parent
OVERVIEW_FILE = DASHBOARD_DIR / "galera-cluster-overview.json"
NODE_FILE = DASHBOARD_DIR / "galera-node-detail.json"


def render(dash: Json) -> str:
    return json.dumps(dash, indent=2, ensure_ascii=False) + "\n"


def generated() -> dict[Path, str]:
    return {OVERVIEW_FILE: render(overview()), NODE_FILE: render(node_detail())}
