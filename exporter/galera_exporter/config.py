"""Settings from the YAML file, flags and environment, validated into frozen dataclasses.

Every setting is a dataclass field whose metadata names its flag, so the YAML schema, the
command-line flags and --help are generated from one place. Flags win over the file.
"""

from __future__ import annotations

import argparse
import configparser
import dataclasses
import os
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PORT = 9878
DEFAULT_READY_PATTERN = r"SMTP Service started"


def setting(default: Any, flag: str, help: str) -> Any:
    """A dataclass field that is also a command-line flag and a YAML key."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"flag": flag, "help": help})
    return field(default=default, metadata={"flag": flag, "help": help})


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
class WebConfig:
    listen_address: str = setting(
        f":{DEFAULT_PORT}", "--web.listen-address", "address:port to listen on (host may be empty)"
    )
    telemetry_path: str = setting("/metrics", "--web.telemetry-path", "path of the metrics page")
    config_file: str = setting(
        "", "--web.config.file", "exporter-toolkit style web config (TLS, basic auth); empty: none"
    )
    enable_lifecycle: bool = setting(
        False, "--web.enable-lifecycle", "allow POST /-/reload (SIGHUP always reloads)"
    )


@dataclass(frozen=True)
class MySQLConfig:
    defaults_file: str = setting(
        "",
        "--mysql.defaults-file",
        "MySQL option file whose [client] section gives user, password, socket or host/port",
    )
    timeout_seconds: float = setting(
        2.0, "--mysql.timeout", "connect/read/write timeout for the status query, seconds"
    )


@dataclass(frozen=True)
class GaleraConfig:
    datadir: str = setting(
        "/var/lib/mysql", "--galera.datadir", "directory holding grastate.dat and gvwstate.dat"
    )


@dataclass(frozen=True)
class BackendConfig:
    log_file: str = setting(
        "/var/log/djigzo.log", "--backend.log-file", "back-end application log to follow"
    )
    ready_patterns: list[str] = setting(  # noqa: RUF009 - setting() builds a field()
        [DEFAULT_READY_PATTERN],
        "--backend.ready-pattern",
        "regular expression of the back-end's readiness line (repeatable)",
    )
    # James writes this at INFO while configuring its SMTP service, i.e. on every start and
    # before "SMTP Service started"; see docs/logs.md for why it is the default reset.
    reset_patterns: list[str] = setting(  # noqa: RUF009 - setting() builds a field()
        [r"SMTP Service handler hello name is"],
        "--backend.reset-pattern",
        "regular expression of a start or stop line that makes the back-end not ready until "
        "the next ready line (repeatable)",
    )
    # A float because the loader converts numbers to float; 64 MiB. Read backwards, so the
    # usual cost is the few kilobytes back to the last marker, not the whole bound.
    backlog_bytes: float = setting(
        67108864.0,
        "--backend.backlog-bytes",
        "at start-up, read at most this many bytes back from the log's end to recover readiness",
    )


@dataclass(frozen=True)
class MysqldLogConfig:
    error_log_file: str = setting(
        "", "--mysqld.error-log-file", "mysqld error log; empty: the server's log_error"
    )
    error_log_backlog_bytes: float = setting(
        67108864.0,
        "--mysqld.error-log-backlog-bytes",
        "at start-up, read at most this many bytes back from the error log's end to find the "
        "last 'Recovered position' line",
    )


@dataclass(frozen=True)
class LogConfig:
    level: str = setting("info", "--log.level", "debug, info, warning or error")


@dataclass(frozen=True)
class MySQLTarget:
    """Where and as whom to connect; the password stays wrapped in a Secret."""

    user: str | None = None
    password: Secret | None = None
    host: str | None = None
    port: int = 3306
    socket: str | None = None


@dataclass(frozen=True)
class Config:
    web: WebConfig = field(default_factory=WebConfig)
    mysql: MySQLConfig = field(default_factory=MySQLConfig)
    galera: GaleraConfig = field(default_factory=GaleraConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    mysqld: MysqldLogConfig = field(default_factory=MysqldLogConfig)
    log: LogConfig = field(default_factory=LogConfig)
    collectors: Mapping[str, bool] = field(default_factory=dict)
    target: MySQLTarget = field(default_factory=MySQLTarget)
    source: str = "defaults"


SECTIONS: dict[str, type[Any]] = {
    "web": WebConfig,
    "mysql": MySQLConfig,
    "galera": GaleraConfig,
    "backend": BackendConfig,
    "mysqld": MysqldLogConfig,
    "log": LogConfig,
}

LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(Exception):
    """One or more invalid settings; each message starts with where it came from."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def _field_types(section: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(section)


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Add one flag per setting; defaults are None so we can tell 'not given' apart."""
    for section_name, section in SECTIONS.items():
        hints = _field_types(section)
        for f in dataclasses.fields(section):
            flag = f.metadata["flag"]
            dest = f"{section_name}.{f.name}"
            default = f.default_factory() if callable(f.default_factory) else f.default
            help_text = f"{f.metadata['help']} (default: {default!r}; YAML {dest})".replace(
                "%", "%%"
            )
            if hints[f.name] == list[str]:
                parser.add_argument(flag, dest=dest, action="append", default=None, help=help_text)
            elif hints[f.name] is bool:  # --flag / --no-flag, as Prometheus' boolean flags
                parser.add_argument(
                    flag, dest=dest, action=argparse.BooleanOptionalAction, help=help_text
                )
            else:
                parser.add_argument(flag, dest=dest, default=None, help=help_text)


def _convert(value: Any, target: Any, where: str, problems: list[str]) -> Any:
    origin = typing.get_origin(target)
    if target is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        problems.append(f"{where}: expected a string, got {type(value).__name__}")
    elif target is float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            problems.append(f"{where}: expected a number, got {value!r}")
            return None
        if not number > 0:
            problems.append(f"{where}: must be greater than 0, got {value!r}")
        return number
    elif origin is list:
        items = value if isinstance(value, list) else [value]
        if all(isinstance(i, str) for i in items) and items:
            return list(items)
        problems.append(f"{where}: expected a non-empty list of strings")
    elif target is bool or (
        origin in (typing.Union, types.UnionType) and bool in typing.get_args(target)
    ):
        if isinstance(value, bool):
            return value
        problems.append(f"{where}: expected true or false, got {value!r}")
    else:  # pragma: no cover - a new field type without a converter is our bug
        raise TypeError(f"no converter for {target!r}")
    return None


def _build_section(
    section_name: str,
    from_file: Mapping[str, Any],
    file_label: str,
    flags: Mapping[str, Any],
    problems: list[str],
) -> Any:
    section = SECTIONS[section_name]
    hints = _field_types(section)
    names = {f.name for f in dataclasses.fields(section)}
    for unknown in sorted(set(from_file) - names):
        problems.append(f"{file_label}: {section_name}.{unknown}: unknown setting")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(section):
        key = f"{section_name}.{f.name}"
        if flags.get(key) is not None:
            value = _convert(flags[key], hints[f.name], f"flag {f.metadata['flag']}", problems)
        elif f.name in from_file:
            value = _convert(from_file[f.name], hints[f.name], f"{file_label}: {key}", problems)
        else:
            continue
        if value is not None:
            kwargs[f.name] = value
    return section(**kwargs)


def _read_yaml(path: str, problems: list[str]) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle)
    except OSError as err:
        problems.append(f"{path}: cannot read: {err.strerror}")
        return {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        problems.append(f"{where}: invalid YAML: {getattr(err, 'problem', err)}")
        return {}
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        problems.append(f"{path}: the top level must be a mapping of sections")
        return {}
    return loaded


def is_port(text: str) -> bool:
    """A TCP port number in ASCII digits (str.isdigit alone accepts '²')."""
    return text.isascii() and text.isdigit() and 0 < int(text) < 65536


def read_option_file(path: str, problems: list[str]) -> MySQLTarget:
    """Read the [client] section of a MySQL option file (the format mysql clients read)."""
    parser = configparser.RawConfigParser(allow_no_value=True, strict=False)
    try:
        with open(path, encoding="utf-8") as handle:
            # Option files may have lines before the first section header and !include lines.
            text = "".join(line for line in handle if not line.lstrip().startswith("!"))
        parser.read_string(text, source=path)
    except OSError as err:
        problems.append(f"{path}: cannot read MySQL option file: {err.strerror}")
        return MySQLTarget()
    except configparser.Error as err:
        # The message of a parsing error can quote the offending line (a password): say only where.
        line = getattr(err, "lineno", None)
        problems.append(f"{path}{f':{line}' if line else ''}: not a valid MySQL option file")
        return MySQLTarget()
    if not parser.has_section("client"):
        problems.append(f"{path}: no [client] section")
        return MySQLTarget()

    def get(key: str) -> str | None:
        for name in (key, key.replace("_", "-")):
            if parser.has_option("client", name):
                raw = parser.get("client", name)
                if raw is None:
                    return ""
                raw = raw.strip()
                if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
                    raw = raw[1:-1]
                return raw
        return None

    port = 3306
    raw_port = get("port")
    if raw_port:
        if is_port(raw_port):
            port = int(raw_port)
        else:
            problems.append(f"{path}: [client] port: not a TCP port: {raw_port!r}")
    password = get("password")
    return MySQLTarget(
        user=get("user"),
        password=Secret(password) if password is not None else None,
        host=get("host"),
        port=port,
        socket=get("socket"),
    )


ENV_PREFIX = "GALERA_EXPORTER_"


def _target_from_env(base: MySQLTarget, env: Mapping[str, str], problems: list[str]) -> MySQLTarget:
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
        try:
            changes["password"] = Secret(Path(password_file).read_text(encoding="utf-8").strip())
        except OSError as err:
            problems.append(
                f"environment {ENV_PREFIX}MYSQL_PASSWORD_FILE: cannot read {password_file}: "
                f"{err.strerror}"
            )
    return dataclasses.replace(base, **changes)


def _validate(config: Config, problems: list[str]) -> None:
    host, sep, port = config.web.listen_address.rpartition(":")
    if not sep or not (port == "0" or is_port(port)):
        problems.append(
            f"web.listen_address: expected host:port, got {config.web.listen_address!r}"
        )
    del host
    if not config.web.telemetry_path.startswith("/") or config.web.telemetry_path == "/":
        problems.append(
            f"web.telemetry_path: must start with / and not be /, got {config.web.telemetry_path!r}"
        )
    if config.log.level.lower() not in LOG_LEVELS:
        problems.append(f"log.level: one of {', '.join(LOG_LEVELS)}, got {config.log.level!r}")
    for key in ("ready_patterns", "reset_patterns"):
        for pattern in getattr(config.backend, key, ()):
            try:
                re.compile(pattern)
            except re.error as err:
                problems.append(f"backend.{key}: invalid regular expression {pattern!r}: {err}")


def load(
    args: argparse.Namespace,
    collector_names: Sequence[str],
    env: Mapping[str, str] | None = None,
) -> Config:
    """Merge the YAML file named by --config.file, the flags and the environment.

    Raises ConfigError listing every problem with its location.
    """
    env = os.environ if env is None else env
    problems: list[str] = []
    flags = vars(args)
    config_file = flags.get("config_file") or ""
    raw: dict[str, Any] = _read_yaml(config_file, problems) if config_file else {}
    label = config_file or "config"
    known = set(SECTIONS) | {"collectors"}
    for unknown in sorted(set(raw) - known):
        problems.append(f"{label}: {unknown}: unknown section (known: {', '.join(sorted(known))})")

    sections: dict[str, Any] = {}
    for name in SECTIONS:
        from_file = raw.get(name) or {}
        if not isinstance(from_file, dict):
            problems.append(f"{label}: {name}: must be a mapping")
            from_file = {}
        sections[name] = _build_section(name, from_file, label, flags, problems)

    collectors: dict[str, bool] = {}
    file_collectors = raw.get("collectors") or {}
    if not isinstance(file_collectors, dict):
        problems.append(f"{label}: collectors: must be a mapping of name: true/false")
        file_collectors = {}
    for name, enabled in file_collectors.items():
        if name not in collector_names:
            problems.append(
                f"{label}: collectors.{name}: unknown collector "
                f"(known: {', '.join(collector_names)})"
            )
        elif not isinstance(enabled, bool):
            problems.append(f"{label}: collectors.{name}: expected true or false")
        else:
            collectors[name] = enabled
    for name in collector_names:
        flag_value = flags.get(f"collect.{name}")
        if flag_value is not None:
            collectors[name] = bool(flag_value)

    target = MySQLTarget()
    defaults_file = sections["mysql"].defaults_file
    if defaults_file:
        target = read_option_file(defaults_file, problems)
    target = _target_from_env(target, env, problems)

    config = Config(
        collectors=types.MappingProxyType(collectors),
        target=target,
        source=config_file or "flags",
        **sections,
    )
    _validate(config, problems)
    if problems:
        raise ConfigError(problems)
    return config
