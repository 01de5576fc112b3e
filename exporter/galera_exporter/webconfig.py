"""The web config file (Prometheus exporter-toolkit format): TLS, basic auth, response headers.

Supported keys (anything else is an error, so a setting is never silently ignored):

    tls_server_config:
      cert_file: server.crt          # PEM; relative paths are relative to this file
      key_file: server.key
      client_auth_type: NoClientCert # or VerifyClientCertIfGiven, RequireAndVerifyClientCert
      client_ca_file: ca.crt         # required by the two verifying client_auth_types
      min_version: TLS12             # TLS10 .. TLS13 (default TLS12, as exporter-toolkit)
      max_version: TLS13
      prefer_server_cipher_suites: true  # accepted and ignored (as Go >= 1.17 does)
    http_server_config:
      http2: true                    # accepted and ignored (HTTP/1 only)
      headers: {X-Frame-Options: deny, ...}
    basic_auth_users:
      alice: $2b$10$...              # bcrypt hashes ($2a$, $2b$, $2y$), one cost for all, 4..19

Every file it names, and the file itself, must be a regular file (a FIFO would hang the load).
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from galera_exporter import regularfile
from galera_exporter.auth import BCRYPT_MAX_COST, BasicAuth, bcrypt_cost

CLIENT_AUTH_TYPES = {
    "": ssl.CERT_NONE,
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# Go can ask for a client certificate without verifying it; Python's ssl module cannot.
UNSUPPORTED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")
TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
TLS_KEYS = {
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "min_version",
    "max_version",
    "prefer_server_cipher_suites",
}
TLS_UNSUPPORTED = {"cipher_suites", "curve_preferences", "client_allowed_sans", "cert", "key"}
# The headers exporter-toolkit allows in http_server_config.headers.
ALLOWED_HEADERS = (
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
)
BCRYPT_RE = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
# Certificates, keys and the web config are small; anything bigger is not what it claims.
MAX_FILE_BYTES = 1 << 20


class WebConfigError(Exception):
    """The web config file is invalid; each problem starts with its location."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class WebSettings:
    """What the HTTP server applies: a TLS context, basic auth users, extra response headers."""

    source: str = ""
    ssl_context: ssl.SSLContext | None = None
    auth: BasicAuth | None = None
    headers: tuple[tuple[str, str], ...] = ()
    tls_files: tuple[str, ...] = field(default=())

    @property
    def tls(self) -> bool:
        return self.ssl_context is not None


def _where(path: str, *keys: str) -> str:
    return f"{path}: {'.'.join(keys)}" if keys else path


