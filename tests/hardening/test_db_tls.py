"""TLS to mysqld from the option file's ssl-* options, against a real TLS-only mariadbd.

One standalone mariadbd (no wsrep: TLS is the server's, not Galera's) with certificates made
by openssl here and require_secure_transport=ON, so a connection without TLS is refused. The
exporter must connect with the right CA, fail cleanly (no password in the message) with a
wrong one, present a client certificate for a REQUIRE X509 account, and agree with the
`mariadb` client reading the same option file.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest

from galera_exporter import config
from galera_exporter.cli import build_parser
from galera_exporter.collectors import COLLECTOR_NAMES
from galera_exporter.db import DatabaseError, StatusReader
from galera_lab.node import Node
from galera_lab.wait import wait_for
from tests.hardening.conftest import ADDRESS, DB_USER
from tests.hardening.harness import DISTINCTIVE_PASSWORD, Exporter, metric
from tests.support.ports import free_port
from tests.support.tiers import starts_real_galera
from tests.support.tls import openssl

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [pytest.mark.timeout(180)]

MARIADBD = shutil.which("mariadbd", path="/usr/sbin:/usr/bin") or "mariadbd"


def make_ca(directory: Path, name: str) -> None:
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN={name}", "-keyout", f"{name}-key.pem", "-out", f"{name}.pem",
        cwd=directory,
    )  # fmt: skip


def make_signed(directory: Path, name: str, ca: str, san: str) -> None:
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
        "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", cwd=directory,
    )  # fmt: skip
    (directory / f"{name}.ext").write_text(f"subjectAltName={san}\n")
    openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}-key.pem",
        "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
        cwd=directory,
    )  # fmt: skip


@dataclass
class TLSServer:
    dir: Path
    port: int
    socket: Path
    pid: int

    def pem(self, name: str) -> str:
        return str(self.dir / f"{name}.pem")

    def root_query(self, sql: str) -> None:
        conn = pymysql.connect(user="root", connect_timeout=5, defer_connect=True)
        # Our own socket: pymysql leaks the one it opens when the server is not up yet.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        try:
            sock.connect(str(self.socket))
        except OSError:
            sock.close()
            raise
        conn.connect(sock)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
        finally:
            conn.close()


@pytest.fixture(scope="module")
@starts_real_galera
def tls_server() -> Iterator[TLSServer]:
    base = Path(tempfile.mkdtemp(prefix="galera-tls-", dir="/var/tmp"))
    for name in ("ca", "wrong-ca"):
        make_ca(base, name)
    make_signed(base, "server", "ca", f"IP:{ADDRESS}")
    make_signed(base, "client", "ca", "DNS:exporter")
    datadir = base / "data"
    subprocess.run(
        [
            "mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--user=root",
            "--auth-root-authentication-method=socket", "--skip-test-db",
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    port = free_port(ADDRESS)
    sock = base / "mysqld.sock"
    with open(base / "mariadbd.out", "ab") as out:
        proc = subprocess.Popen(
            [
                MARIADBD, "--no-defaults", "--user=root", f"--datadir={datadir}",
                f"--socket={sock}", f"--port={port}", f"--bind-address={ADDRESS}",
                f"--pid-file={base / 'mysqld.pid'}", f"--log-error={base / 'error.log'}",
                "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
                f"--ssl-ca={base / 'ca.pem'}", f"--ssl-cert={base / 'server.pem'}",
                f"--ssl-key={base / 'server-key.pem'}", "--require-secure-transport=ON",
            ],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = TLSServer(base, port, sock, proc.pid)

    def answers() -> bool:
        if proc.poll() is not None:
            raise RuntimeError((base / "error.log").read_text(errors="replace")[-2000:])
        try:
            server.root_query("SELECT 1")
        except (pymysql.err.MySQLError, OSError):
            return False
        return True

    try:
        wait_for(f"TLS-only mariadbd on {ADDRESS}:{port}", answers, 60, fatal=(RuntimeError,))
        for user, require in (("tls_user", "SSL"), ("x509_user", "X509")):
            server.root_query(
                f"CREATE USER '{user}'@'%' IDENTIFIED BY '{DISTINCTIVE_PASSWORD}' REQUIRE {require}"
            )
        yield server
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)


def option_file(path: Path, server: TLSServer, user: str, *tls: str) -> Path:
    lines = [
        "[client]",
        f"user = {user}",
        f'  password = "{DISTINCTIVE_PASSWORD}"',  # indented and quoted, as MariaDB allows
        f"host = {ADDRESS}",
        f"port = {server.port}",
        *tls,
    ]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def read_status(cnf: Path) -> str:
    """'ok' or the DatabaseError message of one status read through the exporter's path."""
    args = build_parser().parse_args([f"--mysql.defaults-file={cnf}"])
    target = config.load(args, COLLECTOR_NAMES, env={}).target
    reader = StatusReader(target, 5.0)
    try:
        reader.read(5.0)
    except DatabaseError as err:
        return str(err)
    finally:
        reader.close()
    return "ok"


