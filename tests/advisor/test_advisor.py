"""galera-advisor on the golden fixtures' real expositions, served over real sockets, and on
exporters that fail: closed port, hanging, garbage, HTTP 401, TLS."""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from galera_exporter import advice, config
from galera_exporter.advisor import cli, fetch, report, settings
from galera_exporter.cli import build_parser
from galera_exporter.decision import decide, facts_from_samples
from tests.advisor.server import Page, PageServer, page_server, run_advisor
from tests.support.ports import closed_port
from tests.support.tls import openssl

STATES = Path(__file__).resolve().parents[1] / "fixtures" / "states"


def golden(state: str) -> bytes:
    return (STATES / state / "expected.prom").read_bytes()


@pytest.fixture
def server() -> Iterator[PageServer]:
    with page_server() as running:
        yield running


def serve(server: PageServer, **pages: bytes | Page) -> list[str]:
    """Each node's page at /<name>/metrics; the NAME=URL arguments for them."""
    args = []
    for name, page in pages.items():
        server.pages[f"/{name}/metrics"] = page if isinstance(page, Page) else Page(page)
        args.append(f"{name}={server.url(f'/{name}/metrics')}")
    return args


def advise(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """In-process run with --json: (exit status, the JSON object)."""
    status = cli.main(["--json", *args])
    return status, json.loads(capsys.readouterr().out)


# --------------------------------------------------------------------- golden expositions
@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (("synced", "synced", "synced"), ("healthy", None, 0, "Nothing to do")),
        (("synced", "synced", "down_crashed"), ("degraded", None, 1, "mysqld on node3 is down")),
        (("down_stopped_last", "down_crashed", "down_crashed"), ("stopped", "node1", 2,
         "On node1: run `sudo cfg-cm-cluster --bootstrap-node`")),
        (("non_primary", "down_crashed", "down_crashed"), ("quorum_lost", None, 2,
         "the position of node2, node3 is unknown; run `mariadbd --wsrep-recover`")),
        (("isolated", "isolated", "isolated"), ("partitioned", None, 2,
         "Restore the network between the nodes")),
    ],
)  # fmt: skip
def test_golden_clusters(
    server: PageServer,
    capsys: pytest.CaptureFixture[str],
    states: tuple[str, ...],
    expected: tuple[str, str | None, int, str],
) -> None:
    scenario, node, status, step = expected
    args = serve(server, **{f"node{i}": golden(s) for i, s in enumerate(states, 1)})
    code, out = advise(capsys, *args)
    assert (out["scenario"], out["bootstrap_node"], code) == (scenario, node, status)
    assert out["exit_status"] == code
    assert any(step in s for s in out["steps"]), out["steps"]
    assert [n["name"] for n in out["nodes"]] == ["node1", "node2", "node3"]
    # The advisor only reads.
    assert {method for method, _ in server.requests} == {"GET"}


