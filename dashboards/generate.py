"""Builds the two Grafana dashboards (cluster overview, node detail) as JSON from plain Python.

Run `python dashboards/generate.py` after a change and commit the JSON it writes;
tests/dashboards checks that the committed files equal what this script generates. Plain dicts
rather than an SDK: the JSON model is the contract Grafana imports, and it stays readable here.

Conventions: fixed uids, a `datasource` variable (no datasource uid in any panel), `cluster` and
`instance` variables, every selector filtered by them (cluster-wide panels by `cluster` only:
they must see every node), `$__rate_interval` for rates, value mappings for state codes.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Json = dict[str, Any]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ALERT_RULES = REPO / "rules" / "galera-alerts.yml"

OVERVIEW_UID = "galera-cluster-overview"
NODE_UID = "galera-node-detail"
OVERVIEW_FILE = HERE / "galera-cluster-overview.json"
NODE_FILE = HERE / "galera-node-detail.json"
# Same base as the alerts' runbook_url, so the one sed in docs/runbook.md#configuration that
# points the alerts at your own wiki fixes the dashboards too.
RUNBOOK_URL = "https://github.com/galera-exporter/galera-exporter/blob/main/docs/runbook.md"
SCHEMA_VERSION = 39  # Grafana 10.4 / 11; older Grafana (>= 9) migrates it on import
TAGS = ["galera", "mariadb"]

DS = {"type": "prometheus", "uid": "${datasource}"}

# Filters every selector carries.
C = 'cluster="$cluster"'
CI_MULTI = 'cluster="$cluster", instance=~"$instance"'  # overview: instance is multi-select
CI_ONE = 'cluster="$cluster", instance="$instance"'  # node detail: one node

# Panels that must see every node of the cluster whatever the instance selection; their
# selectors are filtered by cluster only (tests/dashboards knows this list).
CLUSTER_WIDE_PANELS = frozenset(
    {
        "Guide scenario",
        "Bootstrap candidate",
        "Bootstrap evidence",
        "Primary components",
        "Primary component size",
        "Galera alerts firing",
        "Firing Galera alerts",
    }
)

GREEN, RED, ORANGE, YELLOW, BLUE, PURPLE, GREY = (
    "green",
    "red",
    "orange",
    "yellow",
    "blue",
    "purple",
    "text",
)


# --------------------------------------------------------------------------- value mappings
def value_map(entries: dict[int | str, tuple[str, str]]) -> Json:
    """{raw value: (text, color)} -> one Grafana value mapping."""
    return {
        "type": "value",
        "options": {
            str(value): {"text": text, "color": color, "index": i}
            for i, (value, (text, color)) in enumerate(entries.items())
        },
    }


def range_map(low: float, high: float, text: str, color: str) -> Json:
    return {
        "type": "range",
        "options": {"from": low, "to": high, "result": {"text": text, "color": color, "index": 0}},
    }


def null_map(text: str, color: str = GREY) -> Json:
    return {
        "type": "special",
        "options": {"match": "null", "result": {"text": text, "color": color, "index": 0}},
    }


# Node state: the value of instance:galera_node:state (rules/galera-recording.yml) is its code.
NODE_STATE_MAP = [
    value_map(
        {
            0: ("unobservable", PURPLE),
            1: ("Primary", GREEN),
            2: ("non-Primary", RED),
            3: ("joining (SST)", YELLOW),
            4: ("stopped (clean)", BLUE),
            5: ("crashed", RED),
            6: ("down (stopped or crashed?)", RED),
            7: ("no access (exporter refused)", PURPLE),
        }
    )
]
CLUSTER_STATUS_MAP = [
    value_map(
        {
            0: ("mysqld down", GREY),
            1: ("Primary", GREEN),
            2: ("non-Primary", RED),
            3: ("Disconnected", RED),
        }
    )
]
LOCAL_STATE_MAP = [
    value_map(
        {
            -1: ("mysqld down", GREY),
            0: ("Initialized", RED),
            1: ("Joining", YELLOW),
            2: ("Donor/Desynced", ORANGE),
            3: ("Joined", YELLOW),
            4: ("Synced", GREEN),
        }
    )
]
UP_MAP = [value_map({0: ("down", RED), 1: ("up", GREEN)})]
# Recovery phase from the wsrep status file (and the SST marker while a mariabackup SST has
# emptied the joiner's datadir, file included): the codes of recovery_phase_expr.
RECOVERY_PHASES = {
    7: ("SST failed (joiner)", RED),
    6: ("joiner: SST", YELLOW),
    5: ("joiner: IST", YELLOW),
    4: ("donor", ORANGE),
    3: ("joined: catching up", BLUE),
    2: ("synced", GREEN),
    1: ("starting / stopped", GREY),
    0: ("no status file", GREY),
}
RECOVERY_MAP = [value_map(dict(sorted(RECOVERY_PHASES.items())))]
ON_OFF_MAP = [value_map({0: ("OFF", RED), 1: ("ON", GREEN)})]
READY_MAP = [value_map({0: ("not ready", RED), 1: ("ready", GREEN)}), null_map("no data")]
SAFE_MAP = [value_map({0: ("0", GREY), 1: ("1 (safe)", GREEN)})]
SEQNO_MAP = [value_map({-1: ("-1 (running or crashed)", GREY)}), null_map("—")]
CONF_ID_MAP = [value_map({-1: ("none (not Primary)", RED)})]


@dataclass(frozen=True)
class Scenario:
    """How the overview shows one `scenario` of cluster:galera_scenario:info."""

    code: int  # the panel's value; its value mapping gives text and colour
    text: str
    color: str
    alert: str  # whose runbook heading has the steps; "" = the runbook's top


# The scenarios the decision model records (cluster:galera_scenario:info of
# rules/galera-recording.yml), in the rules' order of precedence. Healthy green, degraded
# orange, every outage red.
SCENARIOS: dict[str, Scenario] = {
    "uuid_conflict": Scenario(
        9, "Configuration error: two clusters share one cluster label", RED,
        "GaleraClusterUuidConflict",
    ),
    "split_brain": Scenario(8, "SPLIT BRAIN: several Primary components", RED, "GaleraSplitBrain"),
    "healthy": Scenario(1, "Cluster fully functional", GREEN, ""),
    "degraded": Scenario(2, "Degraded: Primary component running, node(s) missing", ORANGE, ""),
    "unobservable": Scenario(
        3, "Unobservable: no node seen serving, some node not observed", RED,
        "GaleraClusterUnobservable",
    ),
    "partitioned": Scenario(
        4, "Connection failure between all nodes", RED, "GaleraClusterPartitioned"
    ),
    "quorum_lost": Scenario(5, "Quorum lost: survivor(s) non-Primary", RED, "GaleraQuorumLost"),
    "stopped": Scenario(6, "All nodes are gracefully stopped", RED, "GaleraClusterStopped"),
    "crashed": Scenario(7, "All nodes are down (terminated)", RED, "GaleraClusterCrashed"),
}  # fmt: skip
UNKNOWN_SCENARIO = Scenario(-1, "Unknown scenario (rules newer than this dashboard?)", PURPLE, "")
SCENARIO_MAP = [
    value_map({s.code: (s.text, s.color) for s in (*SCENARIOS.values(), UNKNOWN_SCENARIO)})
]

# instance:galera_bootstrap_candidate:bool{force} as the candidate panel's value.
FORCE_CODES = {"0": 1, "1": 2}
CANDIDATE_MAP = [
    value_map(
        {
            1: ("bootstrap it (safe_to_bootstrap: 1, no force)", GREEN),
            2: ("force safe_to_bootstrap first, then bootstrap it", ORANGE),
        }
    )
]
# The evidence table's position column, from three recorded series (see positions_expr).
POSITION_MAP = [
    value_map(
        {
            0: ("known", GREEN),
            1: ("covered by a running survivor", BLUE),
            2: ("UNKNOWN: run galera_recovery there", RED),
        }
    )
]


def anchor(alertname: str) -> str:
    """The runbook heading anchor of an alert: its name lowercased (GitHub heading ids)."""
    return alertname.lower()


# --------------------------------------------------------------------------- expressions
def node_state_expr(sel: str) -> str:
    """One series per node, valued with the state code of instance:galera_node:state.

    `max by (instance)` only drops the `state` label (one series per node: a state change is
    then a new value, not a new series); the rule records exactly one state per node.
    """
    return f"max by (instance) (instance:galera_node:state{{{sel}}})"


def cluster_status_expr(sel: str) -> str:
    codes = {"Primary": 1, "non-Primary": 2, "Disconnected": 3}
    terms = [
        f'(galera_cluster_status{{{sel}, status="{status}"}} == 1) * {code}'
        for status, code in codes.items()
    ]
    terms.append(f"(galera_up{{{sel}}} == 0) * 0")  # mysqld down: no status series at all
    return "max by (instance) (\n    " + "\n  or ".join(terms) + "\n)"


def local_state_expr(sel: str) -> str:
    return (
        f"max by (instance) (\n    galera_local_state_code{{{sel}}}\n"
        f"  or (galera_up{{{sel}}} == 0) - 1\n)"
    )


def recovery_phase_expr(sel: str) -> str:
    """One series per node: the highest-priority phase whose evidence exists (`or` keeps the
    first term's series for an instance). Reads series that exist only in that phase."""
    terms = [
        # Per node: both sides keep only `instance` (no join across nodes).
        f'(max by (instance) (galera_status_file_messages{{{sel}, level="error", kind="sst"}})'
        f' and max by (instance) (galera_status_file_state_info{{{sel}, state="JOINING"}}))'
        " * 0 + 7",
        f'max by (instance) (galera_status_file_transfer{{{sel}, role="joiner", kind="sst"}}'
        f" or galera_sst_in_progress{{{sel}}} == 1) * 0 + 6",
        f'max by (instance) (galera_status_file_transfer{{{sel}, role="joiner", kind="ist"}})'
        " * 0 + 5",
        f'max by (instance) (galera_status_file_transfer{{{sel}, role="donor"}}) * 0 + 4',
        f'max by (instance) (galera_status_file_state_info{{{sel}, state="JOINED"}}) * 0 + 3',
        f'max by (instance) (galera_status_file_state_info{{{sel}, state="SYNCED"}}) * 0 + 2',
        f"max by (instance) (galera_status_file_state_info{{{sel}}}) * 0 + 1",
        f"max by (instance) (galera_status_file_present{{{sel}}} == 0) * 0",
    ]
    return "\n  or ".join(terms)


def scenario_expr() -> str:
    """cluster:galera_scenario:info as a code (SCENARIOS) with the runbook anchor as a label.

    Presentation only: each term picks one value of the recorded `scenario` label, so the
    panel can map it to a text and a colour and link its runbook heading. A scenario this
    dashboard does not know still shows (code -1, the `scenario` label as its legend).
    """
    terms = [
        f'label_replace(cluster:galera_scenario:info{{{C}, scenario="{name}"}} * {s.code},\n'
        f'    "anchor", "{anchor(s.alert) if s.alert else ""}", "", "")'
        for name, s in SCENARIOS.items()
    ]
    terms.append(
        f"label_replace(cluster:galera_scenario:info{{{C}}} * 0 - {-UNKNOWN_SCENARIO.code},\n"
        '    "anchor", "", "", "")'
    )
    # `or on (cluster)`: the first term that has the cluster wins; the fallback comes last.
    return "\n  or on (cluster)\n".join(terms)


def force_coded(metric: str, sel: str, by: str = "") -> str:
    """The bootstrap candidate with its `force` label as the value (FORCE_CODES)."""
    agg = f"max by ({by}) " if by else ""
    return "\nor\n".join(
        f'{agg}({metric}{{{sel}, force="{force}"}} * {code})' for force, code in FORCE_CODES.items()
    )


CANDIDATE = "instance:galera_bootstrap_candidate:bool"


def candidate_expr() -> str:
    """THE node to bootstrap, read from the rule: no series means no node is named."""
    return force_coded(CANDIDATE, C)


def position_status_expr() -> str:
    """Per node: 0 position known, 1 covered by a running survivor, 2 unknown (POSITION_MAP).

    Three recorded series side by side; nodes in a Primary component have none of them.
    """
    return (
        f"max by (instance) (instance:galera_position:seqno{{{C}}}) * 0\n"
        f"or max by (instance) (instance:galera_position_covered:bool{{{C}}})\n"
        f"or max by (instance) (instance:galera_position_unknown:bool{{{C}}}) * 2"
    )


def alert_names() -> list[str]:
    """Alert names defined in rules/galera-alerts.yml, in file order."""
    data = yaml.safe_load(ALERT_RULES.read_text())
    return [
        str(rule["alert"])
        for group in data.get("groups", [])
        for rule in group.get("rules", [])
        if "alert" in rule
    ]


# The ALERTS labels the firing-alerts table shows (ALERTS has no annotations), in this order;
# `kind`: GaleraExporterCannotQuery's reason, `collector`: GaleraExporterCollectorFailing's.
ALERT_COLUMNS = ("severity", "alertname", "instance", "advice", "kind", "collector", "anchor")


def firing_alerts_expr() -> str:
    """Firing Galera alerts with an `anchor` label: the runbook heading (alertname lowercased).

    ALERTS carries no annotations and Grafana has no lowercase formatter for data links, so the
    anchor is added here, one label_replace per known alert; an unknown Galera* alert gets an
    empty anchor (the runbook's top).
    """
    expr = f'ALERTS{{alertname=~"Galera.*", alertstate="firing", {C}}}'
    for name in alert_names():
        expr = f'label_replace({expr},\n  "anchor", "{anchor(name)}", "alertname", "{name}")'
    return expr


# --------------------------------------------------------------------------- panel builders
class Layout:
    """Hands out unique panel ids and grid positions, row by row."""

    def __init__(self) -> None:
        self.next_id = 1
        self.x = 0
        self.y = 0
        self.row_h = 0

    def place(self, w: int, h: int) -> tuple[int, Json]:
        if self.x + w > 24:
            self.newline()
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        pid = self.next_id
        self.next_id += 1
        return pid, pos

    def newline(self) -> None:
        self.y += self.row_h
        self.x = 0
        self.row_h = 0


def target(
    expr: str,
    ref: str = "A",
    legend: str = "",
    *,
    instant: bool = False,
    table: bool = False,
) -> Json:
    t: Json = {
        "datasource": DS,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend,
        "range": not instant,
        "instant": instant,
        "refId": ref,
    }
    if table:
        t["format"] = "table"
    return t


def thresholds(*steps: tuple[float | None, str]) -> Json:
    return {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for value, color in steps],
    }


