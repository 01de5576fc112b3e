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
from tests.support.summary import publish
from tests.support.tiers import starts_real_galera

BASE_ADDRESS = "127.0.0.51"  # working agreement: rules e2e uses 127.0.0.51-59
REPO = Path(__file__).resolve().parents[2]


# Alerts with a `for:` longer than this wait this long in the lab's copy of the rules: every
# alert then fires and notifies within a test's time, on the real cluster. The full `for:`
# timing (not firing before it, firing after it) is what the promtool tests prove. 15 s is
# still three times the longest transient the lab's faults cause (a view change: ~5 s; the
# nodes of "all isolated" are cut off one after the other within ~1 s; a joiner records as
# crashed for < 2 s before its SST marker appears), and it halves the wait of every alert test
# against the 30 s used until stop 19 (issue 14: the suite's time).
E2E_MAX_FOR_SECONDS = 15
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def rules_with_capped_for(target: Path) -> Path:
    """A copy of rules/*.yml whose `for:` durations above E2E_MAX_FOR_SECONDS are capped."""
    target.mkdir(parents=True, exist_ok=True)

    def cap(match: re.Match[str]) -> str:
        seconds = int(match.group(2)) * _UNIT_SECONDS[match.group(3)]
        if seconds <= E2E_MAX_FOR_SECONDS:
            return match.group(0)
        return f"{match.group(1)}{E2E_MAX_FOR_SECONDS}s"

    for source in sorted((REPO / "rules").glob("*.yml")):
        text = re.sub(
            r"^(\s+for:\s*)(\d+)([smh])\s*$",
            cap,
            source.read_text(encoding="utf-8"),
            flags=re.M,
        )
        (target / source.name).write_text(text, encoding="utf-8")
    return target


@pytest.fixture(scope="session")
@starts_real_galera
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


def pytest_sessionfinish(session: pytest.Session) -> None:
    lines = [
        f"{'scenario':<19}{'alert':<38}{'state':>8}{'to state':>9}{'notified':>9}"
        f"{'recovered':>10}{'resolved':>9}  bootstrap_node"
    ]
    for row in RESULTS:
        lines.append(
            f"{row['scenario']:<19}{row['alert']:<38}{row['state']:>8}"
            f"{row.get('fired', 0.0):>9.1f}{row.get('notified', float('nan')):>9.1f}"
            f"{'yes' if row.get('recovered') else 'no':>10}"
            f"{row.get('resolved', float('nan')):>9.1f}  {row.get('bootstrap_node', '-')}"
        )
    if RESULTS:
        publish(session.config, "alerts on the real lab (seconds from fault)", lines)
