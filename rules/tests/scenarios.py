"""Every failure scenario of the recovery guide as promtool test cases (rules/tests/*.yml).

Each case is a timeline of node states taken from the real lab (shared/reference/galera-lab.md)
and checks at chosen times: which alerts fire with which labels and description, and that
every other alert stays silent ("quiet") then. Run `python rules/tests/generate.py` to
rewrite rules/tests/*.yml from here; test_rules.py fails if the files and this module differ.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from rules.tests.series import (
    ZERO_UUID,
    Crashed,
    NoAccess,
    Node,
    State,
    Stopped,
    TargetDown,
    Up,
    isolated,
    node_samples,
    timeline,
)
from tests.support import yamlfile

from galera_exporter import advice as texts
from galera_exporter.decision import Decision, NodeFacts, decide, facts_from_samples

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules"
NODES = ("node1", "node2", "node3")
ALL = ("node1", "node2", "node3")


def s(text: str) -> int:
    """'6m30s' -> 390, '24h20m' -> 87600."""
    total, number = 0, ""
    units = {"h": 3600, "m": 60, "s": 1}
    for char in text:
        if char.isdigit():
            number += char
        else:
            total += int(number) * units[char]
            number = ""
    return total


@dataclass
class Check:
    at: str
    firing: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    quiet: bool = True  # every alert not in `firing` must be silent at `at`


@dataclass
class Case:
    name: str
    phases: list[tuple[str, dict[str, State]]]
    end: str
    checks: list[Check]
    clusters: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"prod": NODES})
    target_labels: dict[str, dict[str, str]] = field(default_factory=dict)


AUTO = ""  # the description the decision model implies (galera_exporter.advice)


def fire(alert: str, description: str = AUTO, **labels: str) -> tuple[str, dict[str, str], str]:
    return alert, labels, description


def scenario(**labels: str) -> tuple[str, dict[str, str], str]:
    """The scenario alert the decision model says fires, with text and annotations from it;
    `labels` (e.g. instance="node3", advice="bootstrap") are asserted against the model."""
    return "", labels, AUTO


def prod(**states: State) -> dict[str, State]:
    return {f"prod/{name}": state for name, state in states.items()}


def every(state: State, cluster: str = "prod") -> dict[str, State]:
    return {f"{cluster}/{name}": state for name in NODES}


HEALTHY = every(Up())


def restarted(conf_id: int) -> dict[str, State]:
    return every(Up(conf_id=conf_id))


# ----------------------------------------------------------------- expected descriptions
def crashed_text(node: str, size: int, expected: int = 3, cluster: str = "prod") -> str:
    return (
        f"mysqld on {node} (cluster {cluster}) is down and its gvwstate.dat is still there, so it "
        f"was not stopped cleanly (crash, kill, power loss). The cluster is still Primary with "
        f"{size} of {expected} members. Restart {node} with `sudo cfg-cm-cluster --restart-node`; "
        f"it rejoins by itself."
    )


def stopped_text(node: str, seqno: int, cluster: str = "prod") -> str:
    return (
        f"mysqld on {node} (cluster {cluster}) was shut down cleanly (gvwstate.dat removed, "
        f"grastate.dat seqno {seqno}) and has been down for 10 minutes; the cluster is still "
        f"Primary without it. When the maintenance is over, restart it with "
        f"`sudo cfg-cm-cluster --restart-node`."
    )


def isolated_text(node: str, peers: str, cluster: str = "prod") -> str:
    return (
        f"{node} is up but non-Primary while {peers} still form the Primary component of "
        f"cluster {cluster}: it cannot reach them and refuses queries. Fix the network between "
        f"{node} and its peers (gcomm port 4567); it rejoins by itself. Do NOT bootstrap {node}: "
        f"that creates a split brain."
    )


UNREACHABLE_TEXT = (
    "The exporter on node2 (cluster prod) cannot be scraped and the Primary component has 2 of 3 "
    'members: the host is probably down (the guide\'s "one node terminated"). Bring the host '
    "back; if mysqld does not rejoin by itself, run `sudo cfg-cm-cluster --restart-node` on node2. "
    "Never bootstrap it."
)


# ------------------------------------------------------------------------------ cases
CASES: dict[str, list[Case]] = {}

CASES["healthy"] = [
    Case(
        "healthy 3-node cluster: nothing fires",
        [("0s", HEALTHY)],
        "2h",
        [Check("10m"), Check("1h"), Check("2h")],
    ),
    Case(
        "2 nodes + 1 declared arbitrator (galera_arbitrators target label): size 3 is healthy",
        [
            (
                "0s",
                {
                    "prod/node1": Up(members=("node1", "node2"), size=3),
                    "prod/node2": Up(members=("node1", "node2"), size=3),
                },
            )
        ],
        "1h",
        [Check("30m"), Check("1h")],
        clusters={"prod": ("node1", "node2")},
        target_labels={"prod": {"galera_arbitrators": "1"}},
    ),
    Case(
        "declared arbitrator (garbd) goes away: size 2 of 3 -> GaleraClusterSizeMismatch",
        [
            (
                "0s",
                {
                    "prod/node1": Up(members=("node1", "node2"), size=3),
                    "prod/node2": Up(members=("node1", "node2"), size=3),
                },
            ),
            (
                "10m",
                {
                    "prod/node1": Up(members=("node1", "node2"), size=2, conf_id=4),
                    "prod/node2": Up(members=("node1", "node2"), size=2, conf_id=4),
                },
            ),
            (
                "30m",
                {
                    "prod/node1": Up(members=("node1", "node2"), size=3, conf_id=5),
                    "prod/node2": Up(members=("node1", "node2"), size=3, conf_id=5),
                },
            ),
        ],
        "40m",
        [
            Check("19m45s"),
            Check(
                "20m15s",
                [
                    fire(
                        "GaleraClusterSizeMismatch",
                        "The Primary component of cluster prod has 2 members but 3 are configured "
                        "(monitored nodes plus the galera_arbitrators target label) although every "
                        "monitored node is in it: an arbitrator (garbd) is down, or a member is "
                        "not "
                        "monitored or not declared.",
                        cluster="prod",
                    )
                ],
            ),
            Check("30m15s"),
        ],
        clusters={"prod": ("node1", "node2")},
        target_labels={"prod": {"galera_arbitrators": "1"}},
    ),
    Case(
        "undeclared arbitrator: 2 monitored nodes report size 3 -> GaleraClusterSizeMismatch",
        [
            (
                "0s",
                {
                    "prod/node1": Up(members=("node1", "node2"), size=3),
                    "prod/node2": Up(members=("node1", "node2"), size=3),
                },
            )
        ],
        "20m",
        [
            Check("9m45s"),
            Check(
                "10m15s",
                [
                    fire(
                        "GaleraClusterSizeMismatch",
                        "The Primary component of cluster prod has 3 members but 2 are configured "
                        "(monitored nodes plus the galera_arbitrators target label) although every "
                        "monitored node is in it: an arbitrator (garbd) is down, or a member is "
                        "not "
                        "monitored or not declared.",
                        cluster="prod",
                    )
                ],
            ),
        ],
        clusters={"prod": ("node1", "node2")},
    ),
]

TWO = ("node1", "node2")
CASES["node-down"] = [
    Case(
        "b: one node stopped gracefully -> GaleraNodeStopped (info), never GaleraNodeCrashed",
        [
            ("0s", HEALTHY),
            ("5m", {**every(Up(members=TWO, conf_id=4)), "prod/node3": Stopped(seqno=11)}),
            ("25m", restarted(5)),
        ],
        "35m",
        [
            Check("6m30s"),
            Check("14m45s"),
            Check(
                "15m15s",
                [
                    fire(
                        "GaleraNodeStopped",
                        stopped_text("node3", 11),
                        cluster="prod",
                        instance="node3",
                    )
                ],
            ),
            Check("25m15s"),
        ],
    ),
    Case(
        "e: one node killed -> GaleraNodeCrashed; a long SST while rejoining is not a crash",
        [
            ("0s", HEALTHY),
            # The survivors still show the old 3-member view for one scrape (~4.5 s in the lab).
            ("5m", {"prod/node3": Crashed()}),
            ("5m15s", {**every(Up(members=TWO, conf_id=4)), "prod/node3": Crashed()}),
            # Restarted with an SST: it refuses connections but is counted in the cluster size.
            ("15m", {**every(Up(conf_id=5)), "prod/node3": Crashed()}),
            ("40m", restarted(5)),
        ],
        "45m",
        [
            Check("6m"),
            Check(
                "6m30s",
                [
                    fire(
                        "GaleraNodeCrashed",
                        crashed_text("node3", 2),
                        cluster="prod",
                        instance="node3",
                    )
                ],
            ),
            Check(
                "14m45s",
                [
                    fire(
                        "GaleraNodeCrashed",
                        crashed_text("node3", 2),
                        cluster="prod",
                        instance="node3",
                    )
                ],
            ),
            Check("15m15s"),
            Check("39m45s"),
            Check("40m15s"),
        ],
    ),
    Case(
        "c: two nodes stopped gracefully -> GaleraClusterSingleNode on the survivor + "
        "GaleraNodeStopped for each; no crash, no quorum alert",
        [
            ("0s", HEALTHY),
            ("5m", {**every(Up(members=TWO, conf_id=4)), "prod/node3": Stopped(seqno=11)}),
            (
                "6m",
                {
                    "prod/node1": Up(members=("node1",), conf_id=5, safe=1),
                    "prod/node2": Stopped(seqno=14),
                },
            ),
            ("20m", restarted(7)),
        ],
        "30m",
        [
            Check("10m45s"),
            Check(
                "11m15s",
                [
                    fire(
                        "GaleraClusterSingleNode",
                        "Cluster prod runs on node1 alone: it is still Primary and writable, but "
                        "one "
                        "more failure takes the cluster down. Not in the cluster: node2 (stopped), "
                        "node3 "
                        "(stopped). Restart them one at a time with `sudo cfg-cm-cluster "
                        "--restart-node`; do not bootstrap anything.",
                        cluster="prod",
                        instance="node1",
                    )
                ],
                quiet=False,
            ),
            Check(
                "16m15s",
                [
                    fire(
                        "GaleraClusterSingleNode",
                        "Cluster prod runs on node1 alone: it is still Primary and writable, but "
                        "one more failure takes the cluster down. Not in the cluster: node2 "
                        "(stopped), node3 (stopped). Restart them one at a time with `sudo "
                        "cfg-cm-cluster --restart-node`; do not bootstrap anything.",
                        cluster="prod",
                        instance="node1",
                    ),
                    fire(
                        "GaleraNodeStopped",
                        stopped_text("node2", 14),
                        cluster="prod",
                        instance="node2",
                    ),
                    fire(
                        "GaleraNodeStopped",
                        stopped_text("node3", 11),
                        cluster="prod",
                        instance="node3",
                    ),
                ],
            ),
            Check("20m15s"),
        ],
    ),
    Case(
        "host of one node down (exporter unreachable) while its peers' size dropped -> "
        "GaleraNodeUnreachable (the guide's one node terminated), then GaleraExporterDown",
        [
            ("0s", HEALTHY),
            (
                "5m",
                {**every(Up(members=("node1", "node3"), conf_id=4)), "prod/node2": TargetDown()},
            ),
            ("20m", restarted(5)),
        ],
        "25m",
        [
            Check("6m45s"),
            Check(
                "7m15s",
                [fire("GaleraNodeUnreachable", UNREACHABLE_TEXT, cluster="prod", instance="node2")],
            ),
            Check(
                "10m15s",
                [
                    fire(
                        "GaleraNodeUnreachable", UNREACHABLE_TEXT, cluster="prod", instance="node2"
                    ),
                    fire(
                        "GaleraExporterDown",
                        "Prometheus cannot scrape the galera exporter node2 (cluster prod); this "
                        "node's state is unknown, so no node of this cluster is named for a "
                        "bootstrap while it lasts. Check the host and the galera-exporter service "
                        "on it.",
                        cluster="prod",
                        instance="node2",
                    ),
                ],
            ),
            Check("20m15s"),
        ],
    ),
    Case(
        "only the exporter of a node is down, its mysqld still in the Primary component (size 3) "
        "-> GaleraExporterDown only, never GaleraNodeUnreachable",
        [("0s", HEALTHY), ("5m", {"prod/node2": TargetDown()}), ("20m", HEALTHY)],
        "25m",
        [
            Check("9m45s"),
            Check(
                "10m15s",
                [
                    fire(
                        "GaleraExporterDown",
                        "Prometheus cannot scrape the galera exporter node2 (cluster prod); this "
                        "node's state is unknown, so no node of this cluster is named for a "
                        "bootstrap while it lasts. Check the host and the galera-exporter service "
                        "on it.",
                        cluster="prod",
                        instance="node2",
                    ),
                ],
            ),
            Check("20m15s"),
        ],
    ),
]


CASES["cluster-down"] = [
    Case(
        "d: all stopped gracefully (1, 2, 3) -> GaleraClusterStopped names node3 (safe 1)",
        [
            ("0s", HEALTHY),
            (
                "5m",
                {
                    **every(Up(members=("node2", "node3"), conf_id=4)),
                    "prod/node1": Stopped(seqno=18),
                },
            ),
            (
                "5m15s",
                {
                    "prod/node2": Stopped(seqno=20),
                    "prod/node3": Up(members=("node3",), conf_id=5, safe=1),
                },
            ),
            ("5m30s", {"prod/node3": Stopped(seqno=22, safe=1)}),
            # The runbook step: --bootstrap-node on node3, then --restart-node on the others.
            ("10m", {"prod/node3": Up(members=("node3",), conf_id=1, safe=1)}),
            ("11m", restarted(3)),
        ],
        "15m",
        [
            Check("6m15s"),
            Check(
                "6m45s",
                [scenario(instance="node3", advice="bootstrap")],
            ),
            Check("10m15s"),
            Check("11m15s"),
        ],
    ),
    Case(
        "g: all killed -> GaleraClusterCrashed names no node until every position is recovered, "
        "then the highest (node2)",
        [
            ("0s", HEALTHY),
            ("5m", every(Crashed())),
            # Someone ran `mariadbd --wsrep-recover` on each node (the exporter reads the
            # 'Recovered position' line from the error log).
            (
                "8m",
                {
                    "prod/node1": Crashed(recovered=41),
                    "prod/node2": Crashed(recovered=43),
                    "prod/node3": Crashed(recovered=42),
                },
            ),
            # The runbook step: force + bootstrap node2, the others still down for a while.
            ("10m", {"prod/node2": Up(members=("node2",), conf_id=1, safe=1, last_committed=43)}),
            ("12m", restarted(3)),
        ],
        "15m",
        [
            Check("5m45s"),
            Check(
                "6m15s",
                [scenario(advice="verify")],
            ),
            # The evidence became complete at 8m: the "verify" twin resolves, the "bootstrap"
            # twin (another alert identity) waits its own `for:`.
            Check("8m30s"),
            Check(
                "9m15s",
                [scenario(instance="node2", advice="bootstrap")],
            ),
            Check("10m15s"),
            Check(
                "11m15s",
                [
                    fire(
                        "GaleraNodeCrashed",
                        crashed_text("node1", 1),
                        cluster="prod",
                        instance="node1",
                    ),
                    fire(
                        "GaleraNodeCrashed",
                        crashed_text("node3", 1),
                        cluster="prod",
                        instance="node3",
                    ),
                ],
            ),
            Check("12m15s"),
        ],
    ),
    Case(
        "f: two killed, survivor non-Primary -> GaleraQuorumLost names node1; not isolated",
        [
            ("0s", HEALTHY),
            ("5m", {"prod/node2": Crashed(), "prod/node3": Crashed()}),
            ("5m15s", {"prod/node1": isolated("node1", last_committed=29)}),
            # The runbook step: pc.bootstrap=YES / --bootstrap-node on node1.
            ("10m", {"prod/node1": Up(members=("node1",), conf_id=1, safe=1, last_committed=29)}),
            ("12m", restarted(3)),
        ],
        "15m",
        [
            Check("6m"),
            Check(
                "6m30s",
                [scenario(instance="node1", advice="bootstrap")],
            ),
            Check("10m15s"),
            Check(
                "11m15s",
                [
                    fire(
                        "GaleraNodeCrashed",
                        crashed_text("node2", 1),
                        cluster="prod",
                        instance="node2",
                    ),
                    fire(
                        "GaleraNodeCrashed",
                        crashed_text("node3", 1),
                        cluster="prod",
                        instance="node3",
                    ),
                ],
            ),
            Check("12m15s"),
        ],
    ),
    Case(
        "f with the dead nodes' hosts gone (exporters unreachable) -> GaleraClusterUnobservable: "
        "nothing may be concluded, no node named",
        [
            ("0s", HEALTHY),
            ("5m", {"prod/node2": TargetDown(), "prod/node3": TargetDown()}),
            ("5m15s", {"prod/node1": isolated("node1", last_committed=29)}),
        ],
        "8m",
        [
            Check("6m"),
            Check(
                "6m30s",
                [scenario()],
            ),
        ],
    ),
]

CASES["network"] = [
    Case(
        "h: one node isolated -> GaleraNodeIsolated on node3; never GaleraQuorumLost",
        [
            ("0s", HEALTHY),
            (
                "5m",
                {
                    **every(Up(members=TWO, conf_id=1)),
                    "prod/node3": isolated("node3", last_committed=25),
                },
            ),
            ("10m", restarted(2)),
        ],
        "15m",
        [
            Check("5m45s"),
            Check(
                "6m15s",
                [
                    fire(
                        "GaleraNodeIsolated",
                        isolated_text("node3", "node1, node2"),
                        cluster="prod",
                        instance="node3",
                    )
                ],
            ),
            Check(
                "9m45s",
                [
                    fire(
                        "GaleraNodeIsolated",
                        isolated_text("node3", "node1, node2"),
                        cluster="prod",
                        instance="node3",
                    )
                ],
            ),
            Check("10m15s"),
        ],
    ),
    Case(
        "i: all nodes isolated -> GaleraClusterPartitioned naming node2 (highest last_committed) "
        "as the fallback; no quorum-lost, no isolated",
        [
            ("0s", HEALTHY),
            (
                "5m",
                {
                    "prod/node1": isolated("node1", last_committed=10),
                    "prod/node2": isolated("node2", last_committed=12),
                    "prod/node3": isolated("node3", last_committed=11),
                },
            ),
            ("10m", restarted(4)),
        ],
        "15m",
        [
            Check("5m45s"),
            Check(
                "6m15s",
                [scenario(instance="node2", advice="bootstrap")],
            ),
            Check("10m15s"),
        ],
    ),
    Case(
        "a node rejoining: for one scrape its peers still show the old member list "
        "(two distinct lists) -> no GaleraSplitBrain, and later no GaleraSplitBrainHealed",
        [
            ("0s", {**every(Up(members=TWO, conf_id=4)), "prod/node3": Stopped(seqno=11)}),
            ("5m", {"prod/node3": Up(conf_id=5)}),
            ("5m15s", restarted(5)),
        ],
        "40m",
        [Check("5m"), Check("6m"), Check("10m"), Check("40m")],
    ),
]

SPLIT: dict[str, State] = {
    "prod/node1": Up(members=TWO, conf_id=4, last_committed=26),
    "prod/node2": Up(members=TWO, conf_id=4, last_committed=27),
    "prod/node3": Up(members=("node3",), conf_id=4, safe=1, last_committed=25),
}
SPLIT_TEXT = (
    "Cluster prod has 2 Primary components that each accept writes, so their data is "
    "diverging now. Sides: node1 in [127.0.0.11:3306,127.0.0.12:3306]; node2 in "
    "[127.0.0.11:3306,127.0.0.12:3306]; node3 in [127.0.0.13:3306]. Stop writes, keep one "
    "side, stop mysqld on the nodes of the other side(s), and rejoin them with a full SST from "
    "an empty datadir (a rejoin by IST keeps their divergent rows)."
)
HEALED_TEXT = (
    "Cluster prod had more than one Primary component in the last 24 hours and now has at most "
    "one. Nodes that rejoined by IST look healthy but may hold different rows. Compare table "
    "checksums on every node before trusting the data; no node is named for a bootstrap while "
    "this lasts. This alert stays for 24 hours after the split unless silenced."
)
CASES["split-brain"] = [
    Case(
        "j: node3 isolated then pc.bootstrap=YES on it -> GaleraSplitBrain (same uuid and "
        "conf_id on both sides); forced rejoin -> GaleraSplitBrainHealed for 24 h",
        [
            ("0s", HEALTHY),
            (
                "5m",
                {
                    **every(Up(members=TWO, conf_id=4)),
                    "prod/node3": isolated("node3", last_committed=25),
                },
            ),
            ("6m", SPLIT),
            ("20m", restarted(5)),
        ],
        "24h40m",
        [
            Check("6m"),
            Check("7m", [fire("GaleraSplitBrain", SPLIT_TEXT, cluster="prod")]),
            Check("19m", [fire("GaleraSplitBrain", SPLIT_TEXT, cluster="prod")]),
            Check("24m"),
            Check("25m", [fire("GaleraSplitBrainHealed", HEALED_TEXT, cluster="prod")]),
            Check("23h", [fire("GaleraSplitBrainHealed", HEALED_TEXT, cluster="prod")]),
            Check("24h30m"),
        ],
    ),
]

CASES["history-reset"] = [
    Case(
        "g then a plain restart of all: pc.recovery re-forms the cluster with the zero UUID "
        "-> GaleraClusterHistoryReset",
        [
            ("0s", HEALTHY),
            ("5m", every(Crashed())),
            (
                "7m",
                {
                    f"prod/node{i}": Up(
                        conf_id=0, uuid=ZERO_UUID, local_uuid="", last_committed=i - 1
                    )
                    for i in (1, 2, 3)
                },
            ),
            ("30m", restarted(3)),
        ],
        "35m",
        [
            Check("11m45s"),
            Check(
                "12m15s",
                [
                    fire(
                        "GaleraClusterHistoryReset",
                        "3 node(s) of cluster prod report cluster UUID "
                        "00000000-0000-0000-0000-000000000000: the cluster was re-formed without "
                        "its "
                        "history (typically a plain restart after all nodes crashed), seqnos "
                        "restarted at "
                        "0 and grastate.dat no longer tells which node is newest. Do not choose a "
                        "node to "
                        "bootstrap from grastate.dat seqnos (the rules ignore positions of this "
                        "UUID); re-bootstrap deliberately when convenient.",
                        cluster="prod",
                    )
                ],
            ),
            Check("30m15s"),
        ],
    ),
]

NOT_READY = Up(state="Joining", ready=0)
CASES["node-health"] = [
    Case(
        "joiner stuck in the Primary component, not ready -> GaleraNodeNotReady",
        [("0s", HEALTHY), ("5m", {"prod/node2": NOT_READY}), ("15m", HEALTHY)],
        "20m",
        [
            Check("9m45s"),
            Check(
                "10m15s",
                [
                    fire(
                        "GaleraNodeNotReady",
                        "node2 (cluster prod) is in the Primary component but wsrep_ready is OFF, "
                        "so it "
                        "refuses queries. Check its state with `sudo cfg-cm-cluster "
                        "--show-cluster-status` "
                        "and its error log (a stuck SST or IST).",
                        cluster="prod",
                        instance="node2",
                    )
                ],
            ),
            Check("15m15s"),
        ],
    ),
    Case(
        "Donor/Desynced for 15 min without wsrep_desync -> GaleraNodeNotSynced",
        [("0s", HEALTHY), ("5m", {"prod/node2": Up(state="Donor/Desynced")}), ("25m", HEALTHY)],
        "30m",
        [
            Check("19m45s"),
            Check(
                "20m15s",
                [
                    fire(
                        "GaleraNodeNotSynced",
                        "node2 (cluster prod) has been in local state 2 (4 is Synced) for 15 "
                        "minutes "
                        "without wsrep_desync being set: a long SST donation or a node that cannot "
                        "catch "
                        "up. Check `sudo cfg-cm-cluster --show-cluster-status` and its error log.",
                        cluster="prod",
                        instance="node2",
                    )
                ],
            ),
            Check("25m15s"),
        ],
    ),
    Case(
        "intended desync (wsrep_desync=ON for a backup), even with a queue -> silent",
        [
            ("0s", HEALTHY),
            ("5m", {"prod/node2": Up(state="Donor/Desynced", desync_enabled=1, recv_queue=500)}),
            ("50m", HEALTHY),
        ],
        "55m",
        [Check("25m"), Check("49m45s"), Check("55m")],
    ),
    Case(
        "donor with a growing receive queue -> GaleraDonorFallingBehind",
        [
            ("0s", HEALTHY),
            ("5m", {"prod/node1": Up(state="Donor/Desynced", recv_queue=250)}),
            ("15m", HEALTHY),
        ],
        "20m",
        [
            Check("9m45s"),
            Check(
                "10m15s",
                [
                    fire(
                        "GaleraDonorFallingBehind",
                        "node1 (cluster prod) is a donor (Donor/Desynced) and has 250 write-sets "
                        "waiting "
                        "to be applied. When the SST ends it must apply them and may throttle the "
                        "whole "
                        "cluster with flow control.",
                        cluster="prod",
                        instance="node1",
                    )
                ],
            ),
            Check("15m15s"),
        ],
    ),
    Case(
        "replication paused 30% of the time on every node -> GaleraFlowControlPaused",
        [
            ("0s", HEALTHY),
            (
                "5m",
                {
                    **every(Up(fc_paused=0.3, recv_queue=3)),
                    "prod/node3": Up(fc_paused=0.3, recv_queue=40),
                },
            ),
            ("20m", HEALTHY),
        ],
        "30m",
        [
            Check("7m"),
            Check(
                "13m",
                [
                    fire(
                        "GaleraFlowControlPaused",
                        "Replication in cluster prod was paused by flow control 30% of the last 5 "
                        "minutes; writes stall on all nodes. The slowest node is usually the one "
                        "with "
                        "the longest receive queue: node3 (40 write-sets).",
                        cluster="prod",
                    )
                ],
            ),
            Check("27m"),
        ],
    ),
    Case(
        "20% of node1's transactions fail certification -> GaleraCertificationFailures",
        [
            ("0s", HEALTHY),
            ("5m", {"prod/node1": Up(commits_per_s=2, cert_failures_per_s=0.5)}),
            ("25m", HEALTHY),
        ],
        "35m",
        [
            Check("7m"),
            Check(
                "17m",
                [
                    fire(
                        "GaleraCertificationFailures",
                        "20% of the write transactions started on node1 (cluster prod) fail "
                        "certification: other nodes write the same rows concurrently. Send "
                        "conflicting "
                        "writes to one node.",
                        cluster="prod",
                        instance="node1",
                    )
                ],
            ),
            Check("31m"),
        ],
    ),
    Case(
        "grastate collector failing (e.g. datadir unreadable) -> GaleraExporterCollectorFailing",
        [
            ("0s", HEALTHY),
            ("5m", {"prod/node3": Up(failing_collectors=("grastate",))}),
            ("20m", HEALTHY),
        ],
        "25m",
        [
            Check("14m45s"),
            Check(
                "15m15s",
                [
                    fire(
                        "GaleraExporterCollectorFailing",
                        "The grastate collector of the exporter on node3 (cluster prod) has failed "
                        "for "
                        "10 minutes; the metrics it provides are missing. Check the exporter's log "
                        "for "
                        "the file or query it cannot read.",
                        cluster="prod",
                        instance="node3",
                        collector="grastate",
                    )
                ],
            ),
            Check("20m15s"),
        ],
    ),
    Case(
        "back-end silent after mysqld Synced -> GaleraBackendNotReady; a node without a "
        "back-end log stays silent",
        [
            ("0s", {**HEALTHY, "prod/node3": Up(backend_log=0, backend_ready=0)}),
            ("5m", {"prod/node2": Up(backend_ready=0)}),
            ("15m", {"prod/node2": Up()}),
        ],
        "20m",
        [
            Check("9m45s"),
            Check(
                "10m15s",
                [
                    fire(
                        "GaleraBackendNotReady",
                        "mysqld on node2 (cluster prod) is Synced but the back-end has not logged "
                        "`SMTP "
                        "Service started` since its last start. Check the back-end log on node2 "
                        "(`tail -f "
                        "/var/log/djigzo.log`) for errors and restart the back-end if it is stuck.",
                        cluster="prod",
                        instance="node2",
                    )
                ],
            ),
            Check("15m15s"),
        ],
    ),
]

CASES["multi-cluster"] = [
    Case(
        "two clusters with the same instance names: prod loses quorum while lab has one node "
        "isolated -> each gets its own alert, nothing crosses over",
        [
            ("0s", {**HEALTHY, **every(Up(), "lab")}),
            (
                "5m",
                {
                    "prod/node2": Crashed(),
                    "prod/node3": Crashed(),
                    **every(Up(members=TWO, conf_id=4), "lab"),
                    "lab/node3": isolated("node3"),
                },
            ),
            ("5m15s", {"prod/node1": isolated("node1", last_committed=29)}),
            ("10m", {**restarted(3), **every(Up(conf_id=5), "lab")}),
        ],
        "15m",
        [
            Check(
                "6m30s",
                [
                    scenario(instance="node1", advice="bootstrap"),
                    fire(
                        "GaleraNodeIsolated",
                        isolated_text("node3", "node1, node2", "lab"),
                        cluster="lab",
                        instance="node3",
                    ),
                ],
            ),
            Check("10m15s"),
        ],
        clusters={"prod": NODES, "lab": NODES},
    ),
    Case(
        "prod all stopped while lab runs healthy -> GaleraClusterStopped for prod only",
        [
            ("0s", {**HEALTHY, **every(Up(), "lab")}),
            (
                "5m",
                {
                    "prod/node1": Stopped(seqno=18),
                    "prod/node2": Stopped(seqno=20),
                    "prod/node3": Stopped(seqno=22, safe=1),
                },
            ),
        ],
        "10m",
        [
            Check(
                "6m15s",
                [scenario(instance="node3", advice="bootstrap")],
            ),
        ],
        clusters={"prod": NODES, "lab": NODES},
    ),
]

OTHER_UUID = "9c1d1e3a-0b7f-11f1-9a4b-2f6ad8c7e001"
UUID_MAIN = "125a32e7-ea40-11f1-8844-577ec5e07595"
FIVE = ("node1", "node2", "node3", "node4", "node5")


def survivors(*names: str, last_committed: int) -> dict[str, State]:
    """Nodes left together in one non-Primary component."""
    return {
        f"prod/{n}": Up(
            members=names,
            status="non-Primary",
            conf_id=-1,
            state="Initialized",
            ready=0,
            last_committed=last_committed,
        )
        for n in names
    }


def EXPORTER_DOWN_TEXT(node: str) -> str:  # noqa: N802 - reads like the constants around it
    return (
        f"Prometheus cannot scrape the galera exporter {node} (cluster prod); this node's state "
        "is unknown, so no node of this cluster is named for a bootstrap while it lasts. Check "
        "the host and the galera-exporter service on it."
    )


def CANNOT_QUERY_TEXT(node: str) -> str:  # noqa: N802
    return (
        f"The exporter on {node} (cluster prod) cannot query mysqld: the login is refused (a "
        "changed password or a missing grant: fix the exporter's option file). This node's "
        "Galera state is unknown while it lasts."
    )


def CRASHED_TEXT(node: str, size: int) -> str:  # noqa: N802
    return crashed_text(node, size)


def BACKEND_NOT_READY_TEXT(node: str) -> str:  # noqa: N802
    return (
        f"mysqld on {node} (cluster prod) is Synced but the back-end has not logged `SMTP Service "
        f"started` since its last start. Check the back-end log on {node} (`tail -f "
        "/var/log/djigzo.log`) for errors and restart the back-end if it is stuck."
    )


BACKEND_DOWN_TEXT = (
    "The database of cluster prod is Primary on 3 node(s) but no node's back-end has logged "
    "`SMTP Service started` since its last start: the service is down everywhere. Read the "
    "back-end log on each node (`tail -f /var/log/djigzo.log`) and restart the back-end; the "
    "database needs no action."
)
REJOIN_TEXT = (
    "node3 (cluster prod) started or failed a state transfer (SST) at least twice in 30 minutes "
    "without joining: restarting it again will not help. Read its error log and the SST log in "
    "the datadir (`grep -i sst /var/log/mysql/error.log`): typical causes are a full disk, the "
    "SST port blocked between nodes, or wrong SST credentials. Do not bootstrap it."
)
UUID_CONFLICT_TEXT = (
    "Primary nodes labelled cluster prod report 2 different cluster UUIDs: node1 "
    "125a32e7-ea40-11f1-8844-577ec5e07595; node2 125a32e7-ea40-11f1-8844-577ec5e07595; node3 "
    f"{OTHER_UUID}. These are different clusters with one `cluster` target label. Give each its "
    "own label in the scrape config; until then this label's scenario alerts are unreliable (no "
    "node is named for a bootstrap)."
)
OUTSIDE_JOB_TEXT = (
    'Prometheus scrapes a galera exporter as node9 in job db (cluster "side"), but the rules '
    'only watch job "galera": this node is in no scenario and raises no alert. Scrape it in the '
    "`galera` job, or change the job in the first rule of rules/galera-recording.yml."
)

# Issue 11's adversarial cases: each names the node the model must name, or that none is, and
# asserts every other alert silent.
CASES["decisions"] = [
    Case(
        "stale position: node3 stopped cleanly long before a power loss kills node1 and node2 "
        "-> no node named (their positions are unknown), never node3; after galera_recovery "
        "the most advanced crashed node (node2)",
        [
            (
                "0s",
                {**prod(node1=Up(members=TWO), node2=Up(members=TWO)), "prod/node3": Stopped(100)},
            ),
            ("2m", prod(node1=Crashed(view=TWO), node2=Crashed(view=TWO))),
            (
                "6m",
                prod(
                    node1=Crashed(view=TWO, recovered=150), node2=Crashed(view=TWO, recovered=160)
                ),
            ),
        ],
        "9m",
        [
            Check("3m15s", [scenario(advice="verify")]),
            Check("7m15s", [scenario(instance="node2", advice="bootstrap")]),
        ],
    ),
    Case(
        "a recovered position written before the node's last start is stale: not used",
        [
            (
                "0s",
                prod(
                    node1=Stopped(100),
                    node2=Crashed(recovered=300, recovered_at=60, grastate_mtime=90),
                    node3=Crashed(recovered=150),
                ),
            ),
        ],
        "3m",
        [Check("2m", [scenario(advice="verify")])],
    ),
    Case(
        "two clean stops, then the survivor's exporter dies -> GaleraClusterUnobservable: the "
        "stopped nodes (older data) are never named",
        [
            ("0s", HEALTHY),
            (
                "1m",
                {
                    "prod/node1": Up(members=("node1",), safe=1),
                    **prod(node2=Stopped(12), node3=Stopped(14)),
                },
            ),
            ("3m", {"prod/node1": TargetDown()}),
        ],
        "9m",
        [
            Check("4m15s", [scenario()]),
            Check(
                "8m15s",
                [
                    scenario(),
                    fire(
                        "GaleraExporterDown",
                        EXPORTER_DOWN_TEXT("node1"),
                        cluster="prod",
                        instance="node1",
                    ),
                ],
            ),
        ],
    ),
    Case(
        "all stopped, the safe_to_bootstrap node's exporter unreachable -> nothing named, no "
        "other node forced",
        [("0s", {**prod(node1=Stopped(18), node2=Stopped(20)), "prod/node3": TargetDown()})],
        "3m",
        [Check("2m", [scenario()])],
    ),
    Case(
        "a rotated password on every node of a healthy cluster -> GaleraExporterCannotQuery "
        "(auth) per node; no scenario page, nothing named",
        [("0s", HEALTHY), ("1m", every(NoAccess(kind="auth")))],
        "8m",
        [
            Check("5m45s"),
            Check(
                "6m15s",
                [
                    fire(
                        "GaleraExporterCannotQuery",
                        CANNOT_QUERY_TEXT(n),
                        cluster="prod",
                        instance=n,
                        kind="auth",
                    )
                    for n in NODES
                ],
            ),
        ],
    ),
    Case(
        "two nodes crashed and the survivor refuses the exporter (auth) -> "
        "GaleraClusterUnobservable, not a bootstrap",
        [("0s", {**prod(node1=NoAccess(kind="auth")), **prod(node2=Crashed(), node3=Crashed())})],
        "3m",
        [Check("2m", [scenario()])],
    ),
    Case(
        "a hung mysqld (timeout) on the last node while the others are down -> unobservable",
        [
            (
                "0s",
                {
                    **prod(node1=NoAccess(kind="timeout")),
                    **prod(node2=Stopped(5), node3=Stopped(7, safe=1)),
                },
            )
        ],
        "3m",
        [Check("2m", [scenario()])],
    ),
    Case(
        "tie: node3 stopped, then the node1-node2 link breaks (equal last_committed) -> ONE "
        "GaleraQuorumLost naming node1 (lowest tie-break key), never both",
        [
            (
                "0s",
                {**prod(node1=Up(members=TWO), node2=Up(members=TWO)), "prod/node3": Stopped(11)},
            ),
            (
                "2m",
                {
                    "prod/node1": isolated("node1", last_committed=15),
                    "prod/node2": isolated("node2", last_committed=15),
                },
            ),
        ],
        "5m",
        [Check("3m15s", [scenario(instance="node1", advice="bootstrap")])],
    ),
    Case(
        "five nodes: three crash, the two left form a non-Primary component with equal "
        "last_committed -> node1 named once; the crashed nodes are covered by the survivors",
        [
            ("0s", {f"prod/{n}": Up(members=FIVE) for n in FIVE}),
            (
                "2m",
                {
                    **survivors("node1", "node2", last_committed=40),
                    **{f"prod/{n}": Crashed(view=FIVE) for n in ("node3", "node4", "node5")},
                },
            ),
        ],
        "5m",
        [Check("3m15s", [scenario(instance="node1", advice="bootstrap")])],
        clusters={"prod": FIVE},
    ),
    Case(
        "five nodes: the survivors restarted after the crash (new gcomm UUIDs) cover nothing "
        "-> the crashed nodes must be recovered first",
        [
            (
                "0s",
                {
                    **{
                        f"prod/{n}": Up(
                            members=("node1", "node2"),
                            status="non-Primary",
                            conf_id=-1,
                            state="Initialized",
                            ready=0,
                            last_committed=40,
                            gen=2,
                        )
                        for n in ("node1", "node2")
                    },
                    **{f"prod/{n}": Crashed(view=FIVE) for n in ("node3", "node4", "node5")},
                },
            ),
        ],
        "3m",
        [Check("2m", [scenario(advice="verify")])],
        clusters={"prod": FIVE},
    ),
    Case(
        "two nodes + garbd: node2 crashed and the arbitrator gone -> node1 (non-Primary) named",
        [
            ("0s", {"prod/node1": Up(members=TWO, size=3), "prod/node2": Up(members=TWO, size=3)}),
            (
                "2m",
                {
                    "prod/node1": isolated("node1", last_committed=30),
                    "prod/node2": Crashed(view=TWO),
                },
            ),
        ],
        "5m",
        [Check("3m15s", [scenario(instance="node1", advice="bootstrap")])],
        clusters={"prod": TWO},
        target_labels={"prod": {"galera_arbitrators": "1"}},
    ),
    Case(
        "all stopped, then someone starts node1 plainly: it waits non-Primary -> node3 (safe, "
        "more advanced) is named, not the waiting node1",
        [
            ("0s", {**prod(node1=Stopped(18), node2=Stopped(20), node3=Stopped(22, safe=1))}),
            ("2m", {"prod/node1": isolated("node1", last_committed=18, gen=2)}),
        ],
        "5m",
        [
            Check("1m15s", [scenario(instance="node3", advice="bootstrap")]),
            Check("3m15s", [scenario(instance="node3", advice="bootstrap")]),
        ],
    ),
    Case(
        "safe_to_bootstrap 1 on a node behind another's position -> nothing named",
        [("0s", prod(node1=Stopped(30), node2=Stopped(20, safe=1), node3=Stopped(25)))],
        "3m",
        [Check("2m", [scenario(advice="verify")])],
    ),
    Case(
        "two nodes say safe_to_bootstrap 1 -> nothing named",
        [("0s", prod(node1=Stopped(30, safe=1), node2=Stopped(30, safe=1), node3=Stopped(25)))],
        "3m",
        [Check("2m", [scenario(advice="verify")])],
    ),
    Case(
        "history reset: every node crashes with the zero UUID in grastate.dat while old-UUID "
        "Recovered position lines are still in the error logs -> nothing named",
        [
            (
                "0s",
                every(
                    Crashed(
                        uuid=ZERO_UUID,
                        recovered=50,
                        recovered_uuid="125a32e7-ea40-11f1-8844-577ec5e07595",
                        recovered_at=60,
                        grastate_mtime=120,
                    )
                ),
            ),
            (
                "2m",
                every(Crashed(uuid=ZERO_UUID, recovered=3, recovered_at=600, grastate_mtime=120)),
            ),
        ],
        "5m",
        [Check("1m15s", [scenario(advice="verify")]), Check("3m15s", [scenario(advice="verify")])],
    ),
    Case(
        "positions of two histories (another cluster's datadir restored on node2) -> nothing named",
        [("0s", prod(node1=Stopped(30), node2=Stopped(40, uuid=OTHER_UUID), node3=Stopped(20)))],
        "3m",
        [Check("2m", [scenario(advice="verify")])],
    ),
    Case(
        "split brain, then the minority node3 is stopped cleanly (safe 1) and a power loss kills "
        "node1 and node2 -> node3's safe_to_bootstrap is not trusted for 24 h",
        [
            ("0s", HEALTHY),
            ("2m", SPLIT),
            ("10m", {"prod/node3": Stopped(25, safe=1)}),
            ("11m", prod(node1=Crashed(view=TWO), node2=Crashed(view=TWO))),
        ],
        "14m",
        [Check("12m15s", [scenario(advice="verify")])],
    ),
    Case(
        "every gateway loses power (all exporters unreachable) -> GaleraClusterUnobservable "
        "(critical), then GaleraExporterDown for each",
        [("0s", HEALTHY), ("1m", every(TargetDown()))],
        "8m",
        [
            Check("2m15s", [scenario()]),
            Check(
                "6m15s",
                [
                    scenario(),
                    *[
                        fire(
                            "GaleraExporterDown", EXPORTER_DOWN_TEXT(n), cluster="prod", instance=n
                        )
                        for n in NODES
                    ],
                ],
            ),
        ],
    ),
    Case(
        "no back-end ready on any node while mysqld is Primary -> GaleraBackendDown (critical)",
        [("0s", HEALTHY), ("1m", every(Up(backend_ready=0)))],
        "8m",
        [
            Check("5m45s"),
            Check(
                "6m15s",
                [
                    fire("GaleraBackendDown", BACKEND_DOWN_TEXT, cluster="prod"),
                    *[
                        fire(
                            "GaleraBackendNotReady",
                            BACKEND_NOT_READY_TEXT(n),
                            cluster="prod",
                            instance=n,
                        )
                        for n in NODES
                    ],
                ],
            ),
        ],
    ),
    Case(
        'a joiner in SST while another node is still down: the joiner is never "crashed"',
        [
            (
                "0s",
                {
                    **prod(node1=Up(members=("node1", "node3")), node2=Crashed()),
                    "prod/node3": Crashed(joining=True),
                },
            ),
        ],
        "3m",
        [
            Check(
                "2m",
                [
                    fire(
                        "GaleraNodeCrashed",
                        CRASHED_TEXT("node2", 2),
                        cluster="prod",
                        instance="node2",
                    )
                ],
            )
        ],
    ),
    Case(
        "a joiner crash-looping in SST (new SST every 2 minutes, each failing) -> "
        "GaleraNodeRejoinFailing; a short failure is never GaleraNodeCrashed",
        [
            ("0s", {**every(Up(members=TWO, size=2)), "prod/node3": Crashed()}),
            ("30m", {**every(Up(size=3)), "prod/node3": Crashed(joining=True, sst_starts=1)}),
            (
                "31m30s",
                {
                    **every(Up(members=TWO, size=2)),
                    "prod/node3": Crashed(sst_starts=1, sst_failed=1),
                },
            ),
            (
                "31m45s",
                {
                    **every(Up(size=3)),
                    "prod/node3": Crashed(joining=True, sst_starts=2, sst_failed=1),
                },
            ),
            (
                "33m30s",
                {
                    **every(Up(members=TWO, size=2)),
                    "prod/node3": Crashed(sst_starts=2, sst_failed=2),
                },
            ),
            (
                "33m45s",
                {
                    **every(Up(size=3)),
                    "prod/node3": Crashed(joining=True, sst_starts=3, sst_failed=2),
                },
            ),
        ],
        "36m",
        [
            Check("30m45s"),
            Check(
                "33m15s",
                [fire("GaleraNodeRejoinFailing", REJOIN_TEXT, cluster="prod", instance="node3")],
            ),
            Check(
                "35m",
                [fire("GaleraNodeRejoinFailing", REJOIN_TEXT, cluster="prod", instance="node3")],
            ),
        ],
    ),
    Case(
        "two clusters share one cluster label (different cluster UUIDs among Primary nodes) -> "
        "GaleraClusterUuidConflict (warning), never GaleraSplitBrain",
        [
            (
                "0s",
                {
                    **prod(node1=Up(members=TWO), node2=Up(members=TWO)),
                    "prod/node3": Up(members=("node3",), uuid=OTHER_UUID),
                },
            )
        ],
        "8m",
        [
            Check("4m45s"),
            Check("5m15s", [fire("GaleraClusterUuidConflict", UUID_CONFLICT_TEXT, cluster="prod")]),
        ],
    ),
    Case(
        "a galera exporter scraped under another job -> GaleraTargetOutsideJob",
        [("0s", {**HEALTHY, "side/node9": Up(members=("node9",))})],
        "12m",
        [
            Check("9m45s"),
            Check(
                "10m15s",
                [
                    fire(
                        "GaleraTargetOutsideJob",
                        OUTSIDE_JOB_TEXT,
                        cluster="side",
                        instance="node9",
                        job="db",
                    )
                ],
            ),
        ],
        clusters={"prod": NODES, "side": ("node9",)},
        target_labels={"side": {"job": "db"}},
    ),
]


# Files whose cases need 24 h of history are evaluated once a minute; the rest every 15 s.
STEP = {"split-brain": 60}


def load_alerts() -> dict[tuple[str, str | None], dict[str, Any]]:
    """Alert rules by (name, advice label): the scenario alerts come as twins."""
    doc = yamlfile.safe_load((RULES / "galera-alerts.yml").read_text())
    return {
        (r["alert"], r["labels"].get("advice")): r
        for g in doc["groups"]
        for r in g["rules"]
        if "alert" in r
    }


def states_at(case: Case, t: int) -> dict[str, State]:
    current: dict[str, State] = {}
    for at, states in sorted(case.phases, key=lambda p: s(p[0])):
        if s(at) <= t:
            current.update(states)
    return current


def decision_at(case: Case, cluster: str, t: int, step: int) -> tuple[Decision, bool]:
    """The model's decision for `cluster` at second t, and whether a split brain was seen in
    the 24 hours before (as cluster:galera_split_brain_24h:max sees it)."""

    def facts(u: int) -> list[NodeFacts]:
        current = states_at(case, u)
        nodes = []
        for name in case.clusters[cluster]:
            node = Node(cluster, name, case.target_labels.get(cluster, {}))
            samples = node_samples(node, current[f"{cluster}/{name}"])
            nodes.append(facts_from_samples(name, samples, scraped=samples[("up", ())] == 1))
        return nodes

    # GaleraSplitBrain (for: 1m) fired within the 24 h before t. States only change at phase
    # starts, so each phase is one span [begin, end) to look at.
    starts = sorted({s(at) for at, _ in case.phases} | {s(case.end) + step})
    seen = False
    for begin, end in itertools.pairwise(starts):
        first = -(-begin // step) * step  # first evaluation in the phase
        fired = first + 60  # first evaluation at which the alert fires
        last = min(end - 1, t)
        if fired <= last and last > t - 86400 and decide(facts(begin)).scenario == "split_brain":
            seen = True
    return decide(facts(t), split_brain_24h=seen), seen


def expected_alert(
    case: Case,
    check: Check,
    step: int,
    alerts: dict[tuple[str, str | None], dict[str, Any]],
    fired: tuple[str, dict[str, str], str],
) -> tuple[str, dict[str, Any]]:
    alert, labels, description = fired
    cluster = labels.get("cluster", "prod")
    decision, seen = decision_at(case, cluster, s(check.at), step)
    if alert == "":  # scenario(): the model names the alert and its labels
        implied = texts.scenario_alert(decision)
        assert implied, f"{case.name} @{check.at}: the model implies no scenario alert"
        alert, model_labels = implied
        asked = {k: v for k, v in labels.items() if k != "cluster"}
        assert asked == model_labels, f"{case.name} @{check.at}: {asked} != model {model_labels}"
        labels = {"cluster": cluster, **model_labels}
    rule = alerts[(alert, labels.get("advice"))]
    if not description:
        description = texts.description(alert, cluster, decision, seen)
    annotations = {
        "summary": rule["annotations"]["summary"],
        "description": description,
        "runbook_url": rule["annotations"]["runbook_url"],
    }
    if "bootstrap_node" in rule["annotations"]:
        annotations["bootstrap_node"] = labels["instance"]
    if "evidence" in rule["annotations"]:
        annotations["evidence"] = texts.evidence(decision)
    return alert, {
        "exp_labels": {**labels, "severity": rule["labels"]["severity"]},
        "exp_annotations": annotations,
    }


def render(
    area: str, cases: list[Case], alerts: dict[tuple[str, str | None], dict[str, Any]]
) -> str:
    step = STEP.get(area, 15)
    names_all = sorted({name for name, _ in alerts})
    tests = []
    for case in cases:
        nodes = [
            Node(cluster, name, case.target_labels.get(cluster, {}))
            for cluster, names in case.clusters.items()
            for name in names
        ]
        phases = [(s(at), states) for at, states in case.phases]
        series = timeline(nodes, phases, s(case.end), step)
        rule_tests = []
        for check in case.checks:
            expected: dict[str, list[dict[str, Any]]] = {}
            for fired in check.firing:
                alert, exp = expected_alert(case, check, step, alerts, fired)
                expected.setdefault(alert, []).append(exp)
            names = names_all if check.quiet else sorted(expected)
            for name in names:
                rule_tests.append(
                    {"eval_time": check.at, "alertname": name, "exp_alerts": expected.get(name, [])}
                )
        tests.append(
            {
                "name": case.name,
                "interval": f"{step}s",
                "input_series": series,
                "alert_rule_test": rule_tests,
            }
        )
    doc = {
        "rule_files": ["../galera-recording.yml", "../galera-alerts.yml"],
        "evaluation_interval": f"{step}s",
        # promtool evaluates groups in random order unless told; Prometheus runs them on
        # independent timers. Recording first makes the tests deterministic; the checks leave
        # one step of slack so a real one-interval lag would not change the outcome.
        "group_eval_order": ["galera-recording", "galera-scenarios", "galera-node-health"],
        "tests": tests,
    }
    header = (
        f"# Generated by rules/tests/scenarios.py ({area}); edit the scenarios there and run\n"
        "# `python rules/tests/generate.py`.\n"
        "# Node values follow shared/reference/galera-lab.md.\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True)


def generated() -> dict[Path, str]:
    alerts = load_alerts()
    files = {
        RULES / "tests" / f"{area}.yml": render(area, cases, alerts)
        for area, cases in CASES.items()
    }
    files[RULES / "tests" / "decisions-generated.yml"] = render_generated()
    return files


# ------------------------------------------------------------------ generated decisions
# Random mixtures of node states (seeded: the file is reproducible) for 3 nodes, 5 nodes and
# 2 nodes + garbd. For each, the Python decision model (galera_exporter.decision) says which
# scenario it is, which node (if any) is named and which scenario alert fires; promtool must
# find exactly that in the recorded series and ALERTS.
GENERATED_COUNTS = {3: 160, 5: 60, 2: 50}
SCENARIO_ALERT_NAMES = sorted(set(texts.SCENARIO_ALERTS.values()))


def random_state(rng: random.Random, name: str, names: tuple[str, ...]) -> State:
    kind = rng.choices(
        [
            "primary",
            "non_primary",
            "stopped",
            "crashed",
            "down",
            "joining",
            "target_down",
            "auth",
            "timeout",
        ],
        weights=[12, 20, 20, 20, 5, 5, 8, 5, 5],
    )[0]
    uuid = rng.choices([UUID_MAIN, OTHER_UUID, ZERO_UUID], weights=[90, 5, 5])[0]
    recovered = rng.choice([None, None, 12, 15, 16])
    fresh = rng.random() < 0.8
    extra: dict[str, Any] = {}
    if recovered is not None:
        extra = {
            "recovered": recovered,
            "recovered_at": 60.0 if fresh else -60.0,
            "recovered_uuid": uuid if rng.random() < 0.9 else OTHER_UUID,
        }
    view = tuple(
        f"{m}@{rng.choice([1, 1, 1, 2])}" for m in names if m == name or rng.random() < 0.8
    )
    if kind == "primary":
        return Up(members=names, uuid=uuid)  # members fixed up by the caller
    if kind == "non_primary":
        return Up(
            members=(name,),
            status="non-Primary",
            conf_id=-1,
            state="Initialized",
            ready=0,
            uuid=uuid,
            last_committed=rng.choice([10, 12, 15, 15, -1]),
            gen=rng.choice([1, 1, 1, 2]),
        )
    if kind == "stopped":
        return Stopped(
            rng.choice([5, 10, 12, 15]), safe=int(rng.random() < 0.25), uuid=uuid, **extra
        )
    if kind in ("crashed", "down", "joining"):
        return Crashed(
            safe=int(rng.random() < 0.1),
            uuid=uuid,
            view=view,
            gvwstate="unreadable" if kind == "down" else "kept",
            joining=kind == "joining",
            **extra,
        )
    if kind == "target_down":
        return TargetDown()
    return NoAccess(kind=kind)


def random_cluster(rng: random.Random, names: tuple[str, ...]) -> dict[str, State]:
    states = {n: random_state(rng, n, names) for n in names}
    primaries = [n for n, st in states.items() if isinstance(st, Up) and st.status == "Primary"]
    if primaries:
        # One Primary component, or (rarely) two sides of a split brain.
        sides = [tuple(primaries)]
        if len(primaries) > 1 and rng.random() < 0.3:
            sides = [tuple(primaries[:1]), tuple(primaries[1:])]
        for side in sides:
            for n in side:
                primary = states[n]
                assert isinstance(primary, Up)  # every name in primaries is Up
                states[n] = replace(primary, members=side)
    return {f"prod/{n}": st for n, st in states.items()}


def generated_cases() -> list[tuple[str, Case]]:
    rng = random.Random(11)  # noqa: S311 - test data, seeded for a reproducible file
    cases = []
    for size, count in GENERATED_COUNTS.items():
        names = tuple(f"node{i}" for i in range(1, size + 1))
        labels = {"prod": {"galera_arbitrators": "1"}} if size == 2 else {}
        for i in range(count):
            states = random_cluster(rng, names)
            title = f"{size} nodes #{i}: " + ", ".join(
                f"{k.split('/')[1]}={type(v).__name__}" for k, v in states.items()
            )
            cases.append((title, Case(title, [("0s", states)], "3m", [], {"prod": names}, labels)))
    return cases


def sample_labels(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def render_generated() -> str:
    tests = []
    for title, case in generated_cases():
        decision, _ = decision_at(case, "prod", s("3m"), 15)
        nodes = [Node("prod", n, case.target_labels.get("prod", {})) for n in case.clusters["prod"]]
        scenario_sample = {
            "labels": sample_labels(
                "cluster:galera_scenario:info", {"cluster": "prod", "scenario": decision.scenario}
            ),
            "value": 1,
        }
        candidate = []
        if decision.candidate:
            labels = {
                "cluster": "prod",
                "job": "galera",
                "instance": decision.candidate,
                "force": str(int(decision.force)),
            }
            candidate.append(
                {
                    "labels": sample_labels("instance:galera_bootstrap_candidate:bool", labels),
                    "value": 1,
                }
            )
        alerts = []
        implied = texts.scenario_alert(decision)
        if implied:
            alert, extra = implied
            rule = next(r for (n, _), r in load_alerts().items() if n == alert)
            alerts.append(
                {
                    "labels": sample_labels(
                        "ALERTS",
                        {
                            "alertname": alert,
                            "alertstate": "firing",
                            "cluster": "prod",
                            "severity": rule["labels"]["severity"],
                            **extra,
                        },
                    ),
                    "value": 1,
                }
            )
        tests.append(
            {
                "name": title,
                "interval": "15s",
                "input_series": timeline(nodes, [(0, case.phases[0][1])], s("3m"), 15),
                "promql_expr_test": [
                    {
                        "expr": "cluster:galera_scenario:info",
                        "eval_time": "3m",
                        "exp_samples": [scenario_sample],
                    },
                    {
                        "expr": "instance:galera_bootstrap_candidate:bool",
                        "eval_time": "3m",
                        "exp_samples": candidate,
                    },
                    {
                        "expr": 'ALERTS{alertstate="firing",alertname=~"'
                        + "|".join(SCENARIO_ALERT_NAMES)
                        + '"}',
                        "eval_time": "3m",
                        "exp_samples": alerts,
                    },
                ],
            }
        )
    doc = {
        "rule_files": ["../galera-recording.yml", "../galera-alerts.yml"],
        "evaluation_interval": "15s",
        "group_eval_order": ["galera-recording", "galera-scenarios", "galera-node-health"],
        "tests": tests,
    }
    header = (
        "# Generated by rules/tests/scenarios.py (random mixtures of node states, seeded); the\n"
        "# expected scenario, candidate and scenario alert come from galera_exporter.decision.\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True)
