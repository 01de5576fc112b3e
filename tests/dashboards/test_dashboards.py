"""The dashboards JSON: current, well-formed, valid PromQL, only real metric names, filtered."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dashboards import promql
from tests.dashboards.generator import codes, frame, galera_dashboards, queries
from tests.support import known_metrics, yamlfile

PROMTOOL = "/usr/bin/promtool"
DASHBOARDS = {p.name: p for p in promql.DASHBOARD_FILES}
QUERIES = promql.all_queries()
CURRENT_PANEL_TYPES = {"timeseries", "stat", "table", "state-timeline", "text", "row"}


@pytest.fixture(scope="module")
def known_names() -> set[str]:
    return (
        known_metrics.golden_names()
        | known_metrics.log_source_names()
        | known_metrics.sst_activity_names()
        | known_metrics.recording_rule_names()
        | known_metrics.PROMETHEUS_OWN
    )


def _id(q: promql.Query) -> str:
    return f"{q.dashboard}:{q.panel}:{q.ref}"


def test_both_dashboards_exist() -> None:
    assert set(DASHBOARDS) == {"galera-cluster-overview.json", "galera-node-detail.json"}


def test_committed_json_is_what_generate_py_writes() -> None:
    for path, text in galera_dashboards.generated().items():
        assert path.read_text() == text, f"{path.name} is stale: run python dashboards/generate.py"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_shape(name: str) -> None:
    dash = promql.load(DASHBOARDS[name])
    assert (
        dash["uid"]
        == {
            "galera-cluster-overview.json": frame.OVERVIEW_UID,
            "galera-node-detail.json": frame.NODE_UID,
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
    wide = query.panel in queries.CLUSTER_WIDE_PANELS or query.panel.startswith("variable")
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
    assert any(f"/d/{frame.NODE_UID}/" in u for u in _all_links(overview))


def test_runbook_anchors_match_the_alerts() -> None:
    """The dashboards' runbook base and lowercased anchors are exactly the alerts' runbook_url."""
    rules = yamlfile.safe_load((promql.REPO / "rules" / "galera-alerts.yml").read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    assert alerts
    for rule in alerts:
        url = rule["annotations"]["runbook_url"]
        assert url == f"{frame.RUNBOOK_URL}#{rule['alert'].lower()}", rule["alert"]
    expr = queries.firing_alerts_expr()
    for rule in alerts:
        assert f'"{rule["alert"].lower()}", "alertname", "{rule["alert"]}"' in expr
    for scenario in codes.SCENARIOS.values():
        assert not scenario.alert or scenario.alert in {r["alert"] for r in alerts}, scenario


def test_runbook_has_a_heading_per_linked_alert() -> None:
    runbook = promql.REPO / "docs" / "runbook.md"
    if not runbook.exists():
        pytest.skip("docs/runbook.md is not written yet")
    headings = {
        re.sub(r"[^a-z0-9 _-]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in runbook.read_text().splitlines()
        if line.startswith("#")
    }
    for name in queries.alert_names():
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
    provider = yamlfile.safe_load((prov / "galera-dashboards.yml").read_text())
    assert provider["apiVersion"] == 1
    (entry,) = provider["providers"]
    assert entry["type"] == "file" and entry["options"]["path"].startswith("/")
    source = yamlfile.safe_load((prov / "prometheus-datasource.yml").read_text())
    assert [d["type"] for d in source["datasources"]] == ["prometheus"]
    doc = (promql.REPO / "docs" / "dashboards.md").read_text()
    assert "galera-dashboards.yml" in doc
    assert "### Where each guide scenario appears on the overview" in doc
    for name, scenario in codes.SCENARIOS.items():
        assert f"`{name}`" in doc, f"docs/dashboards.md does not list scenario {name}"
        assert scenario.text.split(":")[0] in doc, f"docs/dashboards.md does not show {name}"
    assert "none named" in doc


# --------------------------------------------------------------------------- decision logic
# Exporter series a decision is made of. A panel may show them per node, but never compare
# nodes (rank, aggregate across nodes, join on the cluster) to pick one: that is the decision
# model's job, recorded once in rules/galera-recording.yml (issue 11: the overview's own
# "highest known seqno" named a stale node the alerts did not).
DECISION_INPUTS = frozenset(
    {
        "up", "galera_up", "galera_mysql_error", "galera_cluster_status", "galera_status_info",
        "galera_last_committed", "galera_grastate_seqno", "galera_grastate_safe_to_bootstrap",
        "galera_grastate_info", "galera_grastate_modified_timestamp_seconds",
        "galera_recovered_seqno", "galera_recovered_position_info",
        "galera_recovered_position_timestamp_seconds", "galera_gvwstate_present",
        "galera_gvwstate_member_info", "galera_sst_in_progress", "galera_node_tiebreak_key",
    }
)  # fmt: skip
REMOVED_SERIES = (
    "instance:galera_node_state:bool",
    "cluster_state:galera_nodes:sum",
    "instance:galera_last_known_seqno:max",
)
JOIN = re.compile(r"\b(on|ignoring)\s*\(|\bgroup_(left|right)\b|\bsort(_desc)?\s*\(")


def decision_logic(expr: str) -> list[str]:
    """Why `expr` decides between nodes from exporter series itself (empty: it does not)."""
    found = []
    for agg in promql.aggregations(expr):
        # A nameless selector ({__name__=...}) is never one of the named inputs.
        names = {s.name for s in agg.selectors if s.name is not None}
        inputs = sorted(names & DECISION_INPUTS)
        if inputs and not agg.keeps_nodes_apart():
            by = f" {agg.grouping} ({', '.join(agg.labels)})" if agg.grouping else ""
            found.append(f"{agg.op}{by} over {', '.join(inputs)}")
    if {s.name for s in promql.selectors(expr)} & DECISION_INPUTS and JOIN.search(expr):
        found.append("joins or sorts exporter series across nodes")
    return found


def test_the_decision_logic_detector() -> None:
    """It flags the panels issue 11 removed, and passes per-node presentation."""
    old_candidate = (
        'topk(1, max by (instance) (label_replace(galera_last_committed{cluster="c"}, '
        '"src", "running", "", "")) >= 0)'
    )
    old_safe = 'max by (instance) (galera_grastate_safe_to_bootstrap{cluster="c"} == 1)'
    old_scenario = 'max by (cluster) (galera_grastate_safe_to_bootstrap{cluster="c"}) == 1'
    old_max = "galera_recovered_seqno == on (cluster) group_left max(galera_recovered_seqno)"
    assert decision_logic(old_candidate) == ["topk over galera_last_committed"]
    assert decision_logic(old_scenario) == [
        "max by (cluster) over galera_grastate_safe_to_bootstrap"
    ]
    assert decision_logic(old_max) == [
        "max over galera_recovered_seqno",
        "joins or sorts exporter series across nodes",
    ]
    assert decision_logic(old_safe) == []  # per node: a fact shown, not a choice
    assert decision_logic("sum(x) by (instance)") == []
    assert decision_logic("max(galera_up) by (cluster)") == ["max by (cluster) over galera_up"]


@pytest.mark.parametrize("query", QUERIES, ids=_id)
def test_no_panel_query_holds_decision_logic(query: promql.Query) -> None:
    assert decision_logic(query.expr) == [], query.expr


def test_scenario_and_candidate_panels_read_only_the_recorded_series() -> None:
    overview = [q for q in QUERIES if q.dashboard == "galera-cluster-overview.json"]

    def names(panel: str) -> set[str | None]:
        found = {s.name for q in overview if q.panel == panel for s in promql.selectors(q.expr)}
        assert found, f"no panel {panel!r}"
        return found

    recorded = known_metrics.recording_rule_names()
    assert names("Guide scenario") == {"cluster:galera_scenario:info"}
    assert names("Bootstrap candidate") == {"instance:galera_bootstrap_candidate:bool"}
    # The evidence table: recorded series, plus grastate.dat's own safe_to_bootstrap per node.
    assert names("Bootstrap evidence") - {"galera_grastate_safe_to_bootstrap"} <= recorded
    node_state = {
        ("galera-cluster-overview.json", "Bootstrap evidence", "A"),
        ("galera-cluster-overview.json", "Nodes", "C"),
        ("galera-cluster-overview.json", "Node state", "A"),
        ("galera-node-detail.json", "Node state", "A"),
        ("galera-node-detail.json", "State history", "A"),
    }
    for q in QUERIES:
        if (q.dashboard, q.panel, q.ref) in node_state:
            assert {s.name for s in promql.selectors(q.expr)} == {"instance:galera_node:state"}
    for path in DASHBOARDS.values():
        text = path.read_text()
        for name in REMOVED_SERIES:
            assert name not in text, f"{path.name} still reads the removed {name}"


def _rule_expr(record: str) -> str:
    rules = yamlfile.safe_load((promql.REPO / "rules" / "galera-recording.yml").read_text())
    (expr,) = [r["expr"] for g in rules["groups"] for r in g["rules"] if r.get("record") == record]
    return str(expr)


def test_every_recorded_scenario_and_state_has_a_mapping() -> None:
    """The panels map every value the rules can record, and nothing they cannot."""
    scenarios = set(re.findall(r'"scenario", "(\w+)"', _rule_expr("cluster:galera_scenario:info")))
    assert scenarios == set(codes.SCENARIOS)
    values = {s.code for s in codes.SCENARIOS.values()}
    assert len(values) == len(scenarios) and codes.UNKNOWN_SCENARIO.code not in values
    # cluster:galera_scenario:code records the panel's own codes: the label comes from them.
    info = _rule_expr("cluster:galera_scenario:info")
    by_code = dict(re.findall(r'code == (\d+), "scenario", "(\w+)"', info))
    assert {name: int(c) for c, name in by_code.items()} == {
        name: s.code for name, s in codes.SCENARIOS.items()
    }
    recorded = {
        int(c) for c in re.findall(r"\* 0 \+ (\d+)", _rule_expr("cluster:galera_scenario:code"))
    }
    assert recorded == values
    # Primary nodes are `instance:up:galera_job` (1) relabelled; every other state is one
    # code of instance:galera_node_not_primary:code, relabelled by `code == N`.
    state_rule = _rule_expr("instance:galera_node:state")
    assert re.search(r'instance:up:galera_job unless[^"]*"state", "primary"', state_rule)
    named = dict(re.findall(r'code == (\d), "state", "(\w+)"', state_rule))
    states = {int(c) for c in named} | {1}
    assert states == set(range(8))
    (mapping,) = codes.NODE_STATE_MAP
    assert {int(k) for k in mapping["options"]} == states
    forces = set(re.findall(r'"force", "(\d)"', _rule_expr(queries.CANDIDATE)))
    assert forces == set(codes.FORCE_CODES)


def test_candidate_panel_says_none_named_without_a_series() -> None:
    overview = promql.load(DASHBOARDS["galera-cluster-overview.json"])
    (candidate,) = [p for p in promql.panels(overview) if p["title"] == "Bootstrap candidate"]
    assert candidate["fieldConfig"]["defaults"]["noValue"] == "none named"
    (target,) = candidate["targets"]
    assert "vector(" not in target["expr"] and "absent(" not in target["expr"]
