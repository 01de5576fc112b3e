"""The recovery advice of the decision model as sentences: the scenario alerts' texts.

rules/generate.py writes the same sentences as Go templates over the recorded series; the
promtool tests compare both, so a template that reads the wrong series, or a rule that records
something other than the model, fails. galera-advisor prints these very functions' output, so
its next step is the alert's description for the same state by construction.
"""

from __future__ import annotations

from collections.abc import Mapping

from galera_exporter.decision import Decision

RESTART = "`sudo cfg-cm-cluster --restart-node`"


def listing(decision: Decision, states: set[str], with_state: bool = True) -> str:
    names = sorted(n for n, s in decision.states.items() if s in states)
    return ", ".join(f"{n} ({decision.states[n]})" if with_state else n for n in names)


def evidence(decision: Decision) -> str:
    parts = []
    for name in sorted(decision.states):
        text = f"{name} {decision.states[name]}"
        if name in decision.positions:
            p = decision.positions[name]
            text += f", seqno {p.seqno} of {p.uuid}"
        if name in decision.covered:
            text += ", covered by a running survivor"
        if name in decision.unknown:
            text += ", position unknown"
        if name in decision.safe:
            text += ", safe_to_bootstrap 1"
        parts.append(text)
    return "Nodes: " + "; ".join(parts) + "."


def position(decision: Decision, name: str) -> str:
    p = decision.positions.get(name)
    return f"seqno {p.seqno} of {p.uuid}" if p else "position not known"


def no_candidate(decision: Decision, split_brain_24h: bool) -> str:
    histories = {p.uuid for p in decision.positions.values()}
    if split_brain_24h:
        reason = (
            "the cluster had a split brain in the last 24 hours, so positions of its sides cannot"
            " be compared; choose the side to keep deliberately (see the runbook)"
        )
    elif len(histories) > 1:
        reason = (
            "the nodes' positions belong to different cluster histories (UUIDs), so they cannot"
            " be compared; choose deliberately (see the runbook)"
        )
    elif decision.reset:
        reason = (
            "the cluster history was reset (all-zero UUID), so seqnos do not tell which node is"
            " newest; choose deliberately (see GaleraClusterHistoryReset in the runbook)"
        )
    elif len(decision.safe) > 1:
        reason = (
            f"more than one node says safe_to_bootstrap: 1 ({', '.join(sorted(decision.safe))}),"
            " which only a split brain or a manual edit produces; compare their data first"
        )
    elif decision.safe:
        reason = (
            "the node with safe_to_bootstrap: 1 is behind another node's position or of another"
            " history; compare the positions below before bootstrapping anything"
        )
    elif decision.unknown:
        reason = (
            f"the position of {', '.join(sorted(decision.unknown))} is unknown; run"
            " `mariadbd --wsrep-recover` there (it logs the position to the error log the"
            " exporter reads; `galera_recovery` discards its log)"
        )
    elif decision.positions:
        reason = (
            "the most advanced nodes tie and cannot be told apart; bootstrap exactly one of them,"
            " never two"
        )
    else:
        reason = (
            "no node has a usable position (a node stopped in the middle of a state transfer"
            " holds incomplete data); recover the positions with `mariadbd --wsrep-recover`"
            " before choosing"
        )
    return f"No node can be named for a bootstrap yet: {reason}."


def bootstrap_step(decision: Decision) -> str:
    node = decision.candidate
    if node is None:
        raise ValueError("bootstrap_step needs a decision that names a candidate")
    if decision.force:
        if decision.states[node] == "non_primary":
            text = (
                f"On {node}: stop mysqld first (`sudo systemctl stop mariadb`; its own shutdown"
                " would undo a force done while it runs), then run `sudo cfg-cm-cluster"
                " --force-safe-to-bootstrap` and `sudo cfg-cm-cluster --bootstrap-node` (once it"
                " is stopped this page may turn into one that names no node: carry on with"
                f" {node})."
            )
        else:
            text = (
                f"On {node}: run `sudo cfg-cm-cluster --force-safe-to-bootstrap` and"
                " `sudo cfg-cm-cluster --bootstrap-node`."
            )
        text += f" If the bootstrap is refused, force {node} again; never switch to another node."
    else:
        text = (
            f"On {node}: run `sudo cfg-cm-cluster --bootstrap-node` (it has safe_to_bootstrap 1:"
            " no force needed)."
        )
    return text + f" Then start every other node with {RESTART}."