def test_text_output_shows_every_node_and_the_step(
    server: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    args = serve(
        server,
        node1=golden("down_stopped_last"),
        node2=golden("down_crashed"),
        node3=golden("down_crashed"),
    )
    assert cli.main(args) == 2
    out = capsys.readouterr().out
    table = out.split("\n\n")[1].splitlines()
    assert table[0].split() == list(report.COLUMNS)
    assert table[1].split() == [
        "node1", "down", "(refused)", "-", "-", "-", "22", "yes", "absent", "-", "-", "stopped",
    ]  # fmt: skip
    assert "Scenario: stopped" in out
    assert (
        "Bootstrap node: node1 - only once a split brain in the last 24 h is ruled out"
        " (first step)\n" in out
    )
    assert "Split brain in the last 24 h: unknown (no --prometheus.url given)\n" in out
    steps = out.split("Next steps:\n")[1].splitlines()
    assert steps[0].startswith("  - Verify first that cluster (name unknown) had no split brain")
    assert steps[1].startswith(
        "  - Every node of cluster (name unknown) is down. node1 left the cluster last"
    )


def test_step_is_the_alert_description(
    server: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """By construction: the advisor prints advice.description() for the scenario alert."""
    states = {"node1": "non_primary", "node2": "down_crashed", "node3": "down_crashed"}
    args = serve(server, **{n: golden(s) for n, s in states.items()})
    _, out = advise(capsys, "--cluster", "prod", *args)
    decision = decide([facts_from_samples(n, fetch.parse(golden(s))) for n, s in states.items()])
    assert out["steps"] == [advice.description("GaleraQuorumLost", "prod", decision, False)]


def test_cluster_name_comes_from_the_nodes(
    server: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    args = serve(server, node1=golden("synced"), node2=golden("synced"), node3=golden("synced"))
    _, out = advise(capsys, *args)
    assert out["cluster"] == "galera_lab"
    assert out["steps"] == [
        "Nothing to do: all 3 nodes of cluster galera_lab are in one Primary component."
    ]
    facts = out["nodes"][0]["observed"]
    assert facts["cluster_status"] == "Primary" and facts["local_state"] == "Synced"
    assert facts["cluster_size"] == 3 and facts["mysqld_up"] is True


# ------------------------------------------------------------------- failing exporters
def test_unreachable_node_is_a_fact(server: PageServer, capsys: pytest.CaptureFixture[str]) -> None:
    args = serve(server, node1=golden("synced"), node2=golden("synced"))
    args.append(f"node3=127.0.0.1:{closed_port()}")
    code, out = advise(capsys, *args)
    node3 = out["nodes"][2]
    assert (node3["state"], node3["observed"]) == ("unobservable", None)
    assert "refused" in node3["error"].lower()
    assert (out["scenario"], code) == ("degraded", 1)
    assert any("node3 cannot be observed" in s for s in out["steps"])


def test_all_unreachable_cannot_tell(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = advise(capsys, f"a=127.0.0.1:{closed_port()}", f"b=127.0.0.1:{closed_port()}")
    assert (out["scenario"], out["bootstrap_node"], code) == ("unobservable", None, 3)
    assert "Bootstrap nothing" in out["steps"][0]


@pytest.mark.alone  # measures wall time against a deadline: make test runs it by itself,
# after the parallel part (tests/support/workers.py)
def test_hanging_node_costs_the_timeout_not_more(server: PageServer) -> None:
    args = serve(
        server,
        node1=golden("synced"),
        node2=golden("synced"),
        node3=Page(golden("synced"), delay=10),
    )
    run = run_advisor(["--json", "--timeout", "1", *args])
    out = run.json()
    print(f"advisor with one node hanging, --timeout 1: {run.seconds:.2f} s wall (process)")
    assert run.seconds < 3, run.seconds  # python start-up + 1 s, never the 10 s of the hang
    assert out["nodes"][2]["state"] == "unobservable"
    assert "1 s" in out["nodes"][2]["error"] or "timed out" in out["nodes"][2]["error"]
    assert [n["state"] for n in out["nodes"][:2]] == ["primary", "primary"]
    assert (out["scenario"], run.status) == ("degraded", 1)


@pytest.mark.alone  # measures wall time against a deadline: make test runs it by itself,
# after the parallel part (tests/support/workers.py)
def test_trickling_node_is_cut_off_at_the_timeout(server: PageServer) -> None:
    """Headers at once, then the body 100 bytes every 0.2 s (~40 s for the page): every read
    makes progress, yet the answer comes at the deadline."""
    args = serve(server, node1=golden("synced"), node2=Page(golden("synced"), drip=0.2))
    run = run_advisor(["--json", "--timeout", "1", *args])
    print(f"advisor with one node trickling, --timeout 1: {run.seconds:.2f} s wall (process)")
    assert run.seconds < 3, run.seconds
    out = run.json()
    assert out["nodes"][1]["state"] == "unobservable"
    assert out["nodes"][1]["error"] in ("timed out", "no complete answer within 1 s")
    assert (out["scenario"], run.status) == ("degraded", 1)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"<html><body>It works!</body></html>\n", "not a Prometheus text exposition"),
        (b"\x00\xff\xfe garbage", "not a Prometheus text exposition"),
        (b"node_load1 0.5\n", "not a galera-exporter page (no galera_up)"),
    ],
)
def test_garbage_is_unobservable(
    server: PageServer, capsys: pytest.CaptureFixture[str], body: bytes, error: str
) -> None:
    args = serve(server, node1=golden("synced"), node2=body)
    _, out = advise(capsys, *args)
    assert out["nodes"][1]["state"] == "unobservable"
    assert out["nodes"][1]["error"].startswith(error)


def test_oversized_page_is_cut_off(server: PageServer, capsys: pytest.CaptureFixture[str]) -> None:
    huge = golden("synced") + b"# padding\n" * (fetch.MAX_BODY_BYTES // 10 + 1)
    args = serve(server, node1=huge)
    _, out = advise(capsys, *args)
    assert out["nodes"][0]["error"] == f"response larger than {fetch.MAX_BODY_BYTES} bytes"


def test_basic_auth(server: PageServer, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    secret = "Pw-advisor-CANARY-77"  # noqa: S105 - test password
    args = serve(server, node1=Page(golden("synced"), credentials=("alice", secret)))
    code, out = advise(capsys, *args)
    assert out["nodes"][0]["error"] == "HTTP 401 Unauthorized (basic auth missing or refused)"
    assert code == 3

    right = tmp_path / "right"
    right.write_text(secret + "\n")  # a trailing newline, as editors write it
    code, out = advise(
        capsys, "--basic-auth.username", "alice", "--basic-auth.password-file", str(right), *args
    )
    assert (out["nodes"][0]["state"], code) == ("primary", 0)

    wrong = tmp_path / "wrong"
    wrong.write_text("nope")
    status = cli.main(
        ["--basic-auth.username", "alice", "--basic-auth.password-file", str(wrong), *args]
    )
    text = capsys.readouterr().out
    assert status == 3 and "HTTP 401" in text
    assert secret not in text and "nope" not in text


def test_credentials_never_from_argv(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["node1=http://alice:pw@127.0.0.1:9/metrics"]) == settings.EXIT_USAGE
    err = capsys.readouterr().err
    assert "credentials in a URL are refused" in err and "pw" not in err.replace("password", "")
    # Refused for another reason first: the error still never echoes them.
    for bad in ("n=http://alice:pw@node1:99999/metrics", "n=ftp://alice:pw@node1/metrics"):
        assert cli.main([bad]) == settings.EXIT_USAGE
        err = capsys.readouterr().err
        assert "alice" not in err and ":pw" not in err and "<credentials>@node1" in err, err


# ------------------------------------------------------------------------------------ TLS
@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.crt", "-days", "2", "-subj", "/CN=advisor test CA", cwd=d)  # fmt: skip
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=127.0.0.1", cwd=d)  # fmt: skip
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext",
            cwd=d)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out",
            "client.csr", "-subj", "/CN=galera-advisor", cwd=d)  # fmt: skip
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "client.crt", "-days", "2", cwd=d)  # fmt: skip
    return {
        "ca": d / "ca.crt",
        "cert": d / "server.crt",
        "key": d / "server.key",
        "client_cert": d / "client.crt",
        "client_key": d / "client.key",
    }