BASE_THRESHOLDS = thresholds((None, GREEN))


def panel(
    layout: Layout,
    kind: str,
    title: str,
    size: tuple[int, int],
    targets: list[Json],
    *,
    description: str = "",
    defaults: Json | None = None,
    options: Json | None = None,
    overrides: list[Json] | None = None,
    transformations: list[Json] | None = None,
    links: list[Json] | None = None,
) -> Json:
    pid, pos = layout.place(*size)
    p: Json = {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": pos,
        "targets": targets,
        "fieldConfig": {"defaults": defaults or {}, "overrides": overrides or []},
        "options": options or {},
    }
    if transformations:
        p["transformations"] = transformations
    if links:
        p["links"] = links
    return p


def stat(
    layout: Layout,
    title: str,
    targets: list[Json],
    w: int = 4,
    h: int = 4,
    *,
    description: str = "",
    mappings: list[Json] | None = None,
    steps: Json | None = None,
    unit: str = "none",
    text_mode: str = "value",
    color_mode: str = "background",
    decimals: int | None = None,
    links: list[Json] | None = None,
    no_value: str | None = None,
) -> Json:
    defaults: Json = {
        "mappings": mappings or [],
        "thresholds": steps or thresholds((None, BLUE)),
        "color": {"mode": "thresholds"},
        "unit": unit,
        "links": links or [],
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    if no_value is not None:
        defaults["noValue"] = no_value
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "orientation": "auto",
        "textMode": text_mode,
        "colorMode": color_mode,
        "graphMode": "none",
        "justifyMode": "center",
        "wideLayout": True,
        "showPercentChange": False,
    }
    return panel(
        layout,
        "stat",
        title,
        (w, h),
        targets,
        description=description,
        defaults=defaults,
        options=options,
    )


