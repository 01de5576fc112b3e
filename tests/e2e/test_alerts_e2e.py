"""End to end on a real cluster: inject each guide scenario, wait for its alert in Prometheus
and for the notification (with runbook_url) at the Alertmanager webhook sink, run the
runbook's step through the lab's cfg-cm-cluster, and check the alert resolves.

The scenario alerts come as twins of one name (rules/galera-alerts.yml): advice="bootstrap"
names the node (label `instance` and annotation `bootstrap_node`), advice="verify" names none.
Every test also records every `bootstrap_node` any active alert carried since the fault and
checks it was only ever the expected node, and never two nodes at once.

Every alert is waited for until it fires and notifies. The lab loads a copy of rules/ whose
`for:` waits longer than 15 s are capped at 15 s (conftest.py), so a test proves expression,
labels, annotations and routing on the real cluster in minutes; the full `for:` timing is
proven by the promtool tests. The neighbouring alerts that must not fire are watched the whole
time.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from galera_lab import faults, procs
from galera_lab.cluster import ZERO_UUID
from galera_lab.lab import Lab
from galera_lab.wait import wait_for
from tests.e2e.conftest import E2E_MAX_FOR_SECONDS
from tests.e2e.helpers import (
    READY_LINE,
    RESET_LINE,
    RUNBOOK,
    Watch,
    backend_log,
    bootstrap_twin,
    instance,
    named_only,
    ok,
    verify_twin,
    wait_quiet,
)

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [pytest.mark.timeout(900)]

# Set by the split-brain test (last): it stays for 24 h by design.
AFTER_SPLIT = frozenset({"GaleraSplitBrainHealed"})
# Never firing in any of these scenarios: every node stays observed, and no Primary misses a
# host. They may pend for one evaluation: the first scrape after mysqld dies finds the
# exporter's kept connection broken ("(2006) MySQL server has gone away", error kind "other"),
# so the node is unobservable for one scrape before it is seen refusing connections.
BLIND = {"GaleraClusterUnobservable", "GaleraNodeUnreachable", "GaleraExporterDown"}


@pytest.fixture
def healthy(lab: Lab) -> Lab:
    lab.reset()
    wait_quiet(lab, AFTER_SPLIT)
    return lab


def check_notified(
    watch: Watch, name: str, labels: dict[str, str], anchor: str
) -> dict[str, object]:
    note = watch.notification(name, labels)
    assert note["annotations"]["runbook_url"] == RUNBOOK + anchor
    assert note["annotations"]["description"]
    watch.fault_phase_done()
    return note


def cluster_of(lab: Lab) -> str:
    return lab.cluster.spec.cluster_name


def expected_candidate(lab: Lab) -> str:
    """The node the decision model must name among nodes with known positions: the most
    advanced, a tie going to the lowest galera_node_tiebreak_key (read from Prometheus)."""
    cluster = cluster_of(lab)
    positions = {
        r["metric"]["instance"]: float(r["value"][1])  # type: ignore[index]
        for r in lab.stack.query(f'instance:galera_position:seqno{{cluster="{cluster}"}}')
    }
    keys = {
        r["metric"]["instance"]: float(r["value"][1])  # type: ignore[index]
        for r in lab.stack.query(f'galera_node_tiebreak_key{{cluster="{cluster}"}}')
    }
    assert positions, "no known position"
    best = max(positions.values())
    leaders = sorted(n for n, seqno in positions.items() if seqno == best)
    print(f"[e2e] positions {positions}, tie-break keys {keys}, leaders {leaders}")
    return str(min(leaders, key=lambda n: keys[n]))


def never(watch: Watch, forbidden: set[str], pending_too: bool = True) -> None:
    """The neighbours' alerts were not even pending while the fault lasted, and never fired.

    While the runbook step runs, joiners briefly look down and scrapes of a view change can
    disagree: that may make an alert pend for seconds, which its `for:` is there to absorb.
    """
    if pending_too:
        assert not watch.fault_active & forbidden, watch.fault_active
    assert not watch.seen_firing & forbidden, watch.seen_firing


def test_one_killed(healthy: Lab) -> None:
    lab = healthy
    labels = {"instance": instance(lab, 1)}
    watch = Watch(lab, "one-killed")
    lab.scenario("one-killed")
    alert = watch.alert("GaleraNodeCrashed", labels)
    assert "2 of 3 members" in alert["annotations"]["description"]
    check_notified(watch, "GaleraNodeCrashed", labels, "galeranodecrashed")
    ok(lab.cfg_cm_cluster(1, "--restart-node"))
    watch.resolved("GaleraNodeCrashed", labels)
    watch.notification("GaleraNodeCrashed", labels, status="resolved")
    assert lab.cluster.healthy_problem() is None
    never(watch, {"GaleraNodeStopped", "GaleraQuorumLost", "GaleraNodeIsolated"})
    never(watch, BLIND, pending_too=False)
    named_only(watch, set())


def test_two_killed_is_quorum_lost_naming_the_survivor(healthy: Lab) -> None:
    lab = healthy
    survivor = instance(lab, 3)
    labels = {"instance": survivor, "advice": "bootstrap"}
    watch = Watch(lab, "two-killed")
    lab.scenario("two-killed")
    alert = watch.alert("GaleraQuorumLost", labels)
    bootstrap_twin(alert, survivor)
    description = alert["annotations"]["description"]
    assert f"{instance(lab, 1)} (crashed)" in description
    assert f"{instance(lab, 2)} (crashed)" in description
    # The crashed nodes' gvwstate.dat lists the survivor's gcomm UUID: it has all they had.
    evidence = alert["annotations"]["evidence"]
    assert f"{instance(lab, 1)} crashed, covered by a running survivor" in evidence
    assert f"{instance(lab, 2)} crashed, covered by a running survivor" in evidence
    assert f"{survivor} non_primary, seqno " in evidence
    note = check_notified(watch, "GaleraQuorumLost", labels, "galeraquorumlost")
    assert note["annotations"]["bootstrap_node"] == survivor  # type: ignore[index]
    # The runbook: stop the named survivor first (its own shutdown would undo a force made
    # while it runs), then force and bootstrap it, then restart the others.
    faults.stop(lab.node(3))
    ok(lab.cfg_cm_cluster(3, "--force-safe-to-bootstrap"))
    ok(lab.cfg_cm_cluster(3, "--bootstrap-node"))
    ok(lab.cfg_cm_cluster(1, "--restart-node"))
    ok(lab.cfg_cm_cluster(2, "--restart-node"))
    watch.resolved("GaleraQuorumLost", {"cluster": cluster_of(lab)})
    assert lab.cluster.healthy_problem() is None
    never(watch, {"GaleraNodeIsolated", "GaleraClusterPartitioned"})
    never(watch, BLIND, pending_too=False)
    named_only(watch, {survivor})


def test_all_stopped_names_the_safe_node(healthy: Lab) -> None:
    lab = healthy
    last_out = instance(lab, 3)
    labels = {"instance": last_out, "advice": "bootstrap"}
    watch = Watch(lab, "all-stopped")
    lab.scenario("all-stopped")
    alert = watch.alert("GaleraClusterStopped", labels)
    bootstrap_twin(alert, last_out)
    assert "safe_to_bootstrap 1: no force needed" in alert["annotations"]["description"]
    evidence = alert["annotations"]["evidence"]
    assert f"{last_out} stopped, seqno " in evidence
    assert evidence.count("safe_to_bootstrap 1") == 1
    for number in (1, 2):
        assert f"{instance(lab, number)} stopped, seqno " in evidence
    note = check_notified(watch, "GaleraClusterStopped", labels, "galeraclusterstopped")
    assert note["annotations"]["bootstrap_node"] == last_out  # type: ignore[index]
    ok(lab.cfg_cm_cluster(3, "--bootstrap-node"))
    ok(lab.cfg_cm_cluster(1, "--restart-node"))
    ok(lab.cfg_cm_cluster(2, "--restart-node"))
    watch.resolved("GaleraClusterStopped", {"cluster": cluster_of(lab)})
    assert lab.cluster.healthy_problem() is None
    never(watch, {"GaleraClusterCrashed", "GaleraNodeCrashed"})
    never(watch, BLIND, pending_too=False)
    named_only(watch, {last_out})


def test_all_killed_names_no_node_until_positions_are_recovered(healthy: Lab) -> None:
    """All killed: every grastate.dat says seqno -1, so no position is known and the alert
    names no node. Once `mariadbd --wsrep-recover` has logged each node's position to the
    error log the exporter follows, the most advanced node is named (all three are equal
    here: the lowest galera_node_tiebreak_key wins), and bootstrapping it keeps the history.
    """
    lab = healthy
    cluster = {"cluster": cluster_of(lab)}
    watch = Watch(lab, "all-killed")
    lab.scenario("all-killed")
    alert = watch.alert("GaleraClusterCrashed", {**cluster, "advice": "verify"})
    verify_twin(alert)
    assert "mariadbd --wsrep-recover" in alert["annotations"]["description"]
    for number in (1, 2, 3):
        assert (
            f"{instance(lab, number)} crashed, position unknown"
            in (alert["annotations"]["evidence"])
        )
    check_notified(
        watch, "GaleraClusterCrashed", {**cluster, "advice": "verify"}, "galeraclustercrashed"
    )
    assert not watch.named_nodes(), "a node was named before any position was known"

    # The runbook's "Recovering a position", on every node.
    positions = {number: lab.node(number).recover_position() for number in (1, 2, 3)}
    print(f"[e2e] recovered positions {positions}")
    assert all(positions.values()), positions
    recovered = Watch(lab, "all-killed+recover")
    named = recovered.alert("GaleraClusterCrashed", {**cluster, "advice": "bootstrap"})
    node = named["labels"]["instance"]
    assert node == expected_candidate(lab)
    bootstrap_twin(named, node)
    assert "--force-safe-to-bootstrap" in named["annotations"]["description"]
    for number in (1, 2, 3):
        seqno = positions[number].rsplit(":", 1)[1]  # type: ignore[union-attr]
        assert (
            f"{instance(lab, number)} crashed, seqno {seqno} of "
            in (named["annotations"]["evidence"])
        )
    note = check_notified(
        recovered, "GaleraClusterCrashed", {"instance": node}, "galeraclustercrashed"
    )
    assert note["annotations"]["bootstrap_node"] == node  # type: ignore[index]
    # The runbook's safe order on the named node, then the others.
    number = next(n for n in (1, 2, 3) if instance(lab, n) == node)
    ok(lab.cfg_cm_cluster(number, "--force-safe-to-bootstrap"))
    ok(lab.cfg_cm_cluster(number, "--bootstrap-node"))
    for other in (1, 2, 3):
        if other != number:
            ok(lab.cfg_cm_cluster(other, "--restart-node"))
    recovered.resolved("GaleraClusterCrashed", cluster)
    lab.cluster.wait_healthy(timeout=120.0)
    assert lab.cluster.healthy_problem() is None
    assert lab.cluster.state_uuid() != ZERO_UUID, "history kept thanks to the recovered position"
    never(watch, {"GaleraClusterStopped"})
    never(watch, BLIND, pending_too=False)
    never(recovered, {"GaleraClusterStopped"})
    never(recovered, BLIND, pending_too=False)
    named_only(recovered, {node})


def test_one_isolated_is_not_quorum_lost(healthy: Lab) -> None:
    lab = healthy
    labels = {"instance": instance(lab, 1)}
    watch = Watch(lab, "one-isolated")
    lab.scenario("one-isolated")
    alert = watch.alert("GaleraNodeIsolated", labels)
    assert "Do NOT bootstrap" in alert["annotations"]["description"]
    check_notified(watch, "GaleraNodeIsolated", labels, "galeranodeisolated")
    faults.heal(lab.node(1))  # the runbook: fix the network; it rejoins by itself
    watch.resolved("GaleraNodeIsolated", labels)
    never(watch, {"GaleraQuorumLost", "GaleraClusterPartitioned"})
    never(watch, BLIND, pending_too=False)
    named_only(watch, set())


def test_all_isolated_names_one_node(healthy: Lab) -> None:
    lab = healthy
    watch = Watch(lab, "all-isolated")
    lab.scenario("all-isolated")
    alert = watch.alert("GaleraClusterPartitioned", {"advice": "bootstrap"})
    node = alert["labels"]["instance"]
    assert node == expected_candidate(lab)  # equal positions: the tie-break names one
    bootstrap_twin(alert, node)
    assert "Restore the network" in alert["annotations"]["description"]
    for number in (1, 2, 3):
        assert f"{instance(lab, number)} non_primary, seqno " in alert["annotations"]["evidence"]
    note = check_notified(
        watch, "GaleraClusterPartitioned", {"instance": node}, "galeraclusterpartitioned"
    )
    assert note["annotations"]["bootstrap_node"] == node  # type: ignore[index]
    for peer in lab.cluster.nodes:  # restore the network; no bootstrap needed
        faults.heal(peer)
    watch.resolved("GaleraClusterPartitioned", {"cluster": cluster_of(lab)})
    # The lab isolates the nodes one after the other: the first one is briefly "isolated".
    never(watch, {"GaleraQuorumLost", "GaleraNodeIsolated"} | BLIND, pending_too=False)
    named_only(watch, {node})


def test_one_stopped_does_not_page_as_a_crash(healthy: Lab) -> None:
    lab = healthy
    labels = {"instance": instance(lab, 1)}
    watch = Watch(lab, "one-stopped")
    lab.scenario("one-stopped")
    alert = watch.alert("GaleraNodeStopped", labels)
    assert alert["labels"]["severity"] == "info"  # planned maintenance does not page
    check_notified(watch, "GaleraNodeStopped", labels, "galeranodestopped")
    ok(lab.cfg_cm_cluster(1, "--restart-node"))
    watch.resolved("GaleraNodeStopped", labels)
    never(watch, {"GaleraNodeCrashed"})
    never(watch, BLIND, pending_too=False)
    named_only(watch, set())


def test_two_stopped(healthy: Lab) -> None:
    lab = healthy
    labels = {"instance": instance(lab, 3)}
    watch = Watch(lab, "two-stopped")
    lab.scenario("two-stopped")
    watch.alert("GaleraClusterSingleNode", labels)
    check_notified(watch, "GaleraClusterSingleNode", labels, "galeraclustersinglenode")
    for number in (1, 2):
        ok(lab.cfg_cm_cluster(number, "--restart-node"))
    watch.resolved("GaleraClusterSingleNode", labels)
    never(watch, {"GaleraNodeCrashed", "GaleraQuorumLost"})
    never(watch, BLIND, pending_too=False)
    named_only(watch, set())


def test_survivor_unobservable_after_two_stopped_names_no_node(healthy: Lab) -> None:
    """Issue 11: two clean stops, then the live survivor's exporter dies. The stopped nodes
    have real (older) seqnos; the survivor still serves but nobody can see it. No node may be
    named: the cluster is unobservable, not stopped or crashed."""
    lab = healthy
    cluster = {"cluster": cluster_of(lab)}
    watch = Watch(lab, "unobservable")
    lab.scenario("two-stopped")
    exporter = lab.stack.processes["exporter-node3"]
    assert procs.stop(exporter), "the survivor's exporter was not running"
    alert = watch.alert("GaleraClusterUnobservable", cluster)
    assert f"{instance(lab, 3)} (unobservable)" in alert["annotations"]["description"]
    assert "Bootstrap nothing" in alert["annotations"]["description"]
    check_notified(watch, "GaleraClusterUnobservable", cluster, "galeraclusterunobservable")
    assert lab.node(3).synced(), "the survivor kept serving all along"
    # The runbook: bring the exporter back (same address: Prometheus' target is unchanged).
    lab.stack.processes["exporter-node3"] = procs.spawn(
        exporter.name, list(exporter.cmdline), Path(exporter.log)
    )
    lab.stack.start()  # records it and waits until every exporter answers
    watch.resolved("GaleraClusterUnobservable", cluster)
    # Seen again, the survivor is what it was all along: the one Primary node of a degraded
    # cluster (the decision model's series, not an alert: GaleraClusterSingleNode would pend
    # 30 s more).
    wait_for(
        "the recorded scenario back to degraded",
        lambda: lab.stack.query(
            f'cluster:galera_scenario:info{{cluster="{cluster_of(lab)}",scenario="degraded"}}'
        ),
        30.0,
        interval=1.0,
    )
    for number in (1, 2):
        ok(lab.cfg_cm_cluster(number, "--restart-node"))
    never(
        watch,
        {
            "GaleraClusterStopped",
            "GaleraClusterCrashed",
            "GaleraQuorumLost",
            "GaleraNodeUnreachable",
        },
    )
    named_only(watch, set())


def test_joiner_in_sst_is_never_crashed(healthy: Lab) -> None:
    """Issue 11: a joiner in a full SST while another node is stopped refuses connections
    like a dead mysqld, but it is joining (sst_in_progress marker): restarting it, as
    GaleraNodeCrashed would say, aborts the transfer.

    Found on the real lab: before the SST script creates its marker, the joiner has already
    written gvwstate.dat (it is in the group's view), so for a few seconds it records as
    `crashed`. GaleraNodeCrashed's `for:` absorbs that; this test measures it and requires it
    never fires (reported to the rules' owner).
    """
    lab = healthy
    joiner = instance(lab, 2)
    watch = Watch(lab, "sst-joiner")
    lab.scenario("one-stopped")  # node1 stopped: the Primary component misses a member
    faults.wipe(lab.node(2))  # an empty datadir: its next start is a full SST from node3
    started = time.monotonic()
    ok(lab.cfg_cm_cluster(2, "--restart-node", "--no-wait"))
    timeline: list[tuple[float, str, str]] = []  # seconds, state, sst marker / gvwstate

    def joined() -> bool:
        watch.poll()
        state = ",".join(
            str(s["metric"]["state"])  # type: ignore[index]
            for s in lab.stack.query(f'instance:galera_node:state{{instance="{joiner}"}}')
        )
        files = ",".join(
            f"{s['metric']['__name__']}={s['value'][1]}"  # type: ignore[index]
            for s in lab.stack.query(
                f'{{__name__=~"galera_sst_in_progress|galera_gvwstate_present",'
                f'instance="{joiner}"}}'
            )
        )
        if not timeline or timeline[-1][1:] != (state, files):
            timeline.append((time.monotonic() - started, state, files))
        return lab.node(2).synced()

    wait_for("node2 Synced after a full SST", joined, 120.0, interval=0.5)
    for seconds, state, files in timeline:
        print(f"[e2e] joiner +{seconds:5.1f}s {state:<13} {files}")
    states = [state for _, state, _ in timeline]
    assert "joining" in states, timeline
    crashed = sum(
        later[0] - seconds
        for (seconds, state, _), later in itertools.pairwise(timeline)
        if state in ("crashed", "down")
    )
    print(f"[e2e] joiner recorded crashed/down for {crashed:.1f}s before its SST marker")
    assert crashed < 20.0, timeline  # well inside GaleraNodeCrashed's production for: (1m)
    assert crashed < E2E_MAX_FOR_SECONDS / 2, timeline  # and inside the lab's capped one
    assert "GaleraNodeCrashed" not in watch.seen_firing, watch.seen_firing
    ok(lab.cfg_cm_cluster(1, "--restart-node"))
    lab.cluster.wait_healthy(timeout=60.0)
    never(watch, {"GaleraQuorumLost", "GaleraClusterCrashed"})
    never(watch, BLIND, pending_too=False)
    named_only(watch, set())


def test_backend_not_ready(healthy: Lab) -> None:
    lab = healthy
    labels = {"instance": instance(lab, 2)}
    watch = Watch(lab, "backend")
    with backend_log(lab.node(2)).open("a") as log:
        log.write(RESET_LINE + "\n")  # the back-end restarted and has not said it is ready
    watch.alert("GaleraBackendNotReady", labels)
    check_notified(watch, "GaleraBackendNotReady", labels, "galerabackendnotready")
    # The runbook's step is reading the back-end log until its readiness line appears.
    with backend_log(lab.node(2)).open("a") as log:
        log.write(READY_LINE + "\n")
    watch.resolved("GaleraBackendNotReady", labels)


def test_split_brain(healthy: Lab) -> None:
    """Last: GaleraSplitBrainHealed stays for 24 h after this, by design."""
    lab = healthy
    labels = {"cluster": lab.cluster.spec.cluster_name}
    watch = Watch(lab, "split-brain")
    lab.scenario("split-brain")
    alert = watch.alert("GaleraSplitBrain", labels)
    description = alert["annotations"]["description"]
    assert f"{instance(lab, 3)} in [{lab.node(3).spec.address}:3306]" in description
    check_notified(watch, "GaleraSplitBrain", labels, "galerasplitbrain")
    # The runbook: keep the larger side; stop node 3 and empty its datadir so it rejoins by a
    # full SST (an IST would keep its divergent rows), start it again.
    faults.wipe(lab.node(3))
    ok(lab.cfg_cm_cluster(3, "--restart-node"))
    watch.resolved("GaleraSplitBrain", labels)
    assert lab.cluster.healthy_problem() is None
    never(
        watch,
        {"GaleraClusterUuidConflict", "GaleraQuorumLost", "GaleraNodeIsolated"} | BLIND,
        pending_too=False,
    )
    named_only(watch, set())
    healed = Watch(lab, "split-healed")
    healed.alert("GaleraSplitBrainHealed", labels)
    check_notified(healed, "GaleraSplitBrainHealed", labels, "galerasplitbrainhealed")


def test_plain_restart_after_all_killed_resets_history(healthy: Lab) -> None:
    """Last but not least: afterwards the cluster runs with the zero UUID (reset by the lab)."""
    lab = healthy
    labels = {"cluster": lab.cluster.spec.cluster_name}
    watch = Watch(lab, "history-reset")
    lab.scenario("all-killed")
    # What the runbook warns against: a plain start without the recovered position.
    for node in lab.cluster.nodes:
        node.start()
    lab.cluster.wait_healthy(timeout=120.0)
    assert lab.cluster.state_uuid() == ZERO_UUID, "pc.recovery re-formed it without history"
    watch.alert("GaleraClusterHistoryReset", labels)
    check_notified(watch, "GaleraClusterHistoryReset", labels, "galeraclusterhistoryreset")
    never(watch, {"GaleraSplitBrain", "GaleraQuorumLost"})
    # Within 24 h of the split brain no node is named, whatever the positions say.
    named_only(watch, set())