def test_tls_with_a_ca_file(pki: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["cert"], pki["key"])
    with page_server(context) as tls_server:
        tls_server.pages["/metrics"] = Page(golden("synced"))
        url = f"node1=https://127.0.0.1:{tls_server.port}"  # path defaults to /metrics
        code, out = advise(capsys, "--tls.ca-file", str(pki["ca"]), url)
        assert (out["nodes"][0]["state"], code) == ("primary", 0)
        assert out["nodes"][0]["url"] == f"https://127.0.0.1:{tls_server.port}/metrics"
        # Without the CA the server's certificate is not trusted: a fact, not a crash.
        code, out = advise(capsys, "--timeout", "3", url)
        assert out["nodes"][0]["state"] == "unobservable"
        assert out["nodes"][0]["error"].startswith("TLS: CERTIFICATE_VERIFY_FAILED"), out
        assert code == 3


def test_tls_client_certificate(
    pki: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An exporter with client_auth_type RequireAndVerifyClientCert: without the client
    certificate the node is a fact (unobservable, the TLS reason), with it the node is read;
    the files may come from the config file too."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["cert"], pki["key"])
    context.load_verify_locations(pki["ca"])
    context.verify_mode = ssl.CERT_REQUIRED
    with page_server(context) as tls_server:
        tls_server.pages["/metrics"] = Page(golden("synced"))
        url = f"node1=https://127.0.0.1:{tls_server.port}"
        code, out = advise(capsys, "--timeout", "3", "--tls.ca-file", str(pki["ca"]), url)
        assert (out["nodes"][0]["state"], code) == ("unobservable", 3)
        assert out["nodes"][0]["error"], out
        code, out = advise(
            capsys,
            "--tls.ca-file", str(pki["ca"]),
            "--tls.cert-file", str(pki["client_cert"]),
            "--tls.key-file", str(pki["client_key"]),
            url,
        )  # fmt: skip
        assert (out["nodes"][0]["state"], code) == ("primary", 0)
        path = tmp_path / "config.yml"
        path.write_text(
            f"advisor:\n  nodes: [{url}]\n  tls_ca_file: {pki['ca']}\n"
            f"  tls_cert_file: {pki['client_cert']}\n  tls_key_file: {pki['client_key']}\n"
        )
        code, out = advise(capsys, "--config.file", str(path))
        assert (out["nodes"][0]["state"], code) == ("primary", 0)


def test_read_only_by_construction() -> None:
    """The advisor's modules open no database, run no command and write no file; the one HTTP
    request they make is a GET (the servers in these tests also record any other method)."""
    import ast  # noqa: PLC0415 - only this test reads source

    package = Path(cli.__file__).parent
    forbidden = {"pymysql", "subprocess", "shutil", "galera_exporter.db", "socketserver"}
    for source in package.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                    node.module or ""]  # fmt: skip
                assert not forbidden & set(names), (source.name, names)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr == "request":
                    assert isinstance(node.args[0], ast.Constant), source.name
                    assert node.args[0].value == "GET", source.name
                assert node.func.attr not in {"write_text", "write_bytes", "unlink", "mkdir"}
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "open", f"{source.name}: open() (files are read via Path)"


