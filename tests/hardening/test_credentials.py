"""The DB password never shows in logs (debug level), metrics, error messages, reload answers,
/proc/PID/cmdline or /proc/PID/environ; and a USAGE-only account is enough."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from galera_lab.node import Node
from tests.hardening.conftest import DB_USER, write_option_file
from tests.hardening.harness import DISTINCTIVE_PASSWORD, Exporter, metric

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]

WRONG_PASSWORD = "Wrong-9kq-LEAKCANARY-TWO"  # noqa: S105 - a canary
CANARIES = (DISTINCTIVE_PASSWORD, WRONG_PASSWORD)


def proc_text(pid: int, name: str) -> str:
    return Path(f"/proc/{pid}/{name}").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def assert_no_canary(where: str, text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"password leaked into {where}"
        # Partial leaks too (a message cut after a few characters of it).
        assert canary[:12] not in text, f"start of a password leaked into {where}"


def exercise(exporter: Exporter) -> list[str]:
    """Scrapes, a reload and the landing page; returns every body the exporter served."""
    bodies = [exporter.scrape(2.0).body for _ in range(3)]
    bodies.append(exporter.request("POST", "/-/reload").body)
    bodies.append(exporter.get("/").body)
    bodies.append(exporter.scrape(2.0).body)
    return bodies


@pytest.mark.parametrize(
    "case",
    ["good password over the socket", "wrong password", "unreachable host", "password file env"],
)
def test_password_never_leaks(node: Node, tmp_path: Path, case: str) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if case == "good password over the socket":
        cnf = write_option_file(
            tmp_path / "my.cnf", user=DB_USER, password=DISTINCTIVE_PASSWORD, socket=node.socket
        )
    elif case == "wrong password":
        cnf = write_option_file(
            tmp_path / "my.cnf", user=DB_USER, password=WRONG_PASSWORD, host=node.spec.address
        )
    elif case == "unreachable host":  # nothing listens on 127.0.0.49:1: refused
        cnf = write_option_file(
            tmp_path / "my.cnf",
            user=DB_USER,
            password=DISTINCTIVE_PASSWORD,
            host="127.0.0.49",
            port=1,
        )
    else:
        cnf = write_option_file(tmp_path / "my.cnf", user=DB_USER, socket=node.socket)
        secret = tmp_path / "password"
        secret.write_text(DISTINCTIVE_PASSWORD + "\n")
        secret.chmod(0o600)
        env["GALERA_EXPORTER_MYSQL_PASSWORD_FILE"] = str(secret)
    exporter = Exporter(
        [f"--mysql.defaults-file={cnf}", f"--galera.datadir={node.datadir}", "--log.level=debug"],
        tmp_path / "exporter.log",
        env=env,
    )
    try:
        bodies = exercise(exporter)
        expected_up = 1 if case in ("good password over the socket", "password file env") else 0
        assert metric(exporter.scrape(2.0).samples(), "galera_up") == expected_up
        cmdline = proc_text(exporter.pid, "cmdline")
        environ = proc_text(exporter.pid, "environ")
    finally:
        exporter.stop()
    log = exporter.log_text()
    if expected_up == 0:
        assert "did not answer" in log  # the failure is logged, without the password
        print("logged:", next(line for line in log.splitlines() if "did not answer" in line)[-160:])
    for where, text in (
        ("the log", log),
        ("metrics and HTTP answers", "\n".join(bodies)),
        ("/proc/PID/cmdline", cmdline),
        ("/proc/PID/environ", environ),
    ):
        assert_no_canary(where, text)


def test_config_errors_never_quote_the_password(tmp_path: Path) -> None:
    broken = tmp_path / "broken.cnf"
    # A password line before any section and a garbage line: the parser must not quote them.
    broken.write_text(f"password = {DISTINCTIVE_PASSWORD}\n[client]\nuser = x\n")
    bad_port = write_option_file(
        tmp_path / "port.cnf", user="x", password=DISTINCTIVE_PASSWORD, port="notaport"
    )
    for cnf in (broken, bad_port):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "galera_exporter",
                "--check-config",
                f"--mysql.defaults-file={cnf}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        print(f"--check-config {cnf.name}: rc {result.returncode}: {result.stderr.strip()}")
        assert result.returncode != 0
        assert str(cnf) in result.stderr  # says where
        assert_no_canary("--check-config output", result.stdout + result.stderr)


def test_usage_only_account_is_enough(node: Node, socket_cnf: Path, tmp_path: Path) -> None:
    grants = [str(row[0]) for row in node.query(f"SHOW GRANTS FOR '{DB_USER}'@'localhost'")]
    print("grants:", [g.split(" IDENTIFIED")[0] for g in grants])
    assert len(grants) == 1 and grants[0].startswith(
        f"GRANT USAGE ON *.* TO `{DB_USER}`@`localhost`"
    )
    exporter = Exporter(
        [f"--mysql.defaults-file={socket_cnf}", f"--galera.datadir={node.datadir}"],
        tmp_path / "exporter.log",
    )
    try:
        samples = exporter.scrape(5.0).samples()
    finally:
        exporter.stop()
    status = node.wsrep_status()
    assert metric(samples, "galera_up") == 1
    assert metric(samples, "galera_exporter_collector_success", collector="wsrep") == 1
    assert metric(samples, "galera_cluster_size") == float(status["wsrep_cluster_size"])
    assert metric(samples, "galera_local_state", state="Synced") == 1
    assert metric(samples, "galera_cluster_status", status="Primary") == 1
    # From SHOW GLOBAL VARIABLES, which needs no privilege either.
    assert metric(samples, "galera_gcache_size_bytes") == 64 * 1024**2
    names = {labels for name, labels in samples if name == "galera_status_info"}
    assert any(("node_name", node.name) in labels for labels in names)
