"""What both dashboards share: identity, variables, links, the frame, the per-node table."""

from __future__ import annotations

from typing import Any

from galera_dashboards.grafana import (
    GREY,
    Json,
    Layout,
    by_name,
    datasource_variable,
    panel,
    query_variable,
    target,
    thresholds,
)

OVERVIEW_UID = "galera-cluster-overview"
NODE_UID = "galera-node-detail"
# Same base as the alerts' runbook_url, so the one sed in docs/runbook.md#configuration that
# points the alerts at your own wiki fixes the dashboards too.
RUNBOOK_URL = "https://github.com/galera-exporter/galera-exporter/blob/main/docs/runbook.md"
SCHEMA_VERSION = 39  # Grafana 10.4 / 11; older Grafana (>= 9) migrates it on import
TAGS = ["galera", "mariadb"]


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
