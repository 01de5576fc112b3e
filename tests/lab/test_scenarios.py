"""Every scenario of the recovery guide on a real 3-node cluster: the exporters show what
galera-lab.md observed, and the guide's recovery step (via cfg-cm-cluster) makes it healthy.

Node numbering follows the guide: nodes A and B (1, 2) fail, node C (3) survives.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from galera_lab.cfgcm import NOT_SAFE_WARNING, STATUS_VARIABLES
from galera_lab.cluster import ZERO_UUID
from galera_lab.lab import Lab
from galera_lab.scenarios import SPLIT_MAJORITY_NOTE, SPLIT_MINORITY_NOTE
from tests.lab.helpers import HEALTHY, Before, at_least, expect

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [
    pytest.mark.timeout(400),
]

NON_PRIMARY = {
    "galera_up": 1,
    'galera_cluster_status{status="non-Primary"}': 1,
    "galera_cluster_size": 1,
    "galera_ready": 0,
    "galera_connected": 1,
    "galera_cluster_conf_id": -1,  # Galera's 2^64-1
    "galera_local_state_code": 0,  # Initialized
    "galera_cluster_weight": 0,
}
STOPPED = {
    "galera_up": 0,
    "galera_cluster_size": None,  # nothing stale from before the stop
    "galera_grastate_seqno": at_least(1),
    "galera_grastate_safe_to_bootstrap": 0,
    "galera_gvwstate_present": 0,
}
KILLED = {
    "galera_up": 0,
    "galera_grastate_seqno": -1,
    "galera_grastate_safe_to_bootstrap": 0,
    "galera_gvwstate_present": 1,  # pc.recovery's view survives kill -9
}


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"rc {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def assert_recovered(lab: Lab, before: Before, timeout: float = 120.0) -> None:
    """3 nodes Synced in one Primary, the same state uuid, the pre-fault row on every node."""
    before.lap("recovery")
    lab.cluster.wait_healthy(timeout)
    for number in (1, 2, 3):
        expect(lab, number, {**HEALTHY, "galera_cluster_size": 3})
    uuid = lab.cluster.state_uuid()
    assert uuid == before.state_uuid != ZERO_UUID
    assert lab.cluster.missing_marker(before.note) == []
    before.lap("healthy")


def test_one_stopped(lab: Lab, before: Before) -> None:
    lab.scenario("one-stopped")
    before.lap("fault")
    expect(lab, 1, STOPPED)
    for n in (2, 3):
        expect(lab, n, {**HEALTHY, "galera_cluster_size": 2})
    before.lap("metrics")
    ok(lab.cfg_cm_cluster(1, "--restart-node"))
    assert_recovered(lab, before)


def test_two_stopped(lab: Lab, before: Before) -> None:
    lab.scenario("two-stopped")
    before.lap("fault")
    for n in (1, 2):
        expect(lab, n, STOPPED)
    # The survivor stays Primary and writable, and marks itself safe to bootstrap while running.
    expect(lab, 3, {**HEALTHY, "galera_cluster_size": 1, "galera_grastate_safe_to_bootstrap": 1})
    lab.cluster.write_marker("written while alone", lab.node(3))
    before.lap("metrics")
    for n in (1, 2):
        ok(lab.cfg_cm_cluster(n, "--restart-node"))
    assert_recovered(lab, before)
    assert lab.cluster.missing_marker("written while alone") == []


def test_all_stopped(lab: Lab, before: Before) -> None:
    lab.scenario("all-stopped")
    before.lap("fault")
    scrapes = {
        n: expect(
            lab,
            n,
            {"galera_up": 0, "galera_gvwstate_present": 0, "galera_grastate_seqno": at_least(1)},
        )
        for n in (1, 2, 3)
    }
    safe = [n for n, m in scrapes.items() if m.get("galera_grastate_safe_to_bootstrap") == 1]
    seqnos = {n: m.get("galera_grastate_seqno") for n, m in scrapes.items()}
    assert safe == [3], "exactly the last node out is safe to bootstrap"
    assert seqnos[3] == max(s for s in seqnos.values() if s is not None)
    assert len(set(seqnos.values())) == 3, f"each departure uses one seqno: {seqnos}"
    before.lap("metrics")

    # The wrong node first: refused with the guide's box, and its grastate is left alone.
    seqno_1 = lab.node(1).grastate_fields()["seqno"]
    refused = lab.cfg_cm_cluster(1, "--bootstrap-node")
    assert refused.returncode == 1
    assert NOT_SAFE_WARNING in refused.stderr
    assert not lab.node(1).is_running()
    assert lab.node(1).grastate_fields()["seqno"] == seqno_1

    # The runbook: bootstrap the node the metrics name, then start the others.
    ok(lab.cfg_cm_cluster(safe[0], "--bootstrap-node"))
    expect(lab, 3, {**HEALTHY, "galera_cluster_size": 1})
    for n in (1, 2):
        ok(lab.cfg_cm_cluster(n, "--restart-node"))
    assert_recovered(lab, before)


def test_one_killed(lab: Lab, before: Before) -> None:
    lab.scenario("one-killed")
    before.lap("fault")
    expect(lab, 1, KILLED)
    for n in (2, 3):
        expect(lab, n, {**HEALTHY, "galera_cluster_size": 2})
    lab.cluster.write_marker("written while node 1 was dead")  # a gap for IST to fill
    before.lap("metrics")
    log_size = lab.node(1).error_log.stat().st_size
    ok(lab.cfg_cm_cluster(1, "--restart-node"))  # galera_recovery: --wsrep-recover, then IST
    assert_recovered(lab, before)
    restart_log = lab.node(1).error_log.read_text(errors="replace")[log_size:]
    assert "Recovered position" in restart_log
    assert "IST received" in restart_log, "the recovered position must allow IST"
    # The SST script runs for an IST too; it says which one it did.
    assert "mariabackup SST completed on joiner" not in restart_log, "no SST (pitfall 3)"
    assert lab.cluster.missing_marker("written while node 1 was dead") == []


def test_two_killed(lab: Lab, before: Before) -> None:
    lab.scenario("two-killed")
    before.lap("fault")
    for n in (1, 2):
        expect(lab, n, KILLED)
    metrics = expect(lab, 3, {**NON_PRIMARY, "galera_grastate_safe_to_bootstrap": 0})
    assert metrics.labels("galera_status_info")["cluster_state_uuid"] == before.state_uuid
    before.lap("metrics")

    # The guide: force safe_to_bootstrap on C, bootstrap C, start A and B.
    assert ok(lab.cfg_cm_cluster(3, "--safe-to-bootstrap")).strip() == "safe_to_bootstrap: 0"
    ok(lab.cfg_cm_cluster(3, "--force-safe-to-bootstrap"))
    ok(lab.cfg_cm_cluster(3, "--bootstrap-node"))
    expect(lab, 3, {**HEALTHY, "galera_cluster_size": 1})
    for n in (1, 2):
        ok(lab.cfg_cm_cluster(n, "--restart-node"))
    assert_recovered(lab, before)


def test_all_killed(lab: Lab, before: Before) -> None:
    lab.scenario("all-killed")
    before.lap("fault")
    for n in (1, 2, 3):
        expect(lab, n, KILLED)
    before.lap("metrics")

    # The guide: start the nodes again and the cluster restores itself. All three at once, as
    # after a power cut: pc.recovery needs every member of the saved view back.
    command = [
        sys.executable,
        "-m",
        "galera_lab.cli",
        "--dir",
        str(lab.cluster.spec.base_dir),
        "cfg-cm-cluster",
        "--restart-node",
        "--node",
    ]
    restarts = [
        subprocess.Popen(
            [*command, str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for n in (1, 2, 3)
    ]
    for proc in restarts:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"{out}\n{err}"
    # With --wsrep-recover + start position the history is kept: not the zero uuid of a plain
    # restart (galera-lab.md pitfall 4).
    assert_recovered(lab, before)


def test_one_isolated(lab: Lab, before: Before) -> None:
    lab.scenario("one-isolated")
    before.lap("fault")
    expect(lab, 1, NON_PRIMARY)
    for n in (2, 3):
        expect(lab, n, {**HEALTHY, "galera_cluster_size": 2})
    before.lap("metrics")

    # The guide: once the connection is back the node rejoins by itself.
    ok(lab.cli("heal", "1"))
    lab.cluster.wait_healthy(60)
    table = ok(lab.cfg_cm_cluster(1, "--show-cluster-status")).splitlines()
    assert table[1] == "| Variable_name            | Value                                |"
    rows = dict(
        (cells[1].strip(), cells[2].strip()) for cells in (line.split("|") for line in table[3:-1])
    )
    assert list(rows) == list(STATUS_VARIABLES)
    assert rows["wsrep_cluster_size"] == "3"
    assert rows["wsrep_cluster_status"] == "Primary"
    assert rows["wsrep_ready"] == "ON"
    assert table[0] == table[2] == table[-1]
    assert_recovered(lab, before)


def test_all_isolated(lab: Lab, before: Before) -> None:
    lab.scenario("all-isolated")
    before.lap("fault")
    for n in (1, 2, 3):
        expect(lab, n, NON_PRIMARY)
    before.lap("metrics")
    for n in (1, 2, 3):
        ok(lab.cli("heal", str(n)))
    assert_recovered(lab, before, timeout=60)


def test_split_brain(lab: Lab, before: Before) -> None:
    lab.scenario("split-brain")
    before.lap("fault")
    minority = expect(lab, 3, {**HEALTHY, "galera_cluster_size": 1})
    majority = [expect(lab, n, {**HEALTHY, "galera_cluster_size": 2}) for n in (1, 2)]
    # Both sides Primary with the same state uuid: only size and membership tell them apart.
    uuids = {m.labels("galera_status_info")["cluster_state_uuid"] for m in [minority, *majority]}
    assert uuids == {before.state_uuid}
    members = {m.labels("galera_component_info")["members"] for m in [minority, *majority]}
    assert len(members) == 2
    before.lap("metrics")

    # Recovery: the minority gives up its writes: wipe it, and it rejoins by a full SST.
    ok(lab.cli("wipe", "3"))
    ok(lab.cfg_cm_cluster(3, "--restart-node"))
    assert_recovered(lab, before)
    assert lab.cluster.missing_marker(SPLIT_MAJORITY_NOTE) == []
    assert lab.cluster.missing_marker(SPLIT_MINORITY_NOTE) == ["node1", "node2", "node3"]


def test_reset_from_split_brain(lab: Lab, before: Before) -> None:
    """reset repairs a split brain by itself (majority wins), as it does every other state."""
    lab.scenario("split-brain")
    before.lap("fault")
    lab.reset()
    assert_recovered(lab, before)
    assert lab.cluster.missing_marker(SPLIT_MINORITY_NOTE) == ["node1", "node2", "node3"]


def test_reset_from_all_killed(lab: Lab, before: Before) -> None:
    """reset after a full kill keeps the history (recover + bootstrap, no zero uuid)."""
    lab.scenario("all-killed")
    before.lap("fault")
    lab.reset()
    assert_recovered(lab, before)


def test_frozen_node(lab: Lab, before: Before) -> None:
    """Not a guide scenario but a real failure: a hung mysqld (SIGSTOP) keeps its process."""
    ok(lab.cli("freeze", "1"))
    before.lap("fault")
    # The exporter's status query times out: galera_up 0, file metrics still there.
    expect(lab, 1, {"galera_up": 0, "galera_grastate_present": 1, "galera_gvwstate_present": 1})
    for n in (2, 3):
        expect(lab, n, {**HEALTHY, "galera_cluster_size": 2})
    before.lap("metrics")
    ok(lab.cli("thaw", "1"))  # it finds itself evicted and rejoins on its own
    assert_recovered(lab, before)


@pytest.mark.parametrize(
    "name",
    [
        "one-stopped",
        "two-stopped",
        "all-stopped",
        "one-killed",
        "two-killed",
        "one-isolated",
        "all-isolated",
    ],
)
def test_reset_from(lab: Lab, before: Before, name: str) -> None:
    """`galera-lab reset` (what every other test relies on) from each remaining scenario."""
    lab.scenario(name)
    before.lap("fault")
    ok(lab.cli("reset"))
    assert_recovered(lab, before)
