"""The state codes the queries produce, and how panels show them (value mappings).

A code's meaning lives here once: queries.py builds the PromQL that yields it, the dashboards
attach these mappings, tests/dashboards checks them against rules/galera-recording.yml.
"""

from __future__ import annotations

from dataclasses import dataclass

from galera_dashboards.grafana import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    PURPLE,
    RED,
    YELLOW,
    null_map,
    value_map,
)

# Node state: the value of instance:galera_node:state (rules/galera-recording.yml) is its code.
NODE_STATE_MAP = [
    value_map(
        {
            0: ("unobservable", PURPLE),
            1: ("Primary", GREEN),
            2: ("non-Primary", RED),
            3: ("joining (SST)", YELLOW),
            4: ("stopped (clean)", BLUE),
            5: ("crashed", RED),
            6: ("down (stopped or crashed?)", RED),
            7: ("no access (exporter refused)", PURPLE),
        }
    )
]
CLUSTER_STATUS_MAP = [
    value_map(
        {
            0: ("mysqld down", GREY),
            1: ("Primary", GREEN),
            2: ("non-Primary", RED),
            3: ("Disconnected", RED),
        }
    )
]
LOCAL_STATE_MAP = [
    value_map(
        {
            -1: ("mysqld down", GREY),
            0: ("Initialized", RED),
            1: ("Joining", YELLOW),
            2: ("Donor/Desynced", ORANGE),
            3: ("Joined", YELLOW),
            4: ("Synced", GREEN),
        }
    )
]
UP_MAP = [value_map({0: ("down", RED), 1: ("up", GREEN)})]
# Recovery phase from the wsrep status file (and the SST marker while a mariabackup SST has
# emptied the joiner's datadir, file included): the codes of recovery_phase_expr.
RECOVERY_PHASES = {
    7: ("SST failed (joiner)", RED),
    6: ("joiner: SST", YELLOW),
    5: ("joiner: IST", YELLOW),
    4: ("donor", ORANGE),
    3: ("joined: catching up", BLUE),
    2: ("synced", GREEN),
    1: ("starting / stopped", GREY),
    0: ("no status file", GREY),
}
RECOVERY_MAP = [value_map(dict(sorted(RECOVERY_PHASES.items())))]
ON_OFF_MAP = [value_map({0: ("OFF", RED), 1: ("ON", GREEN)})]
READY_MAP = [value_map({0: ("not ready", RED), 1: ("ready", GREEN)}), null_map("no data")]
SAFE_MAP = [value_map({0: ("0", GREY), 1: ("1 (safe)", GREEN)})]
SEQNO_MAP = [value_map({-1: ("-1 (running or crashed)", GREY)}), null_map("—")]
CONF_ID_MAP = [value_map({-1: ("none (not Primary)", RED)})]


@dataclass(frozen=True)
class Scenario:
    """How the overview shows one `scenario` of cluster:galera_scenario:info."""

    code: int  # the panel's value; its value mapping gives text and colour
    text: str
    color: str
    alert: str  # whose runbook heading has the steps; "" = the runbook's top


# The scenarios the decision model records (cluster:galera_scenario:info of
# rules/galera-recording.yml), in the rules' order of precedence. Healthy green, degraded
# orange, every outage red.
SCENARIOS: dict[str, Scenario] = {
    "uuid_conflict": Scenario(
        9, "Configuration error: two clusters share one cluster label", RED,
        "GaleraClusterUuidConflict",
    ),
    "split_brain": Scenario(8, "SPLIT BRAIN: several Primary components", RED, "GaleraSplitBrain"),
    "healthy": Scenario(1, "Cluster fully functional", GREEN, ""),
    "degraded": Scenario(2, "Degraded: Primary component running, node(s) missing", ORANGE, ""),
    "unobservable": Scenario(
        3, "Unobservable: no node seen serving, some node not observed", RED,
        "GaleraClusterUnobservable",
    ),
    "partitioned": Scenario(
        4, "Connection failure between all nodes", RED, "GaleraClusterPartitioned"
    ),
    "quorum_lost": Scenario(5, "Quorum lost: survivor(s) non-Primary", RED, "GaleraQuorumLost"),
    "stopped": Scenario(6, "All nodes are gracefully stopped", RED, "GaleraClusterStopped"),
    "crashed": Scenario(7, "All nodes are down (terminated)", RED, "GaleraClusterCrashed"),
}  # fmt: skip
UNKNOWN_SCENARIO = Scenario(-1, "Unknown scenario (rules newer than this dashboard?)", PURPLE, "")
SCENARIO_MAP = [
    value_map({s.code: (s.text, s.color) for s in (*SCENARIOS.values(), UNKNOWN_SCENARIO)})
]

# instance:galera_bootstrap_candidate:bool{force} as the candidate panel's value.
FORCE_CODES = {"0": 1, "1": 2}
CANDIDATE_MAP = [
    value_map(
        {
            1: ("bootstrap it (safe_to_bootstrap: 1, no force)", GREEN),
            2: ("force safe_to_bootstrap first, then bootstrap it", ORANGE),
        }
    )
]
# The evidence table's position column, from three recorded series (see positions_expr).
POSITION_MAP = [
    value_map(
        {
            0: ("known", GREEN),
            1: ("covered by a running survivor", BLUE),
            2: ("UNKNOWN: run galera_recovery there", RED),
        }
    )
]


def anchor(alertname: str) -> str:
    """The runbook heading anchor of an alert: its name lowercased (GitHub heading ids)."""
    return alertname.lower()
