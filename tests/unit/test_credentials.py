"""Credentials from the option file and the environment: what the client would use, TLS
settings, and warnings about files others can read."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from galera_exporter import config, credentials
from galera_exporter.cli import build_parser
from galera_exporter.collectors import COLLECTOR_NAMES


def load(argv: list[str], env: dict[str, str] | None = None) -> config.Config:
    return config.load(build_parser().parse_args(argv), COLLECTOR_NAMES, env=env or {})


def cnf(tmp_path: Path, text: str, mode: int = 0o600, name: str = "my.cnf") -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return path


def password(cfg: config.Config) -> str:
    assert cfg.target.password is not None
    return cfg.target.password.reveal()


def test_indented_password_is_the_password_not_part_of_the_user(tmp_path: Path) -> None:
    # configparser took the indented line as a continuation of `user`: the password went
    # to mysqld (and its error log) as part of the user name.
    path = cnf(tmp_path, "[client]\nuser = exporter\n    password = s3cret\n")
    cfg = load([f"--mysql.defaults-file={path}"])
    assert cfg.target.user == "exporter"
    assert password(cfg) == "s3cret"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('password = "pa#ss;w" # comment', "pa#ss;w"),
        ("password = abc # comment", "abc"),
        ("password = abc ; not a comment", "abc ; not a comment"),
        ("password='a\\sb\\\\c\\x'", "a b\\c\\x"),
        ("password =\t'  spaced  '\t", "  spaced  "),
    ],
)
def test_quotes_comments_and_escapes(tmp_path: Path, line: str, expected: str) -> None:
    path = cnf(tmp_path, "[client]\n" + line + "\n")
    cfg = load([f"--mysql.defaults-file={path}"])
    assert password(cfg) == expected


def test_include_groups_and_last_wins(tmp_path: Path) -> None:
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    cnf(conf_d, "[client-mariadb]\npassword = from-conf-d\n", name="50-pw.cnf")
    cnf(conf_d, "[client]\npassword = ignored, not .cnf\n", name="60-pw.conf")
    included = cnf(
        tmp_path, "[client-server]\nsocket = /run/x.sock\nuser = early\n", name="inc.cnf"
    )
    top = cnf(
        tmp_path,
        f"!include {included}\n[mysql]\nuser = for-the-cli-only\n[client]\nuser = exporter\n"
        f"!includedir {conf_d}\n",
    )
    cfg = load([f"--mysql.defaults-file={top}"])
    assert cfg.target.user == "exporter"
    assert cfg.target.socket == "/run/x.sock"
    assert password(cfg) == "from-conf-d"


def self_signed(directory: Path, name: str, *extra: str) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-subj", f"/CN={name}", "-days", "1", "-keyout", f"{name}-key.pem",
         "-out", f"{name}.pem", *(extra or ("-nodes",))],
        cwd=directory, check=True, capture_output=True, timeout=30,
    )  # fmt: skip


def test_encrypted_key_is_a_config_error_not_a_prompt(tmp_path: Path) -> None:
    self_signed(tmp_path, "client", "-passout", "pass:Key-passphrase-77")
    top = cnf(
        tmp_path,
        f"[client]\nssl-cert = {tmp_path / 'client.pem'}\n"
        f"ssl-key = {tmp_path / 'client-key.pem'}\n",
    )
    result = subprocess.run(
        [sys.executable, "-m", "galera_exporter", "--check-config", f"--mysql.defaults-file={top}"],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    print(result.stderr.strip())
    assert result.returncode == 2
    assert f"{top}:2: cannot use the TLS settings: ssl-key: the key is encrypted" in result.stderr
    assert "Key-passphrase" not in result.stderr


def test_tls_options(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    top = cnf(tmp_path, f"[client]\nloose_ssl_ca = {ca}\nssl-verify-server-cert = ON\n")
    with pytest.raises(config.ConfigError) as info:  # the files are tried at load time
        load([f"--mysql.defaults-file={top}"])
    assert str(info.value).startswith(f"{top}:2: cannot use the TLS settings: ssl-ca: [X509")
    self_signed(tmp_path, "ca")
    top.write_text(f"[client]\nloose_ssl_ca = {tmp_path / 'ca.pem'}\nssl-verify-server-cert = ON\n")
    tls = load([f"--mysql.defaults-file={top}"]).target.tls
    assert tls == credentials.TLSOptions(
        enabled=True, ca=str(tmp_path / "ca.pem"), verify_server_cert=True
    )
    assert tls.context().verify_mode == ssl.CERT_REQUIRED
    top.write_text("[client]\nssl-verify-server-cert\nskip-ssl-verify-server-cert\nssl = 0\n")
    tls = load([f"--mysql.defaults-file={top}"]).target.tls
    assert tls == credentials.TLSOptions(enabled=False)
    assert tls.connect_args() == {"ssl_disabled": True}
    assert credentials.TLSOptions().connect_args() == {}
    verifying = credentials.TLSOptions(enabled=True, verify_server_cert=True).context()
    assert verifying.check_hostname and verifying.verify_mode == ssl.CERT_REQUIRED
    encrypting = credentials.TLSOptions(enabled=True).context()
    assert encrypting.verify_mode == ssl.CERT_NONE


def test_tls_file_problems_are_located(tmp_path: Path) -> None:
    fifo = tmp_path / "ca.fifo"
    os.mkfifo(fifo)
    top = cnf(
        tmp_path,
        f"[client]\nssl-ca = {fifo}\nssl-key = {tmp_path / 'missing.pem'}\nssl = maybe\n",
    )
    with pytest.raises(config.ConfigError) as info:
        load([f"--mysql.defaults-file={top}"])
    text = str(info.value)
    assert f"{top}:2: ssl-ca {fifo}: not a regular file" in text
    assert f"{top}:3: ssl-key {tmp_path / 'missing.pem'}: No such file or directory" in text
    assert f"{top}:3: ssl-key without ssl-cert" in text
    assert f"{top}:4: [client] ssl: expected 1/0" in text


def test_readable_files_are_warned_about_without_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    top = cnf(tmp_path, "[client]\nuser = u\npassword = Hunter2-secret\n", mode=0o644)
    secret = cnf(tmp_path, "Other-secret-pw\n", mode=0o640, name="pw")
    os.chown(secret, -1, 65534)  # a group that is not the exporter's own
    env = {"GALERA_EXPORTER_MYSQL_PASSWORD_FILE": str(secret)}
    with caplog.at_level("WARNING"):
        cfg = load([f"--mysql.defaults-file={top}"], env=env)
    assert any(
        f"{top}: this option file is readable by everyone (mode 0644)" in w for w in cfg.warnings
    )
    assert any(f"{secret}: the password file is readable by group" in w for w in cfg.warnings)
    assert len(cfg.warnings) == 2
    assert [r.getMessage() for r in caplog.records] == list(cfg.warnings)  # logged, once each
    for text in (*cfg.warnings, caplog.text):
        assert "Hunter2" not in text and "Other-secret" not in text
    top.chmod(0o600)
    secret.chmod(0o600)
    assert load([f"--mysql.defaults-file={top}"], env=env).warnings == ()
    os.chown(secret, -1, os.getegid())
    secret.chmod(0o640)  # the documented 0640 with the exporter's own group: fine
    assert load([f"--mysql.defaults-file={top}"], env=env).warnings == ()


def test_non_utf8_values_are_located_and_not_quoted(tmp_path: Path) -> None:
    top = tmp_path / "my.cnf"
    top.write_bytes(
        b"[client]\n# caf\xe9 in a comment is fine\nuser = u\npassword = Pw\xff\xfeXYZ\n"
    )
    top.chmod(0o600)
    with pytest.raises(config.ConfigError) as info:
        load([f"--mysql.defaults-file={top}"])
    assert str(info.value) == f"{top}:4: [client] password: not valid UTF-8"
    pw = tmp_path / "pw"
    pw.write_bytes(b"Pw\xffXYZ\n")
    with pytest.raises(config.ConfigError) as info:
        load([], env={"GALERA_EXPORTER_MYSQL_PASSWORD_FILE": str(pw)})
    assert "MYSQL_PASSWORD_FILE" in str(info.value) and "not valid UTF-8" in str(info.value)
    assert "XYZ" not in str(info.value)


def test_world_writable_option_file_is_refused(tmp_path: Path) -> None:
    top = cnf(tmp_path, "[client]\nuser = u\n", mode=0o646)
    with pytest.raises(config.ConfigError, match="world-writable, and MariaDB clients ignore it"):
        load([f"--mysql.defaults-file={top}"])


def test_non_ascii_password_is_kept_as_the_client_reads_it(tmp_path: Path) -> None:
    # The mariadb client sends the option file's bytes (UTF-8); the exporter keeps the same
    # text and db.py sends it UTF-8 encoded (tests/hardening/test_credentials.py logs in).
    top = cnf(tmp_path, "[client]\npassword = Pässwörd€-XYZ\n")
    assert password(load([f"--mysql.defaults-file={top}"])) == "Pässwörd€-XYZ"
    pw = cnf(tmp_path, "Pässwörd€-XYZ\n", name="pw")
    env = {"GALERA_EXPORTER_MYSQL_PASSWORD_FILE": str(pw)}
    assert password(load([], env=env)) == "Pässwörd€-XYZ"