def timeseries(
    layout: Layout,
    title: str,
    targets: list[Json],
    w: int = 12,
    h: int = 8,
    *,
    description: str = "",
    unit: str = "short",
    draw: str = "line",
    min_zero: bool = True,
) -> Json:
    custom: Json = {
        "drawStyle": draw,
        "lineWidth": 1,
        "fillOpacity": 10,
        "showPoints": "never",
        "spanNulls": False,
        "axisBorderShow": False,
    }
    defaults: Json = {
        "custom": custom,
        "color": {"mode": "palette-classic"},
        "unit": unit,
        "thresholds": BASE_THRESHOLDS,
        "mappings": [],
    }
    if min_zero:
        defaults["min"] = 0
    options = {
        "legend": {
            "showLegend": True,
            "displayMode": "table",
            "placement": "bottom",
            "calcs": ["lastNotNull", "max"],
        },
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel(
        layout,
        "timeseries",
        title,
        (w, h),
        targets,
        description=description,
        defaults=defaults,
        options=options,
    )


def state_timeline(
    layout: Layout,
    title: str,
    targets: list[Json],
    w: int = 24,
    h: int = 6,
    *,
    description: str = "",
    mappings: list[Json] | None = None,
    overrides: list[Json] | None = None,
) -> Json:
    defaults: Json = {
        "custom": {"fillOpacity": 80, "lineWidth": 0, "hideFrom": {"legend": False}},
        "color": {"mode": "thresholds"},
        "thresholds": thresholds((None, GREY)),
        "mappings": mappings or [],
    }
    options = {
        "mergeValues": True,
        "showValue": "auto",
        "alignValue": "left",
        "rowHeight": 0.9,
        "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom"},
        "tooltip": {"mode": "single", "sort": "none"},
    }
    return panel(
        layout,
        "state-timeline",
        title,
        (w, h),
        targets,
        description=description,
        defaults=defaults,
        options=options,
        overrides=overrides,
    )


