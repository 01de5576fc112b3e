"""On a real 3-node lab (127.0.0.121-123): the clustercheck-style endpoint, and a planned full
shutdown under the maintenance marker that pages nothing at a real Alertmanager (with the
inhibit rules of examples/alertmanager.yml), then pages once the marker is gone.

The lab's Prometheus loads rules/ with `for:` capped at 15 s (as tests/e2e does); a "page" is
any firing critical or warning notification at the Alertmanager webhook sink.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from galera_lab.lab import Lab, running_lab
from galera_lab.node import Node
from galera_lab.sink import read_notifications
from galera_lab.wait import wait_for
from tests.e2e.conftest import rules_with_capped_for
from tests.support import yamlfile
from tests.support.tiers import starts_real_galera

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [pytest.mark.timeout(900)]

BASE_ADDRESS = "127.0.0.121"  # this work's block: 127.0.0.121-123
REPO = Path(__file__).resolve().parents[2]
SERVING_PATH = "/clustercheck"


def marker(node: Node) -> Path:
    return node.dir / "maintenance"


def exporter_args(node: Node) -> list[str]:
    return [f"--web.serving-path={SERVING_PATH}", f"--maintenance.file={marker(node)}"]


@pytest.fixture(scope="module")
@starts_real_galera
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    example = yamlfile.safe_load((REPO / "examples" / "alertmanager.yml").read_text())
    started = time.monotonic()
    with running_lab(
        tmp_path_factory.mktemp("serving"),
        BASE_ADDRESS,
        cluster_name="galera_serving",
        rules_dir=rules_with_capped_for(tmp_path_factory.mktemp("serving-rules")),
        exporter_args=exporter_args,
        inhibit_rules=example["inhibit_rules"],
    ) as running:
        for node in running.cluster.nodes:  # no real back-end: its readiness line
            running.stack.backend_started(node)
        print(f"[serving] lab up in {time.monotonic() - started:.1f}s", file=sys.stderr)
        yield running


def check(lab: Lab, node: Node) -> tuple[int, str]:
    url = f"http://{lab.stack.exporters[node.name]}{SERVING_PATH}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def firing(lab: Lab, name: str) -> list[dict[str, Any]]:
    return [
        a
        for a in lab.stack.alerts()
        if a["labels"]["alertname"] == name and a["state"] == "firing"  # type: ignore[index]
    ]


def am_alerts(lab: Lab, name: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode([("filter", f'alertname="{name}"')])
    url = f"{lab.stack.urls['alertmanager']}/api/v2/alerts?{query}"
    with urllib.request.urlopen(url, timeout=30) as response:
        result: list[dict[str, Any]] = json.loads(response.read())
    return result


def pages(lab: Lab, since: int) -> list[str]:
    """Firing critical/warning alerts in the sink's notifications after the first `since`."""
    found = []
    for payload in read_notifications(lab.stack.notifications_file)[since:]:
        alerts: list[dict[str, Any]] = payload.get("alerts", [])  # type: ignore[assignment]
        for item in alerts:
            labels = item["labels"]
            if item["status"] == "firing" and labels.get("severity") in ("critical", "warning"):
                found.append(labels["alertname"])
    return found


def timed(what: str, probe: Any, timeout: float, started: float) -> Any:
    result = wait_for(what, probe, timeout, interval=0.5)
    print(f"[serving] {what}: {time.monotonic() - started:.1f}s after the step", file=sys.stderr)
    return result


def test_endpoint_200_when_synced_503_when_non_primary(lab: Lab) -> None:
    lab.reset()
    for node in lab.cluster.nodes:
        status, body = check(lab, node)
        assert (status, body) == (200, "Galera node is synced.\n"), node.name
        assert lab.stack.scrape(node).get("galera_node_serving") == 1
    isolated, peers = lab.node(1), lab.cluster.nodes[1:]
    started = time.monotonic()
    lab.scenario("one-isolated")
    status, body = timed(
        f"{isolated.name}'s endpoint answering 503",
        lambda: (s := check(lab, isolated))[0] == 503 and s,
        60,
        started,
    )
    assert "non-PRIM" in body
    scraped = lab.stack.scrape(isolated)
    assert scraped.get("galera_node_serving") == 0
    assert scraped.get("galera_node_serving_reason", reason="non_primary") == 1
    for node in peers:
        assert check(lab, node)[0] == 200, f"{node.name} still serves"
    lab.reset()
    wait_for("node1 serving again", lambda: check(lab, isolated)[0] == 200, 120, interval=0.5)


def test_planned_full_shutdown_pages_only_without_maintenance(lab: Lab) -> None:
    lab.reset()
    wait_for(
        "no alert active before the test",
        lambda: not lab.stack.alerts(),
        180,
        interval=1.0,
    )
    for node in lab.cluster.nodes:
        marker(node).write_text("planned full shutdown (test)\n")
    started = time.monotonic()
    timed("GaleraMaintenance firing", lambda: firing(lab, "GaleraMaintenance"), 60, started)
    timed(
        "GaleraMaintenance at Alertmanager",
        lambda: am_alerts(lab, "GaleraMaintenance"),
        60,
        started,
    )
    before = len(read_notifications(lab.stack.notifications_file))

    started = time.monotonic()
    lab.scenario("all-stopped")
    timed("GaleraClusterStopped firing", lambda: firing(lab, "GaleraClusterStopped"), 120, started)
    timed(
        "GaleraClusterStopped inhibited at Alertmanager",
        lambda: (
            (found := am_alerts(lab, "GaleraClusterStopped"))
            and all(a["status"]["inhibitedBy"] for a in found)
        ),
        60,
        started,
    )
    # Notifications go out within group_wait (1 s) of an alert's arrival: hold for 15 s more.
    window_end = time.monotonic() + 15
    while time.monotonic() < window_end:
        assert pages(lab, before) == [], "a planned shutdown under maintenance paged"
        time.sleep(0.5)
    active = sorted({a["labels"]["alertname"] for a in lab.stack.alerts()})  # type: ignore[index]
    print(f"[serving] firing/pending under maintenance, none paged: {active}", file=sys.stderr)
    assert "GaleraClusterStopped" in active

    # The same shutdown without the marker: the page arrives.
    for node in lab.cluster.nodes:
        marker(node).unlink()
    started = time.monotonic()
    paged = timed(
        "the GaleraClusterStopped page once the marker is gone",
        lambda: [p for p in pages(lab, before) if p == "GaleraClusterStopped"],
        60,
        started,
    )
    assert paged
    lab.reset()
