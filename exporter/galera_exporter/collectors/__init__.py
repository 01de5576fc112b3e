"""The table of every collector: its name, whether it is on by default, how to build it.

`--collect.<name>` / `--no-collect.<name>` flags and the YAML `collectors:` keys come from here.
It also declares which `Scrape` fields each collector sets (`produces`) and reads (`needs`);
collectors run in table order, so `check_order` (run at import) requires every producer to come
before its consumers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from galera_exporter.collectors.backend_log import BackendLogCollector
from galera_exporter.collectors.base import Collector, Scrape
from galera_exporter.collectors.errorlog import ErrorLogCollector
from galera_exporter.collectors.gra_log import GraLogCollector
from galera_exporter.collectors.grastate import GrastateCollector
from galera_exporter.collectors.maintenance import MaintenanceCollector
from galera_exporter.collectors.status_file import StatusFileCollector
from galera_exporter.collectors.wsrep import WsrepCollector
from galera_exporter.config import Config
from galera_exporter.db import StatusReader
from galera_exporter.follow import byte_count
from galera_exporter.serving import Policy


@dataclass(frozen=True)
class CollectorSpec:
    name: str
    enabled_by_default: bool
    help: str
    build: Callable[[Config], Collector]
    # Names of optional Scrape fields this collector sets / reads within one scrape.
    produces: frozenset[str] = frozenset()
    needs: frozenset[str] = frozenset()


COLLECTORS: tuple[CollectorSpec, ...] = (
    CollectorSpec(
        "wsrep",
        True,
        "SHOW GLOBAL STATUS (wsrep% and Uptime) and a few wsrep variables",
        lambda config: WsrepCollector(
            StatusReader(config.target, config.mysql.timeout_seconds),
            Policy(config.serving.available_when_donor, config.serving.available_when_readonly),
        ),
        produces=frozenset({"server"}),
    ),
    CollectorSpec(
        "grastate",
        True,
        "grastate.dat and gvwstate.dat in the datadir",
        lambda config: GrastateCollector(config.galera.datadir),
    ),
    CollectorSpec(
        "backend_log",
        True,
        "the back-end application log (--backend.log-file), followed for readiness",
        lambda config: BackendLogCollector(
            config.backend.log_file,
            config.backend.ready_patterns,
            config.backend.reset_patterns,
            backlog_bytes=byte_count(config.backend.backlog_bytes),
        ),
    ),
    CollectorSpec(
        "errorlog",
        True,
        "the mysqld error log (--mysqld.error-log-file or log_error), followed for "
        "'Recovered position' and Galera events",
        lambda config: ErrorLogCollector(
            config.mysqld.error_log_file,
            default_datadir=config.galera.datadir,
            backlog_bytes=byte_count(config.mysqld.error_log_backlog_bytes),
        ),
        needs=frozenset({"server"}),  # the server's log_error and datadir
    ),
    CollectorSpec(
        "maintenance",
        True,
        "the planned-maintenance marker file (--maintenance.file), only checked for presence",
        lambda config: MaintenanceCollector(config.maintenance.file),
    ),
    CollectorSpec(
        "status_file",
        True,
        "MariaDB's wsrep_status_file JSON (--galera.status-file or the server's setting): "
        "state, SST/IST progress, errors and warnings by kind",
        lambda config: StatusFileCollector(
            config.galera.status_file, datadir=config.galera.datadir
        ),
        needs=frozenset({"server"}),  # the server's wsrep_status_file and datadir
    ),
    CollectorSpec(
        "gra_log",
        True,
        "GRA_*.log files (write-sets that failed to apply) in the datadir: count, newest mtime",
        lambda config: GraLogCollector(config.galera.datadir),
    ),
)


def check_order(specs: tuple[CollectorSpec, ...]) -> None:
    """Raise ValueError unless every needed Scrape field is produced by an earlier collector.

    A consumer placed before its producer would silently see None on every scrape.
    """
    known = {f.name for f in fields(Scrape)} - {"deadline"}
    produced: dict[str, str] = {}
    for spec in specs:
        for name in sorted(spec.needs | spec.produces):
            if name not in known:
                raise ValueError(f"collector {spec.name}: {name!r} is not a Scrape field")
        for name in sorted(spec.needs):
            if name not in produced:
                raise ValueError(
                    f"collector {spec.name} needs {name!r} but no earlier collector produces it"
                )
        for name in spec.produces:
            if name in produced:
                raise ValueError(f"{name!r} produced by both {produced[name]} and {spec.name}")
            produced[name] = spec.name


check_order(COLLECTORS)  # at import: a misordered table fails every start-up and every test

COLLECTOR_NAMES = tuple(spec.name for spec in COLLECTORS)


def enabled(config: Config) -> list[CollectorSpec]:
    return [
        spec for spec in COLLECTORS if config.collectors.get(spec.name, spec.enabled_by_default)
    ]


def build_collectors(config: Config) -> list[Collector]:
    return [spec.build(config) for spec in enabled(config)]
