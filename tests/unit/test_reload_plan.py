"""Which sources a reload keeps: those whose own settings did not change, in table order."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from galera_exporter.collectors import COLLECTOR_NAMES, build_sources
from galera_exporter.collectors.base import Source
from galera_exporter.config import (
    BackendConfig,
    Config,
    GaleraConfig,
    LogConfig,
    MysqldLogConfig,
    MySQLTarget,
)
from galera_exporter.reload import SOURCE_INPUTS, plan_sources


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        galera=GaleraConfig(datadir=str(tmp_path)),
        backend=BackendConfig(log_file=str(tmp_path / "backend.log")),
        mysqld=MysqldLogConfig(error_log_file=str(tmp_path / "mysqld.err")),
        target=MySQLTarget(socket=str(tmp_path / "none.sock")),
    )


@pytest.fixture
def running(config: Config) -> Iterator[list[Source]]:
    sources = build_sources(config)
    try:
        yield sources
    finally:
        for source in sources:
            source.close()


def test_every_collector_names_its_inputs() -> None:
    # A collector missing here is rebuilt on any source setting change: correct, but its
    # counters reset more often than needed.
    assert set(SOURCE_INPUTS) == set(COLLECTOR_NAMES)


def test_unrelated_changes_keep_every_source(config: Config, running: list[Source]) -> None:
    changed = dataclasses.replace(config, log=LogConfig(level="debug"), source="other.yml")
    sources, built = plan_sources(config, changed, running)
    assert built == []
    assert all(a is b for a, b in zip(sources, running, strict=True))


def test_only_the_changed_source_is_rebuilt(config: Config, running: list[Source]) -> None:
    backend = dataclasses.replace(config.backend, backlog_bytes=1024.0)
    sources, built = plan_sources(config, dataclasses.replace(config, backend=backend), running)
    try:
        assert [s.name for s in built] == ["backend_log"]
        assert [s.name for s in sources] == [s.name for s in running]
        kept = [s for s in sources if s.name != "backend_log"]
        assert all(any(k is r for r in running) for k in kept)
    finally:
        for source in built:
            source.close()


def test_disabling_a_collector_keeps_the_others(config: Config, running: list[Source]) -> None:
    changed = dataclasses.replace(config, collectors={"grastate": False})
    sources, built = plan_sources(config, changed, running)
    assert built == []
    assert [s.name for s in sources] == [n for n in COLLECTOR_NAMES if n != "grastate"]
