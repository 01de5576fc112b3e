"""galera-advisor and the recording rules agree: every state of the promtool tests, served as
the exporters' pages, gives the advisor the scenario and bootstrap node promtool proved the
rules record (rules/tests/*.yml), read from those files, not recomputed with decide()."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rules.tests.scenarios import CASES, STEP, Case, decision_at, generated_cases, s, states_at
from rules.tests.series import Node, State, TargetDown, node_samples

from galera_exporter.advice import SCENARIO_ALERTS
from galera_exporter.advisor import cli, history, report
from tests.advisor.server import Page, PageServer, exposition, page_server
from tests.support import yamlfile

RULE_TESTS = Path(__file__).resolve().parents[2] / "rules" / "tests"
LABELS = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Expected:
    scenario: str
    bootstrap_node: str | None
    force: bool | None  # None: not asserted by that file


def labels(series: str) -> dict[str, str]:
    return dict(LABELS.findall(series))


def generated_expectations() -> dict[str, Expected]:
    """Per generated case: the rules' scenario and candidate that promtool asserts."""
    doc = yamlfile.safe_load((RULE_TESTS / "decisions-generated.yml").read_text())
    out = {}
    for test in doc["tests"]:
        by_expr = {t["expr"]: t["exp_samples"] for t in test["promql_expr_test"]}
        (scenario,) = by_expr["cluster:galera_scenario:info"]
        candidates = by_expr["instance:galera_bootstrap_candidate:bool"]
        candidate = labels(candidates[0]["labels"]) if candidates else None
        out[test["name"]] = Expected(
            labels(scenario["labels"])["scenario"],
            candidate["instance"] if candidate else None,
            candidate["force"] == "1" if candidate else False,
        )
    return out


@pytest.fixture(scope="module")
def server() -> Iterator[PageServer]:
    with page_server() as running:
        yield running


def prometheus_answer(cluster: str, split_brain_24h: bool) -> bytes:
    """What a Prometheus evaluating the rules answers to the advisor's history query."""
    result = [{"metric": {"cluster": cluster}, "value": [0, "1" if split_brain_24h else "0"]}]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}
                      ).encode()  # fmt: skip


