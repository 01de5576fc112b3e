"""Run the real galera-exporter as a child process on a free loopback port and scrape it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from galera_lab.node import Node, process_alive
from galera_lab.wait import wait_for
from tests.support.ports import free_port

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_exposition(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


class ExporterProcess:
    """galera-exporter started with the given flags; stopped by its pid."""

    def __init__(self, args: list[str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "galera_exporter",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    *args,
                ],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        wait_for(f"exporter on port {self.port} healthy", self._healthy, 20)

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"exporter exited: {self.log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/healthy", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def scrape_text(self, timeout: float = 10.0, headers: dict[str, str] | None = None) -> str:
        request = urllib.request.Request(f"{self.url}/metrics", headers=headers or {})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            assert response.status == 200
            return str(response.read().decode())

    def scrape(self, timeout: float = 10.0) -> Samples:
        return parse_exposition(self.scrape_text(timeout))

    def scraped_when(self, holds: Callable[[Samples], object]) -> Callable[[], Samples | None]:
        """A wait_for probe: one scrape's samples once `holds(samples)` is truthy, else None."""

        def probe() -> Samples | None:
            samples = self.scrape()
            return samples if samples and holds(samples) else None

        return probe

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        assert not process_alive(self.proc.pid)


def lab_node_exporter(node: Node, logs: Path) -> ExporterProcess:
    """An exporter for one lab node as a deployment would run it: root over the node's socket
    (an option file of mode 0600 in `logs`), its datadir and error log, no back-end log."""
    cnf = logs / f"{node.name}.cnf"
    cnf.write_text(f"[client]\nuser = root\nsocket = {node.socket}\n")
    cnf.chmod(0o600)
    return ExporterProcess(
        [
            f"--mysql.defaults-file={cnf}",
            f"--galera.datadir={node.datadir}",
            f"--mysqld.error-log-file={node.error_log}",  # followed while mysqld is down too
            "--no-collect.backend_log",
        ],
        logs / f"{node.name}.log",
    )
