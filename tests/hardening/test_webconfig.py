"""The web config parser: what it accepts, and every error with its location."""

from __future__ import annotations

import base64
import os
import ssl
import time
from pathlib import Path

import bcrypt
import pytest

from galera_exporter import webconfig
from galera_exporter.auth import BasicAuth, Verdict
from tests.support.tls import encrypt_key, self_signed

HASH = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("cert"))


def load(tmp_path: Path, text: str) -> webconfig.WebSettings:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return webconfig.load(str(path))


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(webconfig.WebConfigError) as info:
        load(tmp_path, text)
    return info.value.problems


def test_empty_path_and_empty_file_mean_plain_http(tmp_path: Path) -> None:
    assert webconfig.load("").ssl_context is None
    settings = load(tmp_path, "")
    assert settings.ssl_context is None and settings.auth is None and settings.headers == ()


def test_full_config_relative_paths(tmp_path: Path, cert: tuple[Path, Path]) -> None:
    c, k = cert
    (tmp_path / "c.pem").write_bytes(c.read_bytes())
    (tmp_path / "k.pem").write_bytes(k.read_bytes())
    settings = load(
        tmp_path,
        "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  min_version: TLS13\n"
        "  prefer_server_cipher_suites: true\n"
        f"basic_auth_users:\n  alice: '{HASH}'\n"
        "http_server_config:\n  http2: false\n  headers:\n    x-frame-options: deny\n",
    )
    assert settings.ssl_context is not None
    assert settings.ssl_context.minimum_version == ssl.TLSVersion.TLSv1_3
    assert settings.ssl_context.verify_mode == ssl.CERT_NONE
    assert settings.tls_files[0] == str(tmp_path / "c.pem")
    assert settings.headers == (("X-Frame-Options", "deny"),)
    assert settings.auth is not None and settings.auth.users == ("alice",)


