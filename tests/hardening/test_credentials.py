"""The DB password never shows in logs (debug level), metrics, error messages, reload answers,
/proc/PID/cmdline or /proc/PID/environ; and a USAGE-only account is enough."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from galera_lab.node import Node
from galera_lab.wait import wait_for
from tests.hardening.conftest import DB_USER, write_option_file
from tests.hardening.harness import DISTINCTIVE_PASSWORD, Exporter, metric

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [pytest.mark.timeout(300)]

WRONG_PASSWORD = "Wrong-9kq-LEAKCANARY-TWO"  # noqa: S105 - a canary
# With the characters option files treat specially: '#', ';', a space, a double quote.
ODD_PASSWORD = 'Odd#9kq LEAKCANARY;3"Zb'  # noqa: S105 - a canary
# Outside ASCII: the client sends the file's UTF-8 bytes, and so must the exporter.
UTF8_PASSWORD = "Pässwörd€-LEAKCANARY-4"  # noqa: S105 - a canary
CANARIES = (DISTINCTIVE_PASSWORD, WRONG_PASSWORD, ODD_PASSWORD, UTF8_PASSWORD)


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


ODD_USER = "galera_odd"
UTF8_USER = "galera_utf8"
# name: option file text; {odd} is ODD_PASSWORD as the file spells it (escaped, quoted).
OPTION_FILE_CASES = {
    # configparser folded this line into the user name: the password was sent as part of
    # the user, and mysqld wrote it into its error log ("Access denied for user '...'").
    "indented password": "[client]\nuser = {user}\n    password = {pw}\nsocket = {socket}\n",
    "quoted password with # ; and escapes": (
        '[client]\nuser = {odd_user}\npassword = "{odd}"  # comment\nsocket = {socket}\n'
    ),
    "password from an included file": (
        "[client]\nuser = {user}\nsocket = {socket}\n!include {included}\n"
    ),
    "non-ASCII password (UTF-8)": (
        "[client]\nuser = {utf8_user}\npassword = {utf8}\nsocket = {socket}\n"
    ),
}


@pytest.mark.parametrize("case", list(OPTION_FILE_CASES))
def test_option_file_forms_log_in_and_never_leak(node: Node, tmp_path: Path, case: str) -> None:
    for user, secret in ((ODD_USER, ODD_PASSWORD), (UTF8_USER, UTF8_PASSWORD)):
        node.query(
            f"CREATE USER IF NOT EXISTS '{user}'@'localhost' IDENTIFIED BY %s", args=(secret,)
        )
    included = tmp_path / "included.cnf"
    included.write_text(f'[client-mariadb]\n  password = "{DISTINCTIVE_PASSWORD}"\n')
    included.chmod(0o600)
    spelled = ODD_PASSWORD.replace(" ", "\\s").replace('"', '\\"')
    cnf = tmp_path / "my.cnf"
    cnf.write_text(
        OPTION_FILE_CASES[case].format(
            user=DB_USER,
            pw=DISTINCTIVE_PASSWORD,
            odd_user=ODD_USER,
            odd=spelled,
            utf8_user=UTF8_USER,
            utf8=UTF8_PASSWORD,
            socket=node.socket,
            included=included,
        )
    )
    cnf.chmod(0o600)
    # The real client logs in with the very same file: the exporter reads it alike.
    client = subprocess.run(
        ["mariadb", f"--defaults-file={cnf}", "-N", "-e", "SELECT CURRENT_USER()"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert client.returncode == 0, client.stderr
    error_log_before = node.error_log.stat().st_size
    exporter = Exporter(
        [f"--mysql.defaults-file={cnf}", f"--galera.datadir={node.datadir}", "--log.level=debug"],
        tmp_path / "exporter.log",
    )
    try:
        bodies = exercise(exporter)
        assert metric(exporter.scrape(2.0).samples(), "galera_up") == 1
        cmdline = proc_text(exporter.pid, "cmdline")
    finally:
        exporter.stop()
    with open(node.error_log, "rb") as handle:
        handle.seek(error_log_before)
        mysqld_log = handle.read().decode(errors="replace")
    print(f"{case}: client logged in as {client.stdout.strip()}; galera_up 1")
    for where, text in (
        ("the exporter's log", exporter.log_text()),
        ("metrics and HTTP answers", "\n".join(bodies)),
        ("/proc/PID/cmdline", cmdline),
        ("mysqld's error log", mysqld_log),
    ):
        assert_no_canary(where, text)


def test_readable_option_file_warned_at_start_and_on_each_reload(tmp_path: Path) -> None:
    cnf = write_option_file(
        tmp_path / "my.cnf",
        user=DB_USER,
        password=DISTINCTIVE_PASSWORD,
        socket=tmp_path / "no.sock",
    )
    cnf.chmod(0o644)
    exporter = Exporter(
        [f"--mysql.defaults-file={cnf}", f"--galera.datadir={tmp_path}"], tmp_path / "exporter.log"
    )
    try:
        assert exporter.log_text().count("readable by everyone") == 1
        exporter.signal(signal.SIGHUP)
        wait_for(
            "the reload to be logged",
            lambda: "configuration reloaded" in exporter.log_text(),
            30,
        )
        log = exporter.log_text()
    finally:
        exporter.stop()
    warnings = [line for line in log.splitlines() if "readable by everyone" in line]
    print("\n".join(warnings))
    assert len(warnings) == 2
    assert_no_canary("the exporter's log", log)
