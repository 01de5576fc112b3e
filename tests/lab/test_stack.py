"""The monitoring stack around the shared lab: Prometheus scrapes every exporter with a
`cluster` label, loads the rules, Alertmanager delivers to the sink, the exporter account is
least-privilege."""

from __future__ import annotations

import json
import stat
import urllib.request
from typing import cast

import pytest

from galera_lab.lab import Lab
from galera_lab.stack import EXPORTER_USER
from galera_lab.wait import wait_for

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [pytest.mark.timeout(120)]


def test_prometheus_scrapes_every_exporter_with_cluster_label(lab: Lab) -> None:
    wait_for("Prometheus reports all exporter targets up", lab.stack.targets_up, 30, 0.5)

    def three_series() -> list[dict[str, object]] | None:
        r = lab.stack.query('galera_up{cluster="galera_lab_test"}')
        return r if len(r) == 3 else None

    result = wait_for("galera_up for every node in Prometheus", three_series, 30, 0.5)
    # Prometheus' query API: each series' "metric" is its label set, label name -> value.
    labels = [cast(dict[str, str], series["metric"]) for series in result]
    nodes = sorted(str(series["node"]) for series in labels)
    assert nodes == ["node1", "node2", "node3"]
    instances = {str(series["instance"]).rsplit(":", 1)[0] for series in labels}
    assert instances == {node.spec.address for node in lab.cluster.nodes}


def test_prometheus_loads_the_repo_rules(lab: Lab) -> None:
    with urllib.request.urlopen(lab.stack.urls["prometheus"] + "/api/v1/rules", timeout=5) as r:
        groups = json.load(r)["data"]["groups"]
    loaded = {group["file"] for group in groups}
    assert loaded == set(lab.stack.rule_files)
    assert all("/tests/" not in path for path in loaded)


def test_alertmanager_delivers_to_the_sink(lab: Lab) -> None:
    alert = [
        {
            "labels": {
                "alertname": "LabSinkCheck",
                "cluster": "galera_lab_test",
                "severity": "none",
            },
            "annotations": {"summary": "posted by test_stack"},
        }
    ]
    request = urllib.request.Request(
        lab.stack.urls["alertmanager"] + "/api/v2/alerts",
        data=json.dumps(alert).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5):
        pass

    def delivered() -> bool:
        # Alertmanager's webhook body: "alerts" is a list of alerts, each with a "labels" map.
        return any(
            a["labels"]["alertname"] == "LabSinkCheck"
            for n in lab.stack.notifications()
            for a in cast(list[dict[str, dict[str, str]]], n.get("alerts", []))
        )

    wait_for("the sink records Alertmanager's notification", delivered, 30, 0.25)


def test_exporter_account_is_least_privilege(lab: Lab) -> None:
    grants = [
        str(row[0]) for row in lab.node(1).query(f"SHOW GRANTS FOR '{EXPORTER_USER}'@'localhost'")
    ]
    assert len(grants) == 1 and grants[0].startswith("GRANT USAGE ON *.*"), grants
    for node in lab.cluster.nodes:
        option_file = lab.stack.option_file(node)
        assert stat.S_IMODE(option_file.stat().st_mode) == 0o600
        assert "password = " in option_file.read_text()
        assert lab.stack.scrape(node).get("galera_up") == 1