# ---------------------------------------------------------------------------- settings
@pytest.mark.parametrize(
    ("arg", "name", "url"),
    [
        ("node1:9878", "node1", "http://node1:9878/metrics"),
        ("http://node1:9878/metrics", "node1", "http://node1:9878/metrics"),
        ("node3=http://10.0.0.3:9878/metrics", "node3", "http://10.0.0.3:9878/metrics"),
        ("gw-2.example=https://10.0.0.2:9878", "gw-2.example", "https://10.0.0.2:9878/metrics"),
        ("10.0.0.4:9878/probe?x=1", "10.0.0.4", "http://10.0.0.4:9878/probe?x=1"),
        ("[::1]:9878", "::1", "http://[::1]:9878/metrics"),
    ],
)
def test_targets(arg: str, name: str, url: str) -> None:
    assert settings.parse_target(arg) == fetch.Target(name, url)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ftp://node1/metrics"], "expected [NAME=][http[s]://]host:port"),
        (["node1:99999"], "not a URL"),
        (["node1:9878", "http://node1:9879/metrics"], "node name given twice: node1"),
        (["--timeout", "0", "node1:9878"], "timeout: must be in"),
        (["--basic-auth.username", "alice", "node1:9878"], "needs both"),
        ([], "no nodes"),
    ],
)
def test_bad_settings_exit_4(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert cli.main(args) == settings.EXIT_USAGE
    assert message in capsys.readouterr().err


def test_usage_error_is_not_action_needed() -> None:
    run = run_advisor(["--no-such-flag", "node1:9878"])
    assert run.status == settings.EXIT_USAGE, run  # argparse's 2 would read as "action needed"


def test_config_file_advisor_section(
    server: PageServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Nodes, timeout and auth from the `advisor:` section of the exporter's own YAML file
    (relative paths relative to the file); the exporter accepts and ignores that section."""
    secret = "Pw-from-file-33"  # noqa: S105 - test password
    args = serve(server, n1=Page(golden("synced"), credentials=("bob", secret)))
    (tmp_path / "pw").write_text(secret)
    path = tmp_path / "galera-exporter.yml"
    path.write_text(
        "web:\n  listen_address: 127.0.0.1:9878\n"
        "advisor:\n"
        f"  nodes: [{args[0]}]\n"
        "  timeout_seconds: 2\n"
        "  basic_auth_username: bob\n"
        "  basic_auth_password_file: pw\n"
    )
    code, out = advise(capsys, "--config.file", str(path))
    assert (out["nodes"][0]["name"], out["nodes"][0]["state"], code) == ("n1", "primary", 0)
    # Command-line URLs replace the file's list.
    code, out = advise(capsys, "--config.file", str(path), f"x=127.0.0.1:{closed_port()}")
    assert [n["name"] for n in out["nodes"]] == ["x"]
    loaded = config.load(argparse_namespace(config_file=str(path)), collector_names=(), env={})
    assert loaded.web.listen_address == "127.0.0.1:9878"

    path.write_text("advisor:\n  nodez: []\n")
    assert cli.main(["--config.file", str(path)]) == settings.EXIT_USAGE
    assert "advisor.nodez: unknown key" in capsys.readouterr().err


def argparse_namespace(**values: Any) -> Any:
    namespace = build_parser().parse_args([])
    for key, value in values.items():
        setattr(namespace, key, value)
    return namespace


def test_parallel_fetch_wall_time(server: PageServer) -> None:
    """Three nodes, each answering after 0.5 s: fetched in parallel, so ~0.5 s, not 1.5 s."""
    args = serve(server, **{f"n{i}": Page(golden("synced"), delay=0.5) for i in (1, 2, 3)})
    targets = [settings.parse_target(a) for a in args]
    started = time.monotonic()
    scrapes = fetch.fetch_all(targets, fetch.Client(), timeout=5)
    took = time.monotonic() - started
    assert all(s.samples for s in scrapes)
    assert took < 1.2, took


def test_page_missing_a_label_the_model_reads(
    server: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """galera_cluster_status without its status label: the model would fail on it; the node is
    reported as not observed instead of the advisor crashing."""
    page = b'galera_up 1\ngalera_cluster_status{state="Primary"} 1\n'
    args = serve(server, node1=golden("synced"), node2=page)
    code, out = advise(capsys, *args)
    assert out["nodes"][1]["error"] == "malformed galera-exporter page (no label 'status')"
    assert (out["nodes"][1]["state"], code) == ("unobservable", 1)


def test_no_access_is_not_called_down(
    server: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """mysqld refusing the exporter's login is not a stopped mysqld: no_access, 'no answer'."""
    page = golden("synced").replace(b"galera_up 1.0", b"galera_up 0.0")
    page = page.replace(
        b'galera_mysql_error{kind="auth"} 0.0', b'galera_mysql_error{kind="auth"} 1.0'
    )
    args = serve(server, node1=golden("synced"), node2=golden("synced"), node3=page)
    assert cli.main(args) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("node3 "))
    assert row.split()[1:3] == ["no", "answer"] and "(auth)" in row and row.endswith("no_access")
    assert "mysqld on node3 answers but refuses the exporter (auth)" in out


@pytest.mark.timeout(60)  # a FIFO opened for reading would wait here for ever
def test_config_and_password_files_never_block_or_load_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A FIFO, a directory or a huge file given as the config or password file is a usage
    error naming the file and why, at once: a FIFO is never waited on for a writer."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.yml"
    huge.write_bytes(b"#" * (settings.MAX_FILE_BYTES + 1))
    url = f"n1=127.0.0.1:{closed_port()}"
    cases = [
        (["--config.file", str(fifo)], f"config file {fifo}: not a regular file"),
        (["--config.file", str(tmp_path)], f"config file {tmp_path}: not a regular file"),
        (["--config.file", str(huge)], f"larger than {settings.MAX_FILE_BYTES} bytes"),
        (
            ["--basic-auth.username", "u", "--basic-auth.password-file", str(fifo), url],
            f"password file {fifo}: not a regular file",
        ),
    ]
    for args, wanted in cases:
        assert cli.main(args) == settings.EXIT_USAGE, args
        assert wanted in capsys.readouterr().err, args
