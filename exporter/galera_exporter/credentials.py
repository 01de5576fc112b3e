"""Where and as whom to connect to mysqld: the option file, the environment, TLS settings.

Groups: [client], [client-server] and [client-mariadb] — what MariaDB's client library reads
for any program, and what every MariaDB command-line tool reads besides its own group. The
per-program groups ([mysql], [mariadb-client], [mysqladmin]...) belong to those programs and
are not read. The last occurrence of an option wins, in file order across the groups, as for
the client. Names compare as my_getopt compares them: `-` and `_` alike, `loose-` dropped,
`skip-`/`disable-`/`enable-` on the boolean ssl options; unlike my_getopt, abbreviations
(`pass=`) are not expanded.
"""

from __future__ import annotations

import dataclasses
import errno
import grp
import os
import ssl
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from galera_exporter import optionfile, regularfile

CLIENT_GROUPS = ("client", "client-server", "client-mariadb")
ENV_PREFIX = "GALERA_EXPORTER_"
MAX_PASSWORD_FILE_BYTES = 64 << 10

STRING_OPTIONS = ("user", "password", "host", "socket", "port")
TLS_PATH_OPTIONS = ("ssl-ca", "ssl-capath", "ssl-cert", "ssl-key")
TLS_BOOL_OPTIONS = ("ssl", "ssl-verify-server-cert")
# TLS options the client honours and the exporter does not: ignoring them silently could
# weaken what the administrator asked for, so each one gets a warning.
TLS_UNSUPPORTED = ("ssl-crl", "ssl-crlpath", "ssl-cipher", "tls-version", "ssl-fp", "ssl-fplist")
BOOL_TRUE = ("1", "on", "true")  # my_getopt's get_bool_argument(); anything else is refused
BOOL_FALSE = ("0", "off", "false")


