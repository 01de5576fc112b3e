"""What the dashboard tests need to know about PromQL: the expressions of a dashboard, Grafana
variables replaced by stand-ins, and the selectors (metric name + matchers) inside an expression.

A small scanner, not a parser: promtool checks the syntax; this only has to find every vector
selector so that its metric name and its cluster/instance filters can be checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "dashboards"
DASHBOARD_FILES = sorted(DASHBOARD_DIR.glob("*.json"))

# Grafana variables -> values that make the expression valid PromQL for promtool and Prometheus.
STAND_INS = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1h",
}

AGGREGATIONS = frozenset(
    {
        "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
        "bottomk", "topk", "quantile", "limitk", "limit_ratio",
    }
)  # fmt: skip
LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"})

TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<number>(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<lbrace>\{)
  | (?P<rbrace>\})
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<space>\s+)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")\s*,?')


@dataclass(frozen=True)
class Selector:
    """One vector selector: its metric name (None for `{__name__=...}` forms) and matchers."""

    name: str | None
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value without quotes)

    def has(self, label: str, ops: tuple[str, ...], value: str) -> bool:
        return any(lab == label and op in ops and val == value for lab, op, val in self.matchers)


def _tokens(expr: str) -> list[tuple[str, str]]:
    out = []
    for m in TOKEN.finditer(expr):
        kind = m.lastgroup or "other"
        if kind != "space":
            out.append((kind, m.group()))
    return out


def _matchers(body: list[tuple[str, str]]) -> tuple[tuple[str, str, str], ...]:
    text = "".join(value for _, value in body)
    found = []
    pos = 0
    while pos < len(text):
        m = MATCHER.match(text, pos)
        if m is None:
            raise ValueError(f"cannot read label matchers {{{text}}} at {text[pos:]!r}")
        found.append((m.group(1), m.group(2), json.loads(m.group(3))))
        pos = m.end()
    return tuple(found)


def selectors(expr: str) -> list[Selector]:
    """Every vector selector in `expr`."""
    toks = _tokens(expr)
    found: list[Selector] = []
    i = 0
    while i < len(toks):
        kind, value = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else ("", "")
        if kind == "ident":
            low = value.lower()
            if value in LABEL_LIST_KEYWORDS:
                # skip `by (a, b)`; label names are not metric names
                if nxt[0] == "lparen":
                    close = next(j for j in range(i + 1, len(toks)) if toks[j][0] == "rparen")
                    i = close + 1
                    continue
            elif value in AGGREGATIONS or low in KEYWORDS or nxt[0] == "lparen":
                pass  # an operator, a keyword or a function call
            else:
                name = value
                if nxt[0] == "lbrace":
                    close = next(j for j in range(i + 1, len(toks)) if toks[j][0] == "rbrace")
                    found.append(Selector(name, _matchers(toks[i + 2 : close])))
                    i = close + 1
                    continue
                found.append(Selector(name, ()))
        elif kind == "lbrace":
            close = next(j for j in range(i + 1, len(toks)) if toks[j][0] == "rbrace")
            found.append(Selector(None, _matchers(toks[i + 1 : close])))
            i = close + 1
            continue
        i += 1
    return found


@dataclass
class Aggregation:
    """One aggregation (`max by (instance) (...)`, `topk(1, ...)`) and the selectors inside it."""

    op: str
    grouping: str = ""  # "by", "without", or "" (aggregates everything away)
    labels: tuple[str, ...] = ()
    selectors: list[Selector] = field(default_factory=list)

    def keeps_nodes_apart(self) -> bool:
        """True if it aggregates per node (so it cannot compare nodes to pick one)."""
        return self.op not in RANKING and self.grouping == "by" and "instance" in self.labels


# Aggregations that rank series: with node inputs they pick a node.
RANKING = frozenset({"topk", "bottomk", "limitk", "limit_ratio", "quantile"})


def aggregations(expr: str) -> list[Aggregation]:
    """Every aggregation in `expr` with the selectors it encloses (at any depth)."""
    toks = _tokens(expr)
    stack: list[Aggregation | None] = []  # one entry per open parenthesis
    pending: Aggregation | None = None  # seen `max by (...)`, its `(` not yet
    just_closed: Aggregation | None = None  # for the trailing form `max (...) by (...)`
    found: list[Aggregation] = []
    i = 0
    while i < len(toks):
        kind, value = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else ("", "")
        closed, just_closed = just_closed, None
        if kind == "ident" and value in LABEL_LIST_KEYWORDS and nxt[0] == "lparen":
            end = next(j for j in range(i + 1, len(toks)) if toks[j][0] == "rparen")
            labels = tuple(v for k, v in toks[i + 2 : end] if k == "ident")
            target = pending if pending is not None else closed
            if value in ("by", "without") and target is not None:
                target.grouping, target.labels = value, labels
            i = end + 1
            continue
        if kind == "ident" and value in AGGREGATIONS and nxt[0] in ("lparen", "ident"):
            pending = Aggregation(value)
            found.append(pending)
        elif kind == "lparen":
            stack.append(pending)
            pending = None
        elif kind == "rparen":
            just_closed = stack.pop() if stack else None
        elif kind == "lbrace" or (kind == "ident" and nxt[0] != "lparen"):
            end = i
            if kind == "lbrace" or nxt[0] == "lbrace":
                end = next(j for j in range(i, len(toks)) if toks[j][0] == "rbrace")
            sels = selectors("".join(v for _, v in toks[i : end + 1]))
            for agg in stack:
                if agg is not None:
                    agg.selectors.extend(sels)
            i = end + 1
            continue
        i += 1
    return found


def substitute(expr: str, cluster: str, instance: str) -> str:
    """Grafana's variables replaced by concrete values; raises if one is left."""
    out = expr
    for var, value in STAND_INS.items():
        out = out.replace(var, value)
    # Unescaped: Grafana's regex escaping of `.` in a multi-value variable only narrows the match.
    out = out.replace("$cluster", cluster).replace("$instance", instance)
    if "$" in out:
        raise ValueError(f"unreplaced variable in {out!r}")
    return out


@dataclass(frozen=True)
class Query:
    """One expression of a dashboard: a panel target or a variable's query."""

    dashboard: str
    panel: str  # panel title, or "variable <name>"
    ref: str
    expr: str
    instant: bool


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def panels(dash: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dash.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows


def label_values_selector(query: str) -> str:
    m = re.fullmatch(r"label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)", query.strip())
    if m is None:
        raise ValueError(f"not a label_values(metric, label) query: {query!r}")
    return m.group(1)


def queries(path: Path) -> list[Query]:
    dash = load(path)
    out = []
    for panel in panels(dash):
        for t in panel.get("targets", []):
            out.append(
                Query(path.name, panel["title"], t["refId"], t["expr"], bool(t.get("instant")))
            )
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            q = var["query"]
            text = q["query"] if isinstance(q, dict) else q
            out.append(
                Query(path.name, f"variable {var['name']}", "", label_values_selector(text), True)
            )
    return out


def all_queries() -> list[Query]:
    return [q for path in DASHBOARD_FILES for q in queries(path)]
