"""galera-advisor against the three real exporters of a real 3-node lab cluster, in four of the
guide's scenarios (127.0.0.91-93: the block agreed for these tests)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from galera_lab.lab import Lab, running_lab
from galera_lab.wait import wait_for
from tests.advisor.server import Run, run_advisor

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(400)]
BASE_ADDRESS = "127.0.0.91"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("advisor-lab"), BASE_ADDRESS,
                     cluster_name="galera_advisor", with_prometheus=False) as running:  # fmt: skip
        yield running


def advisor_args(lab: Lab) -> list[str]:
    return [f"{n.name}={lab.stack.exporter_url(n)}" for n in lab.cluster.nodes]


def advise_until(lab: Lab, scenario: str, timeout: float = 30.0) -> tuple[Run, dict[str, Any]]:
    """Run the advisor until it reports `scenario` (the exporters read live state: a file
    written at shutdown may show a scrape later); the last run and its JSON."""
    last: list[Run] = []

    def probe() -> Run | None:
        run = run_advisor(["--json", "--timeout", "5", *advisor_args(lab)])
        last.append(run)
        return run if run.json()["scenario"] == scenario else None

    try:
        run = wait_for(f"advisor says {scenario}", probe, timeout, interval=0.5)
    except Exception:
        print(last[-1].out if last else "no run")
        raise
    print(f"advisor wall time (3 live exporters, process): {run.seconds:.2f} s")
    return run, run.json()


def states(out: dict[str, Any]) -> list[str]:
    return [n["state"] for n in out["nodes"]]


def test_scenarios_on_the_real_lab(lab: Lab) -> None:
    """One test, four scenarios in the order that needs the fewest repairs."""
    started = time.monotonic()

    run, out = advise_until(lab, "healthy")
    assert (run.status, out["bootstrap_node"], states(out)) == (0, None, ["primary"] * 3)
    assert out["cluster"] == "galera_advisor"
    assert all(n["observed"]["local_state"] == "Synced" for n in out["nodes"])
    text = run_advisor(advisor_args(lab)).out
    assert "Scenario: healthy" in text and "Synced" in text

    lab.scenario("one-isolated")  # node1 cut off, node2+3 Primary
    run, out = advise_until(lab, "degraded")
    assert (run.status, out["bootstrap_node"]) == (1, None)
    assert states(out) == ["non_primary", "primary", "primary"]
    assert any("Do NOT bootstrap node1" in step for step in out["steps"]), out["steps"]
    lab.reset()

    lab.scenario("two-killed")  # node1+2 killed, node3 non-Primary
    run, out = advise_until(lab, "quorum_lost")
    assert (run.status, out["bootstrap_node"], out["force"]) == (2, "node3", True)
    assert states(out) == ["crashed", "crashed", "non_primary"]
    assert out["steps"][0].count("cfg-cm-cluster --force-safe-to-bootstrap") == 1
    assert "On node3: stop mysqld first" in out["steps"][0]
    lab.reset()

    lab.scenario("all-stopped")  # 1, 2, 3 in order: node3 left last, safe_to_bootstrap 1
    run, out = advise_until(lab, "stopped")
    assert (run.status, out["bootstrap_node"], out["force"]) == (2, "node3", False)
    assert states(out) == ["stopped"] * 3
    node3 = out["nodes"][2]["observed"]
    assert (node3["safe_to_bootstrap"], node3["gvwstate_present"]) == (True, False)
    assert "On node3: run `sudo cfg-cm-cluster --bootstrap-node`" in out["steps"][0]
    lab.reset()
    print(f"four scenarios with repairs: {time.monotonic() - started:.1f} s")