class Secret:
    """A string that never shows itself in repr/str, so it cannot leak into logs or errors."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class TLSOptions:
    """The client's ssl* options. `enabled` None: not asked either way (the driver's default)."""

    enabled: bool | None = None
    ca: str | None = None
    capath: str | None = None
    cert: str | None = None
    key: str | None = None
    verify_server_cert: bool = False

    def context(self) -> ssl.SSLContext:
        """A fresh context, reading the files now as the client does on every connect.

        A CA makes the server's certificate chain checked (as libmariadb does with ssl-ca);
        ssl-verify-server-cert adds the host name check, and without a CA uses the system's
        store. Raises OSError (ssl.SSLError is one) naming the option at fault.
        """
        verify = bool(self.ca or self.capath or self.verify_server_cert)
        try:
            context = ssl.create_default_context(cafile=self.ca, capath=self.capath)
        except OSError as err:
            raise _named_error("ssl-ca" if self.ca else "ssl-capath", err) from None
        # As pymysql does and OpenSSL's default for the C client: not Python 3.13's strict
        # X.509 mode, which refuses the certificates mariadb-install-db-style tooling makes.
        context.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
        context.check_hostname = self.verify_server_cert
        context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
        if self.cert:
            try:
                # A passphrase would be prompted for on a terminal: answer with none instead,
                # so an encrypted key fails at once.
                context.load_cert_chain(self.cert, self.key, password=lambda: b"")
            except OSError as err:
                if _encrypted(self.key or self.cert):
                    raise OSError(
                        errno.EINVAL, "ssl-key: the key is encrypted; passphrases are not supported"
                    ) from None
                raise _named_error("ssl-cert/ssl-key", err) from None
        return context

    def connect_args(self) -> dict[str, Any]:
        """pymysql.connect() arguments: a verified context, TLS refused, or the driver's
        default when the option file says nothing about TLS."""
        if self.enabled is None:
            return {}
        if not self.enabled:
            return {"ssl_disabled": True}
        return {"ssl": self.context()}


def _encrypted(path: str) -> bool:
    """Whether a PEM key is passphrase-protected (OpenSSL only says "PEM lib")."""
    try:
        data, _ = regularfile.read_regular_file(path, 1 << 20)
    except OSError:
        return False
    return b"ENCRYPTED" in data


def _named_error(option: str, err: OSError) -> OSError:
    reason = err.strerror or getattr(err, "reason", None) or type(err).__name__
    return OSError(err.errno or 0, f"{option}: {reason}")


@dataclass(frozen=True)
class MySQLTarget:
    """Where and as whom to connect; the password stays wrapped in a Secret."""

    user: str | None = None
    password: Secret | None = None
    host: str | None = None
    port: int = 3306
    socket: str | None = None
    tls: TLSOptions = field(default_factory=TLSOptions)


@dataclass
class Loaded:
    target: MySQLTarget
    warnings: list[str]


def is_port(text: str) -> bool:
    """A TCP port number in ASCII digits (str.isdigit alone accepts '²')."""
    return text.isascii() and text.isdigit() and 0 < int(text) < 65536


def exposure_warning(path: str, info: os.stat_result, what: str) -> str | None:
    """A warning if others may read a file holding credentials, else None.

    Group-readable is fine when the group is the exporter's own primary group: that is the
    documented `0640 root:galera-exporter` setup, where only the exporter is in the group.
    """
    mode = stat.S_IMODE(info.st_mode)
    if mode & stat.S_IROTH:
        who = "everyone"
    elif mode & stat.S_IRGRP and info.st_gid != os.getegid():
        try:
            who = f"group {grp.getgrgid(info.st_gid).gr_name}"
        except KeyError:
            who = f"group {info.st_gid}"
    else:
        return None
    return (
        f"{path}: {what} is readable by {who} (mode {mode:04o}): "
        "chmod 0600, or 0640 with a group only the exporter is in"
    )


def _normalise(name: bytes) -> str:
    text = name.decode("latin-1").replace("_", "-")
    return text.removeprefix("loose-")


def _bool(option: optionfile.Option, name: str, problems: list[str]) -> bool | None:
    if option.value is None:
        return True
    text = option.value.decode("latin-1").lower()
    if text in BOOL_TRUE:
        return True
    if text in BOOL_FALSE:
        return False
    group = option.group.decode("latin-1")
    problems.append(f"{option.where}: [{group}] {name}: expected 1/0, on/off or true/false")
    return None


def _text(option: optionfile.Option, name: str, problems: list[str]) -> str | None:
    where = f"{option.where}: [{option.group.decode('latin-1')}] {name}"
    if option.value is None:
        problems.append(f"{where}: needs a value (the client would prompt for a password)")
        return None
    try:
        return option.value.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{where}: not valid UTF-8")  # no position: it tells about a password
        return None


def _check_tls_file(path: str, name: str, where: str, directory: bool, problems: list[str]) -> None:
    """Refuse what would make loading block or fail later (a FIFO, a missing file)."""
    try:
        info = os.stat(path)
    except OSError as err:
        problems.append(f"{where}: {name} {path}: {err.strerror}")
        return
    ok = stat.S_ISDIR(info.st_mode) if directory else stat.S_ISREG(info.st_mode)
    if not ok:
        problems.append(
            f"{where}: {name} {path}: not a {'directory' if directory else 'regular file'}"
        )


def read_option_file(
    path: str, problems: list[str], warnings: list[str] | None = None
) -> MySQLTarget:
    """The client groups of a MariaDB option file, and every file it includes."""
    warnings = [] if warnings is None else warnings
    try:
        parsed = optionfile.read(path, CLIENT_GROUPS)
    except optionfile.OptionFileError as err:
        problems.append(str(err))
        return MySQLTarget()
    warnings.extend(parsed.warnings)
    for name in parsed.files:
        try:
            warning = exposure_warning(name, os.stat(name), "this option file")
        except OSError:
            continue  # it was read a moment ago; a vanished file needs no warning
        if warning:
            warnings.append(warning)
    if not parsed.options:
        problems.append(f"{path}: no options in [{'], ['.join(CLIENT_GROUPS)}]")
        return MySQLTarget()
    chosen = _Chosen()
    for option in parsed.options:
        chosen.take(option, problems, warnings)
    return chosen.target(problems)


class _Chosen:
    """The last value of each option the exporter uses, and where it came from."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.sources: dict[str, optionfile.Option] = {}
        self.flags: dict[str, bool] = {}

    def take(self, option: optionfile.Option, problems: list[str], warnings: list[str]) -> None:
        name = _normalise(option.name)
        for prefix, value in (("skip-", False), ("disable-", False), ("enable-", True)):
            if name.startswith(prefix) and name[len(prefix) :] in TLS_BOOL_OPTIONS:
                if option.value is None:
                    self.flags[name[len(prefix) :]] = value
                return
        if name in STRING_OPTIONS or name in TLS_PATH_OPTIONS:
            text = _text(option, name, problems)
            if text is not None:
                self.values[name] = text
                self.sources[name] = option
                if name in TLS_PATH_OPTIONS:
                    self.flags["ssl"] = True  # as sslopt-case.h: an ssl-* file turns TLS on
        elif name in TLS_BOOL_OPTIONS:
            flag = _bool(option, name, problems)
            if flag is not None:
                self.flags[name] = flag
        elif name in TLS_UNSUPPORTED:
            warnings.append(f"{option.where}: {name}: not supported by the exporter, ignored")

    def target(self, problems: list[str]) -> MySQLTarget:
        values = self.values
        known_problems = len(problems)
        port = 3306
        if values.get("port"):
            if is_port(values["port"]):
                port = int(values["port"])
            else:
                problems.append(f"{self.sources['port'].where}: port: not a TCP port")
        for name in TLS_PATH_OPTIONS:
            if values.get(name):
                where = self.sources[name].where
                _check_tls_file(values[name], name, where, name == "ssl-capath", problems)
        if values.get("ssl-key") and not values.get("ssl-cert"):
            problems.append(f"{self.sources['ssl-key'].where}: ssl-key without ssl-cert")
        verify = self.flags.get("ssl-verify-server-cert", False)
        enabled = self.flags.get("ssl")
        if verify and enabled is not False:
            enabled = True  # asking for verification means asking for TLS
        tls = TLSOptions(
            enabled=enabled,
            ca=values.get("ssl-ca") or None,
            capath=values.get("ssl-capath") or None,
            cert=values.get("ssl-cert") or None,
            key=values.get("ssl-key") or None,
            verify_server_cert=verify,
        )
        if enabled and len(problems) == known_problems:
            # Load the files once now, so --check-config and a reload report a bad CA or an
            # encrypted key with its option's line rather than as a failing scrape later.
            try:
                tls.context()
            except OSError as err:
                option = next(
                    (self.sources[n] for n in TLS_PATH_OPTIONS if n in self.sources), None
                )
                where = f"{option.where}: " if option else ""
                problems.append(f"{where}cannot use the TLS settings: {err.strerror}")
        password = values.get("password")
        return MySQLTarget(
            user=values.get("user"),
            password=Secret(password) if password is not None else None,
            host=values.get("host"),
            port=port,
            socket=values.get("socket"),
            tls=tls,
        )


