"""galera-advisor against the three real exporters of a real 3-node lab cluster, in the ten
scenarios of the recovery guide (127.0.0.91-93: the block agreed for these tests).

The guide's scenarios, counted against cluster-recovery-guide.txt ("Recovery" section):
  1. Cluster fully functional                         -> healthy, exit 0
  2. One node is gracefully stopped                   -> degraded, exit 1, restart node1
  3. Two nodes are gracefully stopped                 -> degraded, exit 1, restart node1, node2
  4. All nodes are gracefully stopped                 -> stopped, exit 2, bootstrap node3
  5. One node is terminated                           -> degraded, exit 1, restart node1
  6. Two nodes are terminated                         -> quorum_lost, exit 2, force node3
  7. All nodes are terminated                         -> crashed, exit 2, recover positions,
                                                         then force the most advanced node
  8. Connection failure between one node and others   -> degraded, exit 1, never bootstrap node1
  9. Connection failure between all nodes             -> partitioned, exit 2
 10. The Note of "two nodes are terminated": two separate clusters (split brain)
                                                      -> split_brain, exit 2, no node; then the
                                                         24-hour memory from Prometheus

One lab for the module; every test leaves the cluster healthy by following the advisor's own
steps with the lab's `cfg-cm-cluster` (and starts with a reset that is a no-op when it did), so
each recovery sets up the next scenario and proves the advice works. Each scenario is asserted
through --json (scenario, bootstrap_node, force, states, the first step's command, exit status)
and the human output (same exit status, scenario, bootstrap line, first step), without a
Prometheus (the 3 a.m. case: a named node comes with "verify no split brain" first) and with
the lab's Prometheus (--prometheus.url: no such step, the command first).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from galera_lab import faults
from galera_lab.lab import Lab, running_lab
from galera_lab.wait import wait_for
from tests.advisor.server import Run, run_advisor
from tests.e2e.conftest import E2E_MAX_FOR_SECONDS, rules_with_capped_for
from tests.support.tiers import starts_real_galera

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [pytest.mark.timeout(900)]
BASE_ADDRESS = "127.0.0.91"
CLUSTER = "galera_advisor"
NAMES = ["node1", "node2", "node3"]
TIMINGS: list[tuple[str, float]] = []
VERIFY = "Verify first that cluster "
NO_SPLIT = "had no split brain in the last 24 hours"


@pytest.fixture(scope="module")
@starts_real_galera
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    # GaleraSplitBrain's `for: 1m` capped to 15 s as in the e2e tests: the memory the advisor
    # asks for is the same rule; waiting the full minute proves nothing more.
    started = time.monotonic()
    rules = rules_with_capped_for(tmp_path_factory.mktemp("advisor-rules"))
    with running_lab(tmp_path_factory.mktemp("advisor-lab"), BASE_ADDRESS,
                     cluster_name=CLUSTER, rules_dir=rules) as running:  # fmt: skip
        TIMINGS.append(("lab up (3 nodes, exporters, Prometheus)", time.monotonic() - started))
        yield running
    print("\n[advisor lab] " + "; ".join(f"{what} {took:.1f} s" for what, took in TIMINGS))
    print(f"[advisor lab] module total {time.monotonic() - started:.1f} s")


@pytest.fixture(autouse=True)
def timed(lab: Lab, request: pytest.FixtureRequest) -> Iterator[None]:
    """Start healthy (a no-op after a test that recovered); time each scenario."""
    repaired = lab.reset()
    if repaired:
        TIMINGS.append((f"reset before {request.node.name}", repaired))
    started = time.monotonic()
    yield
    TIMINGS.append((request.node.name.removeprefix("test_"), time.monotonic() - started))


def advisor_args(lab: Lab, prometheus: bool) -> list[str]:
    """The nodes as NAME=URL; with Prometheus also the `cluster` label to look up there (when
    every node is down none reports its wsrep_cluster_name)."""
    args = [f"{n.name}={lab.stack.exporter_url(n)}" for n in lab.cluster.nodes]
    if prometheus:
        return [f"--prometheus.url={lab.stack.urls['prometheus']}", f"--cluster={CLUSTER}", *args]
    return args


def advise_until(
    lab: Lab, scenario: str, states: list[str], *, prometheus: bool = False, timeout: float = 60.0
) -> dict[str, Any]:
    """Run the advisor until it reports `scenario` with these node states (the exporters read
    live state: a file written at shutdown may show a scrape later); its JSON. Then the human
    output of the same state must say the same."""
    last: list[Run] = []

    def probe() -> Run | None:
        run = run_advisor(["--json", "--timeout", "5", *advisor_args(lab, prometheus)])
        last.append(run)
        out = run.json()
        return run if (out["scenario"], node_states(out)) == (scenario, states) else None

    try:
        run = wait_for(f"advisor says {scenario} {states}", probe, timeout, interval=0.5)
    except Exception:
        print(last[-1].out if last else "no run")
        raise
    out: dict[str, Any] = run.json()
    assert run.status == out["exit_status"]
    assert [n["name"] for n in out["nodes"]] == NAMES
    # The name comes from --cluster or from the nodes that run (wsrep_cluster_name).
    running = prometheus or any(n["observed"]["mysqld_up"] for n in out["nodes"])
    assert out["cluster"] == (CLUSTER if running else "(name unknown)")
    check_text(lab, out, prometheus)
    return out


def check_text(lab: Lab, out: dict[str, Any], prometheus: bool) -> None:
    """The human output of the same state: same exit status, scenario, node and first step."""
    text = run_advisor(["--timeout", "5", *advisor_args(lab, prometheus)])
    assert text.status == out["exit_status"], text.out
    lines = text.out.splitlines()
    assert f"Scenario: {out['scenario']}" in lines, text.out
    bootstrap = next(line for line in lines if line.startswith("Bootstrap node: "))
    assert bootstrap.startswith(f"Bootstrap node: {out['bootstrap_node'] or 'none named'}")
    first = lines[lines.index(next(x for x in lines if x.startswith("Next step"))) + 1]
    assert first == f"  - {out['steps'][0]}", (first, out["steps"][0])
    for node in NAMES:
        row = next(line for line in lines if line.startswith(f"{node} "))
        assert row.endswith(dict(zip(NAMES, node_states(out), strict=True))[node])


def node_states(out: dict[str, Any]) -> list[str]:
    return [n["state"] for n in out["nodes"]]


def follow(lab: Lab, node: int, *args: str) -> None:
    """Run the guide's command the advisor named, on the node it named."""
    result = lab.cfg_cm_cluster(node, *args)
    assert result.returncode == 0, result.stdout + result.stderr


