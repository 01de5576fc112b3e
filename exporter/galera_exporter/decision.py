"""The decision model of docs/decision-model.md in Python: from what every node's exporter says,
which scenario a cluster is in and which node (if any) may be bootstrapped.

rules/galera-recording.yml implements the same table in PromQL; tests run generated cluster
states through both and require the same answer. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

ZERO_UUID = "00000000-0000-0000-0000-000000000000"

# Node states and their codes, as instance:galera_node:state records them.
STATE_CODES = {
    "unobservable": 0,
    "primary": 1,
    "non_primary": 2,
    "joining": 3,
    "stopped": 4,
    "crashed": 5,
    "down": 6,
    "no_access": 7,
}
DOWN_STATES = frozenset({"stopped", "crashed", "down"})
NOT_OBSERVED = frozenset({"unobservable", "no_access"})

# Scenario identifiers, as cluster:galera_scenario:info records them (stable: the advisor's
# --json output and dashboards use them).
SCENARIOS = (
    "uuid_conflict",
    "split_brain",
    "healthy",
    "degraded",
    "unobservable",
    "partitioned",
    "quorum_lost",
    "stopped",
    "crashed",
)


@dataclass(frozen=True)
class NodeFacts:
    """What one node's exporter said (None: the exporter did not say)."""

    name: str
    scraped: bool = True
    mysql_up: bool | None = None
    mysql_error: str | None = None  # galera_mysql_error kind that is 1
    cluster_status: str | None = None
    cluster_size: int | None = None
    members: str | None = None  # galera_component_info{members}
    cluster_state_uuid: str | None = None
    local_state_uuid: str | None = None
    gcomm_uuid: str | None = None
    last_committed: int | None = None
    sst_in_progress: bool | None = None
    gvwstate_present: bool | None = None
    gvwstate_members: frozenset[str] = field(default_factory=frozenset)
    grastate_uuid: str | None = None
    grastate_seqno: int | None = None
    safe_to_bootstrap: bool | None = None
    grastate_mtime: float | None = None
    recovered_uuid: str | None = None
    recovered_seqno: int | None = None
    recovered_at: float | None = None
    tiebreak_key: float | None = None


@dataclass(frozen=True)
class Position:
    uuid: str
    seqno: int


@dataclass(frozen=True)
class Decision:
    scenario: str
    states: Mapping[str, str]  # node name -> state
    positions: Mapping[str, Position]  # proven positions of nodes outside a Primary component
    unknown: tuple[str, ...]  # nodes that must be recovered before anything may be forced
    covered: tuple[str, ...]  # crashed nodes whose data a running survivor provably has
    safe: tuple[str, ...]  # down nodes with safe_to_bootstrap 1
    candidate: str | None  # THE node to bootstrap, or None
    force: bool  # safe_to_bootstrap must be forced on the candidate first
    decidable: bool  # a candidate may be chosen at all (see cluster:galera_bootstrap_decidable)
    reset: bool  # some node's grastate.dat has the all-zero UUID of a reset history


def node_state(node: NodeFacts) -> str:
    """instance:galera_node:state for one node."""
    if not node.scraped:
        return "unobservable"
    if node.mysql_up:
        return "primary" if node.cluster_status == "Primary" else "non_primary"
    if node.mysql_error == "refused":
        if node.sst_in_progress:
            return "joining"
        # gvwstate.dat: deleted by a clean stop, kept by a crash, None when unreadable.
        return {False: "stopped", True: "crashed", None: "down"}[node.gvwstate_present]
    if node.mysql_error in ("auth", "too_many_connections"):
        return "no_access"
    return "unobservable"


def _usable(uuid: str | None) -> bool:
    return bool(uuid) and uuid != ZERO_UUID


