"""TLS and basic auth from an exporter-toolkit web config, checked with real TLS clients (the
ssl module and curl), and configuration reload that keeps the last good config on error."""

from __future__ import annotations

import http.client
import shutil
import signal
import ssl
import statistics
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from galera_lab.node import Node
from galera_lab.wait import wait_for
from tests.hardening.harness import Exporter, basic_auth, metric
from tests.support.tls import openssl

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [pytest.mark.timeout(300)]

ALICE = ("alice", "alice-Secret-1")
BOB = ("bob", "bob-Secret-2")


def bcrypt_hash(password: str, cost: int = 10) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate."""
    d = tmp_path_factory.mktemp("pki")
    days = "2"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", days, "-subj", "/CN=galera-exporter test CA", cwd=d)  # fmt: skip
    for name, subject, ext in (
        ("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ("client", "/CN=prometheus", "extendedKeyUsage=clientAuth"),
    ):
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                f"{name}.csr", "-subj", subject, cwd=d)  # fmt: skip
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.crt", "-days", days, "-extfile",
                f"{name}.ext", cwd=d)  # fmt: skip
    return Pki(d / "ca.crt", d / "server.crt", d / "server.key", d / "client.crt", d / "client.key")


def web_config(pki: Pki | None, users: dict[str, str], extra_tls: str = "") -> str:
    text = ""
    if pki is not None:
        text += f"tls_server_config:\n  cert_file: {pki.cert}\n  key_file: {pki.key}\n{extra_tls}"
    if users:
        text += "basic_auth_users:\n" + "".join(
            f"  {u}: '{bcrypt_hash(p)}'\n" for u, p in users.items()
        )
    return text


@pytest.fixture
def tls_exporter(node: Node, socket_cnf: Path, pki: Pki, tmp_path: Path) -> Iterator[Exporter]:
    web = tmp_path / "web.yml"
    web.write_text(web_config(pki, dict([ALICE])))
    proc = Exporter(
        [
            f"--mysql.defaults-file={socket_cnf}",
            f"--galera.datadir={node.datadir}",
            f"--web.config.file={web}",
        ],
        tmp_path / "exporter.log",
        tls_ca=pki.ca,
    )
    try:
        yield proc
    finally:
        proc.stop()


def test_tls_and_basic_auth_with_the_ssl_module(tls_exporter: Exporter) -> None:
    ok = tls_exporter.get("/metrics", basic_auth(*ALICE))
    assert ok.status == 200
    assert metric(ok.samples(), "galera_up") == 1
    for headers in (
        {},
        basic_auth(ALICE[0], "wrong"),
        basic_auth("mallory", ALICE[1]),
        basic_auth(ALICE[0], ALICE[1] + "x" * 80),  # bcrypt ignores bytes past 72: refused
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Bearer abc"},
    ):
        denied = tls_exporter.get("/metrics", headers)
        assert denied.status == 401, headers
        assert denied.headers["WWW-Authenticate"].startswith("Basic ")
        assert "galera_" not in denied.body
    for path in ("/", "/-/reload"):
        assert tls_exporter.get(path).status == 401
    # The health endpoint stays open (it says only OK) for container/LB health checks.
    assert tls_exporter.get("/-/healthy").status == 200
    # Plain HTTP to the TLS port gets no metrics.
    plain = http.client.HTTPConnection("127.0.0.1", tls_exporter.port, timeout=5)
    try:
        with pytest.raises((http.client.HTTPException, OSError)):
            plain.request("GET", "/metrics", headers=basic_auth(*ALICE))
            plain.getresponse().read()
    finally:
        plain.close()
    # The client checks the server certificate: a client without our CA refuses it.
    strict = http.client.HTTPSConnection(
        "127.0.0.1", tls_exporter.port, timeout=5, context=ssl.create_default_context()
    )
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            strict.request("GET", "/-/healthy")
    finally:
        strict.close()


def test_successful_bcrypt_checks_are_cached(tls_exporter: Exporter) -> None:
    times = [tls_exporter.get("/", basic_auth(*ALICE)).seconds for _ in range(21)]
    rest = statistics.median(times[1:])
    print(f"first authenticated request {times[0] * 1000:.1f} ms, then median {rest * 1000:.1f} ms")
    # bcrypt at cost 10 takes ~80 ms; a cached check costs a SHA-256.
    assert rest < 0.03
    assert times[0] > rest


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_tls_and_basic_auth_with_curl(tls_exporter: Exporter, pki: Pki) -> None:
    url = f"https://127.0.0.1:{tls_exporter.port}/metrics"

    def curl(*args: str) -> str:
        result = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(pki.ca),
             *args, url],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        return result.stdout

    assert curl("-u", ":".join(ALICE)) == "200"
    assert curl("-u", f"{ALICE[0]}:nope") == "401"
    assert curl() == "401"
    # min_version defaults to TLS 1.2, as in exporter-toolkit.
    assert curl("-u", ":".join(ALICE), "--tlsv1.1", "--tls-max", "1.1") == "000"


def test_client_certificate_required(
    node: Node, socket_cnf: Path, pki: Pki, tmp_path: Path
) -> None:
    web = tmp_path / "web.yml"
    web.write_text(
        web_config(
            pki,
            {},
            f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca}\n",
        )
    )
    exporter = Exporter(
        [f"--mysql.defaults-file={socket_cnf}", f"--galera.datadir={node.datadir}",
         f"--web.config.file={web}"],
        tmp_path / "exporter.log", tls_ca=pki.ca, wait=False,
    )  # fmt: skip
    try:
        with_cert = ssl.create_default_context(cafile=str(pki.ca))
        with_cert.load_cert_chain(str(pki.client_cert), str(pki.client_key))
        exporter.tls_context = with_cert
        wait_for("exporter with client-cert TLS healthy", exporter.healthy, 30)
        assert metric(exporter.scrape().samples(), "galera_up") == 1
        exporter.tls_context = ssl.create_default_context(cafile=str(pki.ca))  # no client cert
        with pytest.raises((ssl.SSLError, OSError)):
            exporter.get("/metrics")
    finally:
        exporter.stop()


def reload_ok(exporter: Exporter, headers: dict[str, str]) -> float | None:
    return metric(
        exporter.scrape(headers=headers).samples(), "galera_exporter_config_last_reload_successful"
    )


def test_reload_keeps_the_last_good_config(
    node: Node, socket_cnf: Path, pki: Pki, tmp_path: Path
) -> None:
    web = tmp_path / "web.yml"
    web.write_text(web_config(pki, dict([ALICE])))
    main_config = tmp_path / "config.yml"
    main_config.write_text(f"galera:\n  datadir: {node.datadir}\n")
    exporter = Exporter(
        [f"--config.file={main_config}", f"--mysql.defaults-file={socket_cnf}",
         f"--web.config.file={web}", "--web.enable-lifecycle"],
        tmp_path / "exporter.log", tls_ca=pki.ca,
    )  # fmt: skip
    alice = basic_auth(*ALICE)
    try:
        assert reload_ok(exporter, alice) == 1
        broken = {
            "invalid YAML": "basic_auth_users: [unclosed\n",
            "plain-text password": "basic_auth_users:\n  alice: hunter2-plain\n",
            "missing key file": (
                f"tls_server_config:\n  cert_file: {pki.cert}\n  key_file: /nonexistent.key\n"
            ),
            "unsupported setting": "tls_server_config:\n  cipher_suites: [TLS_AES_128_GCM]\n",
            "unknown section": "basic_auth_user:\n  alice: x\n",
        }
        for what, text in broken.items():
            web.write_text(text)
            response = exporter.request("POST", "/-/reload", alice)
            print(f"reload with {what}: {response.status} {response.body.strip()!r}")
            assert response.status == 500
            assert str(web) in response.body  # the problem says where it is
            assert "hunter2-plain" not in response.body
            assert exporter.get("/metrics", alice).status == 200  # still the old config
            assert reload_ok(exporter, alice) == 0
        # SIGHUP with a broken file: the same, and the log says why.
        exporter.signal(signal.SIGHUP)
        wait_for(
            "SIGHUP reload failure logged",
            lambda: exporter.log_text().count("reload failed") >= len(broken) + 1,
            10,
        )
        assert exporter.get("/metrics", alice).status == 200
        # A broken main config file is refused the same way.
        web.write_text(web_config(pki, dict([BOB])))
        main_config.write_text("galera: [\n")
        assert exporter.request("POST", "/-/reload", alice).status == 500
        assert exporter.get("/metrics", alice).status == 200
        # A good config takes effect: bob in, alice out, sources rebuilt (grastate off).
        main_config.write_text(
            f"galera:\n  datadir: {node.datadir}\ncollectors:\n  grastate: false\n"
        )
        assert exporter.request("POST", "/-/reload", alice).status == 200
        assert exporter.get("/metrics", alice).status == 401
        bob = basic_auth(*BOB)
        samples = exporter.scrape(headers=bob).samples()
        assert metric(samples, "galera_exporter_config_last_reload_successful") == 1
        assert metric(samples, "galera_up") == 1
        assert metric(samples, "galera_grastate_present") is None
        # SIGHUP turns TLS off and auth off; new connections see it at once.
        web.write_text("")
        main_config.write_text(f"galera:\n  datadir: {node.datadir}\n")
        exporter.signal(signal.SIGHUP)
        exporter.tls_context = None
        wait_for("plain HTTP after SIGHUP", exporter.healthy, 10)
        samples = exporter.scrape().samples()
        assert metric(samples, "galera_grastate_present") == 1
    finally:
        exporter.stop()
