"""The lab as one object for tests: a cluster, its monitoring stack, scenarios and the guide's
commands.

    with running_lab(base_dir, "127.0.0.51") as lab:
        lab.scenario("two-killed")
        lab.stack.scrape(lab.node(3)).get("galera_ready")          # 0.0
        lab.cfg_cm_cluster(3, "--force-safe-to-bootstrap")
        lab.cfg_cm_cluster(3, "--bootstrap-node")
        lab.reset()
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from galera_lab import recovery, scenarios
from galera_lab.cluster import Cluster, ClusterSpec
from galera_lab.node import Node
from galera_lab.stack import Stack


@dataclass
class Lab:
    cluster: Cluster
    stack: Stack

    def node(self, ref: str | int) -> Node:
        return self.cluster.node(ref)

    def scenario(self, name: str) -> float:
        """Reproduce a guide scenario (see scenarios.SCENARIOS); seconds it took."""
        return scenarios.run(self.cluster, name)

    def reset(self) -> float:
        """Back to healthy from any state; the exporter account is re-created if needed."""
        took = recovery.reset(self.cluster)
        if took:
            self.stack.ensure_exporter_user(self.stack.exporter_password())
        return took

    def cli(self, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run `galera-lab ARGS` for this lab in a separate process, as an operator would."""
        command = [
            sys.executable,
            "-m",
            "galera_lab.cli",
            "--dir",
            str(self.cluster.spec.base_dir),
            *args,
        ]
        started = time.monotonic()
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
        print(
            f"[lab] galera-lab {' '.join(args)} -> rc {result.returncode} "
            f"in {time.monotonic() - started:.1f}s",
            file=sys.stderr,
        )
        return result

    def cfg_cm_cluster(
        self, node: int | str, *args: str, timeout: float = 300.0
    ) -> subprocess.CompletedProcess[str]:
        """`cfg-cm-cluster --node N ARGS` (the guide's command) in a separate process."""
        return self.cli("cfg-cm-cluster", "--node", str(node), *args, timeout=timeout)


@contextmanager
def running_lab(
    base_dir: Path,
    base_address: str,
    *,
    size: int = 3,
    with_prometheus: bool = True,
    rules_dir: Path | None = None,
    cluster_name: str = "galera_lab",
    interval: str = "2s",
    exporter_args: Callable[[Node], list[str]] | None = None,
    inhibit_rules: list[dict[str, Any]] | None = None,
) -> Iterator[Lab]:
    """A healthy cluster with exporters (and Prometheus, Alertmanager, sink); all stopped after.

    Teardown kills the nodes (-9) instead of stopping them: the files are thrown away anyway
    and a graceful stop costs ~2 s per node.
    """
    cluster = Cluster(
        ClusterSpec(
            base_dir=base_dir, size=size, base_address=base_address, cluster_name=cluster_name
        )
    )
    stack = Stack(
        cluster,
        rules_dir=rules_dir,
        with_prometheus=with_prometheus,
        interval=interval,
        exporter_args=exporter_args,
        inhibit_rules=inhibit_rules,
    )
    try:
        recovery.up(cluster)
        stack.start()
        yield Lab(cluster, stack)
    finally:
        stack.stop()
        for node in cluster.nodes:
            node.thaw()
            node.kill()
