"""The deliberate mapping of numeric wsrep status variables to typed, named metrics.

Each row: status variable, metric name, type, unit scale, meaning. Counters get `_total`;
nanoseconds become seconds. The README's metric table is generated from this (see
tests/unit/test_readme.py), so documentation and behaviour cannot drift apart.
Variables handled specially (states, uuids, latency, membership) live in collectors/wsrep.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["gauge", "counter", "bool"]


@dataclass(frozen=True)
class Numeric:
    variable: str
    metric: str
    kind: Kind
    meaning: str
    scale: float = 1.0
    unit: str = ""


NUMERIC: tuple[Numeric, ...] = (
    # Cluster membership and identity
    Numeric(
        "wsrep_cluster_size",
        "galera_cluster_size",
        "gauge",
        "nodes in the component this node sees",
    ),
    Numeric(
        "wsrep_cluster_weight",
        "galera_cluster_weight",
        "gauge",
        "sum of pc.weight of the component (0 when non-Primary)",
    ),
    Numeric(
        "wsrep_local_index", "galera_local_index", "gauge", "this node's index in the component"
    ),
    Numeric(
        "wsrep_ready", "galera_ready", "bool", "1 when the node accepts queries (wsrep_ready ON)"
    ),
    Numeric(
        "wsrep_connected",
        "galera_connected",
        "bool",
        "1 when connected to the group (wsrep_connected ON)",
    ),
    Numeric(
        "wsrep_local_state",
        "galera_local_state_code",
        "gauge",
        "0 Initialized, 1 Joining, 2 Donor/Desynced, 3 Joined, 4 Synced",
    ),
    Numeric(
        "wsrep_last_committed",
        "galera_last_committed",
        "gauge",
        "seqno of the last committed write-set",
    ),
    Numeric(
        "wsrep_desync_count",
        "galera_desync_requests",
        "gauge",
        "active desync requests (e.g. a donor or wsrep_desync=ON)",
    ),
    Numeric(
        "wsrep_gmcast_segment", "galera_gmcast_segment", "gauge", "gmcast.segment of this node"
    ),
    # Replication traffic
    Numeric(
        "wsrep_replicated",
        "galera_replicated_writesets_total",
        "counter",
        "write-sets replicated to other nodes",
    ),
    Numeric(
        "wsrep_replicated_bytes",
        "galera_replicated_bytes_total",
        "counter",
        "bytes of write-sets replicated",
        unit="bytes",
    ),
    Numeric("wsrep_repl_keys", "galera_repl_keys_total", "counter", "keys replicated"),
    Numeric(
        "wsrep_repl_keys_bytes",
        "galera_repl_keys_bytes_total",
        "counter",
        "bytes of keys replicated",
        unit="bytes",
    ),
    Numeric(
        "wsrep_repl_data_bytes",
        "galera_repl_data_bytes_total",
        "counter",
        "bytes of data replicated",
        unit="bytes",
    ),
    Numeric(
        "wsrep_repl_other_bytes",
        "galera_repl_other_bytes_total",
        "counter",
        "bytes of other data replicated",
        unit="bytes",
    ),
    Numeric(
        "wsrep_received",
        "galera_received_writesets_total",
        "counter",
        "write-sets received from other nodes",
    ),
    Numeric(
        "wsrep_received_bytes",
        "galera_received_bytes_total",
        "counter",
        "bytes of write-sets received",
        unit="bytes",
    ),
    Numeric(
        "wsrep_local_commits",
        "galera_local_commits_total",
        "counter",
        "write-sets committed that originated here",
    ),
    Numeric(
        "wsrep_local_cert_failures",
        "galera_local_cert_failures_total",
        "counter",
        "local transactions that failed certification",
    ),
    Numeric(
        "wsrep_local_replays",
        "galera_local_replays_total",
        "counter",
        "transactions replayed after a brute-force abort",
    ),
    Numeric(
        "wsrep_local_bf_aborts",
        "galera_local_bf_aborts_total",
        "counter",
        "local transactions aborted by replicated ones (brute force)",
    ),
    # Queues
    Numeric(
        "wsrep_local_send_queue",
        "galera_local_send_queue",
        "gauge",
        "write-sets waiting to be sent",
    ),
    Numeric(
        "wsrep_local_send_queue_max",
        "galera_local_send_queue_max",
        "gauge",
        "send queue maximum since the last FLUSH STATUS",
    ),
    Numeric(
        "wsrep_local_send_queue_min",
        "galera_local_send_queue_min",
        "gauge",
        "send queue minimum since the last FLUSH STATUS",
    ),
    Numeric(
        "wsrep_local_send_queue_avg",
        "galera_local_send_queue_avg",
        "gauge",
        "send queue average since the last FLUSH STATUS",
    ),
    Numeric(
        "wsrep_local_recv_queue",
        "galera_local_recv_queue",
        "gauge",
        "write-sets waiting to be applied",
    ),
    Numeric(
        "wsrep_local_recv_queue_max",
        "galera_local_recv_queue_max",
        "gauge",
        "receive queue maximum since the last FLUSH STATUS",
    ),
    Numeric(
        "wsrep_local_recv_queue_min",
        "galera_local_recv_queue_min",
        "gauge",
        "receive queue minimum since the last FLUSH STATUS",
    ),
    Numeric(
        "wsrep_local_recv_queue_avg",
        "galera_local_recv_queue_avg",
        "gauge",
        "receive queue average since the last FLUSH STATUS",
    ),
    Numeric(
        "wsrep_local_cached_downto",
        "galera_local_cached_downto",
        "gauge",
        "lowest seqno still in the gcache (IST possible from here)",
    ),
    # Flow control
    Numeric(
        "wsrep_flow_control_paused_ns",
        "galera_flow_control_paused_seconds_total",
        "counter",
        "time replication was paused by flow control",
        scale=1e-9,
        unit="seconds",
    ),
    Numeric(
        "wsrep_flow_control_paused",
        "galera_flow_control_paused_ratio",
        "gauge",
        "fraction of time paused since the last FLUSH STATUS",
    ),
    Numeric(
        "wsrep_flow_control_sent",
        "galera_flow_control_sent_total",
        "counter",
        "FC_PAUSE events sent",
    ),
    Numeric(
        "wsrep_flow_control_recv",
        "galera_flow_control_recv_total",
        "counter",
        "FC_PAUSE events received",
    ),
    Numeric(
        "wsrep_flow_control_active",
        "galera_flow_control_active",
        "bool",
        "1 while flow control is active",
    ),
    Numeric(
        "wsrep_flow_control_requested",
        "galera_flow_control_requested",
        "bool",
        "1 while this node requests a pause",
    ),
    # Certification and apply
    Numeric(
        "wsrep_cert_deps_distance",
        "galera_cert_deps_distance",
        "gauge",
        "average distance between lowest and highest seqno applicable in parallel",
    ),
    Numeric(
        "wsrep_cert_index_size",
        "galera_cert_index_size",
        "gauge",
        "entries in the certification index",
    ),
    Numeric(
        "wsrep_cert_interval",
        "galera_cert_interval",
        "gauge",
        "average write-sets received while one is replicated",
    ),
    Numeric(
        "wsrep_apply_oooe",
        "galera_apply_oooe",
        "gauge",
        "fraction of write-sets applied out of order",
    ),
    Numeric(
        "wsrep_apply_oool",
        "galera_apply_oool",
        "gauge",
        "fraction of write-sets with a higher seqno applied before a lower one",
    ),
    Numeric(
        "wsrep_apply_window",
        "galera_apply_window",
        "gauge",
        "average distance of seqnos applied concurrently",
    ),
    Numeric("wsrep_apply_waits", "galera_apply_waits_total", "counter", "times an applier waited"),
    Numeric(
        "wsrep_commit_oooe",
        "galera_commit_oooe",
        "gauge",
        "fraction of transactions committed out of order",
    ),
    Numeric(
        "wsrep_commit_oool",
        "galera_commit_oool",
        "gauge",
        "fraction of transactions committed out of order (local)",
    ),
    Numeric(
        "wsrep_commit_window",
        "galera_commit_window",
        "gauge",
        "average distance of seqnos committed concurrently",
    ),
    Numeric("wsrep_causal_reads", "galera_causal_reads_total", "counter", "causal reads performed"),
    # Threads and connections
    Numeric(
        "wsrep_open_transactions", "galera_open_transactions", "gauge", "open wsrep transactions"
    ),
    Numeric("wsrep_open_connections", "galera_open_connections", "gauge", "open wsrep connections"),
    Numeric("wsrep_applier_thread_count", "galera_applier_threads", "gauge", "applier threads"),
    Numeric(
        "wsrep_rollbacker_thread_count", "galera_rollbacker_threads", "gauge", "rollbacker threads"
    ),
    Numeric("wsrep_thread_count", "galera_threads", "gauge", "wsrep threads in all"),
    Numeric(
        "wsrep_protocol_version",
        "galera_protocol_version",
        "gauge",
        "wsrep protocol version in use",
    ),
    Numeric(
        "wsrep_protocol_application",
        "galera_protocol_application_version",
        "gauge",
        "application (write-set) protocol version in use",
    ),
    Numeric(
        "wsrep_protocol_replicator",
        "galera_protocol_replicator_version",
        "gauge",
        "replicator protocol version in use",
    ),
    Numeric(
        "wsrep_protocol_gcs",
        "galera_protocol_gcs_version",
        "gauge",
        "group communication protocol version in use",
    ),
)

NUMERIC_BY_VARIABLE = {row.variable: row for row in NUMERIC}
