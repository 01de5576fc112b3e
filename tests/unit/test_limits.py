"""Configured numbers that are infinite, NaN or huge never become crash traces (issue 12:
`backlog_bytes: .inf` and a huge --mysql.timeout did)."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import pytest

from galera_exporter.collectors import build_collectors
from galera_exporter.collectors.base import Scrape
from galera_exporter.collectors.grastate import GrastateCollector
from galera_exporter.config import Config, MySQLTarget
from galera_exporter.db import MAX_TIMEOUT_SECONDS, DatabaseError, StatusReader, bounded_timeout
from galera_exporter.follow import MAX_BACKLOG_BYTES, byte_count


@pytest.mark.parametrize(
    ("value", "expected"),
    [(math.inf, MAX_BACKLOG_BYTES), (1e300, MAX_BACKLOG_BYTES), (math.nan, 0), (-5.0, 0),
     (-math.inf, 0), (1024.0, 1024), (67108864.0, 64 << 20)],
)  # fmt: skip
def test_byte_count(value: float, expected: int) -> None:
    assert byte_count(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(math.inf, MAX_TIMEOUT_SECONDS), (1e12, MAX_TIMEOUT_SECONDS), (math.nan, MAX_TIMEOUT_SECONDS),
     (0.0, 0.05), (-1.0, 0.05), (2.0, 2.0)],
)  # fmt: skip
def test_bounded_timeout(value: float, expected: float) -> None:
    assert bounded_timeout(value) == expected


def test_infinite_backlogs_build_sources(tmp_path: Path) -> None:
    cfg = Config()
    cfg = dataclasses.replace(
        cfg,
        backend=dataclasses.replace(
            cfg.backend, log_file=str(tmp_path / "backend.log"), backlog_bytes=math.inf
        ),
        mysqld=dataclasses.replace(cfg.mysqld, error_log_backlog_bytes=math.inf),
    )
    sources = build_collectors(cfg)
    try:
        assert {s.name for s in sources} >= {"backend_log", "errorlog"}
    finally:
        for source in sources:
            source.close()


def test_infinite_timeout_is_a_database_error_not_a_crash(tmp_path: Path) -> None:
    reader = StatusReader(MySQLTarget(socket=str(tmp_path / "no.sock")), math.inf)
    started = time.monotonic()
    with pytest.raises(DatabaseError) as caught:
        reader.read(math.inf)
    assert caught.value.reason == "refused"
    assert time.monotonic() - started < 1


def test_infinite_deadline_reads_state_files(tmp_path: Path) -> None:
    (tmp_path / "grastate.dat").write_text(
        "version: 2.1\nuuid: 125a32e7-ea40-11f1-8844-577ec5e07595\nseqno: -1\n"
    )
    families = list(GrastateCollector(str(tmp_path)).collect(Scrape(deadline=math.inf)))
    assert "galera_grastate_seqno" in {f.name for f in families}
