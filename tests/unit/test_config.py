"""Configuration: YAML + flags + environment, flags winning, every error with its location."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from galera_exporter import config
from galera_exporter.cli import build_parser
from galera_exporter.collectors import COLLECTOR_NAMES


def load(argv: list[str], env: dict[str, str] | None = None) -> config.Config:
    return config.load(build_parser().parse_args(argv), COLLECTOR_NAMES, env=env or {})


def test_defaults() -> None:
    cfg = load([])
    assert cfg.web.listen_address == f":{config.DEFAULT_PORT}"
    assert cfg.web.telemetry_path == "/metrics"
    assert cfg.galera.datadir == "/var/lib/mysql"
    assert cfg.backend.log_file == "/var/log/djigzo.log"
    assert cfg.mysql.timeout_seconds == 2.0


def test_yaml_then_flags_win(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(
        "web:\n  listen_address: 127.0.0.1:1234\n  telemetry_path: /m\n"
        "galera:\n  datadir: /srv/db\nmysql:\n  timeout_seconds: 1.5\n"
        "collectors:\n  grastate: false\n"
    )
    cfg = load([f"--config.file={path}", "--web.listen-address=127.0.0.1:999"])
    assert cfg.web.listen_address == "127.0.0.1:999"  # flag wins
    assert cfg.web.telemetry_path == "/m"  # from the file
    assert cfg.galera.datadir == "/srv/db"
    assert cfg.mysql.timeout_seconds == 1.5
    assert cfg.collectors["grastate"] is False
    cfg = load([f"--config.file={path}", "--collect.grastate"])
    assert cfg.collectors["grastate"] is True


def test_every_error_has_its_location(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(
        "web:\n  listen_address: nowhere\n  bogus: 1\n"
        "mysql:\n  timeout_seconds: -3\n"
        "collectors:\n  nope: true\n"
        "extra: {}\n"
    )
    with pytest.raises(config.ConfigError) as info:
        load([f"--config.file={path}", "--log.level=loud"])
    text = "\n".join(info.value.problems)
    assert f"{path}: web.bogus: unknown setting" in text
    assert f"{path}: mysql.timeout_seconds: must be greater than 0" in text
    assert f"{path}: collectors.nope: unknown collector" in text
    assert f"{path}: extra: unknown section" in text
    assert "web.listen_address: expected host:port" in text
    assert "log.level" in text and "'loud'" in text


def test_invalid_yaml_points_at_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("web:\n  listen_address: [unclosed\n")
    with pytest.raises(config.ConfigError) as info:
        load([f"--config.file={path}"])
    assert info.value.problems[0].startswith(f"{path}:")
    assert "invalid YAML" in info.value.problems[0]


def test_option_file_and_secret(tmp_path: Path) -> None:
    cnf = tmp_path / "my.cnf"
    (tmp_path / "conf.d").mkdir()
    cnf.write_text(
        f"# comment\n!includedir {tmp_path}/conf.d/\n[client]\nuser = exporter\n"
        'password = "s3cr3t-pa55"\nsocket = /run/mysqld/mysqld.sock\n[mysqld]\nport=1\n'
    )
    cfg = load([f"--mysql.defaults-file={cnf}"])
    assert cfg.target.user == "exporter"
    assert cfg.target.password is not None and cfg.target.password.reveal() == "s3cr3t-pa55"
    assert cfg.target.socket == "/run/mysqld/mysqld.sock"
    assert "s3cr3t" not in repr(cfg)  # the dataclass repr masks the password
    assert "s3cr3t" not in str(cfg.target)


def test_option_file_errors_never_quote_the_password(tmp_path: Path) -> None:
    cnf = tmp_path / "my.cnf"
    cnf.write_text("password = topsecret-value\n[client]\nuser = x\n")  # no header first
    with pytest.raises(config.ConfigError) as info:
        load([f"--mysql.defaults-file={cnf}"])
    assert f"{cnf}:1: option before the first [group] header" in str(info.value)
    assert "topsecret" not in str(info.value)
    with pytest.raises(config.ConfigError, match="no options in \\[client\\]"):
        cnf.write_text("[mysqld]\nport = 3306\n")
        load([f"--mysql.defaults-file={cnf}"])
    with pytest.raises(config.ConfigError, match="cannot read MySQL option file"):
        load([f"--mysql.defaults-file={tmp_path / 'missing.cnf'}"])


def test_environment_overrides_and_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-a-file\n")
    cfg = load(
        [],
        env={
            "GALERA_EXPORTER_MYSQL_USER": "monitor",
            "GALERA_EXPORTER_MYSQL_HOST": "127.0.0.1",
            "GALERA_EXPORTER_MYSQL_PORT": "3307",
            "GALERA_EXPORTER_MYSQL_PASSWORD_FILE": str(secret),
        },
    )
    assert cfg.target.user == "monitor"
    assert cfg.target.host == "127.0.0.1"
    assert cfg.target.port == 3307
    assert cfg.target.password is not None and cfg.target.password.reveal() == "from-a-file"
    with pytest.raises(config.ConfigError, match="MYSQL_PORT: not a TCP port"):
        load([], env={"GALERA_EXPORTER_MYSQL_PORT": "http"})


def test_no_flag_takes_a_password() -> None:
    flags = [a for action in build_parser()._actions for a in action.option_strings]
    assert not [f for f in flags if "pass" in f.lower()]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "galera_exporter", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_config_ok_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text("galera:\n  datadir: /tmp\n")
    result = run_cli(f"--config.file={good}", "--check-config")
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout
    bad = tmp_path / "bad.yml"
    bad.write_text("web:\n  telemetry_path: metrics\nlog:\n  level: 3\n")
    result = run_cli(f"--config.file={bad}", "--check-config")
    assert result.returncode != 0
    assert "web.telemetry_path: must start with /" in result.stderr
    assert "log.level" in result.stderr


def test_version_and_help() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("galera-exporter ")
    result = run_cli("--help")
    assert result.returncode == 0
    for flag in (
        "--web.listen-address",
        "--web.telemetry-path",
        "--mysql.defaults-file",
        "--galera.datadir",
        "--log.level",
        "--check-config",
        "--collect.wsrep",
    ):
        assert flag in result.stdout


CANARY = "Cli-canary-PW-7781"  # must never appear in any output


def check_config(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "galera_exporter", "--check-config", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert CANARY not in output and CANARY[:10] not in output
    return result


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def test_every_bad_input_is_a_located_error_through_the_cli(tmp_path: Path) -> None:
    good_cnf = write_bytes(tmp_path / "good.cnf", f"[client]\npassword = {CANARY}\n".encode())
    cases: list[tuple[list[str], dict[str, str], str]] = [
        (
            ["--config.file=" + str(write_bytes(tmp_path / "mixed.yml", b"{1: x, a: y}\n"))],
            {},
            "mixed.yml: 1: keys must be strings",
        ),
        (
            ["--config.file=" + str(write_bytes(tmp_path / "mixed2.yml", b"web: {1: x, a: y}\n"))],
            {},
            "mixed2.yml: web.1: keys must be strings",
        ),
        (
            [
                "--config.file="
                + str(write_bytes(tmp_path / "latin1.yml", b"galera:\n  datadir: /caf\xe9\n"))
            ],
            {},
            "latin1.yml:2:16: not valid UTF-8",
        ),
        (
            [
                "--mysql.defaults-file="
                + str(
                    write_bytes(
                        tmp_path / "bad.cnf", b"[client]\npassword = " + CANARY.encode() + b"\xff\n"
                    )
                )
            ],
            {},
            "bad.cnf:2: [client] password: not valid UTF-8",
        ),
        (
            [f"--mysql.defaults-file={good_cnf}"],
            {
                "GALERA_EXPORTER_MYSQL_PASSWORD_FILE": str(
                    write_bytes(tmp_path / "pw", CANARY.encode() + b"\xe9\n")
                )
            },
            "MYSQL_PASSWORD_FILE: " + str(tmp_path / "pw") + ": not valid UTF-8",
        ),
        (["--mysql.timeout=1e10"], {}, "flag --mysql.timeout: at most 300, got '1e10'"),
        (["--mysql.timeout=1e999"], {}, "flag --mysql.timeout: expected a finite number"),
        (["--mysql.timeout=nan"], {}, "flag --mysql.timeout: expected a finite number"),
        (
            [
                "--config.file="
                + str(
                    write_bytes(
                        tmp_path / "inf.yml",
                        b"backend: {backlog_bytes: .inf}\nmysql: {timeout_seconds: .nan}\n",
                    )
                )
            ],
            {},
            "inf.yml: backend.backlog_bytes: expected a finite number",
        ),
        (
            [
                "--config.file="
                + str(write_bytes(tmp_path / "inf2.yml", b"mysql: {timeout_seconds: .nan}\n"))
            ],
            {},
            "inf2.yml: mysql.timeout_seconds: expected a finite number",
        ),
        (
            [
                "--mysql.defaults-file="
                + str(
                    write_bytes(
                        tmp_path / "indent.cnf", f"password = {CANARY}\n[client]\n".encode()
                    )
                )
            ],
            {},
            "indent.cnf:1: option before the first [group] header",
        ),
    ]
    for args, env, expected in cases:
        result = check_config(*args, env=env)
        print(f"{args[0][-40:]}: rc {result.returncode}: {result.stderr.strip()}")
        assert result.returncode == 2
        assert expected in result.stderr


def test_check_config_prints_permission_warnings_once(tmp_path: Path) -> None:
    cnf = write_bytes(tmp_path / "open.cnf", f"[client]\n  password = {CANARY}\n".encode())
    cnf.chmod(0o644)
    result = check_config(f"--mysql.defaults-file={cnf}")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("readable by everyone") == 1
    assert "configuration OK" in result.stdout