def _mapping(value: Any, where: str, problems: list[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where}: must be a mapping")
        return {}
    return value


def _string(value: Any, where: str, problems: list[str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(f"{where}: expected a string, got {type(value).__name__}")
        return ""
    return value


def _resolve(base: Path, name: str) -> str:
    path = Path(name)
    return str(path if path.is_absolute() else base / path)


@contextlib.contextmanager
def open_regular(path: str) -> Iterator[int]:
    """A descriptor of `path`, which must be a regular file of sane size; OSError otherwise.

    Opened non-blocking and checked with fstat before anything reads it: a plain open() of a
    FIFO waits for a writer, which hung start-up and reload. Readers then go through
    /proc/self/fd/N, i.e. this very inode, so the file cannot be swapped between check and use.
    """
    with regularfile.open_regular(path, MAX_FILE_BYTES) as (fd, _):
        yield fd


def fd_path(fd: int, path: str) -> str:
    proc = f"/proc/self/fd/{fd}"
    return proc if os.path.exists(proc) else path


def _readable(path: str, where: str, problems: list[str]) -> bool:
    try:
        with open_regular(path):
            return True
    except OSError as err:
        problems.append(f"{where}: cannot read {path}: {err.strerror}")
        return False


class _EncryptedKeyError(Exception):
    """Raised by the password callback: the exporter never prompts for a key passphrase."""


def _no_passphrase() -> bytes:
    raise _EncryptedKeyError


@dataclass(frozen=True)
class _TlsFiles:
    cert: str
    key: str
    ca: str
    verify: ssl.VerifyMode
    versions: dict[str, ssl.TLSVersion]


def _tls_versions(raw: dict[str, Any], path: str, problems: list[str]) -> dict[str, ssl.TLSVersion]:
    versions: dict[str, ssl.TLSVersion] = {}
    for name in ("min_version", "max_version"):
        where = _where(path, f"tls_server_config.{name}")
        text = _string(raw.get(name), where, problems)
        if text and text not in TLS_VERSIONS:
            known = ", ".join(TLS_VERSIONS)
            problems.append(f"{where}: unknown TLS version {text!r} (one of {known})")
        elif text:
            versions[name] = TLS_VERSIONS[text]
    return versions


def _client_verify(auth_type: str, ca: str, path: str, problems: list[str]) -> ssl.VerifyMode:
    where = _where(path, "tls_server_config.client_auth_type")
    if auth_type in UNSUPPORTED_CLIENT_AUTH:
        problems.append(
            f"{where}: {auth_type} (a client certificate without verification) is not "
            "supported; use VerifyClientCertIfGiven or RequireAndVerifyClientCert"
        )
        return ssl.CERT_NONE
    if auth_type not in CLIENT_AUTH_TYPES:
        known = ", ".join(k for k in CLIENT_AUTH_TYPES if k)
        problems.append(f"{where}: unknown value {auth_type!r} (one of {known})")
        return ssl.CERT_NONE
    verify = CLIENT_AUTH_TYPES[auth_type]
    ca_where = _where(path, "tls_server_config.client_ca_file")
    if ca and verify == ssl.CERT_NONE:
        problems.append(
            f"{ca_where}: a client CA without a verifying client_auth_type "
            "(refused, as exporter-toolkit does)"
        )
    if verify != ssl.CERT_NONE and not ca:
        problems.append(f"{ca_where}: required by {auth_type}")
    return verify


def _tls_files(raw: dict[str, Any], path: str, base: Path, problems: list[str]) -> _TlsFiles | None:
    """Validate tls_server_config; None for plain HTTP or when something is wrong."""
    for key in sorted(set(raw) - TLS_KEYS):
        reason = "not supported by galera-exporter" if key in TLS_UNSUPPORTED else "unknown setting"
        problems.append(f"{_where(path, 'tls_server_config', key)}: {reason}")
    start = len(problems)
    values = {
        key: _string(raw.get(key), _where(path, f"tls_server_config.{key}"), problems)
        for key in ("cert_file", "key_file", "client_auth_type", "client_ca_file")
    }
    cert, key, auth_type, ca = values.values()
    versions = _tls_versions(raw, path, problems)
    if not isinstance(raw.get("prefer_server_cipher_suites", False), bool):
        where = _where(path, "tls_server_config.prefer_server_cipher_suites")
        problems.append(f"{where}: expected true or false")
    if not cert and not key:
        # exporter-toolkit: no certificate means plain HTTP.
        if auth_type or ca:
            where = _where(path, "tls_server_config")
            problems.append(f"{where}: client settings need cert_file and key_file")
        return None
    if not cert or not key:
        missing = "cert_file" if not cert else "key_file"
        where = _where(path, "tls_server_config", missing)
        problems.append(f"{where}: required when TLS is configured")
        return None
    verify = _client_verify(auth_type, ca, path, problems)
    files = {"cert_file": cert, "key_file": key, "client_ca_file": ca}
    resolved = {name: _resolve(base, value) if value else "" for name, value in files.items()}
    for name, value in resolved.items():
        if value:
            _readable(value, _where(path, f"tls_server_config.{name}"), problems)
    if len(problems) > start:
        return None
    return _TlsFiles(
        resolved["cert_file"], resolved["key_file"], resolved["client_ca_file"], verify, versions
    )


def _tls_context(files: _TlsFiles, path: str, problems: list[str]) -> ssl.SSLContext | None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    where = _where(path, "tls_server_config.min_version")
    try:
        context.minimum_version = files.versions.get("min_version", ssl.TLSVersion.TLSv1_2)
        if "max_version" in files.versions:
            context.maximum_version = files.versions["max_version"]
        with contextlib.ExitStack() as stack:
            where = _where(path, "tls_server_config.cert_file")
            cert = fd_path(stack.enter_context(open_regular(files.cert)), files.cert)
            where = _where(path, "tls_server_config.key_file")
            key = fd_path(stack.enter_context(open_regular(files.key)), files.key)
            where = _where(path, "tls_server_config.cert_file")
            # The ssl error names the problem (e.g. key values mismatch), never key material.
            # The callback stops OpenSSL from prompting on a terminal for a passphrase.
            context.load_cert_chain(cert, key, password=_no_passphrase)
            if files.ca:
                where = _where(path, "tls_server_config.client_ca_file")
                ca = fd_path(stack.enter_context(open_regular(files.ca)), files.ca)
                context.load_verify_locations(cafile=ca)
    except _EncryptedKeyError:
        problems.append(
            f"{_where(path, 'tls_server_config.key_file')}: {files.key} is protected by a "
            "passphrase, which galera-exporter cannot ask for; store the key unencrypted "
            "(openssl pkey -in KEY -out PLAIN) readable only by the exporter's user"
        )
        return None
    except (ssl.SSLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or getattr(err, "strerror", None) or err
        problems.append(f"{where}: cannot load: {reason}")
        return None
    context.verify_mode = files.verify
    return context


def _users(raw: Any, path: str, problems: list[str]) -> dict[str, bytes]:
    users: dict[str, bytes] = {}
    for user, hashed in _mapping(raw, _where(path, "basic_auth_users"), problems).items():
        where = _where(path, "basic_auth_users", str(user))
        if not isinstance(user, str) or not user or ":" in user:
            problems.append(f"{where}: a user name must be a non-empty string without ':'")
        elif not isinstance(hashed, str) or not BCRYPT_RE.match(hashed):
            # Never quote the value: it could be a plain-text password pasted by mistake.
            problems.append(f"{where}: not a bcrypt hash ($2a$/$2b$/$2y$, 60 characters)")
        else:
            cost = bcrypt_cost(hashed.encode("ascii"))
            if not 4 <= cost <= BCRYPT_MAX_COST:
                # Refused rather than clamped: at cost 20 one check takes over a minute.
                problems.append(
                    f"{where}: bcrypt cost {cost} out of range 4..{BCRYPT_MAX_COST} "
                    "(each step doubles the time of every login; 10 to 12 is usual)"
                )
            else:
                users[user] = hashed.encode("ascii")
    costs = sorted({bcrypt_cost(h) for h in users.values()})
    if len(costs) > 1:
        # With two costs the time of a failed login tells which cost, and so whether the user
        # exists; one cost lets unknown users be checked at exactly the real users' cost.
        names = ", ".join(f"{u} ({bcrypt_cost(h)})" for u, h in sorted(users.items()))
        problems.append(
            f"{_where(path, 'basic_auth_users')}: all users must have the same bcrypt cost, "
            f"got {names}: re-hash them with one cost (htpasswd -nbBC 10 USER PASSWORD)"
        )
    return users


def _headers(raw: Any, path: str, problems: list[str]) -> tuple[tuple[str, str], ...]:
    section = _mapping(raw, _where(path, "http_server_config"), problems)
    for key in sorted(set(section) - {"headers", "http2"}):
        problems.append(f"{_where(path, 'http_server_config', key)}: unknown setting")
    if "http2" in section and not isinstance(section["http2"], bool):
        problems.append(f"{_where(path, 'http_server_config.http2')}: expected true or false")
    headers: list[tuple[str, str]] = []
    for name, value in _mapping(
        section.get("headers"), _where(path, "http_server_config.headers"), problems
    ).items():
        where = _where(path, "http_server_config.headers", str(name))
        canonical = next((h for h in ALLOWED_HEADERS if h.lower() == str(name).lower()), None)
        if canonical is None:
            problems.append(f"{where}: not an allowed header (one of {', '.join(ALLOWED_HEADERS)})")
        elif not isinstance(value, str) or "\n" in value or "\r" in value:
            problems.append(f"{where}: expected a one-line string")
        else:
            headers.append((canonical, value))
    return tuple(headers)


def load(path: str) -> WebSettings:
    """Read and validate a web config file; raise WebConfigError listing every problem."""
    if not path:
        return WebSettings()
    problems: list[str] = []
    try:
        with open_regular(path) as fd:
            raw = yaml.safe_load(regularfile.read_at_most(fd, MAX_FILE_BYTES).decode("utf-8"))
    except OSError as err:
        raise WebConfigError([f"{path}: cannot read web config: {err.strerror}"]) from None
    except UnicodeDecodeError:
        raise WebConfigError([f"{path}: not UTF-8 text"]) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise WebConfigError(
            [f"{where}: invalid YAML: {getattr(err, 'problem', None) or err}"]
        ) from None
    top = _mapping(raw, path, problems)
    for key in sorted(set(top) - {"tls_server_config", "basic_auth_users", "http_server_config"}):
        problems.append(f"{_where(path, str(key))}: unknown section")
    base = Path(path).resolve().parent
    tls_raw = _mapping(top.get("tls_server_config"), _where(path, "tls_server_config"), problems)
    files = _tls_files(tls_raw, path, base, problems)
    context = _tls_context(files, path, problems) if files and not problems else None
    users = _users(top.get("basic_auth_users"), path, problems)
    headers = _headers(top.get("http_server_config"), path, problems)
    if problems:
        raise WebConfigError(problems)
    return WebSettings(
        source=path,
        ssl_context=context,
        auth=BasicAuth(users) if users else None,
        headers=headers,
        tls_files=tuple(f for f in (files.cert, files.key, files.ca) if f) if files else (),
    )
