"""The backend_log and errorlog sources, read through a fresh registry as /metrics does."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from galera_exporter import config
from galera_exporter import logparse as lp
from galera_exporter.collectors import COLLECTOR_NAMES, build_collectors
from galera_exporter.collectors.backend_log import BackendLogCollector
from galera_exporter.collectors.base import Collector, Scrape, ServerSettings
from galera_exporter.collectors.errorlog import ErrorLogCollector
from tests.logs.helpers import BACKENDLOG, ERRORLOG, append, registry_for, sample
from tests.support.wait import wait_for

READY = [r"SMTP Service started"]
RESET = [r"SMTP Service handler hello name is"]


def local(*fields: int) -> float:
    return time.mktime((*fields, 0, 0, -1))  # type: ignore[arg-type]


@pytest.fixture
def closing() -> Iterator[list[Collector]]:
    sources: list[Collector] = []
    yield sources
    for source in sources:
        source.close()


def success(registry: object, name: str) -> float | None:
    return sample(registry, "galera_exporter_collector_success", {"collector": name})  # type: ignore[arg-type]


# --- back-end log ------------------------------------------------------------------------------


def test_backend_state_recovered_at_start_up(tmp_path: Path, closing: list[Collector]) -> None:
    log = tmp_path / "djigzo.log"
    shutil.copy(BACKENDLOG / "djigzo-restart.log", log)
    source = BackendLogCollector(str(log), READY, RESET)
    closing.append(source)
    reg = registry_for(source)
    wait_for("start-up recovery", lambda: source.follower.status().offset == log.stat().st_size)
    assert sample(reg, "galera_backend_ready") == 1.0
    assert sample(reg, "galera_backend_ready_timestamp_seconds") == pytest.approx(
        local(2026, 11, 27, 10, 4, 12) + 0.771
    )
    assert sample(reg, "galera_backend_reset_timestamp_seconds") == pytest.approx(
        local(2026, 11, 27, 10, 4, 12) + 0.650
    )
    # what was there before start-up is state, not new lines
    assert sample(reg, "galera_backend_log_lines_total") == 0
    assert sample(reg, "galera_backend_log_errors_total") == 0
    assert sample(reg, "galera_backend_ready_transitions_total") == 0
    assert sample(reg, "galera_backend_log_present") == 1.0
    assert success(reg, "backend_log") == 1.0


def test_backend_live_lines(tmp_path: Path, closing: list[Collector]) -> None:
    log = tmp_path / "djigzo.log"
    log.touch()
    source = BackendLogCollector(str(log), READY, RESET)
    closing.append(source)
    reg = registry_for(source)
    wait_for("the follower to open the log", lambda: source.follower.status().following)
    assert sample(reg, "galera_backend_ready") == 0.0
    assert sample(reg, "galera_backend_ready_timestamp_seconds") is None
    append(log, (BACKENDLOG / "djigzo-restart.log").read_bytes())
    wait_for("15 lines counted", lambda: sample(reg, "galera_backend_log_lines_total") == 15)
    assert sample(reg, "galera_backend_log_errors_total") == 2
    # from not ready: reset (no change), ready, reset (a failed start), reset, ready
    assert sample(reg, "galera_backend_ready_transitions_total") == 3
    assert sample(reg, "galera_backend_ready") == 1.0
    append(log, "2026-11-27 11:00:00,000 INFO  [S] SMTP Service handler hello name is: gw\n")
    wait_for("a restart to reset readiness", lambda: sample(reg, "galera_backend_ready") == 0.0)
    assert sample(reg, "galera_backend_reset_timestamp_seconds") == local(2026, 11, 27, 11, 0, 0)


@pytest.mark.parametrize("inotify", [True, False], ids=["inotify", "polling"])
def test_readiness_is_visible_within_a_second(
    tmp_path: Path, closing: list[Collector], inotify: bool
) -> None:
    log = tmp_path / "djigzo.log"
    append(log, "2026-11-27 10:00:00,000 INFO  [S] SMTP Service handler hello name is: gw\n")
    source = BackendLogCollector(str(log), READY, RESET, use_inotify=inotify)
    closing.append(source)
    reg = registry_for(source)
    wait_for("the follower to open the log", lambda: source.follower.status().following)
    append(log, "2026-11-27 10:00:05,000 INFO  [S] SMTP Service started plain:10025//127.0.0.1\n")
    # The deadline is the assertion: readiness within a second of the line.
    wait_for("readiness", lambda: sample(reg, "galera_backend_ready") == 1.0, timeout=1.0)


def test_backend_log_missing_is_not_an_error(tmp_path: Path, closing: list[Collector]) -> None:
    source = BackendLogCollector(str(tmp_path / "absent.log"), READY, RESET)
    closing.append(source)
    reg = registry_for(source)
    wait_for("the follower's first look", lambda: source.follower.status().checked)
    assert sample(reg, "galera_backend_log_present") == 0.0
    assert sample(reg, "galera_backend_ready") == 0.0
    assert success(reg, "backend_log") == 1.0


def test_unreadable_log_fails_the_collector_but_keeps_its_metrics(
    tmp_path: Path, closing: list[Collector]
) -> None:
    log = tmp_path / "djigzo.log"
    log.mkdir()  # a directory where the log should be: open() fails (EISDIR) even for root
    source = BackendLogCollector(str(log), READY, RESET)
    closing.append(source)
    reg = registry_for(source)
    wait_for("the follower to report the error", lambda: source.follower.status().error != "")
    assert success(reg, "backend_log") == 0.0
    assert sample(reg, "galera_backend_log_present") == 1.0
    assert sample(reg, "galera_backend_ready") == 0.0


def test_concurrent_scrapes_while_lines_are_written(
    tmp_path: Path, closing: list[Collector]
) -> None:
    log = tmp_path / "djigzo.log"
    log.touch()
    source = BackendLogCollector(str(log), READY, RESET)
    closing.append(source)
    wait_for("the follower to open the log", lambda: source.follower.status().following)
    total = 20_000
    done = threading.Event()
    problems: list[str] = []
    scrapes = [0]

    def write() -> None:
        with log.open("ab", buffering=0) as out:
            for i in range(total):
                kind = ("SMTP Service handler hello name is: gw", "SMTP Service started")[
                    (i // 10) % 2
                ]
                text = kind if i % 10 == 0 else "noise"
                level = "ERROR" if i % 3 == 0 else "INFO "
                out.write(f"2026-11-27 10:00:00,000 {level} [S] {text} {i}\n".encode())
        done.set()

    def scrape() -> None:
        last = -1.0
        reg = registry_for(source)
        while not done.is_set() or last < total:
            lines = sample(reg, "galera_backend_log_lines_total") or 0.0
            ready = sample(reg, "galera_backend_ready")
            scrapes[0] += 1
            if lines < last:
                problems.append(f"lines went back from {last} to {lines}")
            if ready not in (0.0, 1.0):
                problems.append(f"ready was {ready}")
            last = lines

    readers = [threading.Thread(target=scrape) for _ in range(4)]
    for reader in readers:
        reader.start()
    write()
    for reader in readers:
        reader.join(timeout=30)
    print(f"{scrapes[0]} scrapes while {total} lines were written")
    assert not problems
    reg = registry_for(source)
    assert sample(reg, "galera_backend_log_lines_total") == total
    assert sample(reg, "galera_backend_log_errors_total") == len(range(0, total, 3))
    # markers at every 10th line alternate reset (i % 20 == 0) and ready (i % 20 == 10)
    assert sample(reg, "galera_backend_ready_transitions_total") == 2 * (total // 20) - 1
    assert sample(reg, "galera_backend_ready") == 1.0


# --- mysqld error log ---------------------------------------------------------------------------


def test_errorlog_from_the_flag(tmp_path: Path, closing: list[Collector]) -> None:
    log = tmp_path / "error.log"
    shutil.copy(ERRORLOG / "capture-node61-error.log", log)
    source = ErrorLogCollector(str(log))
    closing.append(source)
    reg = registry_for(source)
    assert source.follower is None  # started by the first scrape, not before
    assert sample(reg, "galera_errorlog_present") == 1.0
    assert source.follower is not None
    wait_for("the recovered position", lambda: sample(reg, "galera_recovered_seqno") is not None)
    # the last of the two --wsrep-recover runs in that capture
    assert sample(reg, "galera_recovered_seqno") == 6
    uuid = "4e301b5d-ea4a-11f1-b08c-bf19b5714d34"
    assert sample(reg, "galera_recovered_position_info", {"uuid": uuid}) == 1.0
    assert sample(reg, "galera_recovered_position_timestamp_seconds") == local(
        2026, 11, 27, 10, 7, 11
    )
    assert sample(reg, "galera_errorlog_file_info", {"path": str(log)}) == 1.0
    assert sample(reg, "galera_errorlog_present") == 1.0
    # events before start-up are not new events
    for event in ("unsafe_bootstrap_refused", "sst_failed", "synced", "shutdown", "aborted"):
        assert sample(reg, "galera_errorlog_events_total", {"event": event}) == 0.0

    refusal = (ERRORLOG / "unsafe-bootstrap-refused.log").read_bytes()
    append(log, refusal)
    wait_for(
        "the refused bootstrap to be read",
        lambda: sample(reg, "galera_errorlog_lines_total") == refusal.count(b"\n"),
    )
    assert sample(reg, "galera_errorlog_events_total", {"event": "unsafe_bootstrap_refused"}) == 1
    assert sample(reg, "galera_errorlog_events_total", {"event": "aborted"}) == 1
    assert sample(reg, "galera_errorlog_errors_total") == refusal.count(b"[ERROR]")

    append(log, (ERRORLOG / "wsrep-recover-node2.log").read_bytes())
    wait_for("the new recovered position", lambda: sample(reg, "galera_recovered_seqno") == 29)
    assert sample(reg, "galera_recovered_position_info", {"uuid": uuid}) is None
    uuid2 = "125a32e7-ea40-11f1-8844-577ec5e07595"
    assert sample(reg, "galera_recovered_position_info", {"uuid": uuid2}) == 1.0
    assert success(reg, "errorlog") == 1.0


class FakeWsrep:
    """Stands in for the wsrep collector: leaves the server's log_error/datadir like a live
    server."""

    name = "wsrep"

    def __init__(self, log_error: str | None, datadir: str) -> None:
        self.log_error = log_error
        self.datadir = datadir

    def collect(self, scrape: Scrape) -> Iterable[Metric]:
        if self.log_error is not None:  # None: mysqld down, no server settings
            scrape.server = ServerSettings(self.log_error, self.datadir)
        yield GaugeMetricFamily("galera_up", "fake", value=1.0 if self.log_error is not None else 0)

    def close(self) -> None:
        pass


def test_errorlog_from_log_error_started_once_and_kept(
    tmp_path: Path, closing: list[Collector]
) -> None:
    datadir = tmp_path / "data"
    datadir.mkdir()
    shutil.copy(ERRORLOG / "run1-node1-error.log", datadir / "node1.err")
    wsrep = FakeWsrep(None, str(datadir))
    source = ErrorLogCollector("", default_datadir="/nonexistent")
    closing.append(source)
    reg = registry_for(wsrep, source)

    # mysqld down and no flag: the path is unknown, nothing is followed yet
    assert sample(reg, "galera_errorlog_present") == 0.0
    assert source.follower is None

    wsrep.log_error = "./node1.err"  # relative to the datadir, as MariaDB reports it
    assert sample(reg, "galera_errorlog_present") == 1.0
    follower = source.follower
    assert follower is not None and follower.path == str(datadir / "node1.err")
    for _ in range(5):
        sample(reg, "galera_errorlog_lines_total")
    assert source.follower is follower  # not restarted per scrape
    size = (datadir / "node1.err").stat().st_size
    wait_for("start-up recovery to reach the end", lambda: follower.status().offset == size)

    wsrep.log_error = None  # mysqld stops: its log matters most now, keep following
    append(datadir / "node1.err", (ERRORLOG / "unsafe-bootstrap-refused.log").read_bytes())
    wait_for(
        "the refusal to be counted while mysqld is down",
        lambda: (
            sample(reg, "galera_errorlog_events_total", {"event": "unsafe_bootstrap_refused"}) == 1
        ),
    )
    assert source.follower is follower

    shutil.copy(ERRORLOG / "capture-node61-error.log", datadir / "other.err")
    wsrep.log_error = str(datadir / "other.err")  # log_error changed: follow the new file
    assert sample(reg, "galera_errorlog_file_info", {"path": str(datadir / "other.err")}) == 1.0
    assert source.follower is not follower
    assert follower._thread is not None and not follower._thread.is_alive()
    wait_for("the position in the new file", lambda: sample(reg, "galera_recovered_seqno") == 6)


def test_errorlog_stderr_means_no_file(closing: list[Collector]) -> None:
    source = ErrorLogCollector("")
    closing.append(source)
    reg = registry_for(FakeWsrep("", "/var/lib/mysql"), source)
    assert sample(reg, "galera_errorlog_present") == 0.0
    assert source.follower is None
    assert success(reg, "errorlog") == 1.0


def test_help_names_the_source(tmp_path: Path, closing: list[Collector]) -> None:
    log = tmp_path / "djigzo.log"
    log.touch()
    source = BackendLogCollector(str(log), READY, RESET)
    closing.append(source)
    for family in source.collect(Scrape(deadline=time.monotonic() + 5)):
        assert "log" in family.documentation, family.name


# --- configuration ------------------------------------------------------------------------------


def test_flags_build_both_sources(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config.file", dest="config_file", default=None)
    config.add_flags(parser)
    log = tmp_path / "b.log"
    args = parser.parse_args(
        [
            f"--backend.log-file={log}",
            "--backend.ready-pattern=ready one",
            "--backend.ready-pattern=ready two",
            "--backend.reset-pattern=Starting",
            "--backend.reset-pattern=Stopping",
            "--backend.backlog-bytes=4096",
            f"--mysqld.error-log-file={tmp_path / 'e.log'}",
            "--mysqld.error-log-backlog-bytes=8192",
        ]
    )
    cfg = config.load(args, COLLECTOR_NAMES, env={})
    assert cfg.backend.reset_patterns == ["Starting", "Stopping"]
    assert cfg.backend.ready_patterns == ["ready one", "ready two"]
    sources = build_collectors(cfg)
    try:
        by_name = {s.name: s for s in sources}
        backend = by_name["backend_log"]
        errorlog = by_name["errorlog"]
        assert isinstance(backend, BackendLogCollector) and backend.path == str(log)
        assert backend.follower._backlog_bytes == 4096
        assert isinstance(errorlog, ErrorLogCollector) and errorlog._backlog_bytes == 8192
    finally:
        for source in sources:
            source.close()


def test_defaults() -> None:
    cfg = config.load(argparse.Namespace(), COLLECTOR_NAMES, env={})
    assert cfg.backend.log_file == "/var/log/djigzo.log"
    assert cfg.backend.ready_patterns == [lp.DEFAULT_READY_PATTERN]
    assert cfg.backend.reset_patterns == [lp.DEFAULT_RESET_PATTERN]
    assert cfg.backend.backlog_bytes == 64 * 1024 * 1024
    assert cfg.mysqld.error_log_file == ""
    assert {"backend_log", "errorlog"} <= set(COLLECTOR_NAMES)


def test_exposition_passes_promtool(tmp_path: Path, closing: list[Collector]) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with Debian's prometheus package (see CONTRIBUTING-helpers)"
    backend_log = tmp_path / "djigzo.log"
    backend_log.touch()
    error_log = tmp_path / "error.log"
    shutil.copy(ERRORLOG / "capture-node61-error.log", error_log)
    backend = BackendLogCollector(str(backend_log), READY, RESET)
    errorlog = ErrorLogCollector(str(error_log))
    closing.extend([backend, errorlog])
    reg = registry_for(backend, errorlog)
    wait_for("the recovered position", lambda: sample(reg, "galera_recovered_seqno") == 6)
    # before that, lines appended would be start-up backlog, not new lines
    wait_for("the back-end follower to open its log", lambda: backend.follower.status().following)
    append(backend_log, (BACKENDLOG / "djigzo-restart.log").read_bytes())
    append(error_log, (ERRORLOG / "capture-node62-sst-joiner-error.log").read_bytes())
    wait_for("the joiner's failed SST", lambda: event_count(reg, "sst_failed") == 1)
    wait_for("the back-end lines", lambda: sample(reg, "galera_backend_log_lines_total") == 15)
    text = generate_latest(reg)
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def event_count(registry: object, name: str) -> float | None:
    return sample(registry, "galera_errorlog_events_total", {"event": name})  # type: ignore[arg-type]
