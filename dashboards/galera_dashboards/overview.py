"""The cluster overview: scenario, bootstrap candidate and evidence, nodes, alerts, history."""

from __future__ import annotations

from galera_dashboards.codes import (
    CANDIDATE_MAP,
    CLUSTER_STATUS_MAP,
    CONF_ID_MAP,
    LOCAL_STATE_MAP,
    NODE_STATE_MAP,
    POSITION_MAP,
    READY_MAP,
    RECOVERY_MAP,
    SAFE_MAP,
    SCENARIO_MAP,
    SCENARIOS,
    SEQNO_MAP,
    UP_MAP,
    anchor,
)
from galera_dashboards.frame import (
    OVERVIEW_UID,
    dashboard,
    node_detail_link,
    node_table,
    runbook_link,
)
from galera_dashboards.grafana import (
    BASE_THRESHOLDS,
    BLUE,
    COLOR_CELL,
    COLOR_TEXT,
    GREEN,
    GREY,
    ORANGE,
    RED,
    Json,
    Layout,
    by_name,
    panel,
    range_map,
    stat,
    state_timeline,
    target,
    thresholds,
    timeseries,
    value_map,
)
from galera_dashboards.queries import (
    ALERT_COLUMNS,
    CANDIDATE,
    CI_MULTI,
    C,
    candidate_expr,
    cluster_status_expr,
    firing_alerts_expr,
    force_coded,
    local_state_expr,
    node_state_expr,
    position_status_expr,
    recovery_phase_expr,
    scenario_expr,
)

# The recovery guide's sections behind each scenario, and the alerts that then fire.
GUIDE: dict[str, tuple[str, tuple[str, ...]]] = {
    "healthy": ("Cluster fully functional", ()),
    "degraded": (
        "one / two nodes gracefully stopped, one node terminated, one node cut off, a joiner",
        ("GaleraNodeStopped", "GaleraClusterSingleNode", "GaleraNodeCrashed",
         "GaleraNodeIsolated", "GaleraNodeNotReady"),
    ),
    "quorum_lost": ("Two nodes are terminated", ("GaleraQuorumLost",)),
    "stopped": ("All nodes are gracefully stopped", ("GaleraClusterStopped",)),
    "crashed": ("All nodes are terminated", ("GaleraClusterCrashed",)),
    "partitioned": ("Connection failure between all nodes", ("GaleraClusterPartitioned",)),
    "split_brain": ("the guide's Note: two separate clusters", ("GaleraSplitBrain",)),
    "unobservable": ("— (exporters unreachable or refused)", ("GaleraClusterUnobservable",)),
    "uuid_conflict": ("— (scrape configuration)", ("GaleraClusterUuidConflict",)),
}  # fmt: skip


def scenario_runbook_text() -> str:
    rows = [
        "| scenario panel | recovery guide | alert / runbook step |",
        "|---|---|---|",
    ]
    for name, sc in sorted(SCENARIOS.items(), key=lambda item: item[1].code):
        guide, alerts = GUIDE[name]
        steps = " · ".join(f"[{a}](${{runbook_url}}#{anchor(a)})" for a in alerts) or "—"
        rows.append(f"| {sc.text} | {guide} | {steps} |")
    rows.append("")
    rows.append(
        "The scenario and the bootstrap candidate are recorded once by "
        "`rules/galera-recording.yml` (the alerts read the same series); no panel computes them. "
        "A node is named only when the evidence is complete; otherwise the scenario's alert "
        "says what to verify first."
    )
    return "\n".join(rows)


