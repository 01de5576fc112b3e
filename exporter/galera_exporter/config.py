"""Settings from the YAML file, flags and environment, validated into frozen dataclasses.

Every setting is a dataclass field whose metadata names its flag, so the YAML schema, the
command-line flags and --help are generated from one place. Flags win over the file.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import os
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from galera_exporter import credentials, logparse, regularfile
from galera_exporter.credentials import is_port

# Where they were before credentials.py; db.py and tests import them from here.
MySQLTarget = credentials.MySQLTarget
Secret = credentials.Secret

log = logging.getLogger(__name__)

DEFAULT_PORT = 9878
DEFAULT_READY_PATTERN = logparse.DEFAULT_READY_PATTERN  # anchored: see docs/logs.md


def setting(default: Any, flag: str, help: str) -> Any:
    """A dataclass field that is also a command-line flag and a YAML key."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"flag": flag, "help": help})
    return field(default=default, metadata={"flag": flag, "help": help})


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
    serving_path: str = setting(
        "",
        "--web.serving-path",
        "path of a clustercheck-style endpoint for load balancers (200 when this node should "
        "get traffic, else 503); empty: off",
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
    status_file: str = setting(
        "",
        "--galera.status-file",
        "MariaDB's wsrep_status_file (absolute, or relative to the datadir); empty: the "
        "server's wsrep_status_file as last seen, else wsrep_status.json in the datadir",
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
        [logparse.DEFAULT_RESET_PATTERN],
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
class ServingConfig:
    """How galera_node_serving and --web.serving-path decide, as Percona's clustercheck does."""

    available_when_donor: bool = setting(
        False,
        "--serving.available-when-donor",
        "a Donor/Desynced node still serves (clustercheck's AVAILABLE_WHEN_DONOR)",
    )
    available_when_readonly: bool = setting(
        True,
        "--serving.available-when-readonly",
        "a read_only node still serves (clustercheck's AVAILABLE_WHEN_READONLY)",
    )
    cache_seconds: float = setting(
        2.0,
        "--serving.cache-ttl",
        "the serving endpoint answers from a status read at most this old (a scrape's or its "
        "own); older, it reads once for all waiting requests",
    )
    require_auth: bool = setting(
        False,
        "--serving.require-auth",
        "ask the serving endpoint's clients for the web config's basic auth (default: open, "
        "like the health path)",
    )


@dataclass(frozen=True)
class MaintenanceConfig:
    file: str = setting(
        "",
        "--maintenance.file",
        "marker file whose presence galera_maintenance reports (planned work); empty: off",
    )


@dataclass(frozen=True)
class LogConfig:
    level: str = setting("info", "--log.level", "debug, info, warning or error")


@dataclass(frozen=True)
class Config:
    web: WebConfig = field(default_factory=WebConfig)
    mysql: MySQLConfig = field(default_factory=MySQLConfig)
    galera: GaleraConfig = field(default_factory=GaleraConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    mysqld: MysqldLogConfig = field(default_factory=MysqldLogConfig)
    serving: ServingConfig = field(default_factory=ServingConfig)
    maintenance: MaintenanceConfig = field(default_factory=MaintenanceConfig)
    log: LogConfig = field(default_factory=LogConfig)
    collectors: Mapping[str, bool] = field(default_factory=dict)
    target: MySQLTarget = field(default_factory=MySQLTarget)
    source: str = "defaults"
    warnings: tuple[str, ...] = ()  # logged by load(); never hold a secret


SECTIONS: dict[str, type[Any]] = {
    "web": WebConfig,
    "mysql": MySQLConfig,
    "galera": GaleraConfig,
    "backend": BackendConfig,
    "mysqld": MysqldLogConfig,
    "serving": ServingConfig,
    "maintenance": MaintenanceConfig,
    "log": LogConfig,
}

LOG_LEVELS = ("debug", "info", "warning", "error")

# Upper bounds of the numeric settings. A scrape deadline is now + timeout; past a few
# minutes no scraper waits, and far beyond, lock and socket timeouts overflow (a 1e10 s
# timeout made every scrape without Prometheus' timeout header a 500).
MAX_TIMEOUT_SECONDS = 300.0
MAX_BACKLOG_BYTES = float(1 << 40)
# A load balancer polls every few seconds; an answer older than a minute would route traffic
# to a node that left the cluster long ago.
MAX_SERVING_CACHE_SECONDS = 60.0
NUMBER_LIMITS = {
    "mysql.timeout_seconds": MAX_TIMEOUT_SECONDS,
    "serving.cache_seconds": MAX_SERVING_CACHE_SECONDS,
    "backend.backlog_bytes": MAX_BACKLOG_BYTES,
    "mysqld.error_log_backlog_bytes": MAX_BACKLOG_BYTES,
}
MAX_CONFIG_BYTES = 1 << 20


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


def _number(value: Any, where: str, problems: list[str], limit: float) -> float | None:
    """A finite number in (0, limit]; YAML's .nan/.inf and flags like 1e999 are refused."""
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not math.isfinite(number):
        problems.append(f"{where}: expected a finite number, got {value!r}")
    elif not number > 0:
        problems.append(f"{where}: must be greater than 0, got {value!r}")
    elif number > limit:
        problems.append(f"{where}: at most {limit:g}, got {value!r}")
    else:
        return number
    return None


def _convert(
    value: Any, target: Any, where: str, problems: list[str], limit: float = math.inf
) -> Any:
    origin = typing.get_origin(target)
    if target is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        problems.append(f"{where}: expected a string, got {type(value).__name__}")
    elif target is float:
        return _number(value, where, problems, limit)
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
    for unknown in sorted(set(from_file) - names, key=str):
        problems.append(f"{file_label}: {section_name}.{unknown}: unknown setting")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(section):
        key = f"{section_name}.{f.name}"
        limit = NUMBER_LIMITS.get(key, math.inf)
        if flags.get(key) is not None:
            where = f"flag {f.metadata['flag']}"
            value = _convert(flags[key], hints[f.name], where, problems, limit)
        elif f.name in from_file:
            where = f"{file_label}: {key}"
            value = _convert(from_file[f.name], hints[f.name], where, problems, limit)
        else:
            continue
        if value is not None:
            kwargs[f.name] = value
    return section(**kwargs)


def _read_yaml(path: str, problems: list[str]) -> dict[str, Any]:
    data = b""
    try:
        data, _ = regularfile.read_regular_file(path, MAX_CONFIG_BYTES)
        loaded = yaml.safe_load(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, RecursionError, yaml.YAMLError) as err:
        problems.append(_yaml_problem(path, data, err))
        return {}
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        problems.append(f"{path}: the top level must be a mapping of sections")
        return {}
    return _string_keys(loaded, path, "", problems)


def _yaml_problem(path: str, data: bytes, err: BaseException) -> str:
    if isinstance(err, OSError):
        return f"{path}: cannot read: {err.strerror}"
    if isinstance(err, UnicodeDecodeError):
        line = data[: err.start].count(b"\n") + 1
        column = err.start - data.rfind(b"\n", 0, err.start)
        return f"{path}:{line}:{column}: not valid UTF-8"
    if isinstance(err, RecursionError):
        return f"{path}: invalid YAML: nested too deeply"
    mark = getattr(err, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
    return f"{where}: invalid YAML: {getattr(err, 'problem', err)}"


def _string_keys(
    mapping: dict[Any, Any], path: str, prefix: str, problems: list[str]
) -> dict[str, Any]:
    """The mapping without its non-string keys (each reported), one level of sections deep."""
    clean: dict[str, Any] = {}
    for key, value in mapping.items():
        if not isinstance(key, str):
            problems.append(f"{path}: {prefix}{key!r}: keys must be strings")
            continue
        nested = not prefix and isinstance(value, dict)
        clean[key] = _string_keys(value, path, f"{key}.", problems) if nested else value
    return clean


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
    serving_path = config.web.serving_path
    if serving_path and (
        not serving_path.startswith("/")
        or serving_path in ("/", config.web.telemetry_path, "/-/reload", "/-/healthy", "/health")
    ):
        problems.append(
            "web.serving_path: must start with / and differ from /, the telemetry path and "
            f"the health and reload paths, got {serving_path!r}"
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
    known = set(SECTIONS) | {"collectors", "advisor"}  # advisor: galera-advisor's, not ours
    for unknown in sorted(set(raw) - known, key=str):
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

    loaded = credentials.load(sections["mysql"].defaults_file, env, problems)
    config = Config(
        collectors=types.MappingProxyType(collectors),
        target=loaded.target,
        source=config_file or "flags",
        warnings=tuple(loaded.warnings),
        **sections,
    )
    _validate(config, problems)
    if problems:
        raise ConfigError(problems)
    # Here rather than in the caller, so start-up, --check-config and every reload say it.
    for warning in config.warnings:
        log.warning("%s", warning)
    return config
