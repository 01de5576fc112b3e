"""The dashboards JSON: current, well-formed, valid PromQL, only real metric names, filtered."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.dashboards import known_metrics, promql

PROMTOOL = "/usr/bin/promtool"
DASHBOARDS = {p.name: p for p in promql.DASHBOARD_FILES}
QUERIES = promql.all_queries()
CURRENT_PANEL_TYPES = {"timeseries", "stat", "table", "state-timeline", "text", "row"}


def _load_generator() -> ModuleType:
    path = promql.DASHBOARD_DIR / "generate.py"
    spec = importlib.util.spec_from_file_location("dashboards_generate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


generate = _load_generator()


@pytest.fixture(scope="module")
def known_names() -> set[str]:
    return (
        known_metrics.golden_names()
        | known_metrics.log_source_names()
        | known_metrics.recording_rule_names()
        | known_metrics.PROMETHEUS_OWN
    )


def _id(q: promql.Query) -> str:
    return f"{q.dashboard}:{q.panel}:{q.ref}"


def test_both_dashboards_exist() -> None:
    assert set(DASHBOARDS) == {"galera-cluster-overview.json", "galera-node-detail.json"}


def test_committed_json_is_what_generate_py_writes() -> None:
    for path, text in generate.generated().items():
        assert path.read_text() == text, f"{path.name} is stale: run python dashboards/generate.py"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_shape(name: str) -> None:
    dash = promql.load(DASHBOARDS[name])
    assert (
        dash["uid"]
        == {
            "galera-cluster-overview.json": generate.OVERVIEW_UID,
            "galera-node-detail.json": generate.NODE_UID,
        }[name]
    )
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dash["uid"])
    assert "id" not in dash or dash["id"] is None, "a fixed id would clash on import"
    panels = list(promql.panels(dash))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    assert {p["type"] for p in panels} <= CURRENT_PANEL_TYPES
    # Panels stay inside the 24-column grid and do not overlap.
    cells: dict[tuple[int, int], str] = {}
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_variables_and_datasource(name: str) -> None:
    dash = promql.load(DASHBOARDS[name])
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for var in ("cluster", "instance"):
        assert variables[var]["type"] == "query"
        assert variables[var]["definition"].startswith("label_values(")
        assert variables[var]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert '{cluster="$cluster"}' in variables["instance"]["definition"]
    # No datasource uid anywhere but the variable: every panel and target names ${datasource}.
    for p in promql.panels(dash):
        if p["type"] == "text":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        for t in p["targets"]:
            assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]


def test_every_expression_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each expression as a recording rule (variables replaced by stand-ins)."""
    rules = [
        {
            "record": f"dashboard:expr_{i}:check",
            "expr": promql.substitute(q.expr, "galera_lab", "127.0.0.71:9878"),
        }
        for i, q in enumerate(QUERIES)
    ]
    path = tmp_path / "dashboard-exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "FAILED" not in output and "error" not in output.lower(), output
    assert f"SUCCESS: {len(rules)} rules found" in output, output


@pytest.mark.parametrize("query", QUERIES, ids=_id)
def test_metric_names_are_emitted_or_recorded(query: promql.Query, known_names: set[str]) -> None:
    found = promql.selectors(query.expr)
    assert found, f"no selector in {query.expr}"
    for sel in found:
        assert sel.name is not None, f"selector without a metric name in {query.expr}"
        assert sel.name in known_names, f"{sel.name} is neither emitted nor recorded"


@pytest.mark.parametrize("query", QUERIES, ids=_id)
def test_every_selector_is_filtered(query: promql.Query) -> None:
    if query.panel == "variable cluster":
        return  # the variable that lists the clusters
    wide = query.panel in generate.CLUSTER_WIDE_PANELS or query.panel.startswith("variable")
    for sel in promql.selectors(query.expr):
        assert sel.has("cluster", ("=",), "$cluster"), f"{sel} not filtered by cluster"
        per_cluster = sel.name == "ALERTS" or (sel.name or "").startswith("cluster")
        if not wide and not per_cluster:
            assert sel.has("instance", ("=", "=~"), "$instance"), f"{sel} not filtered by node"


@pytest.mark.parametrize("query", QUERIES, ids=_id)
def test_rates_use_rate_interval(query: promql.Query) -> None:
    for m in re.finditer(r"\b(rate|irate|increase|delta|deriv)\(", query.expr):
        window = re.search(r"\[([^\]]*)\]", query.expr[m.end() :])
        assert window is not None and window.group(1) == "$__rate_interval", query.expr


