"""Grafana's JSON model in plain Python: panels, targets, value mappings, variables.

Nothing here knows Galera; the dashboards' modules fill these builders with queries. Plain dicts
rather than an SDK: the JSON model is the contract Grafana imports (docs/dashboards.md says why
not grafana-foundation-sdk).
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

# Every panel and target reads the `datasource` variable: no datasource uid in any panel.
DS = {"type": "prometheus", "uid": "${datasource}"}


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


# --------------------------------------------------------------------------- variables
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
