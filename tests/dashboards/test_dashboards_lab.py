"""The dashboards' queries against a real 3-node lab and a real Prometheus (127.0.0.71-73).

Healthy: every panel query returns data (a few may legitimately be empty and must still run).
Each other scenario of the guide: the overview's scenario, Primary-components and
bootstrap-candidate panels as docs/dashboards.md shows them, the candidate panel always naming
what instance:galera_bootstrap_candidate:bool names. After the guide's "All nodes are gracefully
stopped" (nodes stopped 1, 2, 3): the overview's scenario panel says so and its
bootstrap-candidate panel names node 3, the last one out, with no force needed; the
firing-alerts table then lists GaleraClusterStopped (advice bootstrap) with its runbook anchor.

Needs the exporter of issue 12 (galera_mysql_error, galera_gvwstate_member_info, ...): the
decision model records no node state without it.

Queries run as instant queries with Grafana's variables substituted (`$instance` is the
overview's "All" value, or one node on the node detail; `$__rate_interval` is 1m).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from galera_lab import recovery, scenarios
from galera_lab.cluster import Cluster, ClusterSpec
from galera_lab.stack import Stack
from galera_lab.wait import wait_for
from tests.dashboards import promql
from tests.dashboards.generator import codes
from tests.support.tiers import starts_real_galera

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [
    pytest.mark.timeout(600),
    # pymysql may drop the socket of a refused connection while nodes stop
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

BASE_ADDRESS = "127.0.0.71"  # this test's block: 127.0.0.71-79
CLUSTER = "galera_dash"
OVERVIEW = "galera-cluster-overview.json"
NODE_DETAIL = "galera-node-detail.json"
ALL_INSTANCES = ".+"
STOPPED_ALERT = "GaleraClusterStopped"  # the overview's instance variable "All" value

# May be empty on a healthy cluster; they must still run without error.
MAY_BE_EMPTY = {
    (OVERVIEW, "Firing Galera alerts", "A"),  # nothing fires on a healthy cluster
    (OVERVIEW, "Bootstrap candidate", "A"),  # no node is named while a Primary component runs
    (OVERVIEW, "Bootstrap evidence", "B"),  # positions: only of nodes outside a Primary component
    (OVERVIEW, "Bootstrap evidence", "C"),
    (OVERVIEW, "Bootstrap evidence", "E"),
    (OVERVIEW, "Nodes", "J"),  # recovered seqno: only after a `Recovered position` line
    (NODE_DETAIL, "Recovered seqno", "A"),
    # Only while a transfer reports progress; MariaDB 10.11.19 never does (docs/status-file.md).
    (OVERVIEW, "Reported transfer progress", "A"),
    # Only while an SST runs (sst_in_progress on a joiner): tests/integration/test_sst_stall.py.
    (OVERVIEW, "SST data on the joiner", "A"),
}
ANY_NODE = "any one node"  # a tie broken by galera_node_tiebreak_key: exactly one, force 1


@dataclass
class DashLab:
    cluster: Cluster
    stack: Stack
    instances: dict[str, str]  # node name -> Prometheus instance label

    def query(self, q: promql.Query, instance: str | None = None) -> list[dict[str, object]]:
        if instance is None:
            instance = ALL_INSTANCES if q.dashboard == OVERVIEW else self.instances["node1"]
        return self.stack.query(promql.substitute(q.expr, CLUSTER, instance))


def _log(message: str) -> None:
    print(f"[dashboards] {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="module")
@starts_real_galera
def lab() -> Iterator[DashLab]:
    started = time.monotonic()
    # Not under pytest's basetemp, which later pytest runs (several engineers run them) prune:
    # with GALERA_DASH_LAB_KEEP set, the error logs of a failed run stay here to be read.
    base = Path(tempfile.mkdtemp(prefix="galera-dash-lab-", dir="/var/tmp"))
    cluster = Cluster(
        ClusterSpec(
            base_dir=base,
            base_address=BASE_ADDRESS,
            cluster_name=CLUSTER,
        )
    )
    stack = Stack(cluster, rules_dir=promql.REPO / "rules", interval="2s")
    try:
        recovery.up(cluster)
        stack.start()
        instances = dict(stack.exporters)
        _log(f"lab up in {time.monotonic() - started:.1f}s: {instances}")
        yield DashLab(cluster, stack, instances)
    finally:
        stack.stop()
        for node in cluster.nodes:  # the files are thrown away: no graceful stop needed
            node.thaw()
            node.kill()
        if os.environ.get("GALERA_DASH_LAB_KEEP"):
            _log(f"lab files kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def _query(name: str, panel: str, ref: str = "A") -> promql.Query:
    for q in promql.queries(promql.DASHBOARD_DIR / name):
        if q.panel == panel and q.ref == ref:
            return q
    raise KeyError(f"{name}: no query {panel}/{ref}")


def _values(result: list[dict[str, object]]) -> list[float]:
    return [float(s["value"][1]) for s in result]  # type: ignore[index]


def _labels(result: list[dict[str, object]]) -> list[dict[str, str]]:
    return [dict(s["metric"]) for s in result]  # type: ignore[call-overload]


def test_every_panel_query_returns_data_for_a_healthy_cluster(lab: DashLab) -> None:
    queries = promql.all_queries()
    must = [q for q in queries if (q.dashboard, q.panel, q.ref) not in MAY_BE_EMPTY]
    empty: list[str] = []

    def all_have_data() -> bool:
        empty[:] = [f"{q.dashboard}:{q.panel}:{q.ref}" for q in must if not lab.query(q)]
        return not empty

    wait_for(
        f"Prometheus returning data for all {len(must)} dashboard queries",
        all_have_data,
        120,
        interval=2.0,
        progress=lambda elapsed: f"{elapsed:.0f}s, still empty: {', '.join(empty)}",
        progress_every=10.0,
    )
    for q in queries:
        lab.query(q)  # the may-be-empty ones too: Prometheus accepts them (HTTP 400 raises)

    # Variables list this cluster's three nodes.
    nodes = lab.query(_query(OVERVIEW, "variable instance", ""))
    assert sorted(n["instance"] for n in _labels(nodes)) == sorted(lab.instances.values())
    # The overview's verdict on a healthy cluster.
    healthy = codes.SCENARIOS["healthy"].code
    assert _values(lab.query(_query(OVERVIEW, "Guide scenario"))) == [float(healthy)]
    assert _values(lab.query(_query(OVERVIEW, "Primary components"))) == [1.0]
    assert lab.query(_query(OVERVIEW, "Bootstrap candidate")) == []  # shows "none named"
    states = lab.query(_query(OVERVIEW, "Nodes", "C"))
    assert _values(states) == [1.0, 1.0, 1.0]  # Node state: Primary everywhere
    assert _values(lab.query(_query(OVERVIEW, "Bootstrap evidence", "A"))) == [1.0, 1.0, 1.0]
    local = lab.query(_query(OVERVIEW, "Nodes", "E"))
    assert _values(local) == [4.0, 4.0, 4.0]  # Synced


# lab scenario -> (recorded scenario, Primary components, bootstrap candidate (node, force):
# None when no node may be named, ANY_NODE for a tie, "unchecked" when it depends on what earlier
# runs left in the error logs).
OTHER_SCENARIOS: dict[str, tuple[str, int, tuple[str, str] | str | None]] = {
    "one-stopped": ("degraded", 1, None),
    "two-stopped": ("degraded", 1, None),
    "one-killed": ("degraded", 1, None),
    # The crashed nodes' saved view lists the survivor's gcomm UUID: it covers them.
    "two-killed": ("quorum_lost", 0, ("node3", "1")),
    "one-isolated": ("degraded", 1, None),
    "all-isolated": ("partitioned", 0, ANY_NODE),  # equal last_committed everywhere
    "split-brain": ("split_brain", 2, None),
    "all-killed": ("crashed", 0, "unchecked"),
}


def _candidates(lab: DashLab) -> list[tuple[str, str]]:
    rows = _labels(lab.query(_query(OVERVIEW, "Bootstrap candidate")))
    return [(c["instance"], c["force"]) for c in rows]


@pytest.mark.parametrize("name", list(OTHER_SCENARIOS))
def test_guide_scenario_panels(lab: DashLab, name: str) -> None:
    """Each scenario of the guide: the overview's verdict, as docs/dashboards.md shows it."""
    recovery.reset(lab.cluster)
    # A fresh write: the survivors' last_committed is then above any position an earlier
    # scenario left in a node's error log (`Recovered position`).
    lab.cluster.write_marker(f"dashboards before {name}")
    scenarios.run(lab.cluster, name)
    scenario, components, node = OTHER_SCENARIOS[name]
    want = codes.SCENARIOS[scenario]
    seen: list[str] = [""]

    def candidate_ok(got: list[tuple[str, str]]) -> bool:
        if node == "unchecked":
            return len(got) <= 1
        if node == ANY_NODE:
            return len(got) == 1 and got[0][1] == "1"
        if node is None:
            return got == []
        assert isinstance(node, tuple)
        return got == [(lab.instances[node[0]], node[1])]

    def overview_shows_it() -> bool:
        result = lab.query(_query(OVERVIEW, "Guide scenario"))
        got = [
            (v, n.get("anchor", "")) for v, n in zip(_values(result), _labels(result), strict=True)
        ]
        parts = _values(lab.query(_query(OVERVIEW, "Primary components")))
        candidate = _candidates(lab)
        rule = lab.stack.query(f'instance:galera_bootstrap_candidate:bool{{cluster="{CLUSTER}"}}')
        seen[0] = f"scenario {got}, Primary components {parts}, bootstrap candidate {candidate}"
        return (
            got == [(float(want.code), want.alert.lower())]
            and parts == [float(components)]
            and candidate_ok(candidate)
            and sorted(candidate) == sorted((r["instance"], r["force"]) for r in _labels(rule))
        )

    wait_for(
        f"overview showing scenario {scenario} after {name}",
        overview_shows_it,
        60,
        interval=1.0,
        progress=lambda elapsed: f"{elapsed:.0f}s: {seen[0]}",
        progress_every=10.0,
    )
    _log(f"{name}: {seen[0]}")


