"""What each node's exporter exposes in each Galera state, as promtool input series over time.

The values follow shared/reference/galera-lab.md and its raw lab snapshots: a non-Primary node
reports conf_id 2^64-1 (exported as -1), weight 0, ready OFF, connected ON, Initialized; a
running node's grastate.dat has seqno -1; gvwstate.dat survives kill -9 and is deleted by a
clean stop; wsrep series disappear (go stale) when mysqld stops answering.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

UUID = "125a32e7-ea40-11f1-8844-577ec5e07595"
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
LOCAL_STATES = ("Initialized", "Joining", "Donor/Desynced", "Joined", "Synced", "Other")
STATE_CODES = {"Initialized": 0, "Joining": 1, "Donor/Desynced": 2, "Joined": 3, "Synced": 4}
CLUSTER_STATUSES = ("Primary", "non-Primary", "Disconnected")


def address(node: str) -> str:
    """node1 -> 127.0.0.11:3306, like the lab's wsrep_incoming_addresses."""
    return f"127.0.0.1{node.removeprefix('node')}:3306"


@dataclass(frozen=True)
class Up:
    """mysqld answers: the wsrep status plus the files (grastate seqno -1 while running)."""

    members: tuple[str, ...] = ("node1", "node2", "node3")
    status: str = "Primary"
    conf_id: int = 3
    state: str = "Synced"
    ready: int = 1
    uuid: str = UUID
    local_uuid: str | None = None  # defaults to uuid; the lab's zero-UUID cluster shows ""
    safe: int = 0
    last_committed: int = 10
    size: int | None = None  # defaults to len(members)
    desync_enabled: int = 0
    recv_queue: int = 0
    fc_paused: float = 0.0  # fraction of each second replication is paused
    commits_per_s: float = 2.0
    cert_failures_per_s: float = 0.0
    backend_ready: int = 1
    backend_log: int = 1
    failing_collectors: tuple[str, ...] = ()
    gen: int = 1  # gcomm generation: every start of mysqld gives the node a new gcomm UUID
    view: tuple[str, ...] | None = None  # gvwstate.dat's saved Primary view; default members
    sst_starts: int = 0
    sst_failed: int = 0


@dataclass(frozen=True)
class Stopped:
    """Clean shutdown: real seqno in grastate.dat, gvwstate.dat deleted."""

    seqno: int
    safe: int = 0
    uuid: str = UUID
    recovered: int | None = None
    recovered_uuid: str | None = None  # defaults to uuid
    recovered_at: float = 60.0  # error-log time of the Recovered position line
    grastate_mtime: float = 0.0  # fresh recovery: written after grastate.dat
    sst_starts: int = 0
    sst_failed: int = 0


@dataclass(frozen=True)
class Crashed:
    """kill -9 / power loss with the exporter still up: seqno -1, gvwstate.dat kept.

    `view` is the saved Primary view: member names, "node3@2" for a member's second start.
    `gvwstate="unreadable"` is a down node whose gvwstate.dat cannot be read (state down)."""

    safe: int = 0
    uuid: str = UUID
    recovered: int | None = None
    recovered_uuid: str | None = None
    recovered_at: float = 60.0
    grastate_mtime: float = 0.0
    seqno: int = -1
    view: tuple[str, ...] = ("node1", "node2", "node3")
    gvwstate: str = "kept"
    joining: bool = False  # an SST runs (sst_in_progress marker): state joining
    sst_starts: int = 0
    sst_failed: int = 0


@dataclass(frozen=True)
class NoAccess:
    """The exporter runs but cannot query mysqld: kind auth, too_many_connections, timeout,
    other. The files are those of a running node."""

    kind: str = "auth"
    uuid: str = UUID


@dataclass(frozen=True)
class TargetDown:
    """The exporter cannot be scraped: up 0 and nothing else."""


State = Up | Stopped | Crashed | NoAccess | TargetDown
ERROR_KINDS = ("refused", "auth", "too_many_connections", "timeout", "other")


def gcomm(member: str) -> str:
    """node3 -> the gcomm UUID of node3's first start; node3@2 -> of its second start."""
    name, _, gen = member.partition("@")
    number = int(name.removeprefix("node") or 0)
    return f"{number:08x}-0000-4000-8000-{int(gen or 1):012x}"


def tiebreak_key(name: str) -> int:
    """Stands in for the exporter's CRC32 of host name and datadir: node1 lowest."""
    return 1000 + int(name.removeprefix("node") or 0)