def by_name(name: str, *properties: tuple[str, Any]) -> Json:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": key, "value": value} for key, value in properties],
    }


def by_ref(ref: str, *properties: tuple[str, Any]) -> Json:
    return {
        "matcher": {"id": "byFrameRefID", "options": ref},
        "properties": [{"id": key, "value": value} for key, value in properties],
    }


COLOR_CELL = ("custom.cellOptions", {"type": "color-background", "mode": "basic"})
COLOR_TEXT = ("custom.cellOptions", {"type": "color-text"})


def node_table(
    layout: Layout,
    title: str,
    queries: list[tuple[str, str, str]],
    columns: dict[str, tuple[list[Json], tuple[str, Any]]],
    *,
    description: str,
    h: int,
    rename_labels: dict[str, str] | None = None,
) -> Json:
    """A table with one row per node: instant queries (refId, column, expr) merged on instance.

    `columns` gives a column's value mappings and cell style; `rename_labels` shows extra
    labels a query keeps (after the value columns).
    """
    rename = {f"Value #{ref}": name for ref, name, _ in queries}
    rename["instance"] = "Node"
    rename |= rename_labels or {}
    order = {"instance": 0}
    order |= {f"Value #{ref}": i + 1 for i, (ref, _, _) in enumerate(queries)}
    order |= {label: len(order) + i for i, label in enumerate(rename_labels or {})}
    overrides = [
        by_name("Node", ("links", [node_detail_link("${__value.raw}")]), ("custom.width", 190))
    ]
    overrides += [
        by_name(name, ("mappings", maps), style) for name, (maps, style) in columns.items()
    ]
    return panel(
        layout,
        "table",
        title,
        (24, h),
        [target(expr, ref, instant=True, table=True) for ref, _, expr in queries],
        description=description,
        defaults={
            "custom": {"align": "center", "cellOptions": {"type": "auto"}, "inspect": False},
            "color": {"mode": "thresholds"},
            "thresholds": thresholds((None, GREY)),
            "mappings": [],
            "unit": "none",
            "decimals": 0,
        },
        options={
            "showHeader": True,
            "cellHeight": "sm",
            "footer": {"show": False, "reducer": ["sum"], "countRows": False, "fields": ""},
            "sortBy": [{"displayName": "Node", "desc": False}],
        },
        overrides=overrides,
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "indexByName": order,
                    "renameByName": rename,
                },
            },
        ],
    )


# --------------------------------------------------------------------------- variables, links
def datasource_variable() -> Json:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
    }


def query_variable(name: str, label: str, query: str, *, multi: bool) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "definition": query,
        "current": {},
        "hide": 0,
        "includeAll": multi,
        "multi": multi,
        "options": [],
        "refresh": 2,  # on time range change: nodes come and go
        "regex": "",
        "sort": 3 if name == "instance" else 1,
        "skipUrlSync": False,
    } | ({"allValue": ".+"} if multi else {})


def runbook_variable() -> Json:
    return {
        "name": "runbook_url",
        "label": "Runbook",
        "type": "constant",
        "query": RUNBOOK_URL,
        "hide": 2,
        "skipUrlSync": False,
    }


def variables(*, multi_instance: bool) -> list[Json]:
    # From the recording rule copying `up` of the galera job: it exists while Prometheus
    # scrapes the target, so a cluster whose exporters are all unreachable stays selectable.
    return [
        datasource_variable(),
        query_variable(
            "cluster", "Cluster", "label_values(instance:up:galera_job, cluster)", multi=False
        ),
        query_variable(
            "instance",
            "Node",
            'label_values(instance:up:galera_job{cluster="$cluster"}, instance)',
            multi=multi_instance,
        ),
        runbook_variable(),
    ]


def dashboard_links() -> list[Json]:
    return [
        {
            "title": "Galera dashboards",
            "type": "dashboards",
            "tags": ["galera"],
            "asDropdown": False,
            "includeVars": True,
            "keepTime": True,
            "targetBlank": False,
            "icon": "external link",
            "tooltip": "",
            "url": "",
        },
        {
            "title": "Runbook",
            "type": "link",
            "url": "${runbook_url}",
            "tags": [],
            "asDropdown": False,
            "includeVars": False,
            "keepTime": False,
            "targetBlank": True,
            "icon": "doc",
            "tooltip": "One heading per alert: meaning, impact, how to confirm, the fix",
        },
    ]


def node_detail_link(instance: str) -> Json:
    return {
        "title": "Node detail",
        "url": f"/d/{NODE_UID}/galera-node-detail?${{__url_time_range}}"
        f"&var-datasource=${{datasource}}&var-cluster=${{cluster}}&var-instance={instance}",
        "targetBlank": False,
    }


def runbook_link(title: str, anchor_ref: str) -> Json:
    return {"title": title, "url": f"${{runbook_url}}#{anchor_ref}", "targetBlank": True}


def dashboard(uid: str, title: str, description: str, panels: list[Json], *, multi: bool) -> Json:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": TAGS,
        "editable": True,
        "graphTooltip": 1,
        "timezone": "",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "templating": {"list": variables(multi_instance=multi)},
        "links": dashboard_links(),
        "panels": panels,
    }