def client_connects(cnf: Path) -> bool:
    result = subprocess.run(
        ["mariadb", f"--defaults-file={cnf}", "-N", "-e", "SHOW STATUS LIKE 'Ssl_version'"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.returncode == 0 and "TLS" in result.stdout


CASES = {
    # name: (user, ssl options, exporter connects, the mariadb client connects)
    "right CA": ("tls_user", ["ssl-ca = {ca}"], True, True),
    "right CA, host verified": (
        "tls_user",
        ["ssl_ca = {ca}", "ssl-verify-server-cert"],
        True,
        True,
    ),
    "wrong CA": ("tls_user", ["ssl-ca = {wrong}"], False, False),
    # No ssl option: both pymysql and the 10.11 client use TLS when the server offers it,
    # without verifying the server (encrypted, not authenticated): ssl-ca is what adds that.
    "no TLS option": ("tls_user", [], True, True),
    "TLS off": ("tls_user", ["skip-ssl"], False, False),
    "client certificate": (
        "x509_user",
        ["ssl-ca = {ca}", "ssl-cert = {cert}", "ssl-key = {key}"],
        True,
        True,
    ),
    "no client certificate for X509": ("x509_user", ["ssl-ca = {ca}"], False, False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_tls_options_reach_the_connection(tls_server: TLSServer, tmp_path: Path, case: str) -> None:
    user, options, exporter_ok, client_ok = CASES[case]
    files = {
        "ca": tls_server.pem("ca"),
        "wrong": tls_server.pem("wrong-ca"),
        "cert": tls_server.pem("client"),
        "key": tls_server.pem("client-key"),
    }
    cnf = option_file(tmp_path / "my.cnf", tls_server, user, *(o.format(**files) for o in options))
    outcome = read_status(cnf)
    print(f"{case}: exporter: {outcome}")
    assert (outcome == "ok") is exporter_ok
    assert DISTINCTIVE_PASSWORD[:12] not in outcome
    assert client_connects(cnf) is client_ok  # the real client reads the same file alike
    if case == "wrong CA":
        assert "CERTIFICATE_VERIFY_FAILED" in outcome or "certificate verify failed" in outcome


def test_exporter_process_up_with_ca_down_without(tls_server: TLSServer, tmp_path: Path) -> None:
    for ca, expected in (("ca", 1), ("wrong-ca", 0)):
        cnf = option_file(
            tmp_path / f"{ca}.cnf", tls_server, "tls_user", f"ssl-ca = {tls_server.pem(ca)}"
        )
        exporter = Exporter(
            [f"--mysql.defaults-file={cnf}", f"--galera.datadir={tmp_path}", "--log.level=debug"],
            tmp_path / f"{ca}.log",
        )
        try:
            assert metric(exporter.scrape(5.0).samples(), "galera_up") == expected
        finally:
            exporter.stop()
        log = exporter.log_text()
        failures = [line for line in log.splitlines() if "did not answer" in line]
        print(f"{ca}: galera_up {expected}; {failures[-1][-220:] if failures else 'no failure'}")
        assert bool(failures) is (expected == 0)
        assert DISTINCTIVE_PASSWORD[:12] not in log


def test_host_name_is_checked_only_when_asked(tls_server: TLSServer, tmp_path: Path) -> None:
    # Over the socket the name checked is "localhost", not in the certificate (IP:ADDRESS).
    lines = [
        "[client]",
        "user = root",
        f"socket = {tls_server.socket}",
        f"ssl-ca = {tls_server.pem('ca')}",
    ]
    cnf = tmp_path / "my.cnf"
    cnf.write_text("\n".join(lines) + "\n")
    cnf.chmod(0o600)
    assert read_status(cnf) == "ok"
    cnf.write_text("\n".join([*lines, "ssl-verify-server-cert"]) + "\n")
    outcome = read_status(cnf)
    print("socket, verify-server-cert:", outcome, "; client:", client_connects(cnf))
    assert "Hostname mismatch" in outcome or "doesn't match" in outcome


def test_no_plaintext_fallback_when_tls_is_asked_for(
    node: Node, tls_server: TLSServer, tmp_path: Path
) -> None:
    """The Galera node has no TLS: with ssl-ca the exporter refuses to log in in clear."""
    cnf = tmp_path / "my.cnf"
    cnf.write_text(
        f'[client]\nuser = {DB_USER}\npassword = "{DISTINCTIVE_PASSWORD}"\n'
        f"host = {node.spec.address}\nport = {node.spec.mysql_port}\n"
    )
    cnf.chmod(0o600)
    assert read_status(cnf) == "ok"  # the account and address work without TLS options
    cnf.write_text(cnf.read_text() + f"ssl-ca = {tls_server.pem('ca')}\n")
    outcome = read_status(cnf)
    print("TLS asked, server without TLS:", outcome)
    assert "SSL is required but the server doesn't support it" in outcome
    assert DISTINCTIVE_PASSWORD[:12] not in outcome
