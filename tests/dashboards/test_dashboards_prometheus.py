"""The overview's scenario, candidate and evidence panels against a real Prometheus.

Issue 11: "the dashboard's panels run against the same series" as the alerts. A real
Prometheus (Debian's binary, 127.0.0.1, a free port) loads rules/galera-recording.yml and
scrapes, every second, one static exposition per node and case: the node states of
rules/tests/series.py (the states the rule tests use) plus the exporter series the decision
model reads that series.py does not emit yet. Each case is its own `cluster`, so one Prometheus
serves them all. The overview's panel queries then run exactly as Grafana sends them (variables
substituted), and must show the scenario and the node that instance:galera_bootstrap_candidate:bool
names, or none.
"""

from __future__ import annotations

import calendar
import json
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from rules.tests.series import (
    UUID,
    Crashed,
    Node,
    State,
    Stopped,
    TargetDown,
    Up,
    isolated,
    node_series,
)

from galera_lab import procs
from galera_lab.wait import wait_for
from tests.dashboards import promql
from tests.dashboards.generator import codes
from tests.support.tiers import slow_fixture

pytestmark = [pytest.mark.timeout(240)]  # slow: from the stack fixture

PROMETHEUS = "/usr/bin/prometheus"
OVERVIEW = promql.DASHBOARD_DIR / "galera-cluster-overview.json"
RECORDING_RULES = promql.REPO / "rules" / "galera-recording.yml"
NODES = ("node1", "node2", "node3")
MYSQL_ERROR_KINDS = ("refused", "auth", "too_many_connections", "timeout", "other")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
TARGET_LABELS = ("job", "cluster", "instance")  # Prometheus adds these; an exporter never does


def gcomm_uuid(node: str) -> str:
    """A node's gcomm UUID (its identity in the group, new at every mysqld start)."""
    return f"6b1a0000-0000-4000-8000-00000000000{node.removeprefix('node')}"


@dataclass(frozen=True)
class Case:
    """One cluster: each node's state, and what the overview must show for it."""

    states: dict[str, State]
    scenario: str
    candidate: tuple[str, str] | None  # (instance, force) or None: no node named
    node_states: dict[str, int]  # instance:galera_node:state codes
    positions: dict[str, int] = field(default_factory=dict)  # proven seqno per node
    position_status: dict[str, int] = field(default_factory=dict)  # 0 known 1 covered 2 unknown


CASES: dict[str, Case] = {
    "healthy": Case(
        {n: Up() for n in NODES}, "healthy", None, dict.fromkeys(NODES, 1),
    ),
    # The guide's "all nodes gracefully stopped" in order 1, 2, 3: node3 left last.
    "all_stopped": Case(
        {"node1": Stopped(seqno=10), "node2": Stopped(seqno=11), "node3": Stopped(12, safe=1)},
        "stopped", ("node3", "0"), dict.fromkeys(NODES, 4),
        {"node1": 10, "node2": 11, "node3": 12}, dict.fromkeys(NODES, 0),
    ),
    # "Two nodes are terminated": node3 survives non-Primary; the crashed nodes' saved view
    # lists node3's gcomm UUID, so node3 has everything they had.
    "two_crashed": Case(
        {"node1": Crashed(), "node2": Crashed(), "node3": isolated("node3", last_committed=15)},
        "quorum_lost", ("node3", "1"), {"node1": 5, "node2": 5, "node3": 2},
        {"node3": 15}, {"node1": 1, "node2": 1, "node3": 0},
    ),
    # Power loss: nobody knows the positions until `galera_recovery` ran. No node is named.
    "all_crashed": Case(
        {n: Crashed() for n in NODES}, "crashed", None, dict.fromkeys(NODES, 5),
        {}, dict.fromkeys(NODES, 2),
    ),
    # node1 stopped cleanly long ago (a real but stale seqno), then the others crashed: the
    # old overview named node1, the most out-of-date node, for a forced bootstrap.
    "stale_stopped": Case(
        {"node1": Stopped(seqno=100), "node2": Crashed(), "node3": Crashed()},
        "crashed", None, {"node1": 4, "node2": 5, "node3": 5},
        {"node1": 100}, {"node1": 0, "node2": 2, "node3": 2},
    ),
    # The node that left last cannot be observed: nothing may be concluded (the old overview
    # named node2 with a force).
    "safe_node_unobservable": Case(
        {"node1": Stopped(seqno=10), "node2": Stopped(seqno=11), "node3": TargetDown()},
        "unobservable", None, {"node1": 4, "node2": 4, "node3": 0},
        {"node1": 10, "node2": 11}, {"node1": 0, "node2": 0},
    ),
}  # fmt: skip