START_ALL = (
    "Start all nodes together, within 30 seconds of each other (pc.wait_prim_timeout), with"
    f" {RESTART}: pc.recovery usually re-forms the cluster by itself."
)


def description(  # noqa: PLR0911 - one text per scenario alert and twin
    alert: str, cluster: str, decision: Decision, split_brain_24h: bool
) -> str:
    """The description of scenario alert `alert` for `decision` (twin chosen by candidate)."""
    node = decision.candidate
    down = {"stopped", "crashed", "down", "joining"}
    if alert == "GaleraClusterStopped":
        if node:
            return (
                f"Every node of cluster {cluster} is down. {node} left the cluster last"
                f" (safe_to_bootstrap 1, {position(decision, node)}) and no other node is known"
                f" to be more advanced. {bootstrap_step(decision)} Do not bootstrap any other"
                " node: it may miss the last updates."
            )
        return (
            f"Every node of cluster {cluster} is down and a node says safe_to_bootstrap: 1, but"
            f" the evidence is not consistent. {no_candidate(decision, split_brain_24h)}"
            " Bootstrap nothing until this is resolved."
        )
    if alert == "GaleraClusterCrashed":
        if any(s in ("crashed", "down") for s in decision.states.values()):
            start = f"{START_ALL} If it does not,"
        else:
            start = (
                "They were all stopped cleanly (no gvwstate.dat), so pc.recovery cannot re-form"
                " the cluster and one node must be bootstrapped:"
            )
        head = f"Every node of cluster {cluster} is down and none has safe_to_bootstrap 1. {start} "
        if node:
            return (
                f"{head}{node} is the most advanced node ({position(decision, node)})."
                f" {bootstrap_step(decision)}"
            )
        return f"{head}do not force any node yet. {no_candidate(decision, split_brain_24h)}"
    if alert == "GaleraQuorumLost":
        head = (
            f"Cluster {cluster} has no Primary component:"
            f" {listing(decision, {'non_primary'}, with_state=False)} up but non-Primary,"
            f" refusing queries (ERROR 1047), and {listing(decision, down)} down. "
        )
        if node:
            return (
                f"{head}First make sure those nodes are really down and not just cut off by the"
                " network (else you create a split brain). Then bootstrap"
                f" {node} ({position(decision, node)}). {bootstrap_step(decision)}"
            )
        return head + no_candidate(decision, split_brain_24h)
    if alert == "GaleraClusterPartitioned":
        head = (
            f"All nodes of cluster {cluster} are up but non-Primary: they cannot reach each other"
            " and refuse queries. Restore the network between the nodes; the cluster re-forms by"
            " itself within seconds. "
        )
        if node:
            return (
                f"{head}Only if it does not once the network works, bootstrap exactly one node,"
                f" {node} ({position(decision, node)}). {bootstrap_step(decision)}"
            )
        return head + no_candidate(decision, split_brain_24h)
    if alert == "GaleraClusterUnobservable":
        return (
            f"No node of cluster {cluster} is seen in a Primary component, and"
            f" {listing(decision, {'unobservable', 'no_access'})} cannot be observed: it cannot be"
            " told whether the cluster still serves or which node holds the newest data."
            " Bootstrap nothing. On each of those nodes check that the host is up, that"
            " galera-exporter runs and can log in, and run `sudo cfg-cm-cluster"
            " --show-cluster-status`."
        )
    raise KeyError(alert)


SCENARIO_ALERTS = {
    "stopped": "GaleraClusterStopped",
    "crashed": "GaleraClusterCrashed",
    "quorum_lost": "GaleraQuorumLost",
    "partitioned": "GaleraClusterPartitioned",
    "unobservable": "GaleraClusterUnobservable",
}