def advise(
    server: PageServer, key: str, case: Case, cluster: str, states: dict[str, State],
    *, capsys: pytest.CaptureFixture[str], split_brain_24h: bool | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Serve each node's page for `states`, run galera-advisor --json on them; with
    `split_brain_24h`, also the rules' 24-hour memory as a Prometheus query answer."""
    args = []
    if split_brain_24h is not None:
        prefix = f"/{key}/prometheus"
        page = Page(prometheus_answer(cluster, split_brain_24h))
        server.pages[prefix + history.QUERY_PATH] = page
        args.append(f"--prometheus.url={server.url(prefix)}")
    for name in case.clusters[cluster]:
        node = Node(cluster, name, case.target_labels.get(cluster, {}))
        state = states[f"{cluster}/{name}"]
        path = f"/{key}/{cluster}/{name}/metrics"
        if isinstance(state, TargetDown):
            server.pages[path] = Page(b"scrape target down\n", status=503)
        else:
            server.pages[path] = Page(exposition(node_samples(node, state)))
        args.append(f"{name}={server.url(path)}")
    status = cli.main(["--json", "--cluster", cluster, *args])
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert status == report.EXIT_STATUS[out["scenario"]]
    return out


GENERATED = generated_cases()
EXPECTED = generated_expectations()


def test_every_generated_case_has_a_promtool_expectation() -> None:
    assert len(GENERATED) == len(EXPECTED) == 270
    assert {title for title, _ in GENERATED} == set(EXPECTED)


@pytest.mark.parametrize(("title", "case"), GENERATED, ids=[str(i) for i in range(270)])
def test_generated_cases_agree(
    server: PageServer, capsys: pytest.CaptureFixture[str], title: str, case: Case
) -> None:
    expected = EXPECTED[title]
    key = re.sub(r"\W+", "-", title.split(":", maxsplit=1)[0])  # "3 nodes #0" -> "3-nodes-0"
    out = advise(server, key, case, "prod", case.phases[0][1], capsys=capsys)
    got = Expected(out["scenario"], out["bootstrap_node"], out["force"])
    assert got == expected, f"{title}: advisor {got} != rules {expected}"


@dataclass(frozen=True)
class HandCheck:
    area: str
    at: str
    case: Case
    cluster: str
    alert: str
    labels: dict[str, str]


def hand_checks() -> Iterator[HandCheck]:
    """Every scenario alert that a hand-written promtool case asserts firing."""
    for area, cases in CASES.items():
        by_name = {c.name: c for c in cases}
        doc = yamlfile.safe_load((RULE_TESTS / f"{area}.yml").read_text())
        for test in doc["tests"]:
            for check in test.get("alert_rule_test", []):
                if check["alertname"] not in SCENARIO_ALERTS.values():
                    continue
                for alert in check["exp_alerts"]:
                    lab = alert["exp_labels"]
                    yield HandCheck(area, check["eval_time"], by_name[test["name"]],
                                    lab["cluster"], check["alertname"], lab)  # fmt: skip


HAND = list(hand_checks())


def test_hand_cases_are_found() -> None:
    assert len(HAND) >= 20, len(HAND)


@pytest.mark.parametrize("check", HAND, ids=[f"{h.area}-{i}" for i, h in enumerate(HAND)])
def test_hand_cases_agree(
    server: PageServer, capsys: pytest.CaptureFixture[str], check: HandCheck
) -> None:
    case, at, cluster = check.case, s(check.at), check.cluster
    key = re.sub(r"\W+", "-", f"{check.area}-{case.name[:40]}-{at}")
    _, split_brain_24h = decision_at(case, cluster, at, STEP.get(check.area, 15))
    out = advise(server, key, case, cluster, states_at(case, at), capsys=capsys,
                 split_brain_24h=split_brain_24h)  # fmt: skip
    assert SCENARIO_ALERTS.get(out["scenario"]) == check.alert, (case.name, at, out["scenario"])
    named = check.labels["instance"] if check.labels.get("advice") == "bootstrap" else None
    assert out["bootstrap_node"] == named, (case.name, at)
    assert out["split_brain_24h"] is split_brain_24h
    assert not any(step.startswith("Verify first") for step in out["steps"])


def test_split_brain_history_comes_from_prometheus(
    server: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a split brain the rules distrust the minority's safe_to_bootstrap for 24 h. Given
    that memory (a Prometheus answer) the advisor names no node either; without it, it names
    the node the nodes' own evidence supports, and the first step is to rule the split out."""
    (check,) = [
        h for h in HAND
        if h.case.name.startswith("split brain, then the minority node3 is stopped cleanly")
    ]  # fmt: skip
    assert check.labels["advice"] == "verify"  # the rules name no node
    at = s(check.at)
    states = states_at(check.case, at)
    out = advise(server, "split-brain-history", check.case, check.cluster, states,
                 capsys=capsys, split_brain_24h=True)  # fmt: skip
    assert (out["scenario"], out["bootstrap_node"], out["split_brain_24h"]) == (
        "stopped", None, True)  # fmt: skip
    assert "had a split brain in the last 24 hours" in out["steps"][0]

    out = advise(server, "split-brain-unknown", check.case, check.cluster, states,
                 capsys=capsys)  # fmt: skip
    assert (out["scenario"], out["bootstrap_node"], out["split_brain_24h"]) == (
        "stopped", "node3", None)  # fmt: skip
    assert out["split_brain_24h_unknown_because"] == report.NO_PROMETHEUS
    verify = report.verify_history_step(check.cluster, "node3", report.NO_PROMETHEUS)
    assert out["steps"][0] == verify
    assert "On node3: run `sudo cfg-cm-cluster --bootstrap-node`" in out["steps"][1]