def test_all_stopped_gracefully_names_the_last_node_stopped(lab: DashLab) -> None:
    recovery.reset(lab.cluster)
    problem = lab.cluster.healthy_problem()
    assert problem is None, problem
    scenarios.run(lab.cluster, "all-stopped")  # order 1, 2, 3: node 3 leaves last
    last = lab.instances["node3"]
    scenario = _query(OVERVIEW, "Guide scenario")
    bootstrap = _query(OVERVIEW, "Bootstrap candidate")
    seen: list[str] = [""]

    stopped = codes.SCENARIOS["stopped"].code

    def overview_shows_all_stopped() -> bool:
        codes = _values(lab.query(scenario))
        candidates = [(c["instance"], c["force"]) for c in _labels(lab.query(bootstrap))]
        seen[0] = f"scenario {codes}, bootstrap candidate {candidates}"
        # safe_to_bootstrap: 1 on node3, no node known to be ahead of it: no force needed.
        return codes == [float(stopped)] and candidates == [(last, "0")]

    wait_for(
        "overview: scenario 'All nodes are gracefully stopped', bootstrap candidate node3",
        overview_shows_all_stopped,
        60,
        interval=1.0,
        progress=lambda elapsed: f"{elapsed:.0f}s: {seen[0]}",
        progress_every=10.0,
    )
    assert _labels(lab.query(scenario))[0]["anchor"] == "galeraclusterstopped"
    # The node table: every node stopped cleanly, only node 3 safe to bootstrap.
    assert _values(lab.query(_query(OVERVIEW, "Nodes", "C"))) == [4.0, 4.0, 4.0]
    # The evidence: every position known, of one history; node 3 the candidate.
    known = lab.query(_query(OVERVIEW, "Bootstrap evidence", "C"))
    assert _values(known) == [0.0, 0.0, 0.0]
    assert {
        s["metric"]["instance"]: float(s["value"][1])  # type: ignore[index]
        for s in lab.query(_query(OVERVIEW, "Bootstrap evidence", "E"))
    } == {last: 1.0}
    safe = {
        s["metric"]["instance"]: float(s["value"][1])  # type: ignore[index]
        for s in lab.query(_query(OVERVIEW, "Nodes", "H"))
    }
    assert safe == {i: (1.0 if i == last else 0.0) for i in lab.instances.values()}

    # GaleraClusterStopped has `for: 1m`; then the alerts table lists it with its anchor.
    alerts = _query(OVERVIEW, "Firing Galera alerts")
    rows = wait_for(
        "firing-alerts table listing GaleraClusterStopped (for: 1m)",
        lambda: [r for r in _labels(lab.query(alerts)) if r["alertname"] == STOPPED_ALERT],
        150,
        interval=2.0,
    )
    # advice="bootstrap": its instance is the node of the `bootstrap_node` annotation.
    assert [(r["instance"], r["anchor"], r["severity"], r["advice"]) for r in rows] == [
        (last, "galeraclusterstopped", "critical", "bootstrap")
    ]