def overview() -> Json:
    lay = Layout()
    panels: list[Json] = []
    sel = CI_MULTI

    panels.append(
        stat(
            lay,
            "Guide scenario",
            [target(scenario_expr(), legend="{{scenario}}", instant=True)],
            w=7,
            description=(
                "The cluster's scenario as the decision model records it "
                "(cluster:galera_scenario:info of rules/galera-recording.yml, the series the "
                "scenario alerts read); no `for:` delay, unlike the alerts. Click for the "
                "runbook heading with the recovery steps. Whole cluster: not filtered by the "
                "Node variable."
            ),
            mappings=SCENARIO_MAP,
            no_value="No scenario recorded: load rules/galera-recording.yml",
            links=[runbook_link("Runbook: recovery steps", "${__field.labels.anchor}")],
        )
    )
    panels.append(
        stat(
            lay,
            "Bootstrap candidate",
            [target(candidate_expr(), legend="{{instance}}", instant=True)],
            w=7,
            description=(
                "THE node to bootstrap (`sudo cfg-cm-cluster --bootstrap-node`), as the decision "
                "model records it (instance:galera_bootstrap_candidate:bool, the series the "
                "scenario alerts' `bootstrap_node` comes from), and whether "
                "`--force-safe-to-bootstrap` is needed first. A node is named only when no "
                "Primary component runs and the evidence is complete: every node observed, "
                "every position known and of one history, one winner. Otherwise: none named; "
                "Bootstrap evidence below and the scenario alert say what to verify first. "
                "Whole cluster: not filtered by the Node variable."
            ),
            mappings=CANDIDATE_MAP,
            no_value="none named",
            text_mode="value_and_name",
            steps=thresholds((None, GREY)),
        )
    )
    panels.append(
        stat(
            lay,
            "Primary components",
            [
                target(
                    f"max by (cluster) (cluster:galera_primary_components:count{{{C}}})\n"
                    f"or on () max by (cluster) (cluster:galera_nodes:count{{{C}}}) * 0",
                    instant=True,
                )
            ],
            w=4,
            description=(
                "Distinct Primary components (distinct galera_component_info{members} among "
                "Primary nodes). 1 is healthy, 0 means no node can serve, 2 or more is a split "
                "brain: both sides accept writes."
            ),
            mappings=[
                value_map({0: ("0: none", RED), 1: ("1", GREEN)}),
                range_map(2, 1e9, "SPLIT BRAIN", RED),
            ],
        )
    )
    panels.append(
        stat(
            lay,
            "Primary component size",
            [
                target(
                    f"max by (cluster) (cluster:galera_primary_size:max{{{C}}})\n"
                    f"or on () max by (cluster) (cluster:galera_nodes:count{{{C}}}) * 0",
                    "A",
                    "members",
                    instant=True,
                ),
                target(
                    f"max by (cluster) (cluster:galera_expected_size:sum{{{C}}})",
                    "B",
                    "expected",
                    instant=True,
                ),
            ],
            w=3,
            description=(
                "Members of the (largest) Primary component as its nodes report them "
                "(wsrep_cluster_size), and the members a healthy cluster has."
            ),
            text_mode="value_and_name",
            color_mode="none",
        )
    )
    panels.append(
        stat(
            lay,
            "Galera alerts firing",
            [
                target(
                    f'count(ALERTS{{alertname=~"Galera.*", alertstate="firing", {C}}})'
                    " or vector(0)",
                    instant=True,
                )
            ],
            w=3,
            steps=thresholds((None, GREEN), (1, RED)),
        )
    )
    lay.newline()

    # The decision's evidence per node, all from the recorded series (whole cluster: the
    # evidence for a bootstrap is every node's, whatever the Node selection).
    evidence = [
        ("A", "Node state", node_state_expr(C)),
        ("B", "Position seqno", f"max by (instance, uuid) (instance:galera_position:seqno{{{C}}})"),
        ("C", "Position", position_status_expr()),
        ("D", "safe_to_bootstrap", f"max by (instance) (galera_grastate_safe_to_bootstrap{{{C}}})"),
        ("E", "Bootstrap candidate", force_coded(CANDIDATE, C, "instance")),
    ]  # fmt: skip
    panels.append(
        node_table(
            lay,
            "Bootstrap evidence",
            evidence,
            {
                "Node state": (NODE_STATE_MAP, COLOR_CELL),
                "Position": (POSITION_MAP, COLOR_CELL),
                "safe_to_bootstrap": (SAFE_MAP, COLOR_TEXT),
                "Bootstrap candidate": (CANDIDATE_MAP, COLOR_CELL),
            },
            rename_labels={"uuid": "History (cluster uuid)"},
            h=6,
            description=(
                "What the decision model (rules/galera-recording.yml) knows of each node: its "
                "state (instance:galera_node:state), its proven position and history "
                "(instance:galera_position:seqno{uuid}: nodes outside a Primary component), "
                "whether the position is known, covered by a running survivor or UNKNOWN "
                "(instance:galera_position_unknown:bool: run `galera_recovery` or `mariadbd "
                "--wsrep-recover` there before anything is forced), safe_to_bootstrap from "
                "grastate.dat, and the bootstrap candidate. Empty position cells: the node is "
                "in a Primary component. Whole cluster: not filtered by the Node variable."
            ),
        )
    )
    lay.newline()

    table_queries = [
        ("A", "Exporter up", f"max by (instance) (instance:up:galera_job{{{sel}}})"),
        ("B", "mysqld up", f"max by (instance) (galera_up{{{sel}}})"),
        ("C", "Node state", node_state_expr(sel)),
        ("D", "Cluster status", cluster_status_expr(sel)),
        ("E", "Local state", local_state_expr(sel)),
        ("F", "Size seen", f"max by (instance) (galera_cluster_size{{{sel}}})"),
        ("G", "conf_id", f"max by (instance) (galera_cluster_conf_id{{{sel}}})"),
        (
            "H",
            "safe_to_bootstrap",
            f"max by (instance) (galera_grastate_safe_to_bootstrap{{{sel}}})",
        ),
        ("I", "grastate seqno", f"max by (instance) (galera_grastate_seqno{{{sel}}})"),
        ("J", "recovered seqno", f"max by (instance) (galera_recovered_seqno{{{sel}}})"),
        ("K", "last committed", f"max by (instance) (galera_last_committed{{{sel}}})"),
        ("L", "Back-end ready", f"max by (instance) (galera_backend_ready{{{sel}}})"),
    ]
    panels.append(
        node_table(
            lay,
            "Nodes",
            table_queries,
            {
                "Exporter up": (UP_MAP, COLOR_CELL),
                "mysqld up": (UP_MAP, COLOR_CELL),
                "Node state": (NODE_STATE_MAP, COLOR_CELL),
                "Cluster status": (CLUSTER_STATUS_MAP, COLOR_CELL),
                "Local state": (LOCAL_STATE_MAP, COLOR_CELL),
                "conf_id": (CONF_ID_MAP, COLOR_TEXT),
                "safe_to_bootstrap": (SAFE_MAP, COLOR_TEXT),
                "grastate seqno": (SEQNO_MAP, COLOR_TEXT),
                "Back-end ready": (READY_MAP, COLOR_CELL),
            },
            h=7,
            description=(
                "One row per node. Node state (instance:galera_node:state): Primary / "
                "non-Primary (mysqld answers), joining (mysqld refuses during an SST), stopped "
                "(mysqld refuses, gvwstate.dat removed: a clean stop), crashed (gvwstate.dat "
                "kept), down (gvwstate.dat unreadable), no access (mysqld refuses the exporter), "
                "unobservable (exporter unreachable or mysqld hung). grastate seqno is -1 while "
                "mysqld runs or after a crash; recovered seqno comes from the last `WSREP: "
                "Recovered position` line of the error log. Click a node for its detail dashboard."
            ),
        )
    )
    lay.newline()

    panels.append(
        panel(
            lay,
            "table",
            "Firing Galera alerts",
            (15, 8),
            [target(firing_alerts_expr(), instant=True, table=True)],
            description=(
                'ALERTS{alertname=~"Galera.*"} that are firing for this cluster (cluster-level '
                "alerts carry no instance). ALERTS has the alerts' labels only, no annotations: "
                "the `bootstrap_node` annotation, the description with the exact commands and "
                "the evidence are in the notification (or Prometheus' Alerts page). A scenario "
                "alert with advice `bootstrap` names the node to bootstrap in its instance "
                "column (the same node as `bootstrap_node`); with advice `verify` no node is "
                "named and its description says what to verify first. Click the alert name for "
                "its runbook heading."
            ),
            defaults={
                "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False},
                "color": {"mode": "thresholds"},
                "thresholds": BASE_THRESHOLDS,
                "mappings": [],
                "noValue": "No Galera alert firing",
            },
            options={
                "showHeader": True,
                "cellHeight": "sm",
                "footer": {"show": False, "reducer": ["sum"], "countRows": False, "fields": ""},
                "sortBy": [{"displayName": "severity", "desc": False}],
            },
            overrides=[
                by_name(
                    "alertname",
                    ("links", [runbook_link("Runbook: ${__value.raw}", "${__data.fields.anchor}")]),
                ),
                by_name(
                    "severity",
                    (
                        "mappings",
                        [
                            value_map(
                                {
                                    "critical": ("critical", RED),
                                    "warning": ("warning", ORANGE),
                                    "info": ("info", BLUE),
                                }
                            )
                        ],
                    ),
                    COLOR_CELL,
                ),
                by_name("instance", ("links", [node_detail_link("${__value.raw}")])),
                by_name(
                    "advice",
                    (
                        "mappings",
                        [
                            value_map(
                                {
                                    "bootstrap": ("bootstrap this node (bootstrap_node)", RED),
                                    "verify": ("verify first: no node named", ORANGE),
                                }
                            )
                        ],
                    ),
                    COLOR_TEXT,
                ),
                by_name("anchor", ("custom.hidden", True)),
            ],
            transformations=[
                {
                    "id": "filterFieldsByName",
                    "options": {"include": {"names": list(ALERT_COLUMNS)}},
                },
                {
                    "id": "organize",
                    "options": {"indexByName": {name: i for i, name in enumerate(ALERT_COLUMNS)}},
                },
            ],
        )
    )
    pid, pos = lay.place(9, 8)
    panels.append(
        {
            "id": pid,
            "type": "text",
            "title": "Guide scenarios and their runbook steps",
            "description": "Where each scenario of the cluster recovery guide shows up.",
            "gridPos": pos,
            "options": {"mode": "markdown", "content": scenario_runbook_text()},
        }
    )
    lay.newline()

    panels.append(
        state_timeline(
            lay,
            "Node state",
            [target(node_state_expr(sel), legend="{{instance}}")],
            h=6,
            description="Node state over time (instance:galera_node:state of the decision model).",
            mappings=NODE_STATE_MAP,
        )
    )
    lay.newline()
    panels.append(
        state_timeline(
            lay,
            "Cluster status",
            [target(cluster_status_expr(sel), legend="{{instance}}")],
            w=12,
            description="wsrep_cluster_status per node; grey: mysqld down, gap: no exporter data.",
            mappings=CLUSTER_STATUS_MAP,
        )
    )
    panels.append(
        state_timeline(
            lay,
            "Local state",
            [target(local_state_expr(sel), legend="{{instance}}")],
            w=12,
            description="wsrep_local_state per node (Joining, Donor/Desynced, Synced, ...).",
            mappings=LOCAL_STATE_MAP,
        )
    )
    lay.newline()
    panels.append(
        state_timeline(
            lay,
            "Recovery phase (wsrep status file)",
            [target(recovery_phase_expr(sel), legend="{{instance}}")],
            w=12,
            description=(
                "Each node's state transfer phase from MariaDB's wsrep_status_file (collector "
                "status_file), readable while mysqld is down or joining: joiner in SST (also "
                "while the SST has emptied its datadir: sst_in_progress), joiner in IST, donor, "
                "joined and catching up, synced; red: the joiner's file holds SST errors (the "
                "SST failed). Grey: no status file (wsrep_status_file not set) or "
                "starting/stopped."
            ),
            mappings=RECOVERY_MAP,
        )
    )
    panels.append(
        timeseries(
            lay,
            "Reported transfer progress",
            [
                target(
                    f"max by (instance) (galera_status_file_progress_done{{{sel}}}"
                    f" / galera_status_file_progress_expected{{{sel}}})",
                    legend="{{instance}}",
                )
            ],
            w=6,
            h=6,
            unit="percentunit",
            description=(
                "status.progress done/total of the wsrep status file, while a transfer reports "
                "it. MariaDB 10.11.19 / Galera 26.4.23 report none (docs/status-file.md): "
                "empty there; the next panel and the phase panel show how far a recovery got."
            ),
        )
    )
    panels.append(
        timeseries(
            lay,
            "SST data on the joiner",
            [
                target(
                    f"max by (instance) (galera_sst_datadir_bytes{{{sel}}})", legend="{{instance}}"
                )
            ],
            w=6,
            h=6,
            unit="bytes",
            description=(
                "Bytes in the joiner's datadir while an SST runs (sst_in_progress present; "
                "collector grastate): the stream arriving, on every MariaDB version. A flat line "
                "for 10 minutes is GaleraStateTransferStalled. Empty when no SST runs, or when "
                "the exporter may not list the datadir (docs/deploy.md)."
            ),
        )
    )
    lay.newline()
    panels.append(
        timeseries(
            lay,
            "Cluster size seen",
            [target(f"max by (instance) (galera_cluster_size{{{sel}}})", legend="{{instance}}")],
            w=12,
            h=7,
            description="wsrep_cluster_size as each node sees it: members of its component.",
        )
    )
    panels.append(
        timeseries(
            lay,
            "Last committed",
            [target(f"max by (instance) (galera_last_committed{{{sel}}})", legend="{{instance}}")],
            w=12,
            h=7,
            description="wsrep_last_committed per node: nodes of one component move together.",
            min_zero=False,
        )
    )
    return dashboard(
        OVERVIEW_UID,
        "Galera / Cluster overview",
        "MariaDB Galera cluster: which nodes are up, in which component, which guide scenario, "
        "who to bootstrap, firing alerts with runbook links.",
        panels,
        multi=True,
    )