def node_position(node: NodeFacts, state: str) -> Position | None:
    """instance:galera_position:seqno: the newest position the node can prove."""
    if state == "non_primary":
        uuid, seqno = node.local_state_uuid, node.last_committed
        if uuid and _usable(uuid) and seqno is not None and seqno >= 0:
            return Position(uuid, seqno)
        return None
    uuid = node.grastate_uuid
    if state not in DOWN_STATES or not uuid or not _usable(uuid):
        return None
    seqnos = []
    if node.grastate_seqno is not None and node.grastate_seqno >= 0:
        seqnos.append(node.grastate_seqno)
    # A recovered position counts only if logged after grastate.dat was last written (every
    # start and stop rewrites it) and of the same history.
    fresh = (
        node.recovered_at is not None
        and node.grastate_mtime is not None
        and node.recovered_at > node.grastate_mtime
    )
    if fresh and node.recovered_uuid == uuid and (node.recovered_seqno or -1) >= 0:
        seqnos.append(node.recovered_seqno or 0)
    return Position(uuid, max(seqnos)) if seqnos else None


def decide(nodes: Sequence[NodeFacts], *, split_brain_24h: bool = False) -> Decision:
    """The scenario and bootstrap candidate of one cluster whose members are `nodes`."""
    states = {n.name: node_state(n) for n in nodes}
    positions = {n.name: p for n in nodes if (p := node_position(n, states[n.name])) is not None}
    survivors = {n.gcomm_uuid for n in nodes if states[n.name] == "non_primary" and n.gcomm_uuid}
    covered = tuple(
        n.name
        for n in nodes
        if states[n.name] in ("crashed", "down") and n.gvwstate_members & survivors
    )
    unknown = tuple(
        n.name
        for n in nodes
        if states[n.name] in ("non_primary", *DOWN_STATES)
        and n.name not in positions
        and n.name not in covered
    )
    safe = tuple(n.name for n in nodes if n.safe_to_bootstrap and states[n.name] in DOWN_STATES)
    histories = {p.uuid for p in positions.values()}

    primary = [n for n in nodes if states[n.name] == "primary"]
    primary_histories = {n.cluster_state_uuid for n in primary}
    components = {n.members for n in primary}
    split_now = len(components) > 1 and len(primary_histories) <= 1

    decidable = (
        not any(s in ("primary", *NOT_OBSERVED) for s in states.values())
        and not (split_brain_24h or split_now)
        and len(histories) <= 1
    )
    by_name = {n.name: n for n in nodes}
    candidate, force = None, False
    if decidable and safe:
        candidate = _safe_candidate(safe, positions, by_name)
    elif decidable and not unknown:
        candidate, force = _most_advanced(nodes, positions), True
    return Decision(
        scenario=_scenario(states, safe, len(primary_histories), split_now),
        states=states,
        positions=positions,
        unknown=unknown,
        covered=covered,
        safe=safe,
        candidate=candidate,
        force=force,
        decidable=decidable,
        reset=any(n.grastate_uuid == ZERO_UUID for n in nodes),
    )


def _safe_candidate(
    safe: Sequence[str], positions: Mapping[str, Position], by_name: Mapping[str, NodeFacts]
) -> str | None:
    """The one node with safe_to_bootstrap 1, unless a known position contradicts it."""
    if len(safe) != 1:
        return None
    name = safe[0]
    best = max((p.seqno for p in positions.values()), default=None)
    own = positions.get(name)
    behind = own is not None and best is not None and own.seqno < best
    histories = {p.uuid for p in positions.values()}
    other_history = bool(histories) and by_name[name].grastate_uuid not in histories
    return None if behind or other_history else name


def _most_advanced(nodes: Sequence[NodeFacts], positions: Mapping[str, Position]) -> str | None:
    """The node with the highest position; a tie goes to the lowest tie-break key."""
    best = max((p.seqno for p in positions.values()), default=None)
    leaders = [n for n in nodes if n.name in positions and positions[n.name].seqno == best]
    if len(leaders) <= 1:
        return leaders[0].name if leaders else None
    keys = {n.name: n.tiebreak_key for n in leaders if n.tiebreak_key is not None}
    if not keys:
        return None
    lowest = min(keys.values())
    winners = [name for name, key in keys.items() if key == lowest]
    return winners[0] if len(winners) == 1 else None