def exposition(cluster: str, name: str, state: State) -> str | None:
    """What the node's exporter serves in `state` (None: the target cannot be scraped)."""
    if isinstance(state, TargetDown):
        return None
    node = Node(cluster, name)
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for key, value in node_series(node, state, {}, 1).items():
        m = SAMPLE.match(key)
        assert m is not None, key
        labels = tuple((k, v) for k, v in LABEL.findall(m.group(2) or "") if k not in TARGET_LABELS)
        samples[(m.group(1), labels)] = value

    # Exporter series of issue 12 that the decision model reads (docs: the decision contract)
    # and rules/tests/series.py does not emit yet: added only where it does not, so the test
    # keeps working once it does.
    def add(metric: str, value: float, **labels: str) -> None:
        if not any(n == metric for n, _ in samples):
            samples[(metric, tuple(labels.items()))] = value

    running = isinstance(state, Up)
    if not any(n == "galera_mysql_error" for n, _ in samples):
        for kind in MYSQL_ERROR_KINDS:  # a state set: why galera_up is 0
            error = 1.0 if not running and kind == "refused" else 0.0
            samples[("galera_mysql_error", (("kind", kind),))] = error
    add("galera_sst_in_progress", 0)
    add("galera_node_tiebreak_key", float(name.removeprefix("node")))
    gvwstate = samples.get(("galera_gvwstate_present", ()), 0.0)
    if gvwstate == 1 and not any(n == "galera_gvwstate_member_info" for n, _ in samples):
        members = state.members if isinstance(state, Up) else NODES  # the last Primary view
        for member in members:
            samples[("galera_gvwstate_member_info", (("uuid", gcomm_uuid(member)),))] = 1.0
    for metric, labels in list(samples):
        if metric == "galera_status_info" and "gcomm_uuid" not in dict(labels):
            value = samples.pop((metric, labels))
            samples[(metric, (*labels, ("gcomm_uuid", gcomm_uuid(name))))] = value

    lines = []
    for (metric, labels), value in sorted(samples.items()):
        body = ",".join(f'{k}="{v}"' for k, v in labels)
        lines.append(f"{metric}{{{body}}} {value}" if body else f"{metric} {value}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the targets
class _Targets(BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, str | None]] = {}

    def do_GET(self) -> None:
        page = self.pages.get(self.path)
        if page is None:  # an unreachable exporter: Prometheus records up 0
            self.send_error(503 if self.path in self.pages else 404)
            return
        body = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per scrape would drown the test output