def lowest_tiebreak_key(lab: Lab) -> str:
    """The node the decision model picks among equally advanced ones."""
    keys = {n.name: lab.stack.scrape(n).get("galera_node_tiebreak_key") for n in lab.cluster}
    return min(NAMES, key=lambda name: keys[name] or 0.0)


def number(name: str) -> int:
    return NAMES.index(name) + 1


def named_with_and_without_prometheus(
    lab: Lab, scenario: str, states: list[str], node: str, force: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both runs name `node`; without Prometheus the first step is to rule out a split brain,
    with the lab's Prometheus (no split brain so far) the first step is the command."""
    alone = advise_until(lab, scenario, states)
    assert (alone["bootstrap_node"], alone["force"], alone["exit_status"]) == (node, force, 2)
    assert alone["split_brain_24h"] is None
    assert alone["steps"][0].startswith(VERIFY) and NO_SPLIT in alone["steps"][0]
    assert f"do NOT bootstrap {node}" in alone["steps"][0]
    informed = advise_until(lab, scenario, states, prometheus=True)
    assert (informed["bootstrap_node"], informed["force"]) == (node, force)
    assert (informed["split_brain_24h"], informed["split_brain_24h_unknown_because"]) == (
        False, None)  # fmt: skip
    unnamed = [step.replace("(name unknown)", CLUSTER) for step in alone["steps"][1:]]
    assert informed["steps"] == unnamed  # the same steps, less the verification
    return alone, informed


# ----------------------------------------------------------------------- the scenarios
def test_1_healthy(lab: Lab) -> None:
    out = advise_until(lab, "healthy", ["primary"] * 3)
    assert (out["exit_status"], out["bootstrap_node"]) == (0, None)
    assert all(n["observed"]["local_state"] == "Synced" for n in out["nodes"])
    assert all(n["observed"]["backend_ready"] is True for n in out["nodes"])
    assert out["steps"] == [
        f"Nothing to do: all 3 nodes of cluster {CLUSTER} are in one Primary component."
    ]


def test_2_one_node_stopped(lab: Lab) -> None:
    lab.scenario("one-stopped")
    out = advise_until(lab, "degraded", ["stopped", "primary", "primary"])
    assert (out["exit_status"], out["bootstrap_node"]) == (1, None)
    assert out["steps"] == [
        "mysqld on node1 was shut down cleanly; when the maintenance is over, restart it with"
        " `sudo cfg-cm-cluster --restart-node` on node1."
    ]
    follow(lab, 1, "--restart-node")
    advise_until(lab, "healthy", ["primary"] * 3)


def test_5_one_node_terminated(lab: Lab) -> None:
    lab.scenario("one-killed")
    out = advise_until(lab, "degraded", ["crashed", "primary", "primary"])
    assert (out["exit_status"], out["bootstrap_node"]) == (1, None)
    assert out["steps"][0].startswith("mysqld on node1 is down and was not stopped cleanly")
    assert "`sudo cfg-cm-cluster --restart-node` on node1" in out["steps"][0]
    follow(lab, 1, "--restart-node")
    advise_until(lab, "healthy", ["primary"] * 3)


def test_8_one_node_cut_off(lab: Lab) -> None:
    lab.scenario("one-isolated")
    out = advise_until(lab, "degraded", ["non_primary", "primary", "primary"])
    assert (out["exit_status"], out["bootstrap_node"]) == (1, None)
    assert out["steps"][0].startswith("node1 is up but non-Primary while node2, node3 form")
    assert "Do NOT bootstrap node1" in out["steps"][0]
    faults.heal(lab.node(1))  # "fix the network": it rejoins by itself
    advise_until(lab, "healthy", ["primary"] * 3)


def test_9_all_nodes_cut_off(lab: Lab) -> None:
    lab.scenario("all-isolated")
    # Equal last_committed everywhere: the lowest tie-break key is the one node named.
    node = lowest_tiebreak_key(lab)
    alone, _ = named_with_and_without_prometheus(lab, "partitioned", ["non_primary"] * 3, node,
                                                 force=True)  # fmt: skip
    step = alone["steps"][1]
    assert step.startswith(f"All nodes of cluster {CLUSTER} are up but non-Primary")
    assert "Restore the network between the nodes" in step
    assert f"Only if it does not once the network works, bootstrap exactly one node, {node}" in step
    for n in lab.cluster:  # restore the network: the cluster re-forms by itself
        faults.heal(n)
    advise_until(lab, "healthy", ["primary"] * 3)


def test_3_4_two_then_all_nodes_stopped(lab: Lab) -> None:
    lab.scenario("two-stopped")
    out = advise_until(lab, "degraded", ["stopped", "stopped", "primary"])
    assert (out["exit_status"], out["bootstrap_node"]) == (1, None)
    assert [s.split(";")[0] for s in out["steps"]] == [
        "mysqld on node1 was shut down cleanly",
        "mysqld on node2 was shut down cleanly",
    ]
    faults.stop(lab.node(3))  # the last one out: all stopped, in the order 1, 2, 3
    alone, _ = named_with_and_without_prometheus(lab, "stopped", ["stopped"] * 3, "node3",
                                                 force=False)  # fmt: skip
    node3 = alone["nodes"][2]["observed"]
    assert (node3["safe_to_bootstrap"], node3["gvwstate_present"]) == (True, False)
    assert alone["steps"][1].startswith("Every node of cluster (name unknown) is down. node3 left")
    assert "On node3: run `sudo cfg-cm-cluster --bootstrap-node`" in alone["steps"][1]
    follow(lab, 3, "--bootstrap-node")
    follow(lab, 1, "--restart-node")
    follow(lab, 2, "--restart-node")
    advise_until(lab, "healthy", ["primary"] * 3)


def test_6_two_nodes_terminated(lab: Lab) -> None:
    lab.scenario("two-killed")
    alone, _ = named_with_and_without_prometheus(
        lab, "quorum_lost", ["crashed", "crashed", "non_primary"], "node3", force=True
    )
    step = alone["steps"][1]
    assert step.startswith(f"Cluster {CLUSTER} has no Primary component: node3 up but non-Primary")
    assert "On node3: stop mysqld first" in step
    assert step.count("`sudo cfg-cm-cluster --force-safe-to-bootstrap`") == 1
    faults.stop(lab.node(3))  # `systemctl stop mariadb`, as the step says
    follow(lab, 3, "--force-safe-to-bootstrap")
    follow(lab, 3, "--bootstrap-node")
    follow(lab, 1, "--restart-node")
    follow(lab, 2, "--restart-node")
    advise_until(lab, "healthy", ["primary"] * 3)


def test_7_all_nodes_terminated(lab: Lab) -> None:
    lab.scenario("all-killed")
    out = advise_until(lab, "crashed", ["crashed"] * 3)
    assert (out["exit_status"], out["bootstrap_node"]) == (2, None)
    assert [n["position_unknown"] for n in out["nodes"]] == [True] * 3
    step = out["steps"][0]
    assert step.startswith("Every node of cluster (name unknown) is down and none has safe_to_")
    assert "Start all nodes together, within 30 seconds" in step
    assert "the position of node1, node2, node3 is unknown; run `mariadbd --wsrep-recover`" in step
    # Follow it: recover every position (logged to the error log the exporter reads).
    for n in lab.cluster:
        assert n.recover_position()
    node = lowest_tiebreak_key(lab)  # an idle cluster: every node at the same seqno
    alone, _ = named_with_and_without_prometheus(lab, "crashed", ["crashed"] * 3, node,
                                                 force=True)  # fmt: skip
    assert [n["position_unknown"] for n in alone["nodes"]] == [False] * 3
    seqnos = {n["observed"]["recovered_position"].split(":")[1] for n in alone["nodes"]}
    assert len(seqnos) == 1  # RECOVERED, per node, from the exporters' error-log reading
    assert f"{node} is the most advanced node" in alone["steps"][1]
    assert f"On {node}: run `sudo cfg-cm-cluster --force-safe-to-bootstrap`" in alone["steps"][1]
    follow(lab, number(node), "--force-safe-to-bootstrap")
    follow(lab, number(node), "--bootstrap-node")
    for other in NAMES:
        if other != node:
            follow(lab, number(other), "--restart-node")
    advise_until(lab, "healthy", ["primary"] * 3)


def test_10_split_brain_and_its_24_hour_memory(lab: Lab) -> None:
    """Last: the lab's Prometheus then remembers the split brain for 24 h."""
    lab.scenario("split-brain")  # node3 cut off and forced Primary; both sides take a write
    out = advise_until(lab, "split_brain", ["primary"] * 3)
    assert (out["exit_status"], out["bootstrap_node"]) == (2, None)
    assert out["steps"][0].startswith(f"Cluster {CLUSTER} has 2 Primary components")
    assert "rejoin them with a full SST" in out["steps"][0]

    def firing() -> bool:
        return any(
            a["labels"]["alertname"] == "GaleraSplitBrain" and a["state"] == "firing"  # type: ignore[index]
            for a in lab.stack.alerts()
        )

    started = time.monotonic()
    wait_for("GaleraSplitBrain firing in the lab's Prometheus", firing,
             E2E_MAX_FOR_SECONDS * 3 + 30, interval=1.0)  # fmt: skip
    TIMINGS.append(("GaleraSplitBrain to fire", time.monotonic() - started))

    # Now lose quorum on the majority side and the minority: node2 survives non-Primary.
    # The sides share one UUID; the seqnos of node2 and node3 say nothing about whose data
    # is right. The nodes alone do not show the split any more.
    faults.kill(lab.node(3))
    faults.kill(lab.node(1))
    assert lab.node(3).recover_position()  # a position for node3, as an operator would get
    states = ["crashed", "non_primary", "crashed"]

    def informed() -> dict[str, Any] | None:
        out = advise_until(lab, "quorum_lost", states, prometheus=True)
        return out if out["nodes"][2]["position"] else None

    with_memory = wait_for("node3's recovered position seen", informed, 30, interval=0.5)
    assert with_memory["split_brain_24h"] is True
    assert (with_memory["bootstrap_node"], with_memory["exit_status"]) == (None, 2)
    assert "the cluster had a split brain in the last 24 hours" in with_memory["steps"][0]

    # Without Prometheus the nodes' evidence names a node: the first step says to rule out
    # exactly what happened here.
    alone = advise_until(lab, "quorum_lost", states)
    print(f"without Prometheus the evidence names {alone['bootstrap_node']}")
    assert alone["bootstrap_node"] in NAMES and alone["split_brain_24h"] is None
    assert alone["steps"][0].startswith(VERIFY) and NO_SPLIT in alone["steps"][0]
    # The lab is torn down after this; the next module starts a fresh one.
