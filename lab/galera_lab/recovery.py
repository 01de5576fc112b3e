"""Bring a lab cluster to healthy from any state: `up` (create or repair) and `reset`.

Below the scenarios (which break a healthy cluster) and above `cluster` (which knows the nodes
and how to create or join them): `Cluster` itself never imports this module, so the lab's
modules import one way only (node -> cluster -> recovery -> scenarios -> lab/cli).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable

import pymysql

from galera_lab import faults
from galera_lab.cluster import ZERO_UUID, Cluster, ClusterError, NodeView
from galera_lab.node import Node
from galera_lab.wait import WaitTimeoutError, wait_for


def up(cluster: Cluster) -> None:
    """Bring the cluster to healthy: from scratch, or from whatever state the files are in."""
    cluster.save()
    if cluster.is_fresh():
        cluster.create()
    else:
        reset(cluster)
    cluster.ensure_schema()


def reset(cluster: Cluster, timeout: float = 300.0) -> float:
    """Back to healthy (all nodes Synced, one Primary component) from any state.

    Keeps the data where the cluster can: the majority side of a split brain wins and the
    minority is wiped and re-copied by SST; with no Primary anywhere the node with the most
    recent position is bootstrapped. If all that fails, the cluster is rebuilt from scratch.
    Returns the seconds it took.
    """
    started = time.monotonic()
    if cluster.is_healthy():
        return 0.0
    try:
        _repair(cluster, timeout)
    except (ClusterError, WaitTimeoutError, OSError, pymysql.err.MySQLError, RuntimeError) as err:
        print(
            f"[lab] reset could not repair the cluster ({err}); rebuilding it from scratch",
            flush=True,
        )
        rebuild(cluster)
    cluster.ensure_schema()
    took = time.monotonic() - started
    print(f"[lab] reset to healthy in {took:.1f}s", flush=True)
    return took


def rebuild(cluster: Cluster) -> None:
    """Kill every node, delete its files, create the cluster anew (data is lost)."""
    for node in cluster.nodes:
        node.thaw()
        node.kill()
        shutil.rmtree(node.dir, ignore_errors=True)
    cluster.create()


def _repair(cluster: Cluster, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for node in cluster.nodes:
        node.thaw()

    # Running nodes that do not answer SQL (a joiner stuck in SST, a wedged server): stop them,
    # they are started again below like any stopped node.
    for view in cluster.views():
        if view.running and view.status is None:
            _stop_hard(view.node)

    _end_split_brain(cluster)

    _heal_and_settle(cluster)

    if not _primary_views(cluster):
        _bootstrap_best(cluster)

    # Running nodes still outside the Primary component (a healed node that did not rejoin):
    # restart them so they join like a stopped node.
    for view in cluster.views():
        if view.running and not view.primary:
            _stop_hard(view.node)

    for node in cluster.nodes:
        if not node.is_running():
            cluster.join(node, timeout=max(30.0, deadline - time.monotonic()))
    cluster.wait_healthy(max(30.0, deadline - time.monotonic()))
    if cluster.state_uuid() in ("", ZERO_UUID):
        raise ClusterError("the cluster came back with the zero state uuid (pc.recovery pitfall)")


def _heal_and_settle(cluster: Cluster) -> None:
    """Undo isolation everywhere and give the nodes a moment to merge by themselves."""
    for node in cluster.nodes:
        faults.heal(node)
    if not any(node.is_running() for node in cluster.nodes):
        return  # nothing can settle by itself
    if _primary_views(cluster):
        # Healed nodes of a live cluster rejoin by themselves (IST) within seconds.
        _wait_quietly(lambda: _all_running_in_primary(cluster), 15.0)
    elif all(node.is_running() for node in cluster.nodes):
        # All isolated: healing re-forms the Primary by itself (usually 2-5 s, seen >10 s).
        _wait_quietly(lambda: bool(_primary_views(cluster)), 30.0)
    else:
        # Survivors of a crash never form a Primary by themselves; a short look is enough.
        _wait_quietly(lambda: bool(_primary_views(cluster)), 3.0)


def _primary_views(cluster: Cluster) -> list[NodeView]:
    return [v for v in cluster.views() if v.primary]


def _all_running_in_primary(cluster: Cluster) -> bool:
    return all(v.primary for v in cluster.views() if v.running)


def _wait_quietly(probe: Callable[[], bool], timeout: float) -> bool:
    try:
        wait_for("reset: cluster settles", probe, timeout, interval=0.3)
    except WaitTimeoutError:
        return False
    return True


def _stop_hard(node: Node) -> None:
    try:
        faults.stop(node)
    except WaitTimeoutError:
        faults.kill(node)


def _end_split_brain(cluster: Cluster) -> None:
    """If several Primary components run, keep the largest and wipe the others' nodes."""
    components: dict[str, list[NodeView]] = {}
    for view in cluster.views():
        if view.primary:
            components.setdefault(view.get("wsrep_incoming_addresses"), []).append(view)
    if len(components) < 2:
        return
    ranked = sorted(components.values(), key=len, reverse=True)
    for losers in ranked[1:]:
        for view in losers:
            print(
                f"[lab] split brain: {view.node.name} is on the minority side; wiping it so it "
                "rejoins by SST",
                flush=True,
            )
            faults.wipe(view.node)


def _position(node: Node) -> int:
    """The node's last committed seqno: from the live server, grastate.dat, or --wsrep-recover."""
    if node.is_running():
        try:
            return int(node.wsrep_status(2.0).get("wsrep_last_committed", "-1"))
        except (pymysql.err.MySQLError, OSError, ValueError):
            return -1
    seqno = node.grastate_fields().get("seqno", "-1")
    if seqno != "-1":
        return int(seqno)
    recovered = node.recover_position()
    return int(recovered.rsplit(":", 1)[1]) if recovered else -1


def _bootstrap_best(cluster: Cluster) -> None:
    """No Primary anywhere: make the node with the newest data Primary, as the guide says."""
    running = [n for n in cluster.nodes if n.is_running()]
    if running:
        best = max(running, key=_position)
        print(f"[lab] no Primary component: pc.bootstrap=YES on {best.name}", flush=True)

        def bootstrapped() -> bool:
            if cluster.view(best).primary:
                return True
            # Refused ("Incorrect arguments to SET", 1210) while a view change is under way.
            faults.force_primary(best)
            return cluster.view(best).primary

        wait_for(f"{best.name} Primary after pc.bootstrap", bootstrapped, 20.0, interval=0.5)
        return
    safe = [n for n in cluster.nodes if n.grastate_fields().get("safe_to_bootstrap") == "1"]
    best = safe[0] if safe else max(cluster.nodes, key=_position)
    print(f"[lab] no node running: bootstrapping {best.name}", flush=True)
    for node in cluster.nodes:
        # pc.recovery would try to restore the old view from it; a fresh bootstrap needs none.
        node.gvwstate.unlink(missing_ok=True)
    best.set_safe_to_bootstrap(1)
    position = best.recover_position() if best.grastate_fields().get("seqno") == "-1" else None
    best.start(bootstrap=True, start_position=position)
    cluster.wait_node_synced(best, 60.0)
