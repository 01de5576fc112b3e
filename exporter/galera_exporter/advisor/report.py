"""From the scrapes to the report: NodeFacts, decide(), the steps and the exit status.

No decision logic lives here: the scenario and the node named are decide()'s; the texts are
galera_exporter.advice's (the alerts' own sentences).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from galera_exporter import advice
from galera_exporter.advisor import settings
from galera_exporter.advisor.fetch import Scrape
from galera_exporter.advisor.history import History
from galera_exporter.decision import Decision, NodeFacts, Samples, decide, facts_from_samples

# Exit status by scenario (docs/advisor.md): 0 healthy, 1 degraded but serving, 2 an operator
# must act (the steps say how, or what to verify first), 3 cannot tell what the cluster is.
EXIT_STATUS = {
    "healthy": 0,
    "degraded": 1,
    "split_brain": 2,
    "partitioned": 2,
    "quorum_lost": 2,
    "stopped": 2,
    "crashed": 2,
    "unobservable": 3,
    "uuid_conflict": 3,
}
EXIT_USAGE = settings.EXIT_USAGE
NO_PROMETHEUS = "no --prometheus.url given"


def verify_history_step(cluster: str, node: str, why_unknown: str) -> str:
    """The step before any bootstrap the advisor names while the 24-hour history is unknown.

    The rules name no node for 24 h after a split brain (its sides share a UUID, not their
    data); a healed split brain leaves nothing on the nodes. Refusing to name a node whenever
    Prometheus is out of reach would leave the operator with nothing exactly when the advisor
    is needed, so it names the node the nodes' evidence supports and puts this check first.
    """
    return (
        f"Verify first that cluster {cluster} had no split brain in the last 24 hours; the"
        f" advisor cannot tell ({why_unknown}). Look for GaleraSplitBrain or"
        " GaleraSplitBrainHealed in the alert history (Alertmanager, pager, mail) and ask"
        " whether anyone bootstrapped a node while others were running. If it had one, do NOT"
        f" bootstrap {node}: the two sides' seqnos cannot be compared; choose the side to keep"
        " deliberately (runbook: GaleraSplitBrainHealed). If it had none, go on with the next"
        " step."
    )


BACKEND_DOWN = (
    "No back-end is ready on any node although the database is Primary (GaleraBackendDown):"
    " check the back-end services on the nodes."
)


@dataclass(frozen=True)
class NodeReport:
    name: str
    url: str
    state: str
    error: str | None  # why the page could not be read
    seconds: float
    facts: NodeFacts
    local_state: str | None
    backend_ready: bool | None

    def why(self) -> str | None:
        """Why the node is not observed: the fetch error, or the exporter's mysql error kind."""
        return self.error or (None if self.facts.mysql_up else self.facts.mysql_error)

    def observed(self) -> dict[str, Any]:
        f = self.facts
        recovered = (
            f"{f.recovered_uuid}:{f.recovered_seqno}"
            if f.recovered_uuid and f.recovered_seqno is not None
            else None
        )
        return {
            "mysqld_up": f.mysql_up,
            "mysql_error": f.mysql_error,
            "cluster_status": f.cluster_status,
            "cluster_size": f.cluster_size,
            "local_state": self.local_state,
            "cluster_state_uuid": f.cluster_state_uuid,
            "last_committed": f.last_committed,
            "grastate_uuid": f.grastate_uuid,
            "grastate_seqno": f.grastate_seqno,
            "safe_to_bootstrap": f.safe_to_bootstrap,
            "gvwstate_present": f.gvwstate_present,
            "recovered_position": recovered,
            "sst_in_progress": f.sst_in_progress,
            "backend_ready": self.backend_ready,
        }


@dataclass(frozen=True)
class Report:
    cluster: str
    decision: Decision
    nodes: tuple[NodeReport, ...]
    steps: tuple[str, ...]
    notes: tuple[str, ...]
    seconds: float
    split_brain_24h: bool | None = None  # None: unknown, see why_unknown
    why_unknown: str | None = NO_PROMETHEUS

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.decision.scenario]

    def to_json(self) -> dict[str, Any]:
        d = self.decision
        nodes = []
        for node in self.nodes:
            position = d.positions.get(node.name)
            nodes.append(
                {
                    "name": node.name,
                    "url": node.url,
                    "state": node.state,
                    "error": node.error,
                    "fetch_seconds": round(node.seconds, 3),
                    "position": (
                        {"uuid": position.uuid, "seqno": position.seqno} if position else None
                    ),
                    "position_unknown": node.name in d.unknown,
                    "observed": node.observed() if node.error is None else None,
                }
            )
        return {
            "scenario": d.scenario,
            "bootstrap_node": d.candidate,
            "force": d.force,
            "steps": list(self.steps),
            "notes": list(self.notes),
            "split_brain_24h": self.split_brain_24h,
            "split_brain_24h_unknown_because": self.why_unknown,
            "cluster": self.cluster,
            "exit_status": self.exit_status,
            "nodes": nodes,
        }

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2)


def _one(samples: Samples, metric: str, label: str) -> str | None:
    return next(
        (dict(lab).get(label) for (n, lab), v in samples.items() if n == metric and v == 1), None
    )


