"""Which collectors a reload keeps: those whose own settings did not change, in table order."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from galera_exporter.collectors import COLLECTOR_NAMES, build_collectors
from galera_exporter.collectors.base import Collector
from galera_exporter.config import (
    BackendConfig,
    Config,
    GaleraConfig,
    LogConfig,
    MysqldLogConfig,
    MySQLTarget,
)
from galera_exporter.reload import COLLECTOR_INPUTS, plan_collectors


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        galera=GaleraConfig(datadir=str(tmp_path)),
        backend=BackendConfig(log_file=str(tmp_path / "backend.log")),
        mysqld=MysqldLogConfig(error_log_file=str(tmp_path / "mysqld.err")),
        target=MySQLTarget(socket=str(tmp_path / "none.sock")),
    )


@pytest.fixture
def running(config: Config) -> Iterator[list[Collector]]:
    collectors = build_collectors(config)
    try:
        yield collectors
    finally:
        for collector in collectors:
            collector.close()


def test_every_collector_names_its_inputs() -> None:
    # A collector missing here is rebuilt on any collector setting change: correct, but its
    # counters reset more often than needed.
    assert set(COLLECTOR_INPUTS) == set(COLLECTOR_NAMES)


def test_unrelated_changes_keep_every_source(config: Config, running: list[Collector]) -> None:
    changed = dataclasses.replace(config, log=LogConfig(level="debug"), source="other.yml")
    collectors, built = plan_collectors(config, changed, running)
    assert built == []
    assert all(a is b for a, b in zip(collectors, running, strict=True))


def test_only_the_changed_source_is_rebuilt(config: Config, running: list[Collector]) -> None:
    backend = dataclasses.replace(config.backend, backlog_bytes=1024.0)
    changed = dataclasses.replace(config, backend=backend)
    collectors, built = plan_collectors(config, changed, running)
    try:
        assert [s.name for s in built] == ["backend_log"]
        assert [s.name for s in collectors] == [s.name for s in running]
        kept = [s for s in collectors if s.name != "backend_log"]
        assert all(any(k is r for r in running) for k in kept)
    finally:
        for collector in built:
            collector.close()


def test_disabling_a_collector_keeps_the_others(config: Config, running: list[Collector]) -> None:
    changed = dataclasses.replace(config, collectors={"grastate": False})
    collectors, built = plan_collectors(config, changed, running)
    assert built == []
    assert [s.name for s in collectors] == [n for n in COLLECTOR_NAMES if n != "grastate"]