def test_basic_auth_checks(tmp_path: Path) -> None:
    auth = BasicAuth({"alice": HASH.encode(), "bob": ("$2y$" + HASH[4:]).encode()})

    def header(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    assert auth.check_header(header("alice", "s3cret")) is Verdict.OK
    assert auth.check_header(header("alice", "s3cret")) is Verdict.OK  # from the cache
    assert auth.check_header(header("bob", "s3cret")) is Verdict.OK  # $2y$ hashes (htpasswd -B)
    for bad in (
        header("alice", "wrong"),
        header("alice", "wrong"),  # a cached failure stays a failure
        header("carol", "s3cret"),
        header("alice", "s3cret" + "x" * 70),
        "Basic",
        "Basic ====",
        "Digest abc",
        "",
        None,
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    ):
        assert auth.check_header(bad) is Verdict.DENIED, bad


def test_unknown_users_cost_what_known_users_cost() -> None:
    """The dummy hash of unknown users has the users' cost, built without hashing at start."""
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(11))
    started = time.perf_counter()
    auth = BasicAuth({"alice": hashed})
    assert time.perf_counter() - started < 0.05  # no bcrypt at construction

    def timed(user: str, password: str) -> float:
        begin = time.perf_counter()
        assert auth.check(user, password) is Verdict.DENIED
        return time.perf_counter() - begin

    # The guarantee is structural (the dummy hash has the users' cost); the timing shows it.
    assert auth.cost == 11
    runs = [(timed("alice", f"wrong-{i}"), timed("mallory", f"wrong-{i}")) for i in range(7)]
    known, unknown = min(r[0] for r in runs), min(r[1] for r in runs)
    print(f"cost 11: known user {known * 1000:.0f} ms, unknown user {unknown * 1000:.0f} ms")
    # Loose: the machine is shared; a cost off by one would be a factor of 2.
    assert abs(known - unknown) < 0.4 * known
    with pytest.raises(ValueError, match="different bcrypt costs"):
        BasicAuth({"a": hashed, "b": HASH.encode()})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("basic_auth_users: [a\n", "web.yml:2:1: invalid YAML"),
        ("- a\n", "web.yml: must be a mapping"),
        ("tls_config: {}\n", "web.yml: tls_config: unknown section"),
        ("basic_auth_users:\n  alice: plain\n", "basic_auth_users.alice: not a bcrypt hash"),
        ("basic_auth_users:\n  'a:b': x\n", "basic_auth_users.a:b: a user name must be"),
        ("basic_auth_users: [x]\n", "basic_auth_users: must be a mapping"),
        ("tls_server_config:\n  cert_file: c.pem\n", "tls_server_config.key_file: required"),
        (
            "tls_server_config:\n  cipher_suites: []\n",
            "tls_server_config.cipher_suites: not supported",
        ),
        ("tls_server_config:\n  bogus: 1\n", "tls_server_config.bogus: unknown setting"),
        ("tls_server_config:\n  cert_file: 5\n", "tls_server_config.cert_file: expected a string"),
        (
            "tls_server_config:\n  min_version: TLS14\n",
            "tls_server_config.min_version: unknown TLS",
        ),
        ("tls_server_config:\n  client_ca_file: ca.pem\n", "client settings need cert_file"),
        (
            "http_server_config:\n  headers:\n    Server: x\n",
            "headers.Server: not an allowed header",
        ),
        ("http_server_config:\n  http3: true\n", "http_server_config.http3: unknown setting"),
        ("http_server_config:\n  http2: yes please\n", "http2: expected true or false"),
    ],
)
def test_errors_say_where(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found
    assert all(p.startswith(str(tmp_path / "web.yml")) for p in found), found


def test_tls_errors(tmp_path: Path, cert: tuple[Path, Path]) -> None:
    c, k = cert
    tls = f"tls_server_config:\n  cert_file: {c}\n  key_file: {k}\n"
    found = problems(tmp_path, tls + "  client_auth_type: RequireAnyClientCert\n")
    assert any("RequireAnyClientCert" in p and "not supported" in p for p in found)
    found = problems(tmp_path, tls + "  client_auth_type: RequireAndVerifyClientCert\n")
    assert any("client_ca_file: required by" in p for p in found)
    found = problems(tmp_path, tls + f"  client_ca_file: {c}\n")
    assert any("without a verifying client_auth_type" in p for p in found)
    found = problems(tmp_path, tls + "  client_auth_type: Sometimes\n")
    assert any("unknown value 'Sometimes'" in p for p in found)
    found = problems(tmp_path, f"tls_server_config:\n  cert_file: {c}\n  key_file: {c}\n")
    assert any("cert_file: cannot load" in p for p in found), found
    found = problems(tmp_path, f"tls_server_config:\n  cert_file: {c}\n  key_file: /no/such\n")
    assert any("key_file: cannot read /no/such" in p for p in found)
    ok = load(
        tmp_path, tls + f"  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: {c}\n"
    )
    assert ok.ssl_context is not None and ok.ssl_context.verify_mode == ssl.CERT_OPTIONAL


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(webconfig.WebConfigError) as info:
        webconfig.load(str(tmp_path / "absent.yml"))
    assert info.value.problems == [
        f"{tmp_path / 'absent.yml'}: cannot read web config: No such file or directory"
    ]


def test_bcrypt_cost_bounds_and_one_cost(tmp_path: Path) -> None:
    # Cost 20 takes over a minute per check: refused at load, located, and fast.
    slow = "$2b$20$" + HASH[7:]
    started = time.monotonic()
    found = problems(tmp_path, f"basic_auth_users:\n  alice: '{slow}'\n")
    assert time.monotonic() - started < 1
    assert any("basic_auth_users.alice: bcrypt cost 20 out of range 4..19" in p for p in found)
    other = bcrypt.hashpw(b"x", bcrypt.gensalt(5)).decode()
    found = problems(tmp_path, f"basic_auth_users:\n  alice: '{HASH}'\n  bob: '{other}'\n")
    assert any("same bcrypt cost" in p and "alice (4), bob (5)" in p for p in found), found


def test_fifo_and_oversized_files_are_refused(tmp_path: Path, cert: tuple[Path, Path]) -> None:
    c, k = cert
    fifo = tmp_path / "fifo.pem"
    os.mkfifo(fifo)
    started = time.monotonic()
    found = problems(tmp_path, f"tls_server_config:\n  cert_file: {fifo}\n  key_file: {k}\n")
    assert any(f"cert_file: cannot read {fifo}: not a regular file" in p for p in found), found
    found = problems(tmp_path, f"tls_server_config:\n  cert_file: {c}\n  key_file: {fifo}\n")
    assert any(f"key_file: cannot read {fifo}: not a regular file" in p for p in found), found
    with pytest.raises(webconfig.WebConfigError) as info:
        webconfig.load(str(fifo))
    assert info.value.problems == [f"{fifo}: cannot read web config: not a regular file"]
    assert time.monotonic() - started < 2
    big = tmp_path / "big.pem"
    big.write_bytes(b"x" * (webconfig.MAX_FILE_BYTES + 1))
    found = problems(tmp_path, f"tls_server_config:\n  cert_file: {big}\n  key_file: {k}\n")
    assert any("cert_file: cannot read" in p and "larger than" in p for p in found), found


def test_passphrase_key_is_a_clear_error(tmp_path: Path, cert: tuple[Path, Path]) -> None:
    c, k = cert
    encrypted = encrypt_key(k, tmp_path / "enc.key", "secret-passphrase")
    found = problems(tmp_path, f"tls_server_config:\n  cert_file: {c}\n  key_file: {encrypted}\n")
    assert len(found) == 1, found
    assert f"tls_server_config.key_file: {encrypted} is protected by a passphrase" in found[0]
    assert "Errno" not in found[0]
