"""A real Prometheus evaluating the shipped GaleraStateTransferStalled with shortened windows,
scraping one joiner's exporter every second (tests/integration/test_{sst,ist}_stall.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from galera_lab.wait import wait_for
from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
ALERT = "GaleraStateTransferStalled"


def _rules(name: str) -> list[dict[str, Any]]:
    groups = yaml.safe_load((REPO / "rules" / name).read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def stall_rule_file(
    directory: Path, shorten: Callable[[str], str], recorded_inputs: Sequence[str] = ()
) -> Path:
    """rules/galera-alerts.yml's alert with `shorten` applied to its expression and `for: 5s`,
    after the recording rules it reads (taken from rules/galera-recording.yml, in their order
    there, in the same group so each evaluation sees this cycle's values)."""
    (rule,) = [r for r in _rules("galera-alerts.yml") if r.get("alert") == ALERT]
    inputs = [r for r in _rules("galera-recording.yml") if r.get("record") in recorded_inputs]
    assert [r["record"] for r in inputs] == list(recorded_inputs)
    short = {
        "alert": ALERT,
        "expr": shorten(rule["expr"]),
        "for": "5s",
        "labels": rule["labels"],
    }
    path = directory / "stall.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "stall", "rules": [*inputs, short]}]}))
    return path


class StallPrometheus:
    """/usr/bin/prometheus on a free port of `address`, scraping `target` every second."""

    def __init__(self, directory: Path, address: str, target: str, rule_file: Path) -> None:
        self.url = f"http://{address}:{free_port(address)}"
        config = directory / "prometheus.yml"
        targets = [{"targets": [target], "labels": {"cluster": "lab"}}]
        scrape = {"job_name": "galera", "static_configs": targets}
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(rule_file)],
                    "scrape_configs": [scrape],
                }
            )
        )
        with open(directory / "prometheus.log", "ab") as log:
            self.proc = subprocess.Popen(
                [
                    "/usr/bin/prometheus",
                    f"--config.file={config}",
                    f"--storage.tsdb.path={directory / 'data'}",
                    f"--web.listen-address={self.url.removeprefix('http://')}",
                ],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        wait_for("prometheus ready", self._ready, 30, 0.1)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stall_alert(self) -> tuple[str, dict[str, str]]:
        """('firing' | 'pending' | '', labels) of the stall alert."""
        with urllib.request.urlopen(f"{self.url}/api/v1/alerts", timeout=5) as response:
            alerts = json.load(response)["data"]["alerts"]
        for alert in alerts:
            if alert["labels"]["alertname"] == ALERT:
                return str(alert["state"]), dict(alert["labels"])
        return "", {}

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