def build(
    scrapes: Sequence[Scrape],
    cluster: str = "",
    seconds: float = 0.0,
    past: History | None = None,
) -> Report:
    nodes_facts = []
    extra: dict[str, tuple[str | None, bool | None, str | None]] = {}
    checked = []
    for given in scrapes:
        s = given
        try:
            facts = facts_from_samples(
                s.target.name, s.samples or {}, scraped=s.samples is not None
            )
        except KeyError as err:  # a series without the label the model reads: not trusted
            s = replace(s, samples=None, error=f"malformed galera-exporter page (no label {err})")
            facts = facts_from_samples(s.target.name, {}, scraped=False)
        checked.append(s)
        samples = s.samples or {}
        nodes_facts.append(facts)
        ready = samples.get(("galera_backend_ready", ()))
        extra[s.target.name] = (
            _one(samples, "galera_local_state", "state"),
            None if ready is None else ready == 1,
            _one(samples, "galera_status_info", "cluster_name"),
        )
    names = [name for n in nodes_facts if (name := extra[n.name][2])]
    known_name = cluster or (names[0] if names else "")
    cluster = known_name or "(name unknown)"
    split_brain_24h, why_unknown = past.lookup(known_name) if past else (None, NO_PROMETHEUS)
    # The rules' 24-hour memory when Prometheus gave it; unknown decides as "none", and the
    # verify step below says so whenever that lets a node be named.
    remembered = bool(split_brain_24h)
    decision = decide(nodes_facts, split_brain_24h=remembered)
    reports = tuple(
        NodeReport(
            name=f.name,
            url=s.target.url,
            state=decision.states[f.name],
            error=s.error,
            seconds=s.seconds,
            facts=f,
            local_state=extra[f.name][0],
            backend_ready=extra[f.name][1],
        )
        for s, f in zip(checked, nodes_facts, strict=True)
    )
    primary = [f for f in nodes_facts if decision.states[f.name] == "primary"]
    steps = advice.steps(
        decision,
        cluster,
        split_brain_24h=remembered,
        sides={f.name: f.members or "" for f in primary},
        histories={f.name: f.cluster_state_uuid or "" for f in primary},
        why={r.name: w for r in reports if (w := r.why())},
    )
    if decision.candidate and split_brain_24h is None:
        steps.insert(0, verify_history_step(cluster, decision.candidate, why_unknown or ""))
    notes = []
    if primary and not any(extra[f.name][1] for f in primary):
        notes.append(BACKEND_DOWN)
    return Report(
        cluster,
        decision,
        reports,
        tuple(steps),
        tuple(notes),
        seconds,
        split_brain_24h,
        why_unknown if split_brain_24h is None else None,
    )


# ------------------------------------------------------------------------------ as text
def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


COLUMNS = (
    "NODE",
    "MYSQLD",
    "STATUS",
    "SIZE",
    "LOCAL",
    "SEQNO",
    "SAFE",
    "GVWSTATE",
    "RECOVERED",
    "BACKEND",
    "STATE",
)


def _row(node: NodeReport) -> tuple[str, ...]:
    f = node.facts
    if node.error is not None:
        return (node.name, "?", "", "", "", "", "", "", "", "", node.state)
    if f.mysql_up:
        mysqld = "up"
    elif f.mysql_error == "refused":
        mysqld = "down (refused)"
    else:  # running or hung, but not answering the exporter: auth, timeout, ...
        mysqld = f"no answer ({f.mysql_error or '?'})"
    recovered = f"{f.recovered_seqno}" if f.recovered_seqno is not None else None
    backend = None if node.backend_ready is None else ("ready" if node.backend_ready else "no")
    return (
        node.name,
        mysqld,
        _cell(f.cluster_status),
        _cell(f.cluster_size),
        _cell(node.local_state),
        _cell(f.grastate_seqno),
        _cell(f.safe_to_bootstrap),
        "present" if f.gvwstate_present else ("absent" if f.gvwstate_present is False else "?"),
        _cell(recovered),
        _cell(backend),
        node.state,
    )


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def text(report: Report) -> str:
    d = report.decision
    lines = [
        f"Cluster {report.cluster}: {len(report.nodes)} nodes read in {report.seconds:.2f} s",
        "",
    ]
    lines += _table([COLUMNS, *(_row(n) for n in report.nodes)])
    problems = [f"  {n.name} ({n.url}): {n.error}" for n in report.nodes if n.error]
    if problems:
        lines += ["", "Not observed:", *problems]
    if report.split_brain_24h is None:
        history = f"unknown ({report.why_unknown})"
    else:
        history = "yes" if report.split_brain_24h else "no"
    lines += ["", advice.evidence(d), f"Split brain in the last 24 h: {history}", ""]
    lines.append(f"Scenario: {d.scenario}")
    if d.candidate:
        forced = " (force safe_to_bootstrap first)" if d.force else ""
        unverified = (
            " - only once a split brain in the last 24 h is ruled out (first step)"
            if report.split_brain_24h is None
            else ""
        )
        lines.append(f"Bootstrap node: {d.candidate}{forced}{unverified}")
    else:
        lines.append("Bootstrap node: none named")
    lines.append("Next step:" if len(report.steps) == 1 else "Next steps:")
    lines += [f"  - {step}" for step in report.steps]
    lines += [f"Note: {note}" for note in report.notes]
    return "\n".join(lines)


def exit_meaning(status: int) -> str:
    meanings: Mapping[int, str] = {
        0: "healthy",
        1: "degraded but serving",
        2: "action needed",
        3: "cannot tell",
        EXIT_USAGE: "usage or config error",
    }
    return meanings[status]
