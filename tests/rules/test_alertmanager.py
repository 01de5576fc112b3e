"""examples/alertmanager.yml in a real Alertmanager: inhibition, one page per cluster, routing.

No Galera cluster is needed: alerts are POSTed to Alertmanager's API with exactly the labels the
rules of rules/galera-alerts.yml produce, and the result is read back from the API
(`status.inhibitedBy`) and from the webhook sink the receivers are pointed at. The test copy of
the example only swaps the receivers for the sink and shortens the grouping timers.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from galera_lab import procs
from galera_lab.sink import read_notifications
from galera_lab.wait import wait_for
from tests.support import yamlfile

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
ALERTS_FILE = REPO / "rules" / "galera-alerts.yml"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"  # Debian's name for the binary
AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"
GROUP_WAIT = 1.0  # seconds, in the test copy only (the example waits 30 s / 5 min)
GROUP_INTERVAL = 2.0

pytestmark = pytest.mark.timeout(300)  # one Alertmanager, ~2000 alerts at most

# ------------------------------------------------------------------------------ the policy
# THE inhibition policy, written out: for every alert of rules/galera-alerts.yml, the alerts of
# the same cluster it hides. A new alert fails test_policy_table_decides_every_alert until it
# is placed here twice: as a source (what it hides) and as a target (who may hide it, or
# NEVER_INHIBITED).
CLUSTER_OUTAGE = (
    "GaleraClusterStopped",
    "GaleraClusterCrashed",
    "GaleraQuorumLost",
    "GaleraClusterPartitioned",
    "GaleraClusterUnobservable",
    "GaleraSplitBrain",
)
# Per-node symptoms the outage critical already states (its `evidence` lists every node).
NODE_NOISE = frozenset(
    {
        "GaleraNodeCrashed",
        "GaleraNodeStopped",
        "GaleraNodeIsolated",
        "GaleraClusterSingleNode",
        "GaleraNodeNotReady",
        "GaleraNodeNotSynced",
        "GaleraBackendNotReady",
        "GaleraBackendDown",
        "GaleraDonorFallingBehind",
        "GaleraFlowControlPaused",
        "GaleraCertificationFailures",
    }
)
NOTHING: frozenset[str] = frozenset()
INHIBITS: dict[str, frozenset[str]] = {
    **dict.fromkeys(CLUSTER_OUTAGE, NODE_NOISE),
    "GaleraBackendDown": frozenset({"GaleraBackendNotReady"}),
    "GaleraNodeCrashed": NOTHING,
    "GaleraNodeUnreachable": NOTHING,  # does NOT hide GaleraExporterDown: see the example
    "GaleraNodeStopped": NOTHING,
    "GaleraClusterSingleNode": NOTHING,
    "GaleraNodeIsolated": NOTHING,
    "GaleraNodeRejoinFailing": NOTHING,
    "GaleraSplitBrainHealed": NOTHING,
    "GaleraClusterUuidConflict": NOTHING,
    "GaleraClusterHistoryReset": NOTHING,
    "GaleraBackendNotReady": NOTHING,
    "GaleraClusterSizeMismatch": NOTHING,
    "GaleraNodeNotReady": NOTHING,
    "GaleraNodeNotSynced": NOTHING,
    "GaleraDonorFallingBehind": NOTHING,
    "GaleraFlowControlPaused": NOTHING,
    "GaleraCertificationFailures": NOTHING,
    "GaleraExporterDown": NOTHING,
    "GaleraExporterCannotQuery": NOTHING,
    "GaleraExporterCollectorFailing": NOTHING,
    "GaleraTargetOutsideJob": NOTHING,
    "GaleraGcacheWindowShort": NOTHING,
    "GaleraStateTransferStalled": NOTHING,
    "GaleraDonorTransfersFailing": NOTHING,
    "GaleraWriteSetApplyFailed": NOTHING,
}
# Planned maintenance hides every other alert of its cluster, the never-inhibited ones too: the
# operator announced the outage. Nothing hides GaleraMaintenance itself.
MAINTENANCE = "GaleraMaintenance"
INHIBITS[MAINTENANCE] = frozenset(INHIBITS) - {MAINTENANCE}
# Alerts nothing may hide: they qualify an outage critical's advice (why no node is named,
# why positions cannot be compared) or need their own action; and every other page.
NEVER_INHIBITED = frozenset(
    {
        *CLUSTER_OUTAGE,
        "GaleraExporterDown",
        "GaleraExporterCannotQuery",
        "GaleraExporterCollectorFailing",
        "GaleraClusterHistoryReset",
        "GaleraSplitBrainHealed",
        "GaleraClusterUuidConflict",
        "GaleraNodeRejoinFailing",
        "GaleraNodeUnreachable",
        "GaleraTargetOutsideJob",
        "GaleraClusterSizeMismatch",
        "GaleraGcacheWindowShort",
        MAINTENANCE,
        # Each needs its own action on that node, outage or not: a transfer to unblock, a
        # donor's SST cause to fix, a node whose data differed (GRA logs).
        "GaleraStateTransferStalled",
        "GaleraDonorTransfersFailing",
        "GaleraWriteSetApplyFailed",
    }
)
# Values for the labels an alert takes from its expression's series (see alert_labels).
SERIES_LABEL_VALUES = {
    "instance": "node1",
    "job": "galera-other",
    "kind": "auth",
    "collector": "grastate",
    "role": "joiner",
}


# ------------------------------------------------------------------------ rules -> alerts
@dataclass(frozen=True)
class Rule:
    """One alerting rule: its name and the label set it gives its alerts."""

    name: str
    series_labels: tuple[str, ...]  # labels of the expression's result, e.g. (cluster, instance)
    static_labels: tuple[tuple[str, str], ...]  # severity, advice

    @property
    def key(self) -> str:
        advice = dict(self.static_labels).get("advice")
        return f"{self.name}[{advice}]" if advice else self.name

    def labels(self, cluster: str, **values: str) -> dict[str, str]:
        labels = {"alertname": self.name, **dict(self.static_labels), "cluster": cluster}
        for label in self.series_labels:
            if label != "cluster":
                labels[label] = values.get(label, SERIES_LABEL_VALUES[label])
        return labels


def series_labels(expr: str) -> tuple[str, ...]:
    """Labels of the expression's result: its leading `max/count by (...)`, or `cluster` for an
    expression that starts from a `cluster:` recording rule. Anything else must be added here
    (the test then fails rather than guessing the alert's labels)."""
    head = expr.lstrip()
    match = re.match(r"(?:max|min|sum|count) by \(([^)]*)\)", head)
    if match:
        return tuple(label.strip() for label in match.group(1).split(","))
    if head.startswith("cluster:"):
        return ("cluster",)
    raise AssertionError(f"cannot tell the labels of an alert whose expression starts {head!r}")


def rules() -> list[Rule]:
    doc = yamlfile.safe_load(ALERTS_FILE.read_text())
    return [
        Rule(
            name=r["alert"],
            series_labels=series_labels(r["expr"]),
            static_labels=tuple(sorted(r.get("labels", {}).items())),
        )
        for group in doc["groups"]
        for r in group["rules"]
        if "alert" in r
    ]


def rule(name: str, advice: str | None = None) -> Rule:
    for candidate in rules():
        if candidate.name == name and dict(candidate.static_labels).get("advice") == advice:
            return candidate
    raise AssertionError(f"no rule {name} with advice={advice}")


def alert(labels: dict[str, str], **annotations: str) -> dict[str, Any]:
    return {"labels": labels, "annotations": annotations}


# ------------------------------------------------------------------- a real Alertmanager
def http(method: str, url: str, body: object = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    # Generous: with the pairwise table Alertmanager computes ~2000 inhibitions per GET, on a
    # machine shared with other test runs.
    with urllib.request.urlopen(request, timeout=120) as response:
        raw = response.read()
    return json.loads(raw) if raw.strip() else None


def config_for_test(webhook_base: str) -> dict[str, Any]:
    """examples/alertmanager.yml with every receiver sent to the sink, and short timers."""
    config: dict[str, Any] = yamlfile.safe_load((EXAMPLES / "alertmanager.yml").read_text())
    config["templates"] = [str(EXAMPLES / t) for t in config["templates"]]
    config["route"]["group_wait"] = f"{GROUP_WAIT:g}s"
    config["route"]["group_interval"] = f"{GROUP_INTERVAL:g}s"
    for route in config["route"].get("routes", []):
        assert "group_by" not in route, "the test assumes every route groups by cluster"
        route.pop("group_wait", None)
        route.pop("group_interval", None)
    config["receivers"] = [
        {
            "name": receiver["name"],
            "webhook_configs": [{"url": webhook_base + receiver["name"], "send_resolved": True}],
        }
        for receiver in config["receivers"]
    ]
    return config


@dataclass
class Alertmanager:
    url: str
    notifications_file: Path

    def post(self, alerts: list[dict[str, Any]]) -> None:
        for start in range(0, len(alerts), 500):
            http("POST", f"{self.url}/api/v2/alerts", alerts[start : start + 500])

    def alerts(self, **labels: str) -> list[dict[str, Any]]:
        """Alerts with these labels (all alerts without), with their inhibition status."""
        query = urllib.parse.urlencode([("filter", f'{k}="{v}"') for k, v in labels.items()])
        result: list[dict[str, Any]] = http("GET", f"{self.url}/api/v2/alerts?{query}")
        return result

    def find(self, **labels: str) -> dict[str, Any]:
        matches = self.alerts(**labels)
        assert len(matches) == 1, f"{len(matches)} alerts match {labels}"
        return matches[0]

    def inhibited(self, **labels: str) -> bool:
        return bool(self.find(**labels)["status"]["inhibitedBy"])

    def silence(self, matcher: str, value: str) -> None:
        now = datetime.now(UTC)
        http(
            "POST",
            f"{self.url}/api/v2/silences",
            {
                "matchers": [{"name": matcher, "value": value, "isRegex": True, "isEqual": True}],
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(hours=1)).isoformat(),
                "createdBy": "test_alertmanager",
                "comment": "pairwise inhibition table: no notifications needed",
            },
        )

    def notifications(self, receiver: str, cluster: str) -> list[dict[str, Any]]:
        """Webhook payloads the sink received for this receiver and cluster's group."""
        found: list[dict[str, Any]] = []
        for payload in read_notifications(self.notifications_file):
            group = payload.get("groupLabels")
            in_group = isinstance(group, dict) and group.get("cluster") == cluster
            if payload.get("receiver") == receiver and in_group:
                found.append(dict(payload))
        return found


def wait_http_ok(what: str, url: str) -> None:
    def probe() -> bool:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)

    wait_for(what, probe, timeout=30)


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    if not Path(ALERTMANAGER).exists():
        pytest.skip(f"{ALERTMANAGER} not installed")
    work = tmp_path_factory.mktemp("alertmanager")
    notifications = work / "notifications.jsonl"
    started: list[procs.Tracked] = []
    try:
        sink_listen = f"127.0.0.1:{procs.free_port()}"
        started.append(
            procs.spawn(
                "sink",
                [
                    sys.executable,
                    "-m",
                    "galera_lab.sink",
                    "--listen",
                    sink_listen,
                    "--out",
                    str(notifications),
                ],
                work / "sink.log",
                env={"PYTHONPATH": str(REPO / "lab")},
            )
        )
        wait_http_ok("webhook sink answers", f"http://{sink_listen}/")

        config = work / "alertmanager.yml"
        config.write_text(
            yaml.safe_dump(config_for_test(f"http://{sink_listen}/"), sort_keys=False)
        )
        checked = subprocess.run(
            [AMTOOL, "check-config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr

        listen = f"127.0.0.1:{procs.free_port()}"
        (work / "data").mkdir()
        started.append(
            procs.spawn(
                "alertmanager",
                [
                    ALERTMANAGER,
                    f"--config.file={config}",
                    f"--storage.path={work / 'data'}",
                    f"--web.listen-address={listen}",
                    "--cluster.listen-address=",  # else it gossips on 0.0.0.0:9094
                ],
                work / "alertmanager.log",
            )
        )
        wait_http_ok("Alertmanager ready", f"http://{listen}/-/ready")
        yield Alertmanager(f"http://{listen}", notifications)
    finally:
        for proc in reversed(started):
            procs.stop(proc)
        for proc in started:
            print(f"--- {proc.name} log (tail)\n{procs.tail(proc.log)}")


def stays(what: str, check: Callable[[], bool], seconds: float) -> None:
    """Assert `check` holds for `seconds` (an absence can only be observed over a window)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        assert check(), f"{what}: broken after {time.monotonic() - started:.2f}s"
        time.sleep(0.2)
    print(f"[window] {what}: held for {seconds:.1f}s", file=sys.stderr)


# --------------------------------------------------------------------------------- tests
def test_policy_table_decides_every_alert() -> None:
    names = {r.name for r in rules()}
    assert set(INHIBITS) == names, (
        f"alerts without an inhibition decision: {sorted(names - set(INHIBITS))}; "
        f"decisions for alerts that do not exist: {sorted(set(INHIBITS) - names)}"
    )
    assert INHIBITS[MAINTENANCE] == names - {MAINTENANCE}
    targets = set().union(*(hidden for name, hidden in INHIBITS.items() if name != MAINTENANCE))
    assert not targets & NEVER_INHIBITED, sorted(targets & NEVER_INHIBITED)
    assert targets | NEVER_INHIBITED == names, (
        f"alerts neither inhibitable nor NEVER_INHIBITED: "
        f"{sorted(names - targets - NEVER_INHIBITED)}"
    )
    # The list: these qualify a critical's advice and are never hidden.
    assert {
        "GaleraExporterDown",
        "GaleraExporterCannotQuery",
        "GaleraClusterHistoryReset",
        "GaleraSplitBrainHealed",
        "GaleraExporterCollectorFailing",
        "GaleraClusterUuidConflict",
        "GaleraTargetOutsideJob",
        "GaleraNodeRejoinFailing",
    } <= NEVER_INHIBITED


def test_outage_hides_node_noise_but_never_the_qualifiers(alertmanager: Alertmanager) -> None:
    noise = rule("GaleraNodeCrashed")
    qualifiers = [
        rule("GaleraExporterDown").labels("prod", instance="node2"),
        rule("GaleraClusterHistoryReset").labels("prod"),
        rule("GaleraSplitBrainHealed").labels("prod"),
        rule("GaleraExporterCollectorFailing").labels("prod", instance="node2"),
        rule("GaleraExporterCannotQuery").labels("prod", instance="node2", kind="timeout"),
        rule("GaleraNodeRejoinFailing").labels("prod", instance="node1"),
    ]
    alertmanager.post(
        [
            alert(rule("GaleraQuorumLost", "verify").labels("prod")),
            alert(noise.labels("prod", instance="node1")),
            *(alert(labels) for labels in qualifiers),
            # Another cluster: prod's outage must not touch it.
            alert(noise.labels("other", instance="node1")),
            alert(rule("GaleraNodeNotSynced").labels("other", instance="node2")),
        ]
    )
    wait_for(
        "GaleraNodeCrashed of prod inhibited by GaleraQuorumLost of prod",
        lambda: alertmanager.inhibited(alertname="GaleraNodeCrashed", cluster="prod"),
        timeout=20,
    )
    source = alertmanager.find(alertname="GaleraQuorumLost", cluster="prod")
    crashed = alertmanager.find(alertname="GaleraNodeCrashed", cluster="prod")
    assert crashed["status"]["inhibitedBy"] == [source["fingerprint"]]
    assert crashed["status"]["state"] == "suppressed"
    for labels in qualifiers:
        found = alertmanager.find(**labels)
        assert found["status"]["inhibitedBy"] == [], f"{labels['alertname']} must stay visible"
        assert found["status"]["state"] == "active", labels
    assert not alertmanager.inhibited(alertname="GaleraNodeCrashed", cluster="other")
    assert not alertmanager.inhibited(alertname="GaleraNodeNotSynced", cluster="other")
    assert not alertmanager.inhibited(alertname="GaleraQuorumLost", cluster="prod")


@pytest.mark.slow  # ~6-8 s: waits out Alertmanager's group timers
def test_cluster_outage_pages_once(alertmanager: Alertmanager) -> None:
    """The guide's "two nodes terminated" as Prometheus sends it, with the warnings around it:
    one page (the critical), one chat notification (the critical + the qualifying warnings),
    per-node noise nowhere, and a later warning updates the chat but never pages again."""
    cluster = "outage"
    critical = rule("GaleraQuorumLost", "bootstrap").labels(cluster, instance="node3")
    qualifiers = [
        rule("GaleraExporterCollectorFailing").labels(cluster, instance="node1"),
        rule("GaleraClusterHistoryReset").labels(cluster),
        rule("GaleraNodeRejoinFailing").labels(cluster, instance="node2"),
    ]
    noise = [
        rule("GaleraNodeCrashed").labels(cluster, instance="node1"),
        rule("GaleraNodeCrashed").labels(cluster, instance="node2"),
        rule("GaleraFlowControlPaused").labels(cluster),
        rule("GaleraNodeStopped").labels(cluster, instance="node2"),  # info: chat-low if shown
    ]
    alertmanager.post(
        [
            alert(critical, bootstrap_node="node3", evidence="Nodes: node1 crashed; ..."),
            *(alert(labels) for labels in qualifiers + noise),
        ]
    )
    page = wait_for(
        "the page for cluster outage",
        lambda: alertmanager.notifications("pager", cluster),
        timeout=30,
    )[0]
    chat = wait_for(
        "the chat notification for cluster outage",
        lambda: alertmanager.notifications("chat", cluster),
        timeout=30,
    )[0]

    def names(notification: dict[str, Any]) -> list[str]:
        return sorted(a["labels"]["alertname"] for a in notification["alerts"])

    assert names(page) == ["GaleraQuorumLost"]
    assert page["alerts"][0]["annotations"]["bootstrap_node"] == "node3"
    assert names(chat) == sorted(["GaleraQuorumLost", *(q["alertname"] for q in qualifiers)])

    # A warning arriving later: the chat group is updated, the pager is not.
    alertmanager.post([alert(rule("GaleraExporterDown").labels(cluster, instance="node1"))])
    update = wait_for(
        "the chat update with GaleraExporterDown",
        lambda: [
            n
            for n in alertmanager.notifications("chat", cluster)
            if "GaleraExporterDown" in names(n)
        ],
        timeout=30,
    )
    assert "GaleraNodeCrashed" not in names(update[0])
    stays(
        "one page, no chat-low notification for cluster outage",
        lambda: (
            len(alertmanager.notifications("pager", cluster)) == 1
            and not alertmanager.notifications("chat-low", cluster)
        ),
        seconds=2 * GROUP_INTERVAL + GROUP_WAIT,
    )


def test_info_and_warning_never_page(alertmanager: Alertmanager) -> None:
    cluster = "maintenance"
    alertmanager.post(
        [
            alert(rule("GaleraNodeStopped").labels(cluster, instance="node2")),
            alert(rule("GaleraClusterSingleNode").labels(cluster, instance="node1")),
        ]
    )
    low = wait_for(
        "the chat-low notification for cluster maintenance",
        lambda: alertmanager.notifications("chat-low", cluster),
        timeout=30,
    )
    assert [a["labels"]["alertname"] for a in low[0]["alerts"]] == ["GaleraNodeStopped"]
    chat = wait_for(
        "the chat notification for cluster maintenance",
        lambda: alertmanager.notifications("chat", cluster),
        timeout=30,
    )
    assert [a["labels"]["alertname"] for a in chat[0]["alerts"]] == ["GaleraClusterSingleNode"]
    assert alertmanager.notifications("pager", cluster) == []


@pytest.mark.slow  # ~6-8 s: waits out Alertmanager's group timers
def test_planned_shutdown_under_maintenance_pages_nothing(alertmanager: Alertmanager) -> None:
    """GaleraMaintenance firing: the full shutdown's critical and every warning of the cluster
    are inhibited, only the maintenance notice reaches chat-low; another cluster still pages."""
    cluster = "planned"
    outage = [
        rule("GaleraClusterStopped", "bootstrap").labels(cluster, instance="node1"),
        rule("GaleraExporterCollectorFailing").labels(cluster, instance="node2"),
        rule("GaleraNodeStopped").labels(cluster, instance="node3"),
    ]
    alertmanager.post([alert(rule(MAINTENANCE).labels(cluster))])
    wait_for(
        "GaleraMaintenance of cluster planned active",
        lambda: alertmanager.alerts(alertname=MAINTENANCE, cluster=cluster),
        timeout=20,
    )
    alertmanager.post([alert(labels) for labels in outage])
    alertmanager.post([alert(rule("GaleraClusterStopped", "verify").labels("unplanned"))])
    wait_for(
        "the page of the unplanned cluster",
        lambda: alertmanager.notifications("pager", "unplanned"),
        timeout=30,
    )
    for labels in outage:
        assert alertmanager.inhibited(**labels), labels["alertname"]
    low = wait_for(
        "the chat-low notice of cluster planned",
        lambda: alertmanager.notifications("chat-low", cluster),
        timeout=30,
    )
    assert [a["labels"]["alertname"] for a in low[0]["alerts"]] == [MAINTENANCE]
    stays(
        "no page and no chat notification for cluster planned",
        lambda: (
            alertmanager.notifications("pager", cluster) == []
            and alertmanager.notifications("chat", cluster) == []
        ),
        3 * GROUP_INTERVAL,
    )


@pytest.mark.slow  # ~6-8 s: waits out Alertmanager's group timers
def test_amtool_silence_recipe_pages_nothing(alertmanager: Alertmanager) -> None:
    """The runbook's recipe for work without the marker (or with the exporters stopped too):
    `amtool silence add cluster=<name>` before the work; nothing of that cluster notifies."""
    cluster = "silenced"
    added = subprocess.run(
        [
            AMTOOL,
            f"--alertmanager.url={alertmanager.url}",
            "silence",
            "add",
            f"cluster={cluster}",
            "--duration=2h",
            "--comment=planned full shutdown (runbook: Planned maintenance)",
            "--author=test",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    alertmanager.post(
        [
            alert(rule("GaleraClusterStopped", "verify").labels(cluster)),
            alert(rule("GaleraExporterDown").labels(cluster, instance="node1")),
        ]
    )
    wait_for(
        "the critical of cluster silenced suppressed",
        lambda: alertmanager.find(alertname="GaleraClusterStopped", cluster=cluster)["status"][
            "silencedBy"
        ],
        timeout=20,
    )
    stays(
        "no notification at all for cluster silenced",
        lambda: (
            not any(
                alertmanager.notifications(receiver, cluster)
                for receiver in ("pager", "chat", "chat-low")
            )
        ),
        3 * GROUP_INTERVAL,
    )


def test_inhibition_of_every_pair_matches_the_policy(alertmanager: Alertmanager) -> None:
    """Every (source, target) pair of distinct rules, each pair alone in its own cluster: the
    target is inhibited exactly when the policy table says so."""
    every = rules()
    alertmanager.silence("cluster", "pair-.*")  # only the inhibition status is read here
    pairs: dict[str, tuple[Rule, Rule]] = {}
    posted = []
    for source in every:
        for target in every:
            if source is target:
                continue
            cluster = f"pair-{len(pairs)}"
            pairs[cluster] = (source, target)
            posted += [alert(source.labels(cluster)), alert(target.labels(cluster))]
    alertmanager.post(posted)
    # Alertmanager's inhibitor reads posted alerts in order: once a pair posted after all the
    # others shows its inhibition, every source before it is known.
    alertmanager.post(
        [
            alert(rule("GaleraQuorumLost", "verify").labels("pair-sentinel")),
            alert(rule("GaleraNodeCrashed").labels("pair-sentinel")),
        ]
    )
    wait_for(
        f"the inhibitor to read all {len(posted)} alerts of {len(pairs)} pairs",
        lambda: alertmanager.inhibited(alertname="GaleraNodeCrashed", cluster="pair-sentinel"),
        timeout=60,
    )
    started = time.monotonic()
    every_alert = alertmanager.alerts()
    print(f"GET /api/v2/alerts: {len(every_alert)} alerts in {time.monotonic() - started:.2f}s")
    by_cluster: dict[str, list[dict[str, Any]]] = {}
    for found in every_alert:
        by_cluster.setdefault(found["labels"]["cluster"], []).append(found)

    wrong = []
    for cluster, (source, target) in pairs.items():
        got = {tuple(sorted(a["labels"].items())): a for a in by_cluster[cluster]}
        source_alert = got[tuple(sorted(source.labels(cluster).items()))]
        target_alert = got[tuple(sorted(target.labels(cluster).items()))]
        inhibited_by = target_alert["status"]["inhibitedBy"]
        expected = target.name in INHIBITS[source.name]
        assert inhibited_by in ([], [source_alert["fingerprint"]]), inhibited_by
        if bool(inhibited_by) != expected:
            wrong.append(f"{source.key} -> {target.key}: expected inhibited={expected}")
    print(f"{len(pairs)} pairs checked")
    assert not wrong, "\n".join(wrong)


def test_template_shows_bootstrap_node_and_evidence(tmp_path: Path) -> None:
    firing = {
        "status": "firing",
        "labels": rule("GaleraQuorumLost", "bootstrap").labels("prod", instance="node3"),
        "annotations": {
            "summary": "Galera cluster lost quorum; one node must be bootstrapped.",
            "description": "Cluster prod has no Primary component.",
            "bootstrap_node": "node3",
            "evidence": "Nodes: node1 crashed; node2 crashed; node3 non_primary, seqno 29 of u",
            "runbook_url": "https://example.com/runbook.md#galeraquorumlost",
        },
        "startsAt": "2026-12-02T05:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
    }
    # A resolved alert's node must never read as advice.
    resolved = {
        **firing,
        "status": "resolved",
        "labels": rule("GaleraClusterCrashed", "bootstrap").labels("prod", instance="node2"),
        "annotations": {**firing["annotations"], "bootstrap_node": "node2"},  # type: ignore[dict-item]
        "endsAt": "2026-12-02T05:01:00Z",
    }
    data = {
        "receiver": "pager",
        "status": "firing",
        "alerts": [firing, resolved],
        "groupLabels": {"cluster": "prod"},
        "commonLabels": {"cluster": "prod", "severity": "critical"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.com",
    }
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    rendered = {}
    for name in ("galera.title", "galera.text", "galera.html"):
        result = subprocess.run(
            [
                AMTOOL,
                "template",
                "render",
                "--template.glob=galera.tmpl",
                f"--template.data={path}",
                f'--template.text={{{{ template "{name}" . }}}}',
            ],
            cwd=EXAMPLES,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        rendered[name] = result.stdout
    print(rendered["galera.text"])
    assert rendered["galera.title"].strip().endswith("BOOTSTRAP: node3")
    assert "Galera cluster prod" in rendered["galera.title"]
    assert ">>> BOOTSTRAP: node3 <<<" in rendered["galera.text"]
    assert "BOOTSTRAP: node3" in rendered["galera.html"]
    for text in rendered.values():
        assert "BOOTSTRAP: node2" not in text
    assert "Evidence: Nodes: node1 crashed" in rendered["galera.text"]
    assert "Evidence:</i> Nodes: node1 crashed" in rendered["galera.html"]
    assert "Runbook: https://example.com/runbook.md#galeraquorumlost" in rendered["galera.text"]
