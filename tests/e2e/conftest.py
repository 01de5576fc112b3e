"""One real 3-node lab (127.0.0.51-53) with exporters, Prometheus loading rules/, Alertmanager
and the webhook sink, shared by every end-to-end alert test; time to fire printed at the end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from galera_lab.lab import Lab, running_lab
from tests.e2e.helpers import READY_LINE, RESULTS, backend_log

BASE_ADDRESS = "127.0.0.51"  # working agreement: rules e2e uses 127.0.0.51-59
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    started = time.monotonic()
    with running_lab(
        tmp_path_factory.mktemp("e2e"),
        BASE_ADDRESS,
        cluster_name="galera_e2e",
        rules_dir=REPO / "rules",
    ) as running:
        # The lab has no real back-end: log its readiness line so GaleraBackendNotReady only
        # fires where a test wants it.
        for node in running.cluster.nodes:
            with backend_log(node).open("a") as log:
                log.write(READY_LINE + "\n")
        print(f"[e2e] lab up in {time.monotonic() - started:.1f}s")
        yield running


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    terminalreporter.section("alerts on the real lab (seconds from fault)")
    terminalreporter.write_line(
        f"{'scenario':<16}{'alert':<28}{'state':>9}{'to state':>10}{'notified':>10}"
        f"{'recovered':>11}{'resolved':>10}"
    )
    for row in RESULTS:
        terminalreporter.write_line(
            f"{row['scenario']:<16}{row['alert']:<28}{row['state']:>9}"
            f"{row.get('fired', 0.0):>10.1f}{row.get('notified', float('nan')):>10.1f}"
            f"{'yes' if row.get('recovered') else 'no':>11}"
            f"{row.get('resolved', float('nan')):>10.1f}"
        )
