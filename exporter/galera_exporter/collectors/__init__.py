"""The table of every metric source: its name, whether it is on by default, how to build it.

`--collect.<name>` / `--no-collect.<name>` flags and the YAML `collectors:` keys come from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from galera_exporter.collectors.backend_log import BackendLogSource
from galera_exporter.collectors.base import Source
from galera_exporter.collectors.errorlog import ErrorLogSource
from galera_exporter.collectors.gra_log import GraLogSource
from galera_exporter.collectors.grastate import GrastateSource
from galera_exporter.collectors.maintenance import MaintenanceSource
from galera_exporter.collectors.status_file import StatusFileSource
from galera_exporter.collectors.wsrep import WsrepSource
from galera_exporter.config import Config
from galera_exporter.db import StatusReader
from galera_exporter.follow import byte_count
from galera_exporter.serving import Policy


@dataclass(frozen=True)
class CollectorSpec:
    name: str
    enabled_by_default: bool
    help: str
    build: Callable[[Config], Source]


COLLECTORS: tuple[CollectorSpec, ...] = (
    CollectorSpec(
        "wsrep",
        True,
        "SHOW GLOBAL STATUS (wsrep% and Uptime) and a few wsrep variables",
        lambda config: WsrepSource(
            StatusReader(config.target, config.mysql.timeout_seconds),
            Policy(config.serving.available_when_donor, config.serving.available_when_readonly),
        ),
    ),
    CollectorSpec(
        "grastate",
        True,
        "grastate.dat and gvwstate.dat in the datadir",
        lambda config: GrastateSource(config.galera.datadir),
    ),
    CollectorSpec(
        "backend_log",
        True,
        "the back-end application log (--backend.log-file), followed for readiness",
        lambda config: BackendLogSource(
            config.backend.log_file,
            config.backend.ready_patterns,
            config.backend.reset_patterns,
            backlog_bytes=byte_count(config.backend.backlog_bytes),
        ),
    ),
    # After wsrep: it reads the log_error path the wsrep source leaves in the scrape's facts.
    CollectorSpec(
        "errorlog",
        True,
        "the mysqld error log (--mysqld.error-log-file or log_error), followed for "
        "'Recovered position' and Galera events",
        lambda config: ErrorLogSource(
            config.mysqld.error_log_file,
            default_datadir=config.galera.datadir,
            backlog_bytes=byte_count(config.mysqld.error_log_backlog_bytes),
        ),
    ),
    CollectorSpec(
        "maintenance",
        True,
        "the planned-maintenance marker file (--maintenance.file), only checked for presence",
        lambda config: MaintenanceSource(config.maintenance.file),
    ),
    # After wsrep: it reads the server's wsrep_status_file (and datadir) from the facts.
    CollectorSpec(
        "status_file",
        True,
        "MariaDB's wsrep_status_file JSON (--galera.status-file or the server's setting): "
        "state, SST/IST progress, errors and warnings by kind",
        lambda config: StatusFileSource(config.galera.status_file, datadir=config.galera.datadir),
    ),
    CollectorSpec(
        "gra_log",
        True,
        "GRA_*.log files (write-sets that failed to apply) in the datadir: count, newest mtime",
        lambda config: GraLogSource(config.galera.datadir),
    ),
)

COLLECTOR_NAMES = tuple(spec.name for spec in COLLECTORS)


def enabled(config: Config) -> list[CollectorSpec]:
    return [
        spec for spec in COLLECTORS if config.collectors.get(spec.name, spec.enabled_by_default)
    ]


def build_sources(config: Config) -> list[Source]:
    return [spec.build(config) for spec in enabled(config)]