# --------------------------------------------------------------------------- overview
# The recovery guide's sections behind each scenario, and the alerts that then fire.
GUIDE: dict[str, tuple[str, tuple[str, ...]]] = {
    "healthy": ("Cluster fully functional", ()),
    "degraded": (
        "one / two nodes gracefully stopped, one node terminated, one node cut off, a joiner",
        ("GaleraNodeStopped", "GaleraClusterSingleNode", "GaleraNodeCrashed",
         "GaleraNodeIsolated", "GaleraNodeNotReady"),
    ),
    "quorum_lost": ("Two nodes are terminated", ("GaleraQuorumLost",)),
    "stopped": ("All nodes are gracefully stopped", ("GaleraClusterStopped",)),
    "crashed": ("All nodes are terminated", ("GaleraClusterCrashed",)),
    "partitioned": ("Connection failure between all nodes", ("GaleraClusterPartitioned",)),
    "split_brain": ("the guide's Note: two separate clusters", ("GaleraSplitBrain",)),
    "unobservable": ("— (exporters unreachable or refused)", ("GaleraClusterUnobservable",)),
    "uuid_conflict": ("— (scrape configuration)", ("GaleraClusterUuidConflict",)),
}  # fmt: skip


def scenario_runbook_text() -> str:
    rows = [
        "| scenario panel | recovery guide | alert / runbook step |",
        "|---|---|---|",
    ]
    for name, sc in sorted(SCENARIOS.items(), key=lambda item: item[1].code):
        guide, alerts = GUIDE[name]
        steps = " · ".join(f"[{a}](${{runbook_url}}#{anchor(a)})" for a in alerts) or "—"
        rows.append(f"| {sc.text} | {guide} | {steps} |")
    rows.append("")
    rows.append(
        "The scenario and the bootstrap candidate are recorded once by "
        "`rules/galera-recording.yml` (the alerts read the same series); no panel computes them. "
        "A node is named only when the evidence is complete; otherwise the scenario's alert "
        "says what to verify first."
    )
    return "\n".join(rows)


