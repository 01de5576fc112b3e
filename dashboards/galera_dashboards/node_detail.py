"""The node detail: one node's states, flow control, queues, latency, conflicts, traffic."""

from __future__ import annotations

from galera_dashboards.codes import (
    CLUSTER_STATUS_MAP,
    CONF_ID_MAP,
    LOCAL_STATE_MAP,
    NODE_STATE_MAP,
    ON_OFF_MAP,
    READY_MAP,
    SAFE_MAP,
    SEQNO_MAP,
    UP_MAP,
)
from galera_dashboards.frame import NODE_UID, dashboard
from galera_dashboards.grafana import (
    Json,
    Layout,
    by_ref,
    null_map,
    stat,
    state_timeline,
    target,
    timeseries,
)
from galera_dashboards.queries import CI_ONE, cluster_status_expr, local_state_expr, node_state_expr


def rate(metric: str, sel: str = CI_ONE) -> str:
    return f"rate({metric}{{{sel}}}[$__rate_interval])"


def node_detail() -> Json:
    lay = Layout()
    sel = CI_ONE
    p: list[Json] = []

    def one(expr: str) -> list[Json]:
        return [target(expr, instant=True)]

    p.append(stat(lay, "Node state", one(node_state_expr(sel)), w=3, mappings=NODE_STATE_MAP))
    p.append(
        stat(lay, "Cluster status", one(cluster_status_expr(sel)), w=3, mappings=CLUSTER_STATUS_MAP)
    )
    p.append(stat(lay, "Local state", one(local_state_expr(sel)), w=3, mappings=LOCAL_STATE_MAP))
    p.append(stat(lay, "Cluster size seen", one(f"galera_cluster_size{{{sel}}}"), w=3))
    p.append(
        stat(lay, "conf_id", one(f"galera_cluster_conf_id{{{sel}}}"), w=3, mappings=CONF_ID_MAP)
    )
    p.append(stat(lay, "wsrep_ready", one(f"galera_ready{{{sel}}}"), w=3, mappings=ON_OFF_MAP))
    p.append(
        stat(
            lay,
            "Back-end ready",
            one(f"galera_backend_ready{{{sel}}}"),
            w=3,
            mappings=READY_MAP,
            description="The back-end logged its ready line (`SMTP Service started`) since "
            "its last start (galera_backend_ready).",
        )
    )
    p.append(
        stat(lay, "Exporter up", one(f"instance:up:galera_job{{{sel}}}"), w=3, mappings=UP_MAP)
    )
    lay.newline()
    p.append(
        stat(lay, "Last committed", one(f"galera_last_committed{{{sel}}}"), w=4, color_mode="none")
    )
    p.append(
        stat(
            lay,
            "safe_to_bootstrap",
            one(f"galera_grastate_safe_to_bootstrap{{{sel}}}"),
            w=4,
            mappings=SAFE_MAP,
        )
    )
    p.append(
        stat(
            lay,
            "grastate seqno",
            one(f"galera_grastate_seqno{{{sel}}}"),
            w=4,
            mappings=SEQNO_MAP,
            color_mode="none",
        )
    )
    p.append(
        stat(
            lay,
            "Recovered seqno",
            one(f"galera_recovered_seqno{{{sel}}}"),
            w=4,
            mappings=[null_map("none logged")],
            color_mode="none",
            description="seqno of the last `WSREP: Recovered position` line in the mysqld "
            "error log (mariadbd --wsrep-recover).",
        )
    )
    p.append(
        stat(
            lay,
            "gcache size",
            one(f"galera_gcache_size_bytes{{{sel}}}"),
            w=4,
            unit="bytes",
            color_mode="none",
        )
    )
    p.append(
        stat(
            lay,
            "Write-sets in gcache",
            one(f"galera_last_committed{{{sel}}} - galera_local_cached_downto{{{sel}}}"),
            w=4,
            color_mode="none",
            description="last_committed - local_cached_downto: how far back a joiner can "
            "catch up by IST from this donor instead of a full SST.",
        )
    )
    lay.newline()

    history = [
        ("A", "Node state", node_state_expr(sel), NODE_STATE_MAP),
        ("B", "Cluster status", cluster_status_expr(sel), CLUSTER_STATUS_MAP),
        ("C", "Local state", local_state_expr(sel), LOCAL_STATE_MAP),
        ("D", "wsrep_ready", f"galera_ready{{{sel}}}", ON_OFF_MAP),
        ("E", "Back-end ready", f"galera_backend_ready{{{sel}}}", READY_MAP),
    ]
    p.append(
        state_timeline(
            lay,
            "State history",
            [target(expr, ref, legend) for ref, legend, expr, _ in history],
            h=7,
            description="This node's states over time.",
            overrides=[by_ref(ref, ("mappings", maps)) for ref, _, _, maps in history],
        )
    )
    lay.newline()

    p.append(
        timeseries(
            lay,
            "Flow control paused",
            [target(rate("galera_flow_control_paused_seconds_total"), legend="paused")],
            unit="percentunit",
            description="Fraction of time replication was paused by flow control "
            "(rate of wsrep_flow_control_paused_ns): every commit in the cluster waits.",
        )
    )
    p.append(
        timeseries(
            lay,
            "Flow control messages",
            [
                target(rate("galera_flow_control_sent_total"), "A", "FC_PAUSE sent"),
                target(rate("galera_flow_control_recv_total"), "B", "FC_PAUSE received"),
            ],
            unit="ops",
            description="A node that sends FC_PAUSE is the one that cannot keep up.",
        )
    )
    p.append(
        timeseries(
            lay,
            "Send / receive queues",
            [
                target(f"galera_local_send_queue{{{sel}}}", "A", "send queue"),
                target(f"galera_local_recv_queue{{{sel}}}", "B", "receive queue"),
            ],
            description="Write-sets waiting to be sent / applied (wsrep_local_send_queue, "
            "wsrep_local_recv_queue).",
        )
    )
    p.append(
        timeseries(
            lay,
            "Replication latency",
            [target(f'galera_evs_repl_latency_seconds{{{sel}, stat=~"avg|max"}}', "A", "{{stat}}")],
            unit="s",
            description="Group communication round trip (wsrep_evs_repl_latency, over the "
            "provider's sampling window).",
        )
    )
    p.append(
        timeseries(
            lay,
            "Certification failures and BF aborts",
            [
                target(rate("galera_local_cert_failures_total"), "A", "cert failures"),
                target(rate("galera_local_bf_aborts_total"), "B", "BF aborts"),
                target(rate("galera_local_replays_total"), "C", "replays"),
            ],
            unit="ops",
            description="Local transactions rolled back because another node wrote the same "
            "rows first; clients see deadlock errors.",
        )
    )
    p.append(
        timeseries(
            lay,
            "Bytes replicated / received",
            [
                target(rate("galera_replicated_bytes_total"), "A", "replicated"),
                target(rate("galera_received_bytes_total"), "B", "received"),
            ],
            unit="Bps",
        )
    )
    p.append(
        timeseries(
            lay,
            "Commits and write-sets",
            [
                target(rate("galera_local_commits_total"), "A", "local commits"),
                target(rate("galera_replicated_writesets_total"), "B", "write-sets replicated"),
                target(rate("galera_received_writesets_total"), "C", "write-sets received"),
            ],
            unit="ops",
        )
    )
    p.append(
        timeseries(
            lay,
            "Last committed",
            [target(f"galera_last_committed{{{sel}}}", legend="last committed")],
            min_zero=False,
        )
    )
    p.append(
        timeseries(
            lay,
            "gcache",
            [
                target(f"galera_gcache_size_bytes{{{sel}}}", "A", "gcache.size"),
            ],
            unit="bytes",
            description="gcache.size from wsrep_provider_options.",
        )
    )
    p.append(
        timeseries(
            lay,
            "Error log events",
            [
                target(
                    f"increase(galera_errorlog_events_total{{{sel}}}[$__rate_interval])",
                    legend="{{event}}",
                )
            ],
            draw="bars",
            description="Galera events in the mysqld error log (galera_errorlog_events_total).",
        )
    )
    return dashboard(
        NODE_UID,
        "Galera / Node detail",
        "One MariaDB Galera node: state history, flow control, queues, latency, conflicts, "
        "traffic, gcache.",
        p,
        multi=False,
    )