def scenario_alert(decision: Decision) -> tuple[str, dict[str, str]] | None:
    """The scenario alert the model says fires, with its labels (besides cluster, severity)."""
    alert = SCENARIO_ALERTS.get(decision.scenario)
    if alert is None:
        return None
    if alert == "GaleraClusterUnobservable":
        if all(s == "no_access" for s in decision.states.values()):
            return None
        return alert, {}
    if decision.candidate:
        return alert, {"advice": "bootstrap", "instance": decision.candidate}
    return alert, {"advice": "verify"}


# ------------------------------------------------------------------ galera-advisor's steps
# The alerts above cover the scenarios that need a recovery; the advisor also answers for a
# cluster that serves, in the same words as the per-node warnings.
def node_step(  # noqa: PLR0911 - one text per node state
    decision: Decision, name: str, why: str | None = None
) -> str | None:
    """What to do about one node that is not in the Primary component (None: nothing)."""
    state = decision.states[name]
    peers = listing(decision, {"primary"}, with_state=False)
    if state == "non_primary":
        return (
            f"{name} is up but non-Primary while {peers} form the Primary component: it cannot"
            f" reach them and refuses queries. Fix the network between {name} and its peers"
            f" (gcomm port 4567); it rejoins by itself. Do NOT bootstrap {name}: that creates a"
            " split brain."
        )
    if state == "stopped":
        return (
            f"mysqld on {name} was shut down cleanly; when the maintenance is over, restart it"
            f" with {RESTART} on {name}."
        )
    if state in ("crashed", "down"):
        return (
            f"mysqld on {name} is down and was not stopped cleanly (crash, kill, power loss):"
            f" restart it with {RESTART} on {name}; it rejoins by itself."
        )
    if state == "joining":
        return (
            f"{name} is receiving a state transfer (SST): wait for it to finish; do not restart"
            " it (that aborts the transfer)."
        )
    if state == "no_access":
        return (
            f"mysqld on {name} answers but refuses the exporter ({why or 'no access'}): check"
            " the exporter's account and max_connections, and run `sudo cfg-cm-cluster"
            f" --show-cluster-status` on {name}."
        )
    if state == "unobservable":
        return (
            f"{name} cannot be observed ({why or 'unknown'}): check that the host is up and"
            f" galera-exporter runs, and run `sudo cfg-cm-cluster --show-cluster-status` on"
            f" {name}. Never bootstrap it while the others are Primary."
        )
    return None


def split_brain_step(cluster: str, sides: Mapping[str, str]) -> str:
    """sides: Primary node -> its component's members."""
    listed = "; ".join(f"{n} in [{m}]" for n, m in sorted(sides.items()))
    components = len(set(sides.values()))
    return (
        f"Cluster {cluster} has {components} Primary components that each accept writes, so"
        f" their data is diverging now. Sides: {listed}. Stop writes, keep one side, stop mysqld"
        " on the nodes of the other side(s), and rejoin them with a full SST from an empty"
        " datadir (a rejoin by IST keeps their divergent rows)."
    )


def uuid_conflict_step(histories: Mapping[str, str]) -> str:
    """histories: Primary node -> its cluster_state_uuid."""
    listed = "; ".join(f"{n} {u}" for n, u in sorted(histories.items()))
    return (
        f"The Primary nodes given report different cluster UUIDs: {listed}. These are different"
        " clusters: run the advisor on the nodes of one cluster at a time."
    )


def steps(
    decision: Decision,
    cluster: str,
    *,
    split_brain_24h: bool = False,
    sides: Mapping[str, str] | None = None,
    histories: Mapping[str, str] | None = None,
    why: Mapping[str, str] | None = None,
) -> list[str]:
    """The next step(s) for `decision`: for a scenario alert exactly its description."""
    alert = SCENARIO_ALERTS.get(decision.scenario)
    if alert is not None:
        return [description(alert, cluster, decision, split_brain_24h)]
    if decision.scenario == "healthy":
        return [
            f"Nothing to do: all {len(decision.states)} nodes of cluster {cluster} are in one"
            " Primary component."
        ]
    if decision.scenario == "split_brain":
        return [split_brain_step(cluster, sides or {})]
    if decision.scenario == "uuid_conflict":
        return [uuid_conflict_step(histories or {})]
    found = (node_step(decision, n, (why or {}).get(n)) for n in sorted(decision.states))
    return [step for step in found if step]
