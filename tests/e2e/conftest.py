"""One real 3-node lab (127.0.0.51-53) with exporters, Prometheus loading rules/, Alertmanager
and the webhook sink, shared by every end-to-end alert test; time to fire printed at the end."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from galera_lab.lab import Lab, running_lab
from tests.e2e.helpers import READY_LINE, RESULTS, backend_log

BASE_ADDRESS = "127.0.0.51"  # working agreement: rules e2e uses 127.0.0.51-59
REPO = Path(__file__).resolve().parents[2]


# Alerts with a `for:` longer than this wait this long in the lab's copy of the rules: every
# alert then fires and notifies within a test's time, on the real cluster. The full `for:`
# timing (not firing before it, firing after it) is what the promtool tests prove.
E2E_MAX_FOR = "1m"


def rules_with_capped_for(target: Path) -> Path:
    """A copy of rules/*.yml whose `for:` durations above E2E_MAX_FOR are E2E_MAX_FOR."""
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted((REPO / "rules").glob("*.yml")):
        text = re.sub(
            r"^(\s+for:\s*)(\d+)([mh])\s*$",
            lambda m: (
                m.group(0)
                if (m.group(2), m.group(3)) in (("1", "m"), ("0", "m"))
                else f"{m.group(1)}{E2E_MAX_FOR}"
            ),
            source.read_text(encoding="utf-8"),
            flags=re.M,
        )
        (target / source.name).write_text(text, encoding="utf-8")
    return target


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    started = time.monotonic()
    with running_lab(
        tmp_path_factory.mktemp("e2e"),
        BASE_ADDRESS,
        cluster_name="galera_e2e",
        rules_dir=rules_with_capped_for(tmp_path_factory.mktemp("e2e-rules")),
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