def test_state_panels_have_value_mappings() -> None:
    for name, path in DASHBOARDS.items():
        for p in promql.panels(promql.load(path)):
            if p["type"] != "state-timeline":
                continue
            maps = p["fieldConfig"]["defaults"].get("mappings") or [
                prop for o in p["fieldConfig"]["overrides"] for prop in o["properties"]
                if prop["id"] == "mappings"
            ]  # fmt: skip
            assert maps, f"{name}: {p['title']} has no value mappings"


def _all_links(dash: dict[str, Any]) -> list[str]:
    urls = [link.get("url", "") for link in dash["links"]]
    for p in promql.panels(dash):
        fc = p.get("fieldConfig", {})
        urls += [link["url"] for link in fc.get("defaults", {}).get("links", [])]
        for o in fc.get("overrides", []):
            for prop in o["properties"]:
                if prop["id"] == "links":
                    urls += [link["url"] for link in prop["value"]]
    return urls


def test_links_between_dashboards_and_to_the_runbook() -> None:
    overview = promql.load(DASHBOARDS["galera-cluster-overview.json"])
    node = promql.load(DASHBOARDS["galera-node-detail.json"])
    for dash in (overview, node):
        assert "galera" in dash["tags"]
        tag_links = [link for link in dash["links"] if link["type"] == "dashboards"]
        assert tag_links and tag_links[0]["tags"] == ["galera"] and tag_links[0]["includeVars"]
        assert any(u.startswith("${runbook_url}") for u in _all_links(dash))
    assert any(f"/d/{generate.NODE_UID}/" in u for u in _all_links(overview))


def test_runbook_anchors_match_the_alerts() -> None:
    """The dashboards' runbook base and lowercased anchors are exactly the alerts' runbook_url."""
    rules = yaml.safe_load((promql.REPO / "rules" / "galera-alerts.yml").read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    assert alerts
    for rule in alerts:
        url = rule["annotations"]["runbook_url"]
        assert url == f"{generate.RUNBOOK_URL}#{rule['alert'].lower()}", rule["alert"]
    expr = generate.firing_alerts_expr()
    for rule in alerts:
        assert f'"{rule["alert"].lower()}", "alertname", "{rule["alert"]}"' in expr
    for _text, _color, alert in generate.SCENARIOS.values():
        assert not alert or alert in {r["alert"] for r in alerts}, alert


def test_runbook_has_a_heading_per_linked_alert() -> None:
    runbook = promql.REPO / "docs" / "runbook.md"
    if not runbook.exists():
        pytest.skip("docs/runbook.md is not written yet")
    headings = {
        re.sub(r"[^a-z0-9 _-]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in runbook.read_text().splitlines()
        if line.startswith("#")
    }
    for name in generate.alert_names():
        assert name.lower() in headings, f"docs/runbook.md has no heading for {name}"


def test_selector_scanner() -> None:
    """The scanner the name and filter checks rely on."""
    found = promql.selectors(
        'sum by (cluster) (rate(a_total{cluster="$cluster", x=~"y|z"}[5m])) * 1e18 '
        '> bool 0 or on (instance) label_replace(b, "l", "v", "", "") unless vector(0)'
    )
    assert [s.name for s in found] == ["a_total", "b"]
    assert found[0].has("cluster", ("=",), "$cluster")
    assert found[0].matchers[1] == ("x", "=~", "y|z")
    assert [s.name for s in promql.selectors('{__name__=~"a|b"}')] == [None]


def test_provisioning_examples() -> None:
    """The provider file loads the dashboards' folder; the data source example is Prometheus."""
    prov = promql.DASHBOARD_DIR / "provisioning"
    provider = yaml.safe_load((prov / "galera-dashboards.yml").read_text())
    assert provider["apiVersion"] == 1
    (entry,) = provider["providers"]
    assert entry["type"] == "file" and entry["options"]["path"].startswith("/")
    source = yaml.safe_load((prov / "prometheus-datasource.yml").read_text())
    assert [d["type"] for d in source["datasources"]] == ["prometheus"]
    doc = (promql.REPO / "docs" / "dashboards.md").read_text()
    assert "galera-dashboards.yml" in doc
    assert "### Where each guide scenario appears on the overview" in doc
    for text, _color, _alert in generate.SCENARIOS.values():
        if text != "Node joining (state transfer)" and not text.startswith("Unknown"):
            assert text.split(":")[0] in doc, f"docs/dashboards.md does not show {text!r}"