def _scenario(
    states: Mapping[str, str], safe: Sequence[str], primary_histories: int, split_now: bool
) -> str:
    counts: dict[str, int] = {}
    for state in states.values():
        counts[state] = counts.get(state, 0) + 1
    total = len(states)
    # In the order of cluster:galera_scenario:info's `or` chain: the first that holds wins.
    ordered = (
        ("uuid_conflict", primary_histories > 1),
        ("split_brain", split_now),
        ("healthy", counts.get("primary", 0) == total),
        ("degraded", bool(counts.get("primary"))),
        ("unobservable", any(counts.get(s) for s in NOT_OBSERVED)),
        ("partitioned", counts.get("non_primary", 0) == total),
        ("quorum_lost", bool(counts.get("non_primary"))),
        ("stopped", bool(safe)),
    )
    return next((name for name, holds in ordered if holds), "crashed")


# ------------------------------------------------------------------ from an exposition
Labels = tuple[tuple[str, str], ...]
Samples = Mapping[tuple[str, Labels], float]


def facts_from_samples(name: str, samples: Samples, *, scraped: bool = True) -> NodeFacts:
    """NodeFacts from one exporter's parsed /metrics samples ((name, sorted labels) -> value)."""
    if not scraped:
        return NodeFacts(name=name, scraped=False)

    def value(metric: str, **labels: str) -> float | None:
        return samples.get((metric, tuple(sorted(labels.items()))))

    def labelled(metric: str) -> Iterable[tuple[dict[str, str], float]]:
        for (sample_name, labels), v in samples.items():
            if sample_name == metric:
                yield dict(labels), v

    def integer(v: float | None) -> int | None:
        return None if v is None else int(v)

    def flag(v: float | None) -> bool | None:
        return None if v is None else v == 1

    status = next((lab for lab, v in labelled("galera_status_info") if v == 1), {})
    cluster_status = next(
        (lab["status"] for lab, v in labelled("galera_cluster_status") if v == 1), None
    )
    members = next((lab["members"] for lab, v in labelled("galera_component_info") if v == 1), None)
    error = next((lab["kind"] for lab, v in labelled("galera_mysql_error") if v == 1), None)
    grastate_uuid = next((lab["uuid"] for lab, _ in labelled("galera_grastate_info")), None)
    recovered = "galera_recovered_position_info"
    recovered_uuid = next((lab["uuid"] for lab, _ in labelled(recovered)), None)
    return NodeFacts(
        name=name,
        mysql_up=flag(value("galera_up")),
        mysql_error=error,
        cluster_status=cluster_status,
        cluster_size=integer(value("galera_cluster_size")),
        members=members,
        cluster_state_uuid=status.get("cluster_state_uuid"),
        local_state_uuid=status.get("local_state_uuid"),
        gcomm_uuid=status.get("gcomm_uuid"),
        last_committed=integer(value("galera_last_committed")),
        sst_in_progress=flag(value("galera_sst_in_progress")),
        gvwstate_present=flag(value("galera_gvwstate_present")),
        gvwstate_members=frozenset(
            lab["uuid"] for lab, _ in labelled("galera_gvwstate_member_info")
        ),
        grastate_uuid=grastate_uuid,
        grastate_seqno=integer(value("galera_grastate_seqno")),
        safe_to_bootstrap=flag(value("galera_grastate_safe_to_bootstrap")),
        grastate_mtime=value("galera_grastate_modified_timestamp_seconds"),
        recovered_uuid=recovered_uuid,
        recovered_seqno=integer(value("galera_recovered_seqno")),
        recovered_at=value("galera_recovered_position_timestamp_seconds"),
        tiebreak_key=value("galera_node_tiebreak_key"),
    )