def overview() -> Json:
    lay = Layout()
    panels: list[Json] = []
    sel = CI_MULTI

    panels.append(
        stat(
            lay,
            "Guide scenario",
            [target(scenario_expr(), legend="{{scenario}}", instant=True)],
            w=7,
            description=(
                "The cluster's scenario as the decision model records it "
                "(cluster:galera_scenario:info of rules/galera-recording.yml, the series the "
                "scenario alerts read); no `for:` delay, unlike the alerts. Click for the "
                "runbook heading with the recovery steps. Whole cluster: not filtered by the "
                "Node variable."
            ),
            mappings=SCENARIO_MAP,
            no_value="No scenario recorded: load rules/galera-recording.yml",
            links=[runbook_link("Runbook: recovery steps", "${__field.labels.anchor}")],
        )
    )
    panels.append(
        stat(
            lay,
            "Bootstrap candidate",
            [target(candidate_expr(), legend="{{instance}}", instant=True)],
            w=7,
            description=(
                "THE node to bootstrap (`sudo cfg-cm-cluster --bootstrap-node`), as the decision "
                "model records it (instance:galera_bootstrap_candidate:bool, the series the "
                "scenario alerts' `bootstrap_node` comes from), and whether "
                "`--force-safe-to-bootstrap` is needed first. A node is named only when no "
                "Primary component runs and the evidence is complete: every node observed, "
                "every position known and of one history, one winner. Otherwise: none named; "
                "Bootstrap evidence below and the scenario alert say what to verify first. "
                "Whole cluster: not filtered by the Node variable."
            ),
            mappings=CANDIDATE_MAP,
            no_value="none named",
            text_mode="value_and_name",
            steps=thresholds((None, GREY)),
        )
    )
    panels.append(
        stat(
            lay,
            "Primary components",
            [
                target(
                    f"max by (cluster) (cluster:galera_primary_components:count{{{C}}})\n"
                    f"or on () max by (cluster) (cluster:galera_nodes:count{{{C}}}) * 0",
                    instant=True,
                )
            ],
            w=4,
            description=(
                "Distinct Primary components (distinct galera_component_info{members} among "
                "Primary nodes). 1 is healthy, 0 means no node can serve, 2 or more is a split "
                "brain: both sides accept writes."
            ),
            mappings=[
                value_map({0: ("0: none", RED), 1: ("1", GREEN)}),
                range_map(2, 1e9, "SPLIT BRAIN", RED),
            ],
        )
    )
    panels.append(
        stat(
            lay,
            "Primary component size",
            [
                target(
                    f"max by (cluster) (cluster:galera_primary_size:max{{{C}}})\n"
                    f"or on () max by (cluster) (cluster:galera_nodes:count{{{C}}}) * 0",
                    "A",
                    "members",
                    instant=True,
                ),
                target(
                    f"max by (cluster) (cluster:galera_expected_size:sum{{{C}}})",
                    "B",
                    "expected",
                    instant=True,
                ),
            ],
            w=3,
            description=(
                "Members of the (largest) Primary component as its nodes report them "
                "(wsrep_cluster_size), and the members a healthy cluster has."
            ),
            text_mode="value_and_name",
            color_mode="none",
        )
    )
    panels.append(
        stat(
            lay,
            "Galera alerts firing",
            [
                target(
                    f'count(ALERTS{{alertname=~"Galera.*", alertstate="firing", {C}}})'
                    " or vector(0)",
                    instant=True,
                )
            ],
            w=3,
            steps=thresholds((None, GREEN), (1, RED)),
        )
    )
    lay.newline()

    # The decision's evidence per node, all from the recorded series (whole cluster: the
    # evidence for a bootstrap is every node's, whatever the Node selection).
    evidence = [
        ("A", "Node state", node_state_expr(C)),
        ("B", "Position seqno", f"max by (instance, uuid) (instance:galera_position:seqno{{{C}}})"),
        ("C", "Position", position_status_expr()),
        ("D", "safe_to_bootstrap", f"max by (instance) (galera_grastate_safe_to_bootstrap{{{C}}})"),
        ("E", "Bootstrap candidate", force_coded(CANDIDATE, C, "instance")),
    ]  # fmt: skip
    panels.append(
        node_table(
            lay,
            "Bootstrap evidence",
            evidence,
            {
                "Node state": (NODE_STATE_MAP, COLOR_CELL),
                "Position": (POSITION_MAP, COLOR_CELL),
                "safe_to_bootstrap": (SAFE_MAP, COLOR_TEXT),
                "Bootstrap candidate": (CANDIDATE_MAP, COLOR_CELL),
            },
            rename_labels={"uuid": "History (cluster uuid)"},
            h=6,
            description=(
                "What the decision model (rules/galera-recording.yml) knows of each node: its "
                "state (instance:galera_node:state), its proven position and history "
                "(instance:galera_position:seqno{uuid}: nodes outside a Primary component), "
                "whether the position is known, covered by a running survivor or UNKNOWN "
                "(instance:galera_position_unknown:bool: run `galera_recovery` or `mariadbd "
                "--wsrep-recover` there before anything is forced), safe_to_bootstrap from "
                "grastate.dat, and the bootstrap candidate. Empty position cells: the node is "
                "in a Primary component. Whole cluster: not filtered by the Node variable."
            ),
        )
    )
    lay.newline()

    table_queries = [
        ("A", "Exporter up", f"max by (instance) (instance:up:galera_job{{{sel}}})"),
        ("B", "mysqld up", f"max by (instance) (galera_up{{{sel}}})"),
        ("C", "Node state", node_state_expr(sel)),
        ("D", "Cluster status", cluster_status_expr(sel)),
        ("E", "Local state", local_state_expr(sel)),
        ("F", "Size seen", f"max by (instance) (galera_cluster_size{{{sel}}})"),
        ("G", "conf_id", f"max by (instance) (galera_cluster_conf_id{{{sel}}})"),
        (
            "H",
            "safe_to_bootstrap",
            f"max by (instance) (galera_grastate_safe_to_bootstrap{{{sel}}})",
        ),
        ("I", "grastate seqno", f"max by (instance) (galera_grastate_seqno{{{sel}}})"),
        ("J", "recovered seqno", f"max by (instance) (galera_recovered_seqno{{{sel}}})"),
        ("K", "last committed", f"max by (instance) (galera_last_committed{{{sel}}})"),
        ("L", "Back-end ready", f"max by (instance) (galera_backend_ready{{{sel}}})"),
    ]
    panels.append(
        node_table(
            lay,
            "Nodes",
            table_queries,
            {
                "Exporter up": (UP_MAP, COLOR_CELL),
                "mysqld up": (UP_MAP, COLOR_CELL),
                "Node state": (NODE_STATE_MAP, COLOR_CELL),
                "Cluster status": (CLUSTER_STATUS_MAP, COLOR_CELL),
                "Local state": (LOCAL_STATE_MAP, COLOR_CELL),
                "conf_id": (CONF_ID_MAP, COLOR_TEXT),
                "safe_to_bootstrap": (SAFE_MAP, COLOR_TEXT),
                "grastate seqno": (SEQNO_MAP, COLOR_TEXT),
                "Back-end ready": (READY_MAP, COLOR_CELL),
            },
            h=7,
            description=(
                "One row per node. Node state (instance:galera_node:state): Primary / "
                "non-Primary (mysqld answers), joining (mysqld refuses during an SST), stopped "
                "(mysqld refuses, gvwstate.dat removed: a clean stop), crashed (gvwstate.dat "
                "kept), down (gvwstate.dat unreadable), no access (mysqld refuses the exporter), "
                "unobservable (exporter unreachable or mysqld hung). grastate seqno is -1 while "
                "mysqld runs or after a crash; recovered seqno comes from the last `WSREP: "
                "Recovered position` line of the error log. Click a node for its detail dashboard."
            ),
        )
    )
    lay.newline()

    panels.append(
        panel(
            lay,
            "table",
            "Firing Galera alerts",
            (15, 8),
            [target(firing_alerts_expr(), instant=True, table=True)],
            description=(
                'ALERTS{alertname=~"Galera.*"} that are firing for this cluster (cluster-level '
                "alerts carry no instance). ALERTS has the alerts' labels only, no annotations: "
                "the `bootstrap_node` annotation, the description with the exact commands and "
                "the evidence are in the notification (or Prometheus' Alerts page). A scenario "
                "alert with advice `bootstrap` names the node to bootstrap in its instance "
                "column (the same node as `bootstrap_node`); with advice `verify` no node is "
                "named and its description says what to verify first. Click the alert name for "
                "its runbook heading."
            ),
            defaults={
                "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False},
                "color": {"mode": "thresholds"},
                "thresholds": BASE_THRESHOLDS,
                "mappings": [],
                "noValue": "No Galera alert firing",
            },
            options={
                "showHeader": True,
                "cellHeight": "sm",
                "footer": {"show": False, "reducer": ["sum"], "countRows": False, "fields": ""},
                "sortBy": [{"displayName": "severity", "desc": False}],
            },
            overrides=[
                by_name(
                    "alertname",
                    ("links", [runbook_link("Runbook: ${__value.raw}", "${__data.fields.anchor}")]),
                ),
                by_name(
                    "severity",
                    (
                        "mappings",
                        [
                            value_map(
                                {
                                    "critical": ("critical", RED),
                                    "warning": ("warning", ORANGE),
                                    "info": ("info", BLUE),
                                }
                            )
                        ],
                    ),
                    COLOR_CELL,
                ),
                by_name("instance", ("links", [node_detail_link("${__value.raw}")])),
                by_name(
                    "advice",
                    (
                        "mappings",
                        [
                            value_map(
                                {
                                    "bootstrap": ("bootstrap this node (bootstrap_node)", RED),
                                    "verify": ("verify first: no node named", ORANGE),
                                }
                            )
                        ],
                    ),
                    COLOR_TEXT,
                ),
                by_name("anchor", ("custom.hidden", True)),
            ],
            transformations=[
                {
                    "id": "filterFieldsByName",
                    "options": {"include": {"names": list(ALERT_COLUMNS)}},
                },
                {
                    "id": "organize",
                    "options": {"indexByName": {name: i for i, name in enumerate(ALERT_COLUMNS)}},
                },
            ],
        )
    )
    pid, pos = lay.place(9, 8)
    panels.append(
        {
            "id": pid,
            "type": "text",
            "title": "Guide scenarios and their runbook steps",
            "description": "Where each scenario of the cluster recovery guide shows up.",
            "gridPos": pos,
            "options": {"mode": "markdown", "content": scenario_runbook_text()},
        }
    )
    lay.newline()

    panels.append(
        state_timeline(
            lay,
            "Node state",
            [target(node_state_expr(sel), legend="{{instance}}")],
            h=6,
            description="Node state over time (instance:galera_node:state of the decision model).",
            mappings=NODE_STATE_MAP,
        )
    )
    lay.newline()
    panels.append(
        state_timeline(
            lay,
            "Cluster status",
            [target(cluster_status_expr(sel), legend="{{instance}}")],
            w=12,
            description="wsrep_cluster_status per node; grey: mysqld down, gap: no exporter data.",
            mappings=CLUSTER_STATUS_MAP,
        )
    )
    panels.append(
        state_timeline(
            lay,
            "Local state",
            [target(local_state_expr(sel), legend="{{instance}}")],
            w=12,
            description="wsrep_local_state per node (Joining, Donor/Desynced, Synced, ...).",
            mappings=LOCAL_STATE_MAP,
        )
    )
    lay.newline()
    panels.append(
        state_timeline(
            lay,
            "Recovery phase (wsrep status file)",
            [target(recovery_phase_expr(sel), legend="{{instance}}")],
            w=12,
            description=(
                "Each node's state transfer phase from MariaDB's wsrep_status_file (collector "
                "status_file), readable while mysqld is down or joining: joiner in SST (also "
                "while the SST has emptied its datadir: sst_in_progress), joiner in IST, donor, "
                "joined and catching up, synced; red: the joiner's file holds SST errors (the "
                "SST failed). Grey: no status file (wsrep_status_file not set) or "
                "starting/stopped."
            ),
            mappings=RECOVERY_MAP,
        )
    )
    panels.append(
        timeseries(
            lay,
            "Reported transfer progress",
            [
                target(
                    f"max by (instance) (galera_status_file_progress_done{{{sel}}}"
                    f" / galera_status_file_progress_expected{{{sel}}})",
                    legend="{{instance}}",
                )
            ],
            w=12,
            h=6,
            unit="percentunit",
            description=(
                "status.progress done/total of the wsrep status file, while a transfer reports "
                "it. MariaDB 10.11.19 / Galera 26.4.23 report none (docs/status-file.md): "
                "empty there; the phase panel shows how far a recovery got."
            ),
        )
    )
    lay.newline()
    panels.append(
        timeseries(
            lay,
            "Cluster size seen",
            [target(f"max by (instance) (galera_cluster_size{{{sel}}})", legend="{{instance}}")],
            w=12,
            h=7,
            description="wsrep_cluster_size as each node sees it: members of its component.",
        )
    )
    panels.append(
        timeseries(
            lay,
            "Last committed",
            [target(f"max by (instance) (galera_last_committed{{{sel}}})", legend="{{instance}}")],
            w=12,
            h=7,
            description="wsrep_last_committed per node: nodes of one component move together.",
            min_zero=False,
        )
    )
    return dashboard(
        OVERVIEW_UID,
        "Galera / Cluster overview",
        "MariaDB Galera cluster: which nodes are up, in which component, which guide scenario, "
        "who to bootstrap, firing alerts with runbook links.",
        panels,
        multi=True,
    )


