"""Writes rules/galera-alerts.yml: `python rules/generate.py`.

The alerts' templates are assembled from shared fragments, so a sentence used by several alerts
(the evidence, the bootstrap step, why no node is named) is written once and reads the same in
each. tests/rules/test_rules.py checks the committed file equals what this writes, and
galera_exporter/advice.py writes the same sentences in Python to check the templates.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

Alert = dict[str, Any]

BASE = "https://github.com/galera-exporter/galera-exporter/blob/main/docs/runbook.md"


def nodes(state_re: str, sep: str = ", ", *, with_state: bool = True) -> str:
    state = " ({{ $s.Labels.state }})" if with_state else ""
    return (
        '{{ range $i, $s := printf `instance:galera_node:state{cluster=%q,state=~"'
        + state_re
        + '"}` $labels.cluster | query | sortByLabel "instance" }}{{ if $i }}'
        + sep
        + "{{ end }}{{ $s.Labels.instance }}"
        + state
        + "{{ end }}"
    )


EVIDENCE = (
    "{{ range $i, $s := printf `instance:galera_node:state{cluster=%q}` $labels.cluster | query"
    ' | sortByLabel "instance" }}{{ if $i }}; {{ end }}{{ $s.Labels.instance }} {{ $s.Labels.state }}'
    "{{ with printf `instance:galera_position:seqno{cluster=%q,instance=%q}` $labels.cluster"
    ' $s.Labels.instance | query }}, seqno {{ (index . 0).Value | printf "%.0f" }} of'
    " {{ (index . 0).Labels.uuid }}{{ end }}"
    "{{ with printf `instance:galera_position_covered:bool{cluster=%q,instance=%q}` $labels.cluster"
    " $s.Labels.instance | query }}, covered by a running survivor{{ end }}"
    "{{ with printf `instance:galera_position_unknown:bool{cluster=%q,instance=%q}` $labels.cluster"
    " $s.Labels.instance | query }}, position unknown{{ end }}"
    "{{ with printf `instance:galera_safe_to_bootstrap:bool{cluster=%q,instance=%q}` $labels.cluster"
    " $s.Labels.instance | query }}, safe_to_bootstrap 1{{ end }}{{ end }}."
)

# Why no node can be named, most specific reason first (docs/decision-model.md).
NO_CANDIDATE = (
    "No node can be named for a bootstrap yet: "
    "{{ if printf `cluster:galera_split_brain_24h:max{cluster=%q}` $labels.cluster | query }}"
    "the cluster had a split brain in the last 24 hours, so positions of its sides cannot be"
    " compared; choose the side to keep deliberately (see the runbook)"
    "{{ else if printf `cluster:galera_position_histories:count{cluster=%q} > 1` $labels.cluster | query }}"
    "the nodes' positions belong to different cluster histories (UUIDs), so they cannot be"
    " compared; choose deliberately (see the runbook)"
    '{{ else if printf `galera_grastate_info{cluster=%q,uuid="00000000-0000-0000-0000-000000000000"}` $labels.cluster | query }}'
    "the cluster history was reset (all-zero UUID), so seqnos do not tell which node is newest;"
    " choose deliberately (see GaleraClusterHistoryReset in the runbook)"
    "{{ else if printf `count(instance:galera_safe_to_bootstrap:bool{cluster=%q}) > 1` $labels.cluster | query }}"
    "more than one node says safe_to_bootstrap: 1 ("
    "{{ range $i, $s := printf `instance:galera_safe_to_bootstrap:bool{cluster=%q}` $labels.cluster"
    ' | query | sortByLabel "instance" }}{{ if $i }}, {{ end }}{{ $s.Labels.instance }}{{ end }}),'
    " which only a split brain or a manual edit produces; compare their data first"
    "{{ else if printf `instance:galera_safe_to_bootstrap:bool{cluster=%q}` $labels.cluster | query }}"
    "the node with safe_to_bootstrap: 1 is behind another node's position or of another history;"
    " compare the positions below before bootstrapping anything"
    "{{ else if printf `instance:galera_position_unknown:bool{cluster=%q}` $labels.cluster | query }}"
    "the position of "
    "{{ range $i, $s := printf `instance:galera_position_unknown:bool{cluster=%q}` $labels.cluster"
    ' | query | sortByLabel "instance" }}{{ if $i }}, {{ end }}{{ $s.Labels.instance }}{{ end }}'
    " is unknown; run `mariadbd --wsrep-recover` there (it logs the position to the error log"
    " the exporter reads; `galera_recovery` discards its log)"
    "{{ else if printf `cluster:galera_position:max{cluster=%q}` $labels.cluster | query }}"
    "the most advanced nodes tie and cannot be told apart; bootstrap exactly one of them,"
    " never two{{ else }}no node has a usable position (a node stopped in the middle of a state"
    " transfer holds incomplete data); recover the positions with `mariadbd --wsrep-recover`"
    " before choosing{{ end }}."
)

# After a crash or power loss pc.recovery can re-form the cluster (gvwstate.dat kept); after a
# simultaneous clean stop it cannot, and the most advanced node must be bootstrapped.
CRASH_START = (
    '{{ if printf `instance:galera_node:state{cluster=%q,state=~"crashed|down"}` $labels.cluster'
    " | query }}Start all nodes together, within 30 seconds of each other (pc.wait_prim_timeout),"
    " with `sudo cfg-cm-cluster --restart-node`: pc.recovery usually re-forms the cluster by"
    " itself. If it does not,{{ else }}They were all stopped cleanly (no gvwstate.dat), so"
    " pc.recovery cannot re-form the cluster and one node must be bootstrapped:{{ end }} "
)

# $labels.instance as a printf argument of a template query. The bootstrap twins always have an
# instance label, so on Prometheus this is $labels.instance. vmalert 1.79 restores the `for:` state
# of a rule from every ALERTS_FOR_STATE series of its alert name, its verify twin's included (no
# instance): there $labels.instance is nil, printf %q gives `%!q(<nil>)`, the query is invalid and
# vmalert abandons restoring the rest of the group. `or` turns nil into "" (a valid, empty query).
INSTANCE_ARG = '(or $labels.instance "")'

# The step for the candidate named in $labels.instance.
BOOTSTRAP_STEP = (
    '{{ if printf `instance:galera_bootstrap_candidate:bool{cluster=%q,force="1"}` $labels.cluster'
    ' | query }}{{ if printf `instance:galera_node:state{cluster=%q,instance=%q,state="non_primary"}`'
    f" $labels.cluster {INSTANCE_ARG} | query }}}}On {{{{ $labels.instance }}}}: stop mysqld first (`sudo"
    " systemctl stop mariadb`; its own shutdown would undo a force done while it runs), then run"
    " `sudo cfg-cm-cluster --force-safe-to-bootstrap` and `sudo cfg-cm-cluster --bootstrap-node`"
    " (once it is stopped this page may turn into one that names no node: carry on with"
    " {{ $labels.instance }})."
    "{{ else }}On {{ $labels.instance }}: run `sudo cfg-cm-cluster --force-safe-to-bootstrap` and"
    " `sudo cfg-cm-cluster --bootstrap-node`.{{ end }} If the bootstrap is refused, force"
    " {{ $labels.instance }} again; never switch to another node."
    "{{ else }}On {{ $labels.instance }}: run `sudo cfg-cm-cluster --bootstrap-node` (it has"
    " safe_to_bootstrap 1: no force needed).{{ end }} Then start every other node with"
    " `sudo cfg-cm-cluster --restart-node`."
)


def pos(instance: str = INSTANCE_ARG) -> str:
    return (
        "{{ with printf `instance:galera_position:seqno{cluster=%q,instance=%q}` $labels.cluster "
        + instance
        + ' | query }}seqno {{ (index . 0).Value | printf "%.0f" }} of'
        " {{ (index . 0).Labels.uuid }}{{ else }}position not known{{ end }}"
    )


def alert(  # noqa: PLR0917 - reads like the rule it writes: name, expr, for, severity, texts
    name: str,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    description: str,
    *,
    bootstrap: bool = False,
    evidence: bool = False,
) -> Alert:
    """One alerting rule. Scenario alerts that may name a node come as twins: advice="bootstrap"
    names it (and carries bootstrap_node), advice="verify" says what to check first."""
    verify = evidence and "unless on (cluster) instance:galera_bootstrap_candidate" in expr
    advice = "bootstrap" if bootstrap else ("verify" if verify else None)
    return {
        "alert": name,
        "expr": expr,
        "for_": for_,
        "severity": severity,
        "summary": summary,
        "description": description,
        "bootstrap": bootstrap,
        "evidence": evidence,
        "advice": advice,
    }


# "In a Primary component" without reading every Primary node: remove the few nodes of the job
# that are not (instance:galera_node_not_primary:up) and the few targets outside the job.
IN_PRIMARY = (
    "unless on (cluster, job, instance) instance:galera_node_not_primary:up\n"
    "  unless on (cluster, job, instance) instance:galera_target_outside_job:info"
)
IN_PRIMARY_INDENTED = IN_PRIMARY.replace("\n", "\n  ")
NOT_PRIMARY = "instance:galera_node_not_primary:up or instance:galera_target_outside_job:info"

SCENARIOS: list[tuple[str | None, Alert]] = []
NODE_HEALTH: list[tuple[str | None, Alert]] = []

# ------------------------------------------------------------------ cluster-down scenarios
CAND = "max by (cluster, instance) (instance:galera_bootstrap_candidate:bool)"
SCENARIOS += [
    (
        '# Guide: "All nodes are gracefully stopped": every node down, one says it left last\n'
        "# (safe_to_bootstrap 1). Two rules, one alert: with the node to bootstrap when the evidence\n"
        "# names one (docs/decision-model.md), else with what to verify first.",
        alert(
            "GaleraClusterStopped",
            f'{CAND}\nand on (cluster) cluster:galera_scenario:info{{scenario="stopped"}}',
            "1m",
            "critical",
            "Galera cluster is down; the node that left last must be bootstrapped.",
            "Every node of cluster {{ $labels.cluster }} is down. {{ $labels.instance }} left the"
            " cluster last (safe_to_bootstrap 1, " + pos() + ") and no other node is known to be"
            " more advanced. "
            + BOOTSTRAP_STEP
            + " Do not bootstrap any other node: it may miss the"
            " last updates.",
            bootstrap=True,
            evidence=True,
        ),
    ),
    (
        None,
        alert(
            "GaleraClusterStopped",
            'max by (cluster) (cluster:galera_scenario:info{scenario="stopped"})\n'
            "unless on (cluster) instance:galera_bootstrap_candidate:bool",
            "1m",
            "critical",
            "Galera cluster is down; the node that left last must be bootstrapped.",
            "Every node of cluster {{ $labels.cluster }} is down and a node says"
            " safe_to_bootstrap: 1, but the evidence is not consistent. "
            + NO_CANDIDATE
            + " Bootstrap nothing until this is resolved.",
            evidence=True,
        ),
    ),
    (
        '# Guide: "All nodes are terminated": every node down, none safe to bootstrap.',
        alert(
            "GaleraClusterCrashed",
            f'{CAND}\nand on (cluster) cluster:galera_scenario:info{{scenario="crashed"}}',
            "1m",
            "critical",
            "Galera cluster is down and no node is safe to bootstrap.",
            "Every node of cluster {{ $labels.cluster }} is down and none has safe_to_bootstrap 1. "
            + CRASH_START
            + "{{ $labels.instance }} is the"
            " most advanced node (" + pos() + "). " + BOOTSTRAP_STEP,
            bootstrap=True,
            evidence=True,
        ),
    ),
    (
        None,
        alert(
            "GaleraClusterCrashed",
            'max by (cluster) (cluster:galera_scenario:info{scenario="crashed"})\n'
            "unless on (cluster) instance:galera_bootstrap_candidate:bool",
            "1m",
            "critical",
            "Galera cluster is down and no node is safe to bootstrap.",
            "Every node of cluster {{ $labels.cluster }} is down and none has safe_to_bootstrap 1. "
            + CRASH_START
            + "do not force any node yet. "
            + NO_CANDIDATE,
            evidence=True,
        ),
    ),
    (
        '# Guide: "Two nodes are terminated": no Primary component, some node up but non-Primary,\n'
        "# every other node verifiably down.",
        alert(
            "GaleraQuorumLost",
            f'{CAND}\nand on (cluster) cluster:galera_scenario:info{{scenario="quorum_lost"}}',
            "1m",
            "critical",
            "Galera cluster lost quorum; one node must be bootstrapped.",
            "Cluster {{ $labels.cluster }} has no Primary component: "
            + nodes("non_primary", with_state=False)
            + " up but non-Primary, refusing queries (ERROR 1047), and "
            + nodes("stopped|crashed|down|joining")
            + " down. First make sure those nodes are really"
            " down and not just cut off by the network (else you create a split brain). Then"
            " bootstrap {{ $labels.instance }} (" + pos() + "). " + BOOTSTRAP_STEP,
            bootstrap=True,
            evidence=True,
        ),
    ),
    (
        None,
        alert(
            "GaleraQuorumLost",
            'max by (cluster) (cluster:galera_scenario:info{scenario="quorum_lost"})\n'
            "unless on (cluster) instance:galera_bootstrap_candidate:bool",
            "1m",
            "critical",
            "Galera cluster lost quorum; one node must be bootstrapped.",
            "Cluster {{ $labels.cluster }} has no Primary component: "
            + nodes("non_primary", with_state=False)
            + " up but non-Primary, refusing queries (ERROR 1047), and "
            + nodes("stopped|crashed|down|joining")
            + " down. "
            + NO_CANDIDATE,
            evidence=True,
        ),
    ),
    (
        '# Guide: "Connection failure between all nodes": every node up, none Primary.',
        alert(
            "GaleraClusterPartitioned",
            f'{CAND}\nand on (cluster) cluster:galera_scenario:info{{scenario="partitioned"}}',
            "1m",
            "critical",
            "Galera nodes are up but none is in a Primary component.",
            "All nodes of cluster {{ $labels.cluster }} are up but non-Primary: they cannot reach"
            " each other and refuse queries. Restore the network between the nodes; the cluster"
            " re-forms by itself within seconds. Only if it does not once the network works,"
            " bootstrap exactly one node, {{ $labels.instance }} ("
            + pos()
            + "). "
            + BOOTSTRAP_STEP,
            bootstrap=True,
            evidence=True,
        ),
    ),
    (
        None,
        alert(
            "GaleraClusterPartitioned",
            'max by (cluster) (cluster:galera_scenario:info{scenario="partitioned"})\n'
            "unless on (cluster) instance:galera_bootstrap_candidate:bool",
            "1m",
            "critical",
            "Galera nodes are up but none is in a Primary component.",
            "All nodes of cluster {{ $labels.cluster }} are up but non-Primary: they cannot reach"
            " each other and refuse queries. Restore the network between the nodes; the cluster"
            " re-forms by itself within seconds. " + NO_CANDIDATE,
            evidence=True,
        ),
    ),
    (
        "# No node seen in a Primary component and some node cannot be observed: nothing may be\n"
        "# concluded (an unseen node may be the one serving, or the most advanced). Only when every\n"
        "# node refuses the exporter (a rotated password) it stays a warning\n"
        "# (GaleraExporterCannotQuery): mysqld answers everywhere, a monitoring problem.",
        alert(
            "GaleraClusterUnobservable",
            'max by (cluster) (cluster:galera_scenario:info{scenario="unobservable"})\n'
            "unless on (cluster) (\n"
            '  cluster_state:galera_nodes:count{state="no_access"}\n'
            "  == on (cluster) cluster:galera_nodes:count\n)",
            "1m",
            "critical",
            "Galera cluster state cannot be established and no node is seen serving.",
            "No node of cluster {{ $labels.cluster }} is seen in a Primary component, and "
            + nodes("unobservable|no_access")
            + " cannot be observed: it cannot be told whether the"
            " cluster still serves or which node holds the newest data. Bootstrap nothing. On each"
            " of those nodes check that the host is up, that galera-exporter runs and can log in,"
            " and run `sudo cfg-cm-cluster --show-cluster-status`.",
            evidence=True,
        ),
    ),
]

DEGRADED = 'cluster:galera_scenario:info{scenario="degraded"}'
SHORT = "cluster:galera_primary_size:max < on (cluster) cluster:galera_expected_size:sum"
SCENARIOS += [
    (
        '# Guide: "One node is terminated": mysqld down (nothing listens), gvwstate.dat kept or\n'
        "# unreadable, while a Primary component runs without it. A joiner in SST is state joining,\n"
        "# never crashed: restarting it would abort the transfer.",
        alert(
            "GaleraNodeCrashed",
            'max by (cluster, instance) (instance:galera_node:state{state=~"crashed|down"})\n'
            f"and on (cluster) {DEGRADED}\nand on (cluster) {SHORT}",
            "1m",
            "warning",
            "Galera node crashed; the cluster runs degraded.",
            "mysqld on {{ $labels.instance }} (cluster {{ $labels.cluster }}) is down"
            '{{ if printf `instance:galera_node:state{cluster=%q,instance=%q,state="down"}` $labels.cluster'
            " $labels.instance | query }} and its gvwstate.dat cannot be read, so a clean stop cannot be"
            " told from a crash{{ else }} and its gvwstate.dat is still there, so it was not stopped"
            " cleanly (crash, kill, power loss){{ end }}. The cluster is still Primary with"
            " {{ with printf `cluster:galera_primary_size:max{cluster=%q}` $labels.cluster | query }}{{ . | first | value }}{{ end }}"
            " of {{ with printf `cluster:galera_expected_size:sum{cluster=%q}` $labels.cluster | query }}{{ . | first | value }}{{ end }}"
            " members. Restart {{ $labels.instance }} with `sudo cfg-cm-cluster --restart-node`; it"
            " rejoins by itself.",
        ),
    ),
    (
        "# The host of a node is gone (its exporter cannot be scraped) while the Primary component\n"
        "# misses a member and has no member besides the nodes seen in it (and arbitrators): the\n"
        '# missing member is an unreachable node, the guide\'s "One node is terminated".',
        alert(
            "GaleraNodeUnreachable",
            "max by (cluster, instance) (instance:galera_node_not_primary:up == 0)\n"
            f"and on (cluster) {DEGRADED}\nand on (cluster) {SHORT}\n"
            "and on (cluster) (\n"
            "  cluster:galera_primary_size:max\n"
            "  <= on (cluster)\n"
            '  max by (cluster) (cluster_state:galera_nodes:count{state="primary"})\n'
            "  + on (cluster) cluster:galera_arbitrators:max\n)",
            "2m",
            "warning",
            "Galera node unreachable while its cluster misses a member.",
            "The exporter on {{ $labels.instance }} (cluster {{ $labels.cluster }}) cannot be scraped"
            " and the Primary component has"
            " {{ with printf `cluster:galera_primary_size:max{cluster=%q}` $labels.cluster | query }}{{ . | first | value }}{{ end }}"
            " of {{ with printf `cluster:galera_expected_size:sum{cluster=%q}` $labels.cluster | query }}{{ . | first | value }}{{ end }}"
            ' members: the host is probably down (the guide\'s "one node terminated"). Bring the'
            " host back; if mysqld does not rejoin by itself, run `sudo cfg-cm-cluster"
            " --restart-node` on {{ $labels.instance }}. Never bootstrap it.",
        ),
    ),
    (
        '# Guide: "One node is gracefully stopped" (and each node of "Two nodes are gracefully\n'
        '# stopped"). Planned maintenance looks like this: info, not a page.',
        alert(
            "GaleraNodeStopped",
            'max by (cluster, instance) (instance:galera_node:state{state="stopped"})\n'
            f"and on (cluster) {DEGRADED}\nand on (cluster) {SHORT}",
            "10m",
            "info",
            "Galera node stopped cleanly and has not come back.",
            "mysqld on {{ $labels.instance }} (cluster {{ $labels.cluster }}) was shut down"
            " cleanly (gvwstate.dat removed, grastate.dat seqno"
            ' {{ with printf `galera_grastate_seqno{cluster=%q,instance=%q}` $labels.cluster $labels.instance | query }}{{ . | first | value | printf "%.0f" }}{{ end }})'
            " and has been down for 10 minutes; the cluster is still Primary without it. When the"
            " maintenance is over, restart it with `sudo cfg-cm-cluster --restart-node`.",
        ),
    ),
    (
        '# Guide: "Two nodes are gracefully stopped": the last node is Primary on its own.',
        alert(
            "GaleraClusterSingleNode",
            "max by (cluster, instance) (\n"
            "  galera_cluster_size == 1\n"
            f"  {IN_PRIMARY}\n)\n"
            "and on (cluster) cluster:galera_expected_size:sum > 1\n"
            f"and on (cluster) {DEGRADED}",
            "5m",
            "warning",
            "Galera cluster runs on a single node.",
            "Cluster {{ $labels.cluster }} runs on {{ $labels.instance }} alone: it is still"
            " Primary and writable, but one more failure takes the cluster down. Not in the cluster:"
            " " + nodes("[^p].*") + ". Restart them one at a time with `sudo cfg-cm-cluster"
            " --restart-node`; do not bootstrap anything.",
        ),
    ),
    (
        '# Guide: "Connection failure between one node and the other nodes".',
        alert(
            "GaleraNodeIsolated",
            'max by (cluster, instance) (instance:galera_node:state{state="non_primary"})\n'
            f"and on (cluster) {DEGRADED}",
            "1m",
            "warning",
            "Galera node is cut off from its cluster.",
            "{{ $labels.instance }} is up but non-Primary while "
            + nodes("primary", with_state=False)
            + " still form the Primary component of cluster"
            " {{ $labels.cluster }}: it cannot reach them and refuses queries. Fix the network"
            " between {{ $labels.instance }} and its peers (gcomm port 4567); it rejoins by itself."
            " Do NOT bootstrap {{ $labels.instance }}: that creates a split brain.",
        ),
    ),
    (
        "# A node that keeps failing to rejoin: SST attempts that end without the node joining, or\n"
        "# SST failures in its error log, twice or more within 30 minutes while it is not Primary.\n"
        "# `offset` reads one old sample per series instead of a 30-minute range.",
        alert(
            "GaleraNodeRejoinFailing",
            "max by (cluster, instance) (\n"
            "  (\n"
            "      galera_sst_starts_total - galera_sst_starts_total offset 30m >= 2\n"
            "    or\n"
            '      galera_errorlog_events_total{event="sst_failed"}\n'
            '      - galera_errorlog_events_total{event="sst_failed"} offset 30m >= 2\n'
            "  )\n"
            f"  and on (cluster, job, instance) (\n    {NOT_PRIMARY}\n  )\n)",
            "1m",
            "warning",
            "Galera node keeps failing to rejoin its cluster.",
            "{{ $labels.instance }} (cluster {{ $labels.cluster }}) started or failed a state"
            " transfer (SST) at least twice in 30 minutes without joining: restarting it again will"
            " not help. Read its error log and the SST log in the datadir"
            " (`grep -i sst /var/log/mysql/error.log`): typical causes are a full disk, the SST"
            " port blocked between nodes, or wrong SST credentials. Do not bootstrap it.",
        ),
    ),
    (
        "# More than one Primary component in one cluster history: both sides accept writes.",
        alert(
            "GaleraSplitBrain",
            "cluster:galera_split_brain:count",
            "1m",
            "critical",
            "Galera cluster has more than one Primary component (split brain).",
            "Cluster {{ $labels.cluster }} has {{ $value }} Primary components that each accept"
            " writes, so their data is diverging now. Sides:"
            ' {{ range $i, $s := printf `galera_component_info{cluster=%q} and on (cluster, job, instance) instance:galera_node:state{cluster=%q,state="primary"}` $labels.cluster $labels.cluster | query | sortByLabel "instance" }}{{ if $i }}; {{ end }}{{ $s.Labels.instance }} in [{{ $s.Labels.members }}]{{ end }}.'
            " Stop writes, keep one side, stop mysqld on the nodes of the other side(s), and rejoin"
            " them with a full SST from an empty datadir (a rejoin by IST keeps their divergent"
            " rows).",
        ),
    ),
    (
        "# A split brain seen in the last 24 h is gone: the nodes may hold different data although\n"
        "# every status looks healthy (observed in the lab after a forced rejoin by IST).",
        alert(
            "GaleraSplitBrainHealed",
            "cluster:galera_split_brain_24h:max\nunless on (cluster) cluster:galera_split_brain:count",
            "5m",
            "warning",
            "A Galera split brain ended; data may have diverged.",
            "Cluster {{ $labels.cluster }} had more than one Primary component in the last 24 hours"
            " and now has at most one. Nodes that rejoined by IST look healthy but may hold"
            " different rows. Compare table checksums on every node before trusting the data; no"
            " node is named for a bootstrap while this lasts. This alert stays for 24 hours after"
            " the split unless silenced.",
        ),
    ),
    (
        "# Primary nodes under one `cluster` label report different cluster UUIDs: two clusters\n"
        "# share the label (a split brain keeps one UUID). A configuration error, not an outage.",
        alert(
            "GaleraClusterUuidConflict",
            "cluster:galera_primary_histories:count > 1",
            "5m",
            "warning",
            "Two Galera clusters share one cluster label.",
            "Primary nodes labelled cluster {{ $labels.cluster }} report {{ $value }} different"
            " cluster UUIDs:"
            ' {{ range $i, $s := printf `galera_status_info{cluster=%q} and on (cluster, job, instance) instance:galera_node:state{cluster=%q,state="primary"}` $labels.cluster $labels.cluster | query | sortByLabel "instance" }}{{ if $i }}; {{ end }}{{ $s.Labels.instance }} {{ $s.Labels.cluster_state_uuid }}{{ end }}.'
            " These are different clusters with one `cluster` target label. Give each its own"
            " label in the scrape config; until then this label's scenario alerts are unreliable"
            " (no node is named for a bootstrap).",
        ),
    ),
    (
        "# After all nodes were killed, a plain restart lets pc.recovery re-form the cluster with\n"
        "# the all-zero cluster UUID: seqnos restart at 0 and grastate.dat says so too.",
        alert(
            "GaleraClusterHistoryReset",
            "count by (cluster) (\n"
            '    galera_status_info{cluster_state_uuid="00000000-0000-0000-0000-000000000000", local_state_comment="Synced"}\n'
            "  or\n"
            "    (\n"
            '      galera_grastate_info{uuid="00000000-0000-0000-0000-000000000000"}\n'
            "      and on (cluster, job, instance) instance:galera_up:down\n"
            "    )\n)",
            "5m",
            "warning",
            "Galera cluster history was reset to the all-zero UUID.",
            "{{ $value }} node(s) of cluster {{ $labels.cluster }} report cluster UUID"
            " 00000000-0000-0000-0000-000000000000: the cluster was re-formed without its history"
            " (typically a plain restart after all nodes crashed), seqnos restarted at 0 and"
            " grastate.dat no longer tells which node is newest. Do not choose a node to bootstrap"
            " from grastate.dat seqnos (the rules ignore positions of this UUID); re-bootstrap"
            " deliberately when convenient.",
        ),
    ),
    (
        '# The guide\'s "Check back-end log": after mysqld is Synced the back-end must log its\n'
        "# readiness line (`SMTP Service started ...`).",
        alert(
            "GaleraBackendNotReady",
            "max by (cluster, instance) (\n"
            "  galera_backend_ready == 0\n"
            "  and on (cluster, job, instance) galera_backend_log_present == 1\n"
            '  and on (cluster, job, instance) galera_local_state{state="Synced"} == 1\n)',
            "5m",
            "warning",
            "Back-end not ready although its Galera node is Synced.",
            "mysqld on {{ $labels.instance }} (cluster {{ $labels.cluster }}) is Synced but the"
            " back-end has not logged `SMTP Service started` since its last start. Check the"
            " back-end log on {{ $labels.instance }} (`tail -f /var/log/djigzo.log`) for errors and"
            " restart the back-end if it is stuck.",
        ),
    ),
    (
        "# No back-end ready on any node whose log is followed, while the database is Primary: the\n"
        "# service (mail) is down everywhere although Galera is fine.",
        alert(
            "GaleraBackendDown",
            'max by (cluster) (cluster_state:galera_nodes:count{state="primary"})\n'
            "unless on (cluster) (\n"
            "  galera_backend_ready == 1 and on (cluster, job, instance) galera_backend_log_present == 1\n)\n"
            "and on (cluster) (\n"
            "  count by (cluster) (\n"
            "    galera_backend_log_present == 1\n"
            f"    {IN_PRIMARY_INDENTED}\n"
            "  )\n)\n"
            'and on (cluster) cluster:galera_scenario:info{scenario=~"healthy|degraded"}',
            "5m",
            "critical",
            "No back-end is ready on any node of the Galera cluster.",
            "The database of cluster {{ $labels.cluster }} is Primary on {{ $value }} node(s) but"
            " no node's back-end has logged `SMTP Service started` since its last start: the"
            " service is down everywhere. Read the back-end log on each node (`tail -f"
            " /var/log/djigzo.log`) and restart the back-end; the database needs no action.",
        ),
    ),
    (
        "# Membership differs from the configuration while every monitored node is in the Primary\n"
        "# component: an arbitrator is down, or a member is not monitored / not declared.",
        alert(
            "GaleraClusterSizeMismatch",
            "cluster:galera_primary_size:max != on (cluster) cluster:galera_expected_size:sum\n"
            'and on (cluster) cluster:galera_scenario:info{scenario="healthy"}',
            "10m",
            "warning",
            "Galera cluster size differs from the configured size.",
            "The Primary component of cluster {{ $labels.cluster }} has {{ $value }} members but"
            " {{ with printf `cluster:galera_expected_size:sum{cluster=%q}` $labels.cluster | query }}{{ . | first | value }}{{ end }}"
            " are configured (monitored nodes plus the galera_arbitrators target label) although"
            " every monitored node is in it: an arbitrator (garbd) is down, or a member is not"
            " monitored or not declared.",
        ),
    ),
]

NODE_HEALTH += [
    (
        "# In the Primary component but wsrep_ready OFF: joining (SST) or stuck. Non-Primary nodes\n"
        "# are not ready either; the scenario alerts cover them.",
        alert(
            "GaleraNodeNotReady",
            f"max by (cluster, instance) (\n  galera_ready == 0\n  {IN_PRIMARY}\n)",
            "5m",
            "warning",
            "Galera node does not accept queries.",
            "{{ $labels.instance }} (cluster {{ $labels.cluster }}) is in the Primary component but"
            " wsrep_ready is OFF, so it refuses queries. Check its state with `sudo cfg-cm-cluster"
            " --show-cluster-status` and its error log (a stuck SST or IST).",
        ),
    ),
    (
        "# Ready but not Synced (Joined, or Donor/Desynced while serving an SST) and nobody asked for\n"
        "# it: wsrep_desync=ON (a backup) is intended and stays silent.",
        alert(
            "GaleraNodeNotSynced",
            "max by (cluster, instance) (\n  instance:galera_local_state_code:not_synced\n"
            "  and on (cluster, job, instance) galera_ready == 1\n"
            f"  {IN_PRIMARY}\n"
            "  unless on (cluster, job, instance) instance:galera_desync_enabled:bool\n)",
            "15m",
            "warning",
            "Galera node has not been Synced for 15 minutes.",
            "{{ $labels.instance }} (cluster {{ $labels.cluster }}) has been in local state"
            " {{ $value }} (4 is Synced) for 15 minutes without wsrep_desync being set: a long SST"
            " donation or a node that cannot catch up. Check `sudo cfg-cm-cluster"
            " --show-cluster-status` and its error log.",
        ),
    ),
    (
        "# A donor (Donor/Desynced, not by request) does not send flow control, so its receive\n"
        "# queue grows; once Synced again it must apply the backlog.",
        alert(
            "GaleraDonorFallingBehind",
            "max by (cluster, instance) (\n  galera_local_recv_queue > 100\n"
            "  and on (cluster, job, instance) instance:galera_local_state_code:not_synced == 2\n"
            "  unless on (cluster, job, instance) instance:galera_desync_enabled:bool\n)",
            "5m",
            "warning",
            "Galera donor is falling behind the cluster.",
            "{{ $labels.instance }} (cluster {{ $labels.cluster }}) is a donor (Donor/Desynced) and"
            " has {{ $value }} write-sets waiting to be applied. When the SST ends it must apply"
            " them and may throttle the whole cluster with flow control.",
        ),
    ),
    (
        "# Flow control pauses replication, and so every commit, on ALL nodes.",
        alert(
            "GaleraFlowControlPaused",
            "max by (cluster) (instance:galera_flow_control_paused:ratio_rate5m) > 0.1",
            "5m",
            "warning",
            "Galera replication is often paused by flow control.",
            "Replication in cluster {{ $labels.cluster }} was paused by flow control"
            " {{ $value | humanizePercentage }} of the last 5 minutes; writes stall on all nodes."
            " The slowest node is usually the one with the longest receive queue:"
            " {{ with printf `topk(1, galera_local_recv_queue{cluster=%q})` $labels.cluster | query }}{{ with first . }}{{ .Labels.instance }} ({{ .Value }} write-sets){{ end }}{{ end }}.",
        ),
    ),
    (
        "# Certification failures are transactions rolled back because another node wrote the same\n"
        "# rows first; the client sees a deadlock error.",
        alert(
            "GaleraCertificationFailures",
            "max by (cluster, instance) (\n"
            "  instance:galera_local_cert_failures:ratio_rate5m > 0.05\n"
            "  and instance:galera_local_cert_failures:rate5m > 0.05\n)",
            "10m",
            "warning",
            "Many Galera transactions fail certification.",
            "{{ $value | humanizePercentage }} of the write transactions started on"
            " {{ $labels.instance }} (cluster {{ $labels.cluster }}) fail certification: other"
            " nodes write the same rows concurrently. Send conflicting writes to one node.",
        ),
    ),
    (
        None,
        alert(
            "GaleraExporterDown",
            "max by (cluster, instance) (instance:galera_node_not_primary:up == 0)",
            "5m",
            "warning",
            "Galera exporter cannot be scraped.",
            "Prometheus cannot scrape the galera exporter {{ $labels.instance }} (cluster"
            " {{ $labels.cluster }}); this node's state is unknown, so no node of this cluster is"
            " named for a bootstrap while it lasts. Check the host and the galera-exporter service"
            " on it.",
        ),
    ),
    (
        '# The exporter runs but cannot query mysqld for another reason than "nothing listens":\n'
        "# wrong or rotated password, too many connections, a hung server. mysqld may be fine; the\n"
        "# node counts as not observed, so no bootstrap is ever advised around it.",
        alert(
            "GaleraExporterCannotQuery",
            "max by (cluster, instance, kind) (\n"
            '  instance:galera_mysql_error:kind{kind!="refused"}\n'
            "  and on (cluster, job, instance) instance:galera_node_not_primary:up == 1\n)",
            "5m",
            "warning",
            "Galera exporter cannot query its mysqld.",
            "The exporter on {{ $labels.instance }} (cluster {{ $labels.cluster }}) cannot query"
            ' mysqld: {{ if eq $labels.kind "auth" }}the login is refused (a changed password or'
            " a missing grant: fix the exporter's option file){{ else if eq $labels.kind"
            ' "too_many_connections" }}the server has no free connection (max_connections'
            ' reached){{ else if eq $labels.kind "timeout" }}the server does not answer in time'
            " (hung, overloaded, or stuck in a state transfer){{ else }}the query fails (see the"
            " exporter's log){{ end }}. This node's Galera state is unknown while it lasts.",
        ),
    ),
    (
        "# A collector that cannot read its input blinds the alerts built on it (a grastate\n"
        "# collector that fails cannot tell a clean stop from a crash). The wsrep collector failing\n"
        "# while mysqld is down is expected and excluded.",
        alert(
            "GaleraExporterCollectorFailing",
            "max by (cluster, instance, collector) (\n"
            "  galera_exporter_collector_success == 0\n"
            "  unless on (cluster, job, instance, collector)\n"
            '    label_replace(instance:galera_up:down, "collector", "wsrep", "", "")\n)',
            "10m",
            "warning",
            "A galera exporter collector keeps failing.",
            "The {{ $labels.collector }} collector of the exporter on {{ $labels.instance }}"
            " (cluster {{ $labels.cluster }}) has failed for 10 minutes; the metrics it provides"
            " are missing. Check the exporter's log for the file or query it cannot read.",
        ),
    ),
    (
        "# galera-exporter metrics from a target outside the job the rules watch: that node is in\n"
        "# no scenario and no alert (change the job in instance:up:galera_job).",
        alert(
            "GaleraTargetOutsideJob",
            "max by (cluster, job, instance) (instance:galera_target_outside_job:info)",
            "10m",
            "warning",
            "A galera exporter is scraped outside the job the rules watch.",
            "Prometheus scrapes a galera exporter as {{ $labels.instance }} in job"
            ' {{ $labels.job }} (cluster "{{ $labels.cluster }}"), but the rules only watch job'
            ' "galera": this node is in no scenario and raises no alert. Scrape it in the'
            " `galera` job, or change the job in the first rule of rules/galera-recording.yml.",
        ),
    ),
]

# ------------------------------------------------------------------ serving and maintenance
# ClusterControl's advice: the gcache should hold at least 4 hours of write-sets, so a node
# away for a reboot or a maintenance window rejoins by IST, not a full SST. Another threshold:
# `python rules/generate.py --gcache-min-window-hours 8` (docs/runbook.md#galeragcachewindowshort).
GCACHE_MIN_WINDOW_HOURS = 4.0


def serving_alerts(
    gcache_min_window_hours: float = GCACHE_MIN_WINDOW_HOURS,
) -> list[tuple[str | None, Alert]]:
    """The gcache-window warning and the maintenance notice (issue 16); their own group, so
    they read rules/galera-serving.yml only."""
    seconds = round(gcache_min_window_hours * 3600)
    return [
        (
            "# How long a node can be away and still rejoin by IST (recorded per node in\n"
            "# rules/galera-serving.yml); +Inf while nothing is written, so only a node whose write\n"
            "# rate eats its gcache faster than the threshold is in the result.",
            alert(
                "GaleraGcacheWindowShort",
                f"max by (cluster, instance) (instance:galera_gcache_window:seconds) < {seconds}",
                "30m",
                "warning",
                "A node's gcache holds less than the configured window of write-sets.",
                "At the write rate of the last minutes, the gcache of {{ $labels.instance }}"
                " (cluster {{ $labels.cluster }}) holds only {{ $value | humanizeDuration }} of"
                " write-sets"
                "{{ with printf `galera_gcache_size_bytes{cluster=%q,instance=%q}` $labels.cluster"
                " $labels.instance | query }} ({{ (index . 0).Value | humanize1024 }}B gcache.size){{ end }}"
                "{{ with printf `instance:galera_writeset_bytes:rate5m{cluster=%q,instance=%q}`"
                " $labels.cluster $labels.instance | query }} at {{ (index . 0).Value | humanize1024 }}B/s{{ end }}."
                f" A node away longer than that needs a full SST instead of IST (the threshold is"
                f" {gcache_min_window_hours:g} h). Raise gcache.size in wsrep_provider_options"
                " on every node (restart needed), see the runbook.",
            ),
        ),
        (
            "# Planned work: the maintenance marker file on any node of the cluster (galera_maintenance\n"
            "# 1). Fires at once and for as long as the marker exists; examples/alertmanager.yml\n"
            "# inhibits every other alert of the cluster while it fires, so a planned full shutdown\n"
            "# pages nobody. Never a page itself (info).",
            alert(
                "GaleraMaintenance",
                "max by (cluster) (galera_maintenance) == 1",
                "0m",
                "info",
                "Planned maintenance: this cluster's other alerts are inhibited.",
                "Cluster {{ $labels.cluster }} is under planned maintenance: the maintenance marker"
                " file exists on "
                "{{ range $i, $s := printf `galera_maintenance{cluster=%q} == 1` $labels.cluster"
                ' | query | sortByLabel "instance" }}{{ if $i }}, {{ end }}{{ $s.Labels.instance }}'
                "{{ end }}. Every other alert of this cluster is inhibited in Alertmanager until"
                " the file is removed; remove it as soon as the work is done.",
            ),
        ),
    ]


# ---------------------------------------------------------------- state transfers, GRA logs
# From the wsrep status file (status_file collector) and the datadir's GRA_*.log files
# (gra_log collector). Each reads series that exist only while there is something to say
# (a transfer running, progress reported, a GRA log present) or one instant sample of a
# counter plus its offset: cheap at 1,000 clusters.
RECOVERY: list[tuple[str | None, Alert]] = [
    (
        "# A state transfer that has made no progress for 15 minutes, seen two ways:\n"
        "# - the progress it reports in wsrep_status_file has not moved (10 m unchanged, and reported\n"
        "#   10 m ago, for 5 m). MariaDB 10.11.19 / Galera 26.4.23 report no progress there at all\n"
        "#   (tests/fixtures/statusfile), not even with pv installed and wsrep_debug on;\n"
        "# - on the joiner of an SST (sst_in_progress present), nothing in its datadir written for\n"
        "#   10 m (galera_sst_datadir_last_write_timestamp_seconds, which exists only then, counts the\n"
        "#   marker's own creation as a write), for 5 m. Data streams continuously and mariabackup\n"
        "#   --prepare rewrites files, so 10 m of silence is no phase of a healthy SST (the longest\n"
        "#   seen in the lab: the donor's fixed 10 s sleep before streaming). A stopped donor makes\n"
        "#   the joiner wait for ever (the script has no timeout once data flows: seen for 11 min in\n"
        "#   the lab), and a marker left by an SST that was killed (systemd's SIGKILL, power loss)\n"
        "#   never moves: the node is 'joining', never 'crashed', so this is the alert that reports\n"
        "#   it. A joiner that started two SSTs in 30 m is GaleraNodeRejoinFailing's, not this one's.\n"
        "#   A walk cut short (scan_incomplete) may have missed the files being written: silent.\n"
        "# - on the joiner of an IST, wsrep_last_committed equal to its value 10 m ago, for 5 m: it\n"
        "#   only grows while mysqld runs, so that is 15 m without a write-set applied (two instant\n"
        "#   lookups of instance:galera_last_committed:joining, recorded only for Joining nodes, so\n"
        "#   the node has been Joining for those 10 m and the fleet's other nodes cost nothing\n"
        "#   here). mysqld answers during an IST (Joining, code 1) and applies\n"
        "#   the write-sets itself: last_committed moves with each (~650/s in the lab). Galera's 'Receiving\n"
        "#   IST... N%' lines are no clock: 26.4.23 wrote only 0.0% and 100.0% around a 4-minute IST.\n"
        "#   'In progress' is the status file's Receiving IST or the current server run's last\n"
        "#   progress line below 100 %, AND Joining AND mysqld not down: a node killed mid-IST leaves both\n"
        "#   stale, but it is down (GaleraNodeDown says so), so this arm is silent for it.\n"
        "# The value is the stuck fraction (progress arm), the seconds since the last write (SST)\n"
        "# or the stuck wsrep_last_committed (IST).",
        alert(
            "GaleraStateTransferStalled",
            "max by (cluster, instance, kind, role) (\n"
            "    (galera_status_file_progress_done / galera_status_file_progress_expected < 1)\n"
            "    * on (cluster, job, instance) group_left (kind, role) galera_status_file_transfer\n"
            "    and on (cluster, job, instance) changes(galera_status_file_progress_done[10m]) == 0\n"
            "    and on (cluster, job, instance) galera_status_file_progress_done offset 10m\n"
            "  or\n"
            "    label_replace(\n"
            "      label_replace(\n"
            "        time() - galera_sst_datadir_last_write_timestamp_seconds > 600,\n"
            '        "kind", "sst", "", ""),\n'
            '      "role", "joiner", "", "")\n'
            "    unless on (cluster, job, instance) galera_sst_datadir_scan_incomplete == 1\n"
            "    unless on (cluster, job, instance)\n"
            "      galera_sst_starts_total - galera_sst_starts_total offset 30m >= 2\n"
            "  or\n"
            "    label_replace(\n"
            "      label_replace(\n"
            "        instance:galera_last_committed:joining\n"
            "          and on (cluster, job, instance)\n"
            "            instance:galera_last_committed:joining\n"
            "              - instance:galera_last_committed:joining offset 10m == 0,\n"
            '        "kind", "ist", "", ""),\n'
            '      "role", "joiner", "", "")\n'
            "    and on (cluster, job, instance) (\n"
            '        galera_status_file_transfer{kind="ist", role="joiner"}\n'
            "      or\n"
            "        galera_ist_received_events < galera_ist_expected_events\n"
            "    )\n"
            "    unless on (cluster, job, instance) instance:galera_up:down\n"
            ")",
            "5m",
            "warning",
            "A Galera state transfer has stopped progressing.",
            "{{ $labels.instance }} (cluster {{ $labels.cluster }}) is the {{ $labels.role }} of an"
            " {{ $labels.kind | toUpper }} that"
            '{{ if and (eq $labels.kind "ist") (ge $value 1.0) }} has applied no write-set for'
            ' 15 minutes (wsrep_last_committed stuck at {{ printf "%.0f" $value }}: mysqld up, Joining)'
            "{{ else if lt $value 1.0 }} has been stuck at {{ $value | humanizePercentage }}"
            " for 15 minutes (wsrep_status_file)"
            "{{ else }} has written nothing to its datadir for {{ $value | humanizeDuration }}"
            " (sst_in_progress present){{ end }}."
            " Check both ends: is the joiner's mysqld still running, is the donor's SST"
            " (mariabackup, socat) alive, the donor's and joiner's error logs, disk space and the"
            " SST/IST ports between them.",
        ),
    ),
    (
        "# A node that serves state transfers (it is Primary, so it is a donor, not the joiner)\n"
        "# whose transfers failed twice or more in 30 minutes: its status file's SST errors or its\n"
        "# error log's sst_failed events. The joiner side is GaleraNodeRejoinFailing.",
        alert(
            "GaleraDonorTransfersFailing",
            "max by (cluster, instance) (\n"
            "  (\n"
            "      galera_status_file_sst_failures_total\n"
            "      - galera_status_file_sst_failures_total offset 30m >= 2\n"
            "    or\n"
            '      galera_errorlog_events_total{event="sst_failed"}\n'
            '      - galera_errorlog_events_total{event="sst_failed"} offset 30m >= 2\n'
            "  )\n"
            '  and on (cluster, job, instance) instance:galera_node:state{state="primary"}\n)',
            "1m",
            "warning",
            "State transfers from a Galera node keep failing.",
            "{{ $value }} state transfers (SST) served by {{ $labels.instance }} (cluster"
            " {{ $labels.cluster }}) failed in the last 30 minutes: the joiner cannot join and"
            " retrying will not help until the cause is fixed. Read the donor's SST errors"
            " (`grep -iE 'sst|state transfer' /var/log/mysql/error.log`) and the joiner's; typical"
            " causes are a full disk, the SST port blocked, wrong SST credentials or a missing"
            " mariabackup.",
        ),
    ),
    (
        "# Galera writes GRA_<thread>_<seqno>[_v2].log when a write-set fails to apply on this node:\n"
        "# its data differed from the cluster's (it then leaves the cluster as inconsistent). Fires\n"
        "# while a GRA log younger than 7 days lies in the datadir. Reads only the newest-mtime\n"
        "# series, which exists only where a GRA log does (the dense file count cost 38 ms of\n"
        "# 1,000 clusters' evaluation in bench/rules_bench.py).",
        alert(
            "GaleraWriteSetApplyFailed",
            "max by (cluster, instance) (\n"
            "  time() - galera_gra_log_newest_timestamp_seconds < 7 * 86400\n)",
            "1m",
            "warning",
            "A Galera node failed to apply a replicated write-set.",
            "{{ $labels.instance }} (cluster {{ $labels.cluster }}) has GRA_*.log file(s) in its"
            " datadir, the newest written {{ $value | humanizeDuration }} ago: it failed to apply a"
            " write-set, so its data differed from the cluster's and it left the cluster as"
            " inconsistent. Read the failed events with `mysqlbinlog -vvv` (see the runbook),"
            " rejoin the node with a full SST from an empty datadir, then move the GRA files out"
            " of the datadir.",
        ),
    ),
]

HEADER = """\
# Alert rules for galera-exporter: each failure scenario of the recovery guide -> one alert
# that names the node(s) and the recovery step, plus the per-node health alerts.
#
# GENERATED by rules/generate.py (the sentences shared by several alerts are written once
# there); edit that file and run `python rules/generate.py`.
#
# Every scenario alert reads the decision model of rules/galera-recording.yml
# (docs/decision-model.md): the scenario per cluster and at most one bootstrap candidate per
# cluster. An alert that tells to bootstrap a node carries the `bootstrap_node` annotation
# (that node's instance), and only then; its twin rule of the same name fires when no node can
# be named and says what to verify first. Every scenario alert carries an `evidence` annotation
# listing each node's state and known position.
#
# Severity: critical = the cluster cannot serve (or is diverging): page. warning = degraded or
# needs action soon. info = expected/planned situation that should not stay forever.
# runbook_url: the base https://github.com/galera-exporter/galera-exporter/blob/main/docs/runbook.md
# is replaced with your own wiki's by one sed (docs/runbook.md#configuration).
# Needs rules/galera-recording.yml.
"""


def quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def render(groups: list[tuple[str, list[tuple[str | None, Alert]]]]) -> str:
    out = [HEADER + "groups:"]
    for name, rules in groups:
        out.append(f"  - name: {name}\n    rules:")
        for comment, a in rules:
            if comment:
                out.append("\n".join("      " + line for line in comment.splitlines()))
            out.append(f"      - alert: {a['alert']}")
            out.append("        expr: |-")
            out.extend("          " + line for line in a["expr"].splitlines())
            out.append(f"        for: {a['for_']}")
            out.append("        labels:")
            out.append(f"          severity: {a['severity']}")
            if a["advice"]:
                out.append(f"          advice: {a['advice']}")
            out.append("        annotations:")
            out.append(f"          summary: {quote(a['summary'])}")
            out.append(f"          description: {quote(a['description'])}")
            if a["bootstrap"]:
                out.append('          bootstrap_node: "{{ $labels.instance }}"')
            if a["evidence"]:
                out.append(f"          evidence: {quote('Nodes: ' + EVIDENCE)}")
            out.append(f"          runbook_url: {BASE}#{a['alert'].lower()}")
    return "\n".join(out) + "\n"


def render_rules(gcache_min_window_hours: float = GCACHE_MIN_WINDOW_HOURS) -> str:
    return render(
        [
            ("galera-scenarios", SCENARIOS),
            ("galera-node-health", NODE_HEALTH),
            ("galera-serving", serving_alerts(gcache_min_window_hours)),
            ("galera-recovery", RECOVERY),
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Write rules/galera-alerts.yml.")
    parser.add_argument(
        "--gcache-min-window-hours",
        type=float,
        default=GCACHE_MIN_WINDOW_HOURS,
        help="GaleraGcacheWindowShort fires below this many hours (default: %(default)g)",
    )
    args = parser.parse_args()
    if not args.gcache_min_window_hours > 0:
        parser.error("--gcache-min-window-hours must be greater than 0")
    Path(__file__).with_name("galera-alerts.yml").write_text(
        render_rules(args.gcache_min_window_hours)
    )
