"""One real 3-node lab (127.0.0.31-33) shared by every scenario test, plus metric helpers.

The cluster, its exporters, Prometheus, Alertmanager and the sink start once per session
(~35 s); each scenario test starts from a healthy cluster (reset is a no-op when it already is)
and leaves it recovered by the guide's own steps. Per-scenario timings are printed at the end.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from galera_lab.lab import Lab, running_lab
from tests.lab.helpers import TIMINGS, Before
from tests.support.summary import publish
from tests.support.tiers import starts_real_galera

# working agreement: lab tests use 127.0.0.31-39; GALERA_TEST_LAB_ADDRESS lets a parallel
# checkout on this machine use another block.
BASE_ADDRESS = os.environ.get("GALERA_TEST_LAB_ADDRESS", "127.0.0.31")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
@starts_real_galera
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    started = time.monotonic()
    with running_lab(
        tmp_path_factory.mktemp("lab"),
        BASE_ADDRESS,
        cluster_name="galera_lab_test",
        rules_dir=REPO / "rules",
    ) as running:
        TIMINGS["(session) cluster + stack up"] = {"total": time.monotonic() - started}
        yield running


@pytest.fixture
def before(lab: Lab, request: pytest.FixtureRequest) -> Iterator[Before]:
    """A healthy cluster with a fresh marker row; records this test's timings."""
    lab.reset()
    note = f"before {request.node.name} {time.time():.3f}"
    lab.cluster.write_marker(note)
    record = Before(note, lab.cluster.state_uuid())
    yield record
    record.timings["total"] = sum(record.timings.values())
    TIMINGS[request.node.name] = record.timings


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not TIMINGS:
        return
    phases = ["fault", "metrics", "recovery", "healthy", "total"]
    lines = [f"{'test':<44}" + "".join(f"{p:>10}" for p in phases)]
    for name, timings in TIMINGS.items():
        lines.append(
            f"{name:<44}"
            + "".join(f"{timings[p]:>10.1f}" if p in timings else f"{'':>10}" for p in phases)
        )
    publish(session.config, "lab scenario timings (seconds)", lines)