@dataclass
class Stack:
    url: str

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as resp:
            data = json.loads(resp.read())
        assert data["status"] == "success", data
        result: list[dict[str, Any]] = data["data"]["result"]
        return result

    def last_evaluation(self) -> float:
        with urllib.request.urlopen(f"{self.url}/api/v1/rules", timeout=5) as resp:
            groups = json.loads(resp.read())["data"]["groups"]
        (group,) = groups
        stamp = group["lastEvaluation"]  # RFC 3339 with nanoseconds; seconds are enough
        if stamp.startswith("0001-"):  # not evaluated yet
            return 0.0
        return float(calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")))


def _log(message: str) -> None:
    print(f"[dashboards-prometheus] {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="module")
@slow_fixture  # a real Prometheus evaluating the rules over every recorded scenario
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base: Path = tmp_path_factory.mktemp("dash-prometheus")
    pages = {
        f"/metrics/{case}/{node}": exposition(case, node, state)
        for case, c in CASES.items()
        for node, state in c.states.items()
    }
    handler = type("Targets", (_Targets,), {"pages": pages})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="targets", daemon=True)
    thread.start()
    target = f"127.0.0.1:{server.server_address[1]}"
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RECORDING_RULES)],
        "scrape_configs": [
            {
                "job_name": "galera",
                "static_configs": [
                    {
                        "targets": [target],
                        "labels": {
                            "cluster": case,
                            "instance": node,
                            "__metrics_path__": f"/metrics/{case}/{node}",
                        },
                    }
                    for case, c in CASES.items()
                    for node in c.states
                ],
            }
        ],
    }
    (base / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    listen = f"127.0.0.1:{procs.free_port()}"
    log = base / "prometheus.log"
    # Popen, not galera_lab.procs.spawn: right after the exec /proc/<pid>/cmdline can still read
    # empty, and procs then takes our Prometheus for a stranger (is_running False) and would
    # not stop it. We hold the child itself and stop it by its pid below.
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={base / 'prometheus.yml'}",
                f"--storage.tsdb.path={base / 'data'}",
                f"--web.listen-address={listen}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        stack = Stack(f"http://{listen}")

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {log.read_text()[-2000:]}")
            with urllib.request.urlopen(f"{stack.url}/-/ready", timeout=2) as resp:
                return bool(resp.status == 200)

        wait_for(f"prometheus ready on {listen}", ready, 60, interval=0.2, fatal=(RuntimeError,))
        want = {case: len(c.states) for case, c in CASES.items()}

        def every_node_has_a_state() -> bool:
            got = stack.query("count by (cluster) (instance:galera_node:state)")
            return {r["metric"]["cluster"]: int(r["value"][1]) for r in got} == want

        wait_for("a recorded state for every node of every case", every_node_has_a_state, 60, 0.5)
        # Two more evaluations, so that every rule of the group ran on a complete scrape.
        seen = stack.last_evaluation()
        wait_for(
            "two more rule evaluations",
            lambda: stack.last_evaluation() >= seen + 2,
            30,
            interval=0.2,
        )
        yield stack
    finally:
        proc.terminate()  # SIGTERM to this pid only
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        _log(f"prometheus (pid {proc.pid}) stopped, exit status {proc.returncode}")
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------- the panels
def panel_query(panel: str, ref: str = "A") -> str:
    for q in promql.queries(OVERVIEW):
        if q.panel == panel and q.ref == ref:
            return q.expr
    raise KeyError(f"overview: no query {panel}/{ref}")


def run_panel(stack: Stack, case: str, panel: str, ref: str = "A") -> list[dict[str, Any]]:
    return stack.query(promql.substitute(panel_query(panel, ref), case, ".+"))


def per_node(result: list[dict[str, Any]]) -> dict[str, float]:
    out = {r["metric"]["instance"]: float(r["value"][1]) for r in result}
    assert len(out) == len(result), f"more than one row per node: {result}"
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_scenario_panel_shows_the_recorded_scenario(stack: Stack, case: str) -> None:
    want = CASES[case].scenario
    recorded = [r["metric"]["scenario"] for r in stack.query(
        f'cluster:galera_scenario:info{{cluster="{case}"}}'
    )]  # fmt: skip
    assert recorded == [want], f"rules: {recorded}"
    (row,) = run_panel(stack, case, "Guide scenario")
    scenarios = codes.SCENARIOS
    by_code = {s.code: name for name, s in scenarios.items()}
    shown = by_code[int(float(row["value"][1]))]
    assert shown == want == row["metric"]["scenario"]
    alert = scenarios[want].alert
    assert row["metric"].get("anchor", "") == (alert.lower() if alert else "")
    _log(f"{case}: scenario panel shows {scenarios[want].text!r}")


@pytest.mark.parametrize("case", list(CASES))
def test_candidate_panel_names_the_rules_candidate(stack: Stack, case: str) -> None:
    rule = [
        (r["metric"]["instance"], r["metric"]["force"])
        for r in stack.query(f'instance:galera_bootstrap_candidate:bool{{cluster="{case}"}}')
    ]
    want = CASES[case].candidate
    assert rule == ([want] if want else []), f"rules name {rule}"
    rows = run_panel(stack, case, "Bootstrap candidate")
    force_codes = codes.FORCE_CODES
    shown = [(r["metric"]["instance"], r["metric"]["force"]) for r in rows]
    assert shown == rule  # no series: the panel says "none named" (its noValue)
    for r in rows:
        assert float(r["value"][1]) == force_codes[r["metric"]["force"]]
    # The evidence table's candidate column agrees.
    column = per_node(run_panel(stack, case, "Bootstrap evidence", "E"))
    assert column == {inst: float(force_codes[force]) for inst, force in rule}
    _log(f"{case}: candidate panel shows {shown or 'none named'}")


@pytest.mark.parametrize("case", list(CASES))
def test_evidence_panel_shows_states_and_positions(stack: Stack, case: str) -> None:
    c = CASES[case]
    states = per_node(run_panel(stack, case, "Bootstrap evidence", "A"))
    assert states == {n: float(code) for n, code in c.node_states.items()}
    positions = run_panel(stack, case, "Bootstrap evidence", "B")
    assert {r["metric"]["instance"]: float(r["value"][1]) for r in positions} == {
        n: float(s) for n, s in c.positions.items()
    }
    assert {r["metric"]["uuid"] for r in positions} <= {UUID}
    status = per_node(run_panel(stack, case, "Bootstrap evidence", "C"))
    assert status == {n: float(s) for n, s in c.position_status.items()}
    # The node table's state column reads the same rule.
    nodes = per_node(run_panel(stack, case, "Nodes", "C"))
    assert nodes == states
