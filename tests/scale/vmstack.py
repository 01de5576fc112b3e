"""The scale path beside a lab's Prometheus: vmagent scraping the same targets with the same
scrape config and remote-writing to two central stores, and one vmalert per store evaluating
the same rule files, each notifying its own Alertmanager:

    exporters -> vmagent -> remote_write -> central Prometheus (PromQL)  <- vmalert    -> AM
                                         -> VictoriaMetrics (MetricsQL) <- vmalert-vm -> AM

The central Prometheus stands for any store that evaluates PromQL (Thanos, Mimir, Prometheus
itself); VictoriaMetrics evaluates MetricsQL. Every process binds a free loopback port, keeps
its data under `base`, and is stopped by pid (galera_lab.procs). The flags are the ones
docs/scaling.md quotes; keep the two in step.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from galera_lab import procs
from galera_lab.stack import ALERTMANAGER, PROMETHEUS, Stack
from galera_lab.wait import wait_for
from tests.support import yamlfile

VICTORIA_METRICS = "/usr/bin/victoria-metrics"  # Debian's victoria-metrics package (1.79.5)
VMAGENT = "/usr/bin/vmagent"
VMALERT = "/usr/bin/vmalert"
# vmalert name -> the store it reads and writes
EVALUATORS = {"vmalert": "prometheus-central", "vmalert-vm": "victoria-metrics"}


def http_json(url: str, timeout: float = 3.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def instant_query(base: str, expr: str) -> list[dict[str, Any]]:
    """/api/v1/query on a Prometheus-compatible API; the result vector."""
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    result: list[dict[str, Any]] = http_json(url)["data"]["result"]
    return result


def am_alerts(alertmanager: str) -> list[dict[str, Any]]:
    """Alertmanager API v2: the alerts it holds that are not resolved."""
    alerts: list[dict[str, Any]] = http_json(alertmanager + "/api/v2/alerts")
    return alerts


def scrape_only_config(prometheus_yml: Path) -> dict[str, Any]:
    """The lab Prometheus' own config cut to what a scraper reads (global scrape settings and
    scrape_configs): vmagent scrapes exactly the targets, labels and interval Prometheus
    does. vmagent's strict parsing rejects `rule_files` and `alerting`, not its job.
    """
    config = yamlfile.safe_load(prometheus_yml.read_text(encoding="utf-8"))
    scrape_global = {
        k: v for k, v in config["global"].items() if k in ("scrape_interval", "scrape_timeout")
    }
    return {"global": scrape_global, "scrape_configs": config["scrape_configs"]}


@dataclass
class VmStack:
    """vmagent, a central Prometheus, VictoriaMetrics, two vmalerts, two Alertmanagers."""

    lab_stack: Stack
    base: Path
    interval: str = "2s"  # as the lab's Prometheus: scrape and evaluation
    processes: list[procs.Tracked] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)

    def _spawn(self, name: str, args: list[str]) -> str:
        """Start `name` on a free loopback port (`{listen}` in args); its base URL."""
        listen = f"127.0.0.1:{procs.free_port()}"
        filled = [a.replace("{listen}", listen) for a in args]
        self.processes.append(procs.spawn(name, filled, self.base / f"{name}.log"))
        self.urls[name] = f"http://{listen}"
        print(f"[vm] {name}: {' '.join(filled)}", file=sys.stderr)
        return self.urls[name]

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self._start_stores()
        scrape = self.base / "scrape.yml"
        config = scrape_only_config(self.lab_stack.dir / "prometheus.yml")
        scrape.write_text(yaml.safe_dump(config, sort_keys=False))
        self._spawn(
            "vmagent",
            [
                VMAGENT,
                f"-promscrape.config={scrape}",
                # One scrape, replicated to both stores (each URL has its own queue).
                f"-remoteWrite.url={self.urls['prometheus-central']}/api/v1/write",
                f"-remoteWrite.url={self.urls['victoria-metrics']}/api/v1/write",
                f"-remoteWrite.tmpDataPath={self.base / 'vmagent-data'}",
                "-httpListenAddr={listen}",
            ],
        )
        for name, store in EVALUATORS.items():
            self._start_alertmanager(f"alertmanager-{name}")
            self._start_vmalert(name, self.urls[store], self.urls[f"alertmanager-{name}"])
        for name in self.urls:
            if name.startswith("alertmanager"):
                self._wait_http(name, self.urls[name] + "/-/ready")
            elif name != "prometheus-central":
                self._wait_http(name, self.urls[name] + "/health")

    def _start_stores(self) -> None:
        central = self.base / "prometheus-central.yml"
        central.write_text(yaml.safe_dump({"global": {"evaluation_interval": self.interval}}))
        self._spawn(
            "prometheus-central",
            [
                PROMETHEUS,
                f"--config.file={central}",
                f"--storage.tsdb.path={self.base / 'prometheus-central-data'}",
                "--web.listen-address={listen}",
                "--web.enable-remote-write-receiver",  # POST /api/v1/write
            ],
        )
        self._spawn(
            "victoria-metrics",
            [
                VICTORIA_METRICS,
                f"-storageDataPath={self.base / 'vm-data'}",
                "-httpListenAddr={listen}",
                "-retentionPeriod=2d",  # the rules read back at most 24 h of ALERTS
                # Instant queries within 30 s (the default) of now are answered as of 30 s
                # ago, to hide samples still in flight: with a 2 s evaluation every alert
                # would come 30 s late. The lab's writers are local and flush every second.
                "-search.latencyOffset=1s",
            ],
        )
        self._wait_http("prometheus-central", self.urls["prometheus-central"] + "/-/ready")
        self._wait_http("victoria-metrics", self.urls["victoria-metrics"] + "/health")

    def _start_vmalert(self, name: str, store: str, alertmanager: str) -> None:
        rules = [f"-rule={path}" for path in self.lab_stack.rule_files]
        assert rules, "the lab loaded no rule files"
        self._spawn(
            name,
            [
                VMALERT,
                *rules,
                f"-datasource.url={store}",
                # Recording results and ALERTS/ALERTS_FOR_STATE go back into the store: later
                # rules (and cluster:galera_split_brain_24h:max, which reads ALERTS) query
                # them there. 1 s (default 5 s) shortens the lag of chained rules.
                f"-remoteWrite.url={store}",
                "-remoteWrite.flushInterval=1s",
                # On a restart, each alert's active-since is restored from ALERTS_FOR_STATE:
                # a `for:` already served is not served again.
                f"-remoteRead.url={store}",
                f"-notifier.url={alertmanager}",
                f"-evaluationInterval={self.interval}",
                "-httpListenAddr={listen}",
            ],
        )

    def _start_alertmanager(self, name: str) -> None:
        """An Alertmanager routed as the lab's: each engine's alerts stay apart, so the sets
        can be compared whole. No webhook: the test reads its API."""
        config = yamlfile.safe_load((self.lab_stack.dir / "alertmanager.yml").read_text())
        config["receivers"] = [{"name": config["route"]["receiver"]}]
        path = self.base / f"{name}.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        self._spawn(
            name,
            [
                ALERTMANAGER,
                f"--config.file={path}",
                f"--storage.path={self.base / (name + '-data')}",
                "--web.listen-address={listen}",
                "--cluster.listen-address=",  # else it gossips on 0.0.0.0:9094
            ],
        )

    def _wait_http(self, name: str, url: str, timeout: float = 60.0) -> None:
        proc = next(p for p in self.processes if p.name == name)

        def probe() -> bool:
            if not procs.is_running(proc):
                raise RuntimeError(f"{name} exited; log tail:\n{procs.tail(proc.log)}")
            with urllib.request.urlopen(url, timeout=2.0):
                return True

        wait_for(f"{name} answering {url}", probe, timeout, interval=0.2, fatal=(RuntimeError,))

    def stop(self) -> list[str]:
        """Stop every process this stack started, newest first, by pid."""
        stopped = [p.name for p in reversed(self.processes) if procs.stop(p)]
        self.processes.clear()
        return stopped

    def restart(self, name: str) -> None:
        """Stop process `name` and start it again with the same command line (and port)."""
        old = next(p for p in self.processes if p.name == name)
        procs.stop(old)
        self.processes.remove(old)
        self.processes.append(procs.spawn(name, list(old.cmdline), Path(old.log)))
        self._wait_http(name, self.urls[name] + "/health")

    def push(self, line: str) -> None:
        """One sample in the text exposition format, through vmagent to both stores."""
        request = urllib.request.Request(
            self.urls["vmagent"] + "/api/v1/import/prometheus", data=line.encode() + b"\n"
        )
        with urllib.request.urlopen(request, timeout=5.0):
            pass

    # ------------------------------------------------------------------ reading
    def alertmanager(self, evaluator: str) -> str:
        return self.urls[f"alertmanager-{evaluator}"]

    def store(self, evaluator: str) -> str:
        return self.urls[EVALUATORS[evaluator]]

    def vmalert_alerts(self, evaluator: str) -> list[dict[str, Any]]:
        """vmalert's own view: active alerts (pending and firing)."""
        data = http_json(self.urls[evaluator] + "/api/v1/alerts")
        alerts: list[dict[str, Any]] = data["data"]["alerts"]
        return alerts
