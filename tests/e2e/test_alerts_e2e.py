"""End to end on a real cluster: inject each guide scenario, wait for its alert in Prometheus
and for the notification (with runbook_url) at the Alertmanager webhook sink, run the
runbook's step through the lab's cfg-cm-cluster, and check the alert resolves.

Every alert is waited for until it fires and notifies. The lab loads a copy of rules/ whose
`for:` waits longer than 1 minute (GaleraNodeStopped 10m, GaleraClusterSingleNode 5m,
GaleraSplitBrainHealed 5m, GaleraBackendNotReady 5m, GaleraClusterHistoryReset 5m) are capped
at 1 minute (conftest.py), so a test proves expression, labels, annotations and routing on the
real cluster in minutes; the full `for:` timing is proven by the promtool tests. The
neighbouring alerts that must not fire are watched the whole time.
"""

from __future__ import annotations

import pytest

from galera_lab import faults
from galera_lab.cluster import ZERO_UUID
from galera_lab.lab import Lab
from tests.e2e.helpers import (
    READY_LINE,
    RESET_LINE,
    RUNBOOK,
    Watch,
    backend_log,
    instance,
    ok,
    wait_quiet,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(900)]

# Set by the split-brain test (last): it stays for 24 h by design.
AFTER_SPLIT = frozenset({"GaleraSplitBrainHealed"})


@pytest.fixture
def healthy(lab: Lab) -> Lab:
    lab.reset()
    wait_quiet(lab, AFTER_SPLIT)
    return lab


def check_notified(watch: Watch, name: str, labels: dict[str, str], anchor: str) -> None:
    note = watch.notification(name, labels)
    assert note["annotations"]["runbook_url"] == RUNBOOK + anchor
    assert note["annotations"]["description"]
    watch.fault_phase_done()


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


def test_two_killed_is_quorum_lost_not_isolated(healthy: Lab) -> None:
    lab = healthy
    labels = {"instance": instance(lab, 3)}
    watch = Watch(lab, "two-killed")
    lab.scenario("two-killed")
    alert = watch.alert("GaleraQuorumLost", labels)
    description = alert["annotations"]["description"]
    assert f"{instance(lab, 1)} (crashed)" in description
    assert f"{instance(lab, 2)} (crashed)" in description
    check_notified(watch, "GaleraQuorumLost", labels, "galeraquorumlost")
    # The runbook: force and bootstrap the named survivor, then restart the others.
    ok(lab.cfg_cm_cluster(3, "--force-safe-to-bootstrap"))
    ok(lab.cfg_cm_cluster(3, "--bootstrap-node"))
    ok(lab.cfg_cm_cluster(1, "--restart-node"))
    ok(lab.cfg_cm_cluster(2, "--restart-node"))
    watch.resolved("GaleraQuorumLost", labels)
    assert lab.cluster.healthy_problem() is None
    never(watch, {"GaleraNodeIsolated", "GaleraClusterPartitioned"})


def test_all_stopped_names_the_safe_node(healthy: Lab) -> None:
    lab = healthy
    labels = {"instance": instance(lab, 3)}
    watch = Watch(lab, "all-stopped")
    lab.scenario("all-stopped")
    alert = watch.alert("GaleraClusterStopped", labels)
    assert f"bootstrap-node` on {instance(lab, 3)}" in alert["annotations"]["description"]
    check_notified(watch, "GaleraClusterStopped", labels, "galeraclusterstopped")
    ok(lab.cfg_cm_cluster(3, "--bootstrap-node"))
    ok(lab.cfg_cm_cluster(1, "--restart-node"))
    ok(lab.cfg_cm_cluster(2, "--restart-node"))
    watch.resolved("GaleraClusterStopped", labels)
    assert lab.cluster.healthy_problem() is None
    never(watch, {"GaleraClusterCrashed", "GaleraNodeCrashed"})


def test_all_killed(healthy: Lab) -> None:
    lab = healthy
    labels = {"cluster": lab.cluster.spec.cluster_name}
    watch = Watch(lab, "all-killed")
    lab.scenario("all-killed")
    watch.alert("GaleraClusterCrashed", labels)
    check_notified(watch, "GaleraClusterCrashed", labels, "galeraclustercrashed")
    # The runbook's first step: start every node (with its recovered position, as
    # galera_recovery does) and let pc.recovery re-form the cluster.
    for number in (1, 2, 3):
        ok(lab.cfg_cm_cluster(number, "--restart-node", "--no-wait"))
    watch.resolved("GaleraClusterCrashed", labels)
    lab.cluster.wait_healthy(timeout=120.0)
    assert lab.cluster.healthy_problem() is None
    assert lab.cluster.state_uuid() != ZERO_UUID, "history kept thanks to the recovered position"
    never(watch, {"GaleraClusterStopped"})


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


def test_all_isolated(healthy: Lab) -> None:
    lab = healthy
    labels = {"cluster": lab.cluster.spec.cluster_name}
    watch = Watch(lab, "all-isolated")
    lab.scenario("all-isolated")
    watch.alert("GaleraClusterPartitioned", labels)
    check_notified(watch, "GaleraClusterPartitioned", labels, "galeraclusterpartitioned")
    for node in lab.cluster.nodes:  # restore the network; no bootstrap needed
        faults.heal(node)
    watch.resolved("GaleraClusterPartitioned", labels)
    # The lab isolates the nodes one after the other: the first one is briefly "isolated".
    never(watch, {"GaleraQuorumLost", "GaleraNodeIsolated"}, pending_too=False)


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
