"""The monitoring stack around a lab cluster: one galera-exporter per node, Prometheus (loading
the repo's rules/*.yml), Alertmanager and a webhook sink that records every notification.

All HTTP listeners bind loopback ports picked free at start; the processes, ports and URLs are
saved in `<base>/stack.json`, so `galera-lab down` in another process stops them by pid.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from galera_lab import procs
from galera_lab.cluster import Cluster, ClusterError
from galera_lab.node import Node
from galera_lab.wait import wait_for

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"  # Debian's name; there is no `alertmanager`
PROMTOOL = "/usr/bin/promtool"
EXPORTER_USER = "galera_exporter"
# The exporter reads SHOW GLOBAL STATUS and SHOW GLOBAL VARIABLES, which need no privilege on
# MariaDB: the account gets USAGE only, and few connections (it keeps one).
EXPORTER_MAX_CONNECTIONS = 3


def default_rules_dir() -> Path | None:
    repo_rules = Path(__file__).resolve().parents[2] / "rules"
    return repo_rules if repo_rules.is_dir() else None


Sample = tuple[str, tuple[tuple[str, str], ...]]


def parse_metrics(text: str) -> dict[Sample, float]:
    """Exposition text -> {(sample name, sorted label pairs): value}."""
    samples: dict[Sample, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
    return samples


@dataclass
class Metrics:
    """One scrape of one exporter, with lookups that read like PromQL selectors."""

    samples: dict[Sample, float] = field(default_factory=dict)

    def get(self, name: str, **labels: str) -> float | None:
        """The value of the one series `name{labels...}` (labels may be a subset), or None."""
        found = [
            value
            for (sample, pairs), value in self.samples.items()
            if sample == name and set(labels.items()) <= set(pairs)
        ]
        return found[0] if len(found) == 1 else None

    def labels(self, name: str) -> dict[str, str]:
        """The labels of the first series of `name` (for _info metrics)."""
        for (sample, pairs), _value in self.samples.items():
            if sample == name:
                return dict(pairs)
        return {}


def _http_get(url: str, timeout: float = 3.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


def _http_post(url: str, body: bytes, content_type: str = "application/json") -> bytes:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type}
    )
    with urllib.request.urlopen(request, timeout=5.0) as response:
        return bytes(response.read())


class Stack:
    """Exporters (+ optionally Prometheus, Alertmanager, sink) for one Cluster."""

    def __init__(
        self,
        cluster: Cluster,
        rules_dir: Path | None = None,
        with_prometheus: bool | None = None,
        interval: str = "2s",
        *,
        exporter_args: Callable[[Node], list[str]] | None = None,
        inhibit_rules: list[dict[str, Any]] | None = None,
    ) -> None:
        """with_prometheus None: as the saved stack was started (a new one: True).

        exporter_args: extra flags for a node's exporter (tests of optional features);
        inhibit_rules: Alertmanager inhibit rules (e.g. examples/alertmanager.yml's)."""
        self.cluster = cluster
        self.exporter_args = exporter_args
        self.inhibit_rules = inhibit_rules
        self.rules_dir = rules_dir if rules_dir is not None else default_rules_dir()
        self.with_prometheus = True
        self.interval = interval  # scrape and rule evaluation: short, so alerts move fast
        self.dir = cluster.spec.base_dir / "stack"
        self.state_file = cluster.spec.base_dir / "stack.json"
        self.processes: dict[str, procs.Tracked] = {}
        self.exporters: dict[str, str] = {}  # node name -> host:port
        self.urls: dict[str, str] = {}
        self.rule_files: list[str] = []
        self._load()
        if with_prometheus is not None:
            self.with_prometheus = with_prometheus

    # ---------------------------------------------------------------- state
    def _load(self) -> None:
        try:
            data = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return
        self.processes = {k: procs.Tracked.from_json(v) for k, v in data["processes"].items()}
        self.exporters = dict(data.get("exporters", {}))
        self.urls = dict(data.get("urls", {}))
        self.rule_files = list(data.get("rule_files", []))
        self.with_prometheus = bool(data.get("with_prometheus", True))

    def _save(self) -> None:
        self.state_file.write_text(
            json.dumps(
                {
                    "processes": {k: v.to_json() for k, v in self.processes.items()},
                    "exporters": self.exporters,
                    "urls": self.urls,
                    "rule_files": self.rule_files,
                    "with_prometheus": self.with_prometheus,
                },
                indent=2,
            )
            + "\n"
        )

    @property
    def notifications_file(self) -> Path:
        return self.dir / "notifications.jsonl"

    # ---------------------------------------------------------------- start
    def start(self) -> None:
        """Start whatever is not running yet (idempotent); the cluster must have a Primary."""
        self.dir.mkdir(parents=True, exist_ok=True)
        password = self.exporter_password()
        self.ensure_exporter_user(password)
        for node in self.cluster.nodes:
            log = self.backend_log(node)
            if not log.exists() or "SMTP Service started" not in log.read_text(errors="replace"):
                self.backend_started(node)
            self._start_exporter(node, password)
        if self.with_prometheus:
            self._start_sink()
            self._start_alertmanager()
            self._start_prometheus()
        self._save()
        self.wait_ready()

    def _running(self, name: str) -> bool:
        proc = self.processes.get(name)
        return proc is not None and procs.is_running(proc)

    def _spawn(self, name: str, args: list[str]) -> None:
        self.processes[name] = procs.spawn(name, args, self.dir / f"{name}.log")
        self._save()  # at once: a failing later step must not leave an untracked process

    def exporter_password(self) -> str:
        path = self.dir / "exporter-password"
        if path.exists():
            return path.read_text().strip()
        password = secrets.token_urlsafe(18)
        path.touch(mode=0o600)
        path.write_text(password + "\n")
        return password

    def ensure_exporter_user(self, password: str) -> None:
        """The exporter's own account (USAGE only); created on a Primary node, replicated."""
        node = self.cluster.primary_node()
        if node is None:
            raise ClusterError("no Synced Primary node to create the exporter account on")
        account = f"'{EXPORTER_USER}'@'localhost'"
        node.query(
            f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{password}' "
            f"WITH MAX_USER_CONNECTIONS {EXPORTER_MAX_CONNECTIONS}"
        )
        node.query(f"ALTER USER {account} IDENTIFIED BY '{password}'")

    def option_file(self, node: Node) -> Path:
        return self.dir / f"exporter-{node.name}.cnf"

    def _start_exporter(self, node: Node, password: str) -> None:
        name = f"exporter-{node.name}"
        if self._running(name):
            return
        option_file = self.option_file(node)
        option_file.touch(mode=0o600)  # holds a password
        option_file.write_text(
            f"[client]\nuser = {EXPORTER_USER}\npassword = {password}\nsocket = {node.socket}\n"
        )
        backend_log = self.backend_log(node)
        # On the node's own address: Prometheus' instance label then names the node.
        listen = f"{node.spec.address}:{procs.free_port(node.spec.address)}"
        self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "galera_exporter",
                f"--web.listen-address={listen}",
                f"--mysql.defaults-file={option_file}",
                f"--galera.datadir={node.datadir}",
                f"--backend.log-file={backend_log}",
                f"--mysqld.error-log-file={node.error_log}",
                "--log.level=info",
                *(self.exporter_args(node) if self.exporter_args else []),
            ],
        )
        self.exporters[node.name] = listen

    def backend_log(self, node: Node) -> Path:
        """The stand-in for the gateway back-end's log (the guide's /var/log/djigzo.log)."""
        return node.dir / "backend.log"

    def backend_started(self, node: Node, ready: bool = True) -> None:
        """Append what the back-end logs when it starts: the start marker, and (if `ready`)
        the line the guide tells operators to look for. There is no real back-end in the lab;
        without these lines the exporter (rightly) reports it not ready on every node.
        """
        stamp = time.strftime("%d %b %Y %H:%M:%S")
        lines = [f"{stamp} | INFO  SMTP Service handler hello name is {node.name}\n"]
        if ready:
            lines.append(f"{stamp} | INFO  SMTP Service started plain:10025//127.0.0.1\n")
        with self.backend_log(node).open("a", encoding="utf-8") as log:
            log.writelines(lines)

    def _start_sink(self) -> None:
        if self._running("sink"):
            return
        listen = f"127.0.0.1:{procs.free_port()}"
        self._spawn(
            "sink",
            [
                sys.executable,
                "-m",
                "galera_lab.sink",
                "--listen",
                listen,
                "--out",
                str(self.notifications_file),
            ],
        )
        self.urls["sink"] = f"http://{listen}/"

    def _start_alertmanager(self) -> None:
        if self._running("alertmanager"):
            return
        config = {
            "route": {
                "receiver": "sink",
                "group_by": ["alertname", "cluster", "instance"],
                "group_wait": "1s",  # lab: notify quickly, repeat rarely
                "group_interval": "5s",
                "repeat_interval": "1h",
            },
            "receivers": [
                {
                    "name": "sink",
                    "webhook_configs": [{"url": self.urls["sink"], "send_resolved": True}],
                }
            ],
        }
        if self.inhibit_rules:
            config["inhibit_rules"] = self.inhibit_rules
        path = self.dir / "alertmanager.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        listen = f"127.0.0.1:{procs.free_port()}"
        (self.dir / "alertmanager-data").mkdir(exist_ok=True)
        self._spawn(
            "alertmanager",
            [
                ALERTMANAGER,
                f"--config.file={path}",
                f"--storage.path={self.dir / 'alertmanager-data'}",
                f"--web.listen-address={listen}",
                f"--web.external-url=http://{listen}/",
                "--cluster.listen-address=",  # else it gossips on 0.0.0.0:9094
            ],
        )
        self.urls["alertmanager"] = f"http://{listen}"

    def usable_rule_files(self) -> list[str]:
        """rules/*.yml that promtool accepts (rules/tests/ holds test files, not rules).

        Rules are written in parallel with the lab; one broken file must not stop Prometheus.
        """
        if self.rules_dir is None or not self.rules_dir.is_dir():
            return []
        usable = []
        for path in sorted([*self.rules_dir.glob("*.yml"), *self.rules_dir.glob("*.yaml")]):
            result = subprocess.run(
                [PROMTOOL, "check", "rules", str(path)],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            if result.returncode == 0:
                usable.append(str(path))
            else:
                print(
                    f"[lab] skipping {path}: promtool check rules failed:\n"
                    f"{(result.stdout + result.stderr)[-800:]}",
                    file=sys.stderr,
                )
        return usable

    def _write_prometheus_config(self) -> Path:
        self.rule_files = self.usable_rule_files()
        config = {
            "global": {
                "scrape_interval": self.interval,
                "scrape_timeout": "1s",
                "evaluation_interval": self.interval,
            },
            "alerting": {
                "alertmanagers": [
                    {
                        "static_configs": [
                            {"targets": [self.urls["alertmanager"].removeprefix("http://")]}
                        ]
                    }
                ]
            },
            "rule_files": self.rule_files,
            "scrape_configs": [
                {
                    "job_name": "galera",
                    "static_configs": [
                        {
                            "targets": [self.exporters[node.name]],
                            "labels": {
                                "cluster": self.cluster.spec.cluster_name,
                                "node": node.name,
                            },
                        }
                        for node in self.cluster.nodes
                    ],
                }
            ],
        }
        path = self.dir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def _start_prometheus(self) -> None:
        if self._running("prometheus"):
            return
        path = self._write_prometheus_config()
        listen = f"127.0.0.1:{procs.free_port()}"
        (self.dir / "prometheus-data").mkdir(exist_ok=True)
        self._spawn(
            "prometheus",
            [
                PROMETHEUS,
                f"--config.file={path}",
                f"--storage.tsdb.path={self.dir / 'prometheus-data'}",
                f"--web.listen-address={listen}",
                f"--web.external-url=http://{listen}/",
                "--web.enable-lifecycle",  # lets reload_rules() POST /-/reload
            ],
        )
        self.urls["prometheus"] = f"http://{listen}"

    def reload_rules(self) -> list[str]:
        """Re-read rules/*.yml (after rules changed) and tell Prometheus; returns the files."""
        self._write_prometheus_config()
        self._save()
        _http_post(self.urls["prometheus"] + "/-/reload", b"")
        return self.rule_files

    def wait_ready(self, timeout: float = 30.0) -> None:
        for name, address in self.exporters.items():
            self._wait_http(f"exporter-{name}", f"http://{address}/metrics", timeout)
        if self.with_prometheus:
            self._wait_http("sink", self.urls["sink"], timeout)
            self._wait_http("alertmanager", self.urls["alertmanager"] + "/-/ready", timeout)
            self._wait_http("prometheus", self.urls["prometheus"] + "/-/ready", timeout)

    def _wait_http(self, name: str, url: str, timeout: float) -> None:
        proc = self.processes[name]

        def probe() -> bool:
            if not procs.is_running(proc):
                raise ClusterError(f"{name} exited; log tail:\n{procs.tail(proc.log)}")
            _http_get(url, timeout=2.0)
            return True

        wait_for(f"{name} answering {url}", probe, timeout, interval=0.1, fatal=(ClusterError,))

    # ---------------------------------------------------------------- stop
    def stop(self) -> list[str]:
        """Stop every process this stack started (by pid, checked against its cmdline)."""
        stopped = [name for name, proc in self.processes.items() if procs.stop(proc)]
        self.processes.clear()
        self._save()
        return stopped

    # ---------------------------------------------------------------- reading
    def exporter_url(self, node: Node) -> str:
        return f"http://{self.exporters[node.name]}/metrics"

    def scrape(self, node: Node) -> Metrics:
        """Scrape the node's galera-exporter over HTTP, like Prometheus does."""
        return Metrics(parse_metrics(_http_get(self.exporter_url(node), 5.0).decode()))

    def query(self, expr: str) -> list[dict[str, object]]:
        """Prometheus instant query; the result vector."""
        url = self.urls["prometheus"] + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        data = json.loads(_http_get(url))
        result: list[dict[str, object]] = data["data"]["result"]
        return result

    def alerts(self) -> list[dict[str, object]]:
        """Prometheus' active alerts (pending and firing)."""
        data = json.loads(_http_get(self.urls["prometheus"] + "/api/v1/alerts"))
        alerts: list[dict[str, object]] = data["data"]["alerts"]
        return alerts

    def targets_up(self) -> bool:
        data = json.loads(_http_get(self.urls["prometheus"] + "/api/v1/targets"))
        active = data["data"]["activeTargets"]
        return len(active) == len(self.cluster.nodes) and all(t["health"] == "up" for t in active)

    def notifications(self) -> list[dict[str, object]]:
        """Every webhook notification Alertmanager sent to the sink, oldest first."""
        from galera_lab.sink import read_notifications  # noqa: PLC0415 - keep sink import-free

        return read_notifications(self.notifications_file)

    def describe(self) -> str:
        lines = []
        for node in self.cluster.nodes:
            if node.name in self.exporters:
                lines.append(f"  {'exporter ' + node.name + ':':<22}{self.exporter_url(node)}")
        for name in ("prometheus", "alertmanager", "sink"):
            if name in self.urls:
                lines.append(f"  {name + ':':<22}{self.urls[name]}")
        if self.with_prometheus:
            lines.append(f"  {'notifications file:':<22}{self.notifications_file}")
        return "\n".join(lines)
