"""Waiting for alerts in Prometheus and notifications at the Alertmanager webhook sink."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from galera_lab.lab import Lab
from galera_lab.node import Node
from galera_lab.wait import wait_for

READY_LINE = "2026-11-27 10:00:00 INFO SMTP Service started plain:10025//127.0.0.1"
RESET_LINE = "2026-11-27 10:00:00 INFO SMTP Service handler hello name is gateway"
RUNBOOK = "https://github.com/galera-exporter/galera-exporter/blob/main/docs/runbook.md#"
RESULTS: list[dict[str, Any]] = []  # one row per checked alert, printed at the end


def backend_log(node: Node) -> Path:
    return node.dir / "backend.log"


def ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"rc {result.returncode}\n{result.stdout}\n{result.stderr}"


def instance(lab: Lab, number: int) -> str:
    """The instance label Prometheus gives node `number`'s exporter."""
    return lab.stack.exporters[lab.node(number).name]


def _matches(labels: dict[str, str], want: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in want.items())


@dataclass
class Watch:
    """One scenario: the fault time, and every alert name seen firing since."""

    lab: Lab
    scenario: str
    started: float = field(default_factory=time.monotonic)
    seen_firing: set[str] = field(default_factory=set)
    seen_active: set[str] = field(default_factory=set)
    row: dict[str, Any] = field(default_factory=dict)
    fault_active: set[str] = field(default_factory=set)  # active before the runbook step
    # bootstrap_node annotations seen on any active alert (pending or firing), by alert name
    named: dict[str, set[str]] = field(default_factory=dict)
    # polls where active alerts named more than one node for a bootstrap at once
    named_at_once: list[set[str]] = field(default_factory=list)

    def fault_phase_done(self) -> None:
        """The alert is there; what was active until now is the fault's doing alone."""
        self._poll()
        self.fault_active = set(self.seen_active)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _poll(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self.lab.stack.alerts()
        at_once: set[str] = set()
        for alert in alerts:
            name = alert["labels"]["alertname"]
            self.seen_active.add(name)
            if alert["state"] == "firing":
                self.seen_firing.add(name)
            node = alert.get("annotations", {}).get("bootstrap_node")
            if node is not None:
                self.named.setdefault(name, set()).add(node)
                at_once.add(node)
        if len(at_once) > 1:
            self.named_at_once.append(at_once)
        return alerts

    def poll(self) -> None:
        """Record what is active now (for waits on something other than an alert)."""
        self._poll()

    def named_nodes(self) -> set[str]:
        """Every node any alert named for a bootstrap since the fault."""
        return set().union(*self.named.values()) if self.named else set()

    def alert(
        self, name: str, labels: dict[str, str], state: str = "firing", timeout: float = 150.0
    ) -> dict[str, Any]:
        """Wait until Prometheus shows alert `name` with `labels` in `state`; return it."""

        def probe() -> dict[str, Any] | None:
            for alert in self._poll():
                if (
                    alert["labels"]["alertname"] == name
                    and alert["state"] == state
                    and _matches(alert["labels"], labels)
                ):
                    return alert
            return None

        found = wait_for(f"{name} {labels} {state} in Prometheus", probe, timeout, interval=1.0)
        self.row = {
            "scenario": self.scenario,
            "alert": name + (f"/{labels['advice']}" if "advice" in labels else ""),
            "state": state,
            "fired": self.elapsed(),
            "bootstrap_node": found.get("annotations", {}).get("bootstrap_node", "-"),
        }
        RESULTS.append(self.row)
        return found

    def notification(
        self, name: str, labels: dict[str, str], status: str = "firing", timeout: float = 60.0
    ) -> dict[str, Any]:
        """Wait for the webhook sink to receive `name` with `labels` and a runbook_url."""

        def probe() -> dict[str, Any] | None:
            for payload in self.lab.stack.notifications():
                for alert in cast(list[dict[str, Any]], payload.get("alerts", [])):
                    if (
                        alert["labels"].get("alertname") == name
                        and alert["status"] == status
                        and _matches(alert["labels"], labels)
                        and alert["startsAt"] >= self._started_iso
                    ):
                        return alert
            return None

        found = wait_for(f"{status} notification of {name} at the sink", probe, timeout, 1.0)
        key = "notified" if status == "firing" else "resolved"
        self.row[key] = self.elapsed()
        return found

    @property
    def _started_iso(self) -> str:
        wall = time.time() - self.elapsed() - 5  # Prometheus' clock, with a margin
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall))

    def resolved(self, name: str, labels: dict[str, str], timeout: float = 120.0) -> None:
        """Wait until the alert is no longer active in Prometheus."""
        self.row["recovered"] = True
        wait_for(
            f"{name} {labels} gone from Prometheus",
            lambda: (
                not any(
                    a["labels"]["alertname"] == name and _matches(a["labels"], labels)
                    for a in self._poll()
                )
            ),
            timeout,
            interval=1.0,
        )
        self.row["resolved"] = self.elapsed()


def named_only(watch: Watch, expected: set[str]) -> None:
    """No alert ever named another node for a bootstrap, nor two nodes at once."""
    assert watch.named_nodes() <= expected, watch.named
    assert not watch.named_at_once, watch.named_at_once


def bootstrap_twin(alert: dict[str, Any], node: str) -> None:
    """The alert names `node` three times, consistently: label, annotation and text."""
    assert alert["labels"]["advice"] == "bootstrap"
    assert alert["labels"]["instance"] == node
    assert alert["annotations"]["bootstrap_node"] == node
    assert f"On {node}: run `sudo cfg-cm-cluster" in alert["annotations"]["description"] or (
        f"On {node}: stop mysqld first" in alert["annotations"]["description"]
    )


def verify_twin(alert: dict[str, Any]) -> None:
    """The alert names no node: no instance label, no bootstrap_node annotation."""
    assert alert["labels"]["advice"] == "verify"
    assert "instance" not in alert["labels"]
    assert "bootstrap_node" not in alert["annotations"]
    assert "No node can be named for a bootstrap yet" in alert["annotations"]["description"]


def wait_quiet(lab: Lab, allowed: frozenset[str] = frozenset(), timeout: float = 180.0) -> None:
    """No alert active (pending or firing) except `allowed`: the start of every test."""

    def probe() -> bool:
        active = {a["labels"]["alertname"] for a in lab.stack.alerts()}  # type: ignore[index]
        return not (active - allowed)

    wait_for("no active alerts in Prometheus", probe, timeout, interval=1.0)