def read_password_file(path: str, problems: list[str], warnings: list[str]) -> Secret | None:
    where = f"environment {ENV_PREFIX}MYSQL_PASSWORD_FILE: {path}"
    try:
        data, info = regularfile.read_regular_file(path, MAX_PASSWORD_FILE_BYTES)
    except OSError as err:
        problems.append(f"{where}: cannot read: {err.strerror}")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{where}: not valid UTF-8")
        return None
    warning = exposure_warning(path, info, "the password file")
    if warning:
        warnings.append(warning)
    return Secret(text.strip())


def target_from_env(
    base: MySQLTarget, env: Mapping[str, str], problems: list[str], warnings: list[str]
) -> MySQLTarget:
    """Environment overrides. The password only by file path, so it is never in /proc environ."""
    changes: dict[str, Any] = {}
    for key in ("user", "host", "socket"):
        if env.get(f"{ENV_PREFIX}MYSQL_{key.upper()}"):
            changes[key] = env[f"{ENV_PREFIX}MYSQL_{key.upper()}"]
    raw_port = env.get(f"{ENV_PREFIX}MYSQL_PORT")
    if raw_port:
        if is_port(raw_port):
            changes["port"] = int(raw_port)
        else:
            problems.append(f"environment {ENV_PREFIX}MYSQL_PORT: not a TCP port: {raw_port!r}")
    password_file = env.get(f"{ENV_PREFIX}MYSQL_PASSWORD_FILE")
    if password_file:
        password = read_password_file(password_file, problems, warnings)
        if password is not None:
            changes["password"] = password
    return dataclasses.replace(base, **changes)


def load(defaults_file: str, env: Mapping[str, str], problems: list[str]) -> Loaded:
    """The target from the option file (if any) then the environment."""
    warnings: list[str] = []
    target = read_option_file(defaults_file, problems, warnings) if defaults_file else MySQLTarget()
    return Loaded(target_from_env(target, env, problems, warnings), warnings)


__all__: Sequence[str] = (
    "CLIENT_GROUPS",
    "MySQLTarget",
    "Secret",
    "TLSOptions",
    "is_port",
    "load",
    "read_option_file",
)