# --------------------------------------------------------------------------- node detail
def rate(metric: str, sel: str = CI_ONE) -> str:
    return f"rate({metric}{{{sel}}}[$__rate_interval])"


def node_detail() -> Json:
    lay = Layout()
    sel = CI_ONE
    p: list[Json] = []

    def one(expr: str) -> list[Json]:
        return [target(expr, instant=True)]

    p.append(stat(lay, "Node state", one(node_state_expr(sel)), w=3, mappings=NODE_STATE_MAP))
    p.append(
        stat(lay, "Cluster status", one(cluster_status_expr(sel)), w=3, mappings=CLUSTER_STATUS_MAP)
    )
    p.append(stat(lay, "Local state", one(local_state_expr(sel)), w=3, mappings=LOCAL_STATE_MAP))
    p.append(stat(lay, "Cluster size seen", one(f"galera_cluster_size{{{sel}}}"), w=3))
    p.append(
        stat(lay, "conf_id", one(f"galera_cluster_conf_id{{{sel}}}"), w=3, mappings=CONF_ID_MAP)
    )
    p.append(stat(lay, "wsrep_ready", one(f"galera_ready{{{sel}}}"), w=3, mappings=ON_OFF_MAP))
    p.append(
        stat(
            lay,
            "Back-end ready",
            one(f"galera_backend_ready{{{sel}}}"),
            w=3,
            mappings=READY_MAP,
            description="The back-end logged its ready line (`SMTP Service started`) since "
            "its last start (galera_backend_ready).",
        )
    )
    p.append(
        stat(lay, "Exporter up", one(f"instance:up:galera_job{{{sel}}}"), w=3, mappings=UP_MAP)
    )
    lay.newline()
    p.append(
        stat(lay, "Last committed", one(f"galera_last_committed{{{sel}}}"), w=4, color_mode="none")
    )
    p.append(
        stat(
            lay,
            "safe_to_bootstrap",
            one(f"galera_grastate_safe_to_bootstrap{{{sel}}}"),
            w=4,
            mappings=SAFE_MAP,
        )
    )
    p.append(
        stat(
            lay,
            "grastate seqno",
            one(f"galera_grastate_seqno{{{sel}}}"),
            w=4,
            mappings=SEQNO_MAP,
            color_mode="none",
        )
    )
    p.append(
        stat(
            lay,
            "Recovered seqno",
            one(f"galera_recovered_seqno{{{sel}}}"),
            w=4,
            mappings=[null_map("none logged")],
            color_mode="none",
            description="seqno of the last `WSREP: Recovered position` line in the mysqld "
            "error log (mariadbd --wsrep-recover).",
        )
    )
    p.append(
        stat(
            lay,
            "gcache size",
            one(f"galera_gcache_size_bytes{{{sel}}}"),
            w=4,
            unit="bytes",
            color_mode="none",
        )
    )
    p.append(
        stat(
            lay,
            "Write-sets in gcache",
            one(f"galera_last_committed{{{sel}}} - galera_local_cached_downto{{{sel}}}"),
            w=4,
            color_mode="none",
            description="last_committed - local_cached_downto: how far back a joiner can "
            "catch up by IST from this donor instead of a full SST.",
        )
    )
    lay.newline()

    history = [
        ("A", "Node state", node_state_expr(sel), NODE_STATE_MAP),
        ("B", "Cluster status", cluster_status_expr(sel), CLUSTER_STATUS_MAP),
        ("C", "Local state", local_state_expr(sel), LOCAL_STATE_MAP),
        ("D", "wsrep_ready", f"galera_ready{{{sel}}}", ON_OFF_MAP),
        ("E", "Back-end ready", f"galera_backend_ready{{{sel}}}", READY_MAP),
    ]
    p.append(
        state_timeline(
            lay,
            "State history",
            [target(expr, ref, legend) for ref, legend, expr, _ in history],
            h=7,
            description="This node's states over time.",
            overrides=[by_ref(ref, ("mappings", maps)) for ref, _, _, maps in history],
        )
    )
    lay.newline()

    p.append(
        timeseries(
            lay,
            "Flow control paused",
            [target(rate("galera_flow_control_paused_seconds_total"), legend="paused")],
            unit="percentunit",
            description="Fraction of time replication was paused by flow control "
            "(rate of wsrep_flow_control_paused_ns): every commit in the cluster waits.",
        )
    )
    p.append(
        timeseries(
            lay,
            "Flow control messages",
            [
                target(rate("galera_flow_control_sent_total"), "A", "FC_PAUSE sent"),
                target(rate("galera_flow_control_recv_total"), "B", "FC_PAUSE received"),
            ],
            unit="ops",
            description="A node that sends FC_PAUSE is the one that cannot keep up.",
        )
    )
    p.append(
        timeseries(
            lay,
            "Send / receive queues",
            [
                target(f"galera_local_send_queue{{{sel}}}", "A", "send queue"),
                target(f"galera_local_recv_queue{{{sel}}}", "B", "receive queue"),
            ],
            description="Write-sets waiting to be sent / applied (wsrep_local_send_queue, "
            "wsrep_local_recv_queue).",
        )
    )
    p.append(
        timeseries(
            lay,
            "Replication latency",
            [target(f'galera_evs_repl_latency_seconds{{{sel}, stat=~"avg|max"}}', "A", "{{stat}}")],
            unit="s",
            description="Group communication round trip (wsrep_evs_repl_latency, over the "
            "provider's sampling window).",
        )
    )
    p.append(
        timeseries(
            lay,
            "Certification failures and BF aborts",
            [
                target(rate("galera_local_cert_failures_total"), "A", "cert failures"),
                target(rate("galera_local_bf_aborts_total"), "B", "BF aborts"),
                target(rate("galera_local_replays_total"), "C", "replays"),
            ],
            unit="ops",
            description="Local transactions rolled back because another node wrote the same "
            "rows first; clients see deadlock errors.",
        )
    )
    p.append(
        timeseries(
            lay,
            "Bytes replicated / received",
            [
                target(rate("galera_replicated_bytes_total"), "A", "replicated"),
                target(rate("galera_received_bytes_total"), "B", "received"),
            ],
            unit="Bps",
        )
    )
    p.append(
        timeseries(
            lay,
            "Commits and write-sets",
            [
                target(rate("galera_local_commits_total"), "A", "local commits"),
                target(rate("galera_replicated_writesets_total"), "B", "write-sets replicated"),
                target(rate("galera_received_writesets_total"), "C", "write-sets received"),
            ],
            unit="ops",
        )
    )
    p.append(
        timeseries(
            lay,
            "Last committed",
            [target(f"galera_last_committed{{{sel}}}", legend="last committed")],
            min_zero=False,
        )
    )
    p.append(
        timeseries(
            lay,
            "gcache",
            [
                target(f"galera_gcache_size_bytes{{{sel}}}", "A", "gcache.size"),
            ],
            unit="bytes",
            description="gcache.size from wsrep_provider_options.",
        )
    )
    p.append(
        timeseries(
            lay,
            "Error log events",
            [
                target(
                    f"increase(galera_errorlog_events_total{{{sel}}}[$__rate_interval])",
                    legend="{{event}}",
                )
            ],
            draw="bars",
            description="Galera events in the mysqld error log (galera_errorlog_events_total).",
        )
    )
    return dashboard(
        NODE_UID,
        "Galera / Node detail",
        "One MariaDB Galera node: state history, flow control, queues, latency, conflicts, "
        "traffic, gcache.",
        p,
        multi=False,
    )


# --------------------------------------------------------------------------- output
def render(dash: Json) -> str:
    return json.dumps(dash, indent=2, ensure_ascii=False) + "\n"


def generated() -> dict[Path, str]:
    return {OVERVIEW_FILE: render(overview()), NODE_FILE: render(node_detail())}


def main(argv: list[str]) -> int:
    """Write the dashboards; with --check, only report whether the committed ones are current."""
    check = "--check" in argv
    stale = []
    for path, text in generated().items():
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date (run python dashboards/generate.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