def isolated(node: str, **kw: object) -> Up:
    """A node alone and non-Primary (isolated, or the survivor of two crashes)."""
    return Up(
        members=(node,),
        status="non-Primary",
        conf_id=-1,
        state="Initialized",
        ready=0,
        **kw,  # type: ignore[arg-type]
    )


@dataclass
class Node:
    cluster: str
    name: str
    target_labels: Mapping[str, str] = field(default_factory=dict)

    def labels(self, extra: Mapping[str, str] | None = None) -> str:
        labels = {"job": "galera", "cluster": self.cluster, "instance": self.name}
        labels.update(self.target_labels)
        labels.update(extra or {})
        return ",".join(f'{k}="{v}"' for k, v in labels.items())


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def node_samples(node: Node, state: State) -> Samples:
    """What the node's exporter exposes in `state`, keyed like a parsed exposition
    ((name, sorted labels) -> value; no target labels), for the Python decision model."""
    samples: Samples = {}
    node_series(node, state, {}, 15, samples)
    return samples


def node_series(  # noqa: PLR0912 - one branch per kind of series, in exposition order
    node: Node,
    state: State,
    counters: dict[str, float],
    step: int,
    samples: Samples | None = None,
) -> dict[str, float]:
    """Every series the node's exporter exposes in `state` -> its value at this scrape."""
    out: dict[str, float] = {}

    def put(name: str, value: float, **extra: str) -> None:
        out[f"{name}{{{node.labels(extra)}}}"] = value
        if samples is not None:
            samples[(name, tuple(sorted(extra.items())))] = value

    put("up", 0 if isinstance(state, TargetDown) else 1)
    if isinstance(state, TargetDown):
        return out
    running = isinstance(state, Up)
    put("galera_up", 1 if running else 0)
    error = "" if running else (state.kind if isinstance(state, NoAccess) else "refused")
    for kind in ERROR_KINDS:
        put("galera_mysql_error", 1 if kind == error else 0, kind=kind)
    failing = state.failing_collectors if isinstance(state, Up) else ("wsrep",)
    for collector in ("wsrep", "grastate", "backend_log", "errorlog"):
        put(
            "galera_exporter_collector_success",
            0 if collector in failing else 1,
            collector=collector,
        )
    put("galera_exporter_build_info", 1, version="test")
    put("galera_node_tiebreak_key", tiebreak_key(node.name))
    seqno = state.seqno if isinstance(state, Stopped | Crashed) else -1
    put("galera_grastate_present", 1)
    put("galera_grastate_valid", 1)
    put("galera_grastate_seqno", seqno)
    put("galera_grastate_safe_to_bootstrap", state.safe if not isinstance(state, NoAccess) else 0)
    put("galera_grastate_info", 1, uuid=state.uuid, version="2.1")
    mtime = state.grastate_mtime if isinstance(state, Stopped | Crashed) else 0.0
    put("galera_grastate_modified_timestamp_seconds", mtime)
    unreadable = isinstance(state, Crashed) and state.gvwstate == "unreadable"
    put("galera_state_file_unreadable", 0, file="grastate.dat")
    put("galera_state_file_unreadable", 1 if unreadable else 0, file="gvwstate.dat")
    if not unreadable:
        put("galera_gvwstate_present", 0 if isinstance(state, Stopped) else 1)
    view: tuple[str, ...] = ()
    if isinstance(state, Crashed) and not unreadable:
        view = state.view
    elif isinstance(state, Up):
        view = state.view if state.view is not None else state.members
    for member in view:
        put("galera_gvwstate_member_info", 1, uuid=gcomm(member))
    joining = isinstance(state, Crashed) and state.joining
    put("galera_sst_in_progress", 1 if joining else 0)
    if not isinstance(state, NoAccess):
        put("galera_sst_starts_total", state.sst_starts)
        put("galera_errorlog_events_total", state.sst_failed, event="sst_failed")
    backend_log = state.backend_log if isinstance(state, Up) else 1
    put("galera_backend_log_present", backend_log)
    put("galera_backend_ready", state.backend_ready if isinstance(state, Up) else 0)
    if isinstance(state, Stopped | Crashed):
        if state.recovered is not None:
            put("galera_recovered_seqno", state.recovered)
            put("galera_recovered_position_info", 1, uuid=state.recovered_uuid or state.uuid)
            put("galera_recovered_position_timestamp_seconds", state.recovered_at)
        return out
    if not isinstance(state, Up):
        return out

    size = state.size if state.size is not None else len(state.members)
    primary = state.status == "Primary"
    for status in CLUSTER_STATUSES:
        put("galera_cluster_status", 1 if status == state.status else 0, status=status)
    put("galera_cluster_size", size)
    put("galera_cluster_conf_id", state.conf_id)
    put("galera_cluster_weight", size if primary else 0)
    put("galera_ready", state.ready)
    put("galera_connected", 1)
    put("galera_local_state_code", STATE_CODES[state.state])
    for local in LOCAL_STATES:
        put("galera_local_state", 1 if local == state.state else 0, state=local)
    put("galera_last_committed", state.last_committed)
    put(
        "galera_status_info",
        1,
        cluster_state_uuid=state.uuid,
        local_state_uuid=state.uuid if state.local_uuid is None else state.local_uuid,
        gcomm_uuid=gcomm(f"{node.name}@{state.gen}"),
        node_name=node.name,
        local_state_comment=state.state,
        provider_version="4.23(rXXXX)",
    )
    put("galera_component_info", 1, members=",".join(sorted(address(m) for m in state.members)))
    put("galera_component_members", len(state.members))
    put("galera_desync_enabled", state.desync_enabled)
    put("galera_desync_count", 1 if state.state == "Donor/Desynced" else 0)
    put("galera_local_recv_queue", state.recv_queue)
    put("galera_local_send_queue", 0)
    key = f"{node.cluster}/{node.name}"
    for name, per_second in (
        ("galera_flow_control_paused_seconds_total", state.fc_paused),
        ("galera_local_commits_total", state.commits_per_s),
        ("galera_local_cert_failures_total", state.cert_failures_per_s),
    ):
        counters[f"{key}/{name}"] = counters.get(f"{key}/{name}", 0.0) + per_second * step
        put(name, round(counters[f"{key}/{name}"], 6))
    return out


def fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _tokens(values: list[float | None]) -> list[float | str]:
    """Samples as floats, gaps as "_", and "stale" where a present series disappears."""
    tokens: list[float | str] = []
    previous: float | None = None
    for value in values:
        if value is None:
            tokens.append("stale" if previous is not None else "_")
        else:
            tokens.append(value)
        previous = value
    return tokens


def _arithmetic_run(tokens: list[float | str], i: int) -> tuple[int, float]:
    """End index and step of the longest run from i with a constant difference."""
    j, delta = i, 0.0
    while j + 1 < len(tokens) and not isinstance(tokens[j + 1], str):
        step = round(float(tokens[j + 1]) - float(tokens[j]), 6)
        if j > i and step != delta:
            break
        delta = step
        j += 1
    return j, delta


def encode(values: list[float | None]) -> str:
    """promtool's expanding notation: `a+bxN` is N+1 samples a, a+b, ...; `_xN` is N gaps;
    `stale` marks where a series disappears (the exporter stopped exposing it)."""
    tokens = _tokens(values)
    runs: list[str] = []
    i = 0
    while i < len(tokens):
        first = tokens[i]
        if first == "_":
            j = i
            while j + 1 < len(tokens) and tokens[j + 1] == "_":
                j += 1
            runs.append("_" if j == i else f"_x{j - i + 1}")
        elif isinstance(first, str):  # "stale": never two in a row
            j = i
            runs.append(first)
        else:
            j, delta = _arithmetic_run(tokens, i)
            if j == i:
                runs.append(fmt(first))
            elif not delta:
                runs.append(f"{fmt(first)}x{j - i}")
            else:
                sign = "+" if delta > 0 else "-"
                runs.append(f"{fmt(first)}{sign}{fmt(abs(delta))}x{j - i}")
        i = j + 1
    return " ".join(runs)


def timeline(
    nodes: Iterable[Node], phases: list[tuple[int, dict[str, State]]], end: int, step: int
) -> list[dict[str, str]]:
    """Series for every node over [0, end] seconds; phases are (start second, {node key: state}).

    A node key is "cluster/name". Each phase changes only the nodes it names.
    """
    nodes = list(nodes)
    by_key = {f"{n.cluster}/{n.name}": n for n in nodes}
    current: dict[str, State] = {}
    counters: dict[str, float] = {}
    samples: list[dict[str, float]] = []
    pending = sorted(phases, key=lambda p: p[0])
    for t in range(0, end + 1, step):
        while pending and pending[0][0] <= t:
            for key, state in pending.pop(0)[1].items():
                if key not in by_key:
                    raise KeyError(f"phase names unknown node {key}")
                current[key] = state
        scrape: dict[str, float] = {}
        for key, node in by_key.items():
            scrape.update(node_series(node, current[key], counters, step))
        samples.append(scrape)
    names: dict[str, None] = {}
    for scrape in samples:
        names.update(dict.fromkeys(scrape))
    return [
        {"series": name, "values": encode([scrape.get(name) for scrape in samples])}
        for name in names
    ]
