"""galera-advisor's 24-hour split-brain memory from Prometheus (--prometheus.url): a real
Prometheus evaluating the repo's rules over the exporters' pages; one that is down, hangs,
answers garbage or does not know the cluster is an unknown history, said as the first step.
(A split brain that really happened is in test_lab.py: the real lab, a real GaleraSplitBrain.)"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from galera_exporter.advisor import cli, history, report, settings
from galera_lab.wait import wait_for
from tests.advisor.server import Page, PageServer, page_server, run_advisor
from tests.support.ports import closed_port, free_port
from tests.support.tiers import slow_fixture

REPO = Path(__file__).resolve().parents[2]
STATES = REPO / "tests" / "fixtures" / "states"
PROMETHEUS = "/usr/bin/prometheus"
# All down, node1 left last: the rules and the advisor name node1 (no force).
CLUSTER = {"node1": "down_stopped_last", "node2": "down_crashed", "node3": "down_crashed"}


@pytest.fixture(scope="module")
def nodes() -> Iterator[tuple[PageServer, list[str]]]:
    """The three nodes' pages (golden expositions) and the NAME=URL arguments for them."""
    with page_server() as server:
        args = []
        for name, state in CLUSTER.items():
            server.pages[f"/{name}/metrics"] = Page((STATES / state / "expected.prom").read_bytes())
            args.append(f"{name}={server.url(f'/{name}/metrics')}")
        yield server, args


