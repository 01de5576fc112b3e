"""The recovery guide's failure scenarios, reproduced from a healthy cluster.

Naming follows the guide: nodes A and B fail, node C survives; in the lab A, B, C are nodes 1,
2, 3. Each scenario returns once the cluster shows the steady state galera-lab.md describes
(e.g. the survivor has turned non-Primary), so callers can assert on metrics at once.
`recovery.reset` brings the cluster back to healthy from any of them, split brain included.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from galera_lab import faults
from galera_lab.cluster import Cluster, ClusterError, NodeView
from galera_lab.node import Node
from galera_lab.wait import wait_for


@dataclass(frozen=True)
class Scenario:
    name: str
    guide_section: str  # the heading in cluster-recovery-guide.txt
    summary: str
    run: Callable[[Cluster], None]


def _wait_views(
    cluster: Cluster, what: str, check: Callable[[list[NodeView]], bool], timeout: float = 30.0
) -> None:
    wait_for(what, lambda: check(cluster.views()), timeout, interval=0.25)


def _is(view: NodeView, status: str, size: int) -> bool:
    return view.get("wsrep_cluster_status") == status and view.get("wsrep_cluster_size") == str(
        size
    )


def _survivors_primary(cluster: Cluster, gone: list[Node]) -> None:
    size = len(cluster.nodes) - len(gone)
    _wait_views(
        cluster,
        f"survivors Primary with size {size}",
        lambda views: all(_is(v, "Primary", size) for v in views if v.node not in gone),
    )


def one_stopped(cluster: Cluster) -> None:
    a = cluster.nodes[0]
    faults.stop(a)
    _survivors_primary(cluster, [a])


def two_stopped(cluster: Cluster) -> None:
    gone = cluster.nodes[:2]
    for node in gone:
        faults.stop(node)
    _survivors_primary(cluster, gone)


def all_stopped(cluster: Cluster) -> None:
    # In order 1, 2, 3: the last one out (node 3) is the one safe to bootstrap.
    for node in cluster.nodes:
        faults.stop(node)


def one_killed(cluster: Cluster) -> None:
    a = cluster.nodes[0]
    faults.kill(a)
    _survivors_primary(cluster, [a])  # ~4.5 s: the peers wait for the evs timeouts


def two_killed(cluster: Cluster) -> None:
    gone = cluster.nodes[:2]
    for node in gone:
        faults.kill(node)
    survivors = cluster.nodes[2:]
    _wait_views(
        cluster,
        "the survivor non-Primary",
        lambda views: all(
            v.get("wsrep_cluster_status") == "non-Primary" for v in views if v.node in survivors
        ),
    )


def all_killed(cluster: Cluster) -> None:
    for node in cluster.nodes:
        faults.kill(node)


def one_isolated(cluster: Cluster) -> None:
    a = cluster.nodes[0]
    faults.isolate(a)
    size = len(cluster.nodes) - 1
    _wait_views(
        cluster,
        f"{a.name} non-Primary and its peers Primary with size {size}",
        lambda views: all(
            _is(v, "non-Primary", 1) if v.node is a else _is(v, "Primary", size) for v in views
        ),
    )


def all_isolated(cluster: Cluster) -> None:
    for node in cluster.nodes:
        faults.isolate(node)
    _wait_views(
        cluster,
        "every node non-Primary with size 1",
        lambda views: all(_is(v, "non-Primary", 1) for v in views),
    )


SPLIT_MAJORITY_NOTE = "written on the majority during the split"
SPLIT_MINORITY_NOTE = "written on the minority during the split"


def split_brain(cluster: Cluster) -> None:
    """Isolate the last node, force it Primary: two Primary components with one state uuid.

    Both sides then take a write, so the data really diverges (as it would in production).
    """
    c = cluster.nodes[-1]
    others = cluster.nodes[:-1]
    faults.isolate(c)
    _wait_views(cluster, f"{c.name} non-Primary", lambda views: _is(views[-1], "non-Primary", 1))
    faults.force_primary(c)
    _wait_views(
        cluster,
        "two Primary components",
        lambda views: all(
            _is(v, "Primary", 1) if v.node is c else _is(v, "Primary", len(others)) for v in views
        ),
    )
    cluster.write_marker(SPLIT_MINORITY_NOTE, c)
    cluster.write_marker(SPLIT_MAJORITY_NOTE, others[0])


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "one-stopped",
            "One node is gracefully stopped",
            "node 1 stopped gracefully; 2 and 3 stay Primary (size 2)",
            one_stopped,
        ),
        Scenario(
            "two-stopped",
            "Two nodes are gracefully stopped",
            "nodes 1, 2 stopped gracefully; node 3 stays Primary alone, safe_to_bootstrap 1",
            two_stopped,
        ),
        Scenario(
            "all-stopped",
            "All nodes are gracefully stopped",
            "nodes stopped in order 1, 2, 3; only node 3 is safe to bootstrap",
            all_stopped,
        ),
        Scenario(
            "one-killed",
            "One node is terminated",
            "node 1 killed (-9); 2 and 3 stay Primary (size 2)",
            one_killed,
        ),
        Scenario(
            "two-killed",
            "Two nodes are terminated",
            "nodes 1, 2 killed (-9); node 3 non-Primary, refuses queries",
            two_killed,
        ),
        Scenario(
            "all-killed",
            "All nodes are terminated",
            "all nodes killed (-9); every grastate seqno -1, gvwstate.dat kept",
            all_killed,
        ),
        Scenario(
            "one-isolated",
            "Connection failure between one node and the other nodes",
            "node 1 cut off (gmcast.isolate=1): non-Primary; 2 and 3 Primary",
            one_isolated,
        ),
        Scenario(
            "all-isolated",
            "Connection failure between all nodes",
            "every node cut off: all non-Primary, size 1",
            all_isolated,
        ),
        Scenario(
            "split-brain",
            "Two nodes are terminated (the Note: two separate clusters)",
            "node 3 cut off and forced Primary (pc.bootstrap=YES) while 1+2 stay Primary; "
            "both sides take a write",
            split_brain,
        ),
    )
}


def run(cluster: Cluster, name: str) -> float:
    """Reproduce scenario `name` on a healthy cluster; returns the seconds it took."""
    try:
        scenario = SCENARIOS[name]
    except KeyError:
        raise ClusterError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
    problem = cluster.healthy_problem()
    if problem:
        raise ClusterError(
            f"scenarios start from a healthy cluster ({problem}); run `galera-lab reset` first"
        )
    started = time.monotonic()
    scenario.run(cluster)
    took = time.monotonic() - started
    print(f"[lab] scenario {name}: {scenario.summary} ({took:.1f}s)", flush=True)
    return took
