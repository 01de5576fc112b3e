"""The PromQL the dashboards run: selectors, coded states, scenario and alert expressions."""

from __future__ import annotations

from pathlib import Path

import yaml

from galera_dashboards.codes import FORCE_CODES, SCENARIOS, UNKNOWN_SCENARIO, anchor

ALERT_RULES = Path(__file__).resolve().parents[2] / "rules" / "galera-alerts.yml"

# Filters every selector carries.
C = 'cluster="$cluster"'
CI_MULTI = 'cluster="$cluster", instance=~"$instance"'  # overview: instance is multi-select
CI_ONE = 'cluster="$cluster", instance="$instance"'  # node detail: one node

# Panels that must see every node of the cluster whatever the instance selection; their
# selectors are filtered by cluster only (tests/dashboards knows this list).
CLUSTER_WIDE_PANELS = frozenset(
    {
        "Guide scenario",
        "Bootstrap candidate",
        "Bootstrap evidence",
        "Primary components",
        "Primary component size",
        "Galera alerts firing",
        "Firing Galera alerts",
    }
)


def node_state_expr(sel: str) -> str:
    """One series per node, valued with the state code of instance:galera_node:state.

    `max by (instance)` only drops the `state` label (one series per node: a state change is
    then a new value, not a new series); the rule records exactly one state per node.
    """
    return f"max by (instance) (instance:galera_node:state{{{sel}}})"


def cluster_status_expr(sel: str) -> str:
    codes = {"Primary": 1, "non-Primary": 2, "Disconnected": 3}
    terms = [
        f'(galera_cluster_status{{{sel}, status="{status}"}} == 1) * {code}'
        for status, code in codes.items()
    ]
    terms.append(f"(galera_up{{{sel}}} == 0) * 0")  # mysqld down: no status series at all
    return "max by (instance) (\n    " + "\n  or ".join(terms) + "\n)"


def local_state_expr(sel: str) -> str:
    return (
        f"max by (instance) (\n    galera_local_state_code{{{sel}}}\n"
        f"  or (galera_up{{{sel}}} == 0) - 1\n)"
    )


def recovery_phase_expr(sel: str) -> str:
    """One series per node: the highest-priority phase whose evidence exists (`or` keeps the
    first term's series for an instance). Reads series that exist only in that phase."""
    terms = [
        # Per node: both sides keep only `instance` (no join across nodes).
        f'(max by (instance) (galera_status_file_messages{{{sel}, level="error", kind="sst"}})'
        f' and max by (instance) (galera_status_file_state_info{{{sel}, state="JOINING"}}))'
        " * 0 + 7",
        f'max by (instance) (galera_status_file_transfer{{{sel}, role="joiner", kind="sst"}}'
        f" or galera_sst_in_progress{{{sel}}} == 1) * 0 + 6",
        f'max by (instance) (galera_status_file_transfer{{{sel}, role="joiner", kind="ist"}})'
        " * 0 + 5",
        f'max by (instance) (galera_status_file_transfer{{{sel}, role="donor"}}) * 0 + 4',
        f'max by (instance) (galera_status_file_state_info{{{sel}, state="JOINED"}}) * 0 + 3',
        f'max by (instance) (galera_status_file_state_info{{{sel}, state="SYNCED"}}) * 0 + 2',
        f"max by (instance) (galera_status_file_state_info{{{sel}}}) * 0 + 1",
        f"max by (instance) (galera_status_file_present{{{sel}}} == 0) * 0",
    ]
    return "\n  or ".join(terms)


def scenario_expr() -> str:
    """cluster:galera_scenario:info as a code (SCENARIOS) with the runbook anchor as a label.

    Presentation only: each term picks one value of the recorded `scenario` label, so the
    panel can map it to a text and a colour and link its runbook heading. A scenario this
    dashboard does not know still shows (code -1, the `scenario` label as its legend).
    """
    terms = [
        f'label_replace(cluster:galera_scenario:info{{{C}, scenario="{name}"}} * {s.code},\n'
        f'    "anchor", "{anchor(s.alert) if s.alert else ""}", "", "")'
        for name, s in SCENARIOS.items()
    ]
    terms.append(
        f"label_replace(cluster:galera_scenario:info{{{C}}} * 0 - {-UNKNOWN_SCENARIO.code},\n"
        '    "anchor", "", "", "")'
    )
    # `or on (cluster)`: the first term that has the cluster wins; the fallback comes last.
    return "\n  or on (cluster)\n".join(terms)


def force_coded(metric: str, sel: str, by: str = "") -> str:
    """The bootstrap candidate with its `force` label as the value (FORCE_CODES)."""
    agg = f"max by ({by}) " if by else ""
    return "\nor\n".join(
        f'{agg}({metric}{{{sel}, force="{force}"}} * {code})' for force, code in FORCE_CODES.items()
    )


CANDIDATE = "instance:galera_bootstrap_candidate:bool"


def candidate_expr() -> str:
    """THE node to bootstrap, read from the rule: no series means no node is named."""
    return force_coded(CANDIDATE, C)


def position_status_expr() -> str:
    """Per node: 0 position known, 1 covered by a running survivor, 2 unknown (POSITION_MAP).

    Three recorded series side by side; nodes in a Primary component have none of them.
    """
    return (
        f"max by (instance) (instance:galera_position:seqno{{{C}}}) * 0\n"
        f"or max by (instance) (instance:galera_position_covered:bool{{{C}}})\n"
        f"or max by (instance) (instance:galera_position_unknown:bool{{{C}}}) * 2"
    )


def alert_names() -> list[str]:
    """Alert names defined in rules/galera-alerts.yml, in file order."""
    data = yaml.safe_load(ALERT_RULES.read_text())
    return [
        str(rule["alert"])
        for group in data.get("groups", [])
        for rule in group.get("rules", [])
        if "alert" in rule
    ]


# The ALERTS labels the firing-alerts table shows (ALERTS has no annotations), in this order;
# `kind`: GaleraExporterCannotQuery's reason, `collector`: GaleraExporterCollectorFailing's.
ALERT_COLUMNS = ("severity", "alertname", "instance", "advice", "kind", "collector", "anchor")


def firing_alerts_expr() -> str:
    """Firing Galera alerts with an `anchor` label: the runbook heading (alertname lowercased).

    ALERTS carries no annotations and Grafana has no lowercase formatter for data links, so the
    anchor is added here, one label_replace per known alert; an unknown Galera* alert gets an
    empty anchor (the runbook's top).
    """
    expr = f'ALERTS{{alertname=~"Galera.*", alertstate="firing", {C}}}'
    for name in alert_names():
        expr = f'label_replace({expr},\n  "anchor", "{anchor(name)}", "alertname", "{name}")'
    return expr