def query(url: str, expr: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(
        f"{url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}", timeout=5
    ) as response:
        result: list[dict[str, Any]] = json.load(response)["data"]["result"]
    return result


@pytest.fixture(scope="module")
@slow_fixture  # a real Prometheus: ~6 s to start and evaluate the rules
def prometheus(
    nodes: tuple[PageServer, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real Prometheus with the repo's rules, scraping the nodes' pages as cluster `gw`."""
    server, _ = nodes
    d = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in sorted((REPO / "rules").glob("*.yml"))],
        "scrape_configs": [{
            "job_name": "galera",
            "static_configs": [
                {"targets": [f"127.0.0.1:{server.port}"],
                 "labels": {"cluster": "gw", "instance": name,
                            "__metrics_path__": f"/{name}/metrics"}}
                for name in CLUSTER
            ],
        }],
    }  # fmt: skip
    (d / "prometheus.yml").write_text(yaml.safe_dump(config))
    listen = f"127.0.0.1:{free_port()}"
    log = (d / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={d / 'prometheus.yml'}", f"--storage.tsdb.path={d / 'data'}",
         f"--web.listen-address={listen}"],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://{listen}"
    try:
        # Generous for a loaded machine: ready in ~0.2 s, first rule evaluations within ~2 s.
        # The rule groups settle over a few evaluations (a first one may read another group's
        # record not yet written): wait for the scenario the pages show, not just any.
        wait_for(
            "Prometheus recording scenario stopped for cluster gw",
            lambda: query(url, 'cluster:galera_scenario:info{cluster="gw",scenario="stopped"}'),
            60,
            interval=0.25,
        )
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def advise(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    status = cli.main(["--json", *args])
    return status, json.loads(capsys.readouterr().out)


def test_real_prometheus_says_no_split_brain(
    nodes: tuple[PageServer, list[str]], prometheus: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, args = nodes
    (scenario,) = query(prometheus, 'cluster:galera_scenario:info{cluster="gw"}')
    assert scenario["metric"]["scenario"] == "stopped"  # the rules see what the advisor sees
    (candidate,) = query(prometheus, 'instance:galera_bootstrap_candidate:bool{cluster="gw"}')
    assert (candidate["metric"]["instance"], candidate["metric"]["force"]) == ("node1", "0")
    code, out = advise(capsys, "--cluster", "gw", f"--prometheus.url={prometheus}", *args)
    assert (out["scenario"], out["bootstrap_node"], code) == ("stopped", "node1", 2)
    assert (out["split_brain_24h"], out["split_brain_24h_unknown_because"]) == (False, None)
    assert out["steps"][0].startswith("Every node of cluster gw is down. node1 left")
    assert len(out["steps"]) == 1

    assert cli.main(["--cluster", "gw", f"--prometheus.url={prometheus}/", *args]) == 2
    text = capsys.readouterr().out
    assert "Split brain in the last 24 h: no\n" in text
    assert "Bootstrap node: node1\n" in text


def test_prometheus_that_does_not_know_the_cluster(
    nodes: tuple[PageServer, list[str]], prometheus: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its rules evaluate `gw`, not `prod`: no answer for prod is not 'no split brain'."""
    _, args = nodes
    code, out = advise(capsys, "--cluster", "prod", f"--prometheus.url={prometheus}", *args)
    assert (out["bootstrap_node"], out["split_brain_24h"], code) == ("node1", None, 2)
    because = out["split_brain_24h_unknown_because"]
    assert "does not evaluate galera-exporter's rules for a cluster labelled 'prod'" in because
    assert "clusters it knows: gw" in because
    assert out["steps"][0] == report.verify_history_step("prod", "node1", because)


@pytest.mark.parametrize(
    ("prometheus_page", "because"),
    [
        (None, "Connection refused"),
        (Page(b"<html>Grafana</html>"), "not a Prometheus query answer (JSONDecodeError)"),
        (Page(b'{"status":"error","error":"bad"}', status=400), "HTTP 400 Bad Request"),
        (Page(b'{"status":"error","errorType":"bad_data","error":"parse error"}'),
         "query failed: parse error"),
    ],
)  # fmt: skip
def test_prometheus_that_cannot_answer(
    nodes: tuple[PageServer, list[str]],
    capsys: pytest.CaptureFixture[str],
    prometheus_page: Page | None,
    because: str,
) -> None:
    """Prometheus down or broken at 3 a.m.: the node the evidence supports is still named, and
    the first step says what to rule out and why the advisor could not."""
    server, args = nodes
    if prometheus_page is None:
        url = f"http://127.0.0.1:{closed_port()}"
    else:
        server.pages["/broken" + history.QUERY_PATH] = prometheus_page
        url = server.url("/broken")
    code, out = advise(capsys, "--cluster", "gw", f"--prometheus.url={url}", *args)
    assert (out["scenario"], out["bootstrap_node"], code) == ("stopped", "node1", 2)
    assert out["split_brain_24h"] is None
    assert out["split_brain_24h_unknown_because"] == f"Prometheus at {url}: {because}"
    assert out["steps"][0].startswith("Verify first that cluster gw had no split brain")
    assert because in out["steps"][0]
    assert "On node1: run `sudo cfg-cm-cluster --bootstrap-node`" in out["steps"][1]


@pytest.mark.alone  # measures wall time against a deadline: make test runs it by itself,
# after the parallel part (tests/support/workers.py)
def test_hanging_prometheus_costs_the_timeout_not_more(
    nodes: tuple[PageServer, list[str]],
) -> None:
    server, args = nodes
    server.pages["/hung" + history.QUERY_PATH] = Page(b"{}", delay=10)
    prometheus = f"--prometheus.url={server.url('/hung')}"
    run = run_advisor(["--json", "--timeout", "1", "--cluster=gw", prometheus, *args])
    print(f"advisor with Prometheus hanging, --timeout 1: {run.seconds:.2f} s wall (process)")
    assert run.seconds < 3, run.seconds
    out = run.json()
    assert [n["state"] for n in out["nodes"]] == ["stopped", "crashed", "crashed"]
    assert out["split_brain_24h"] is None
    assert out["split_brain_24h_unknown_because"].endswith(
        ("no complete answer within 1 s", "timed out")
    )
    assert (out["bootstrap_node"], run.status) == ("node1", 2)


def test_node_password_is_never_sent_to_prometheus(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secret = "Pw-never-to-prometheus-5"  # noqa: S105 - test password
    (tmp_path / "pw").write_text(secret)
    with page_server() as server:
        for name, state in CLUSTER.items():
            body = (STATES / state / "expected.prom").read_bytes()
            server.pages[f"/{name}/metrics"] = Page(body, credentials=("ops", secret))
        answer = {"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"cluster": "gw"}, "value": [0, "1"]}]}}  # fmt: skip
        server.pages["/prom" + history.QUERY_PATH] = Page(json.dumps(answer).encode())
        args = [f"{n}={server.url(f'/{n}/metrics')}" for n in CLUSTER]
        code, out = advise(
            capsys,
            "--basic-auth.username=ops",
            f"--basic-auth.password-file={tmp_path / 'pw'}",
            "--cluster=gw",
            f"--prometheus.url={server.url('/prom')}",
            *args,
        )
        sent = dict(server.authorizations)
    # The split brain the rules remember: no node named, the reason in the step.
    assert (out["bootstrap_node"], out["split_brain_24h"], code) == (None, True, 2)
    assert "had a split brain in the last 24 hours" in out["steps"][0]
    assert sent["/prom" + history.QUERY_PATH] is None
    assert {method for method, _ in server.requests} == {"GET"}
    assert all(sent[f"/{n}/metrics"] for n in CLUSTER)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://prometheus:9090", "expected http[s]://host:port[/prefix]"),
        ("http://admin:pw@prometheus:9090", "credentials or a query in it are refused"),
        ("http://prometheus:99999", "not a URL"),
        ("http://admin:pw@prometheus:99999", "'http://<credentials>@prometheus:99999': not a URL"),
        ("ftp://admin:pw@prometheus", "expected http[s]://host:port[/prefix]"),
    ],
)
def test_bad_prometheus_url_exit_4(
    capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    assert cli.main([f"--prometheus.url={url}", "node1:9878"]) == settings.EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and ":pw@" not in err


def test_prometheus_url_from_the_config_file(
    nodes: tuple[PageServer, list[str]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, args = nodes
    port = closed_port()
    path = tmp_path / "galera-exporter.yml"
    path.write_text(
        f"advisor:\n  nodes: {json.dumps(args)}\n  prometheus_url: http://127.0.0.1:{port}\n"
    )
    _, out = advise(capsys, "--config.file", str(path))
    because = out["split_brain_24h_unknown_because"]
    assert because.startswith(f"Prometheus at http://127.0.0.1:{port}: Connection refused")
    # No --cluster and no node reporting wsrep_cluster_name: nothing to look up.
    answer = {"status": "success", "data": {"resultType": "vector", "result": []}}
    server, _ = nodes
    server.pages["/empty" + history.QUERY_PATH] = Page(json.dumps(answer).encode())
    _, out = advise(capsys, "--config.file", str(path), f"--prometheus.url={server.url('/empty')}")
    assert out["split_brain_24h_unknown_because"] == (
        "the cluster's name is unknown (no node reports it): give --cluster"
    )
    assert out["bootstrap_node"] == "node1" and out["steps"][0].startswith("Verify first")
