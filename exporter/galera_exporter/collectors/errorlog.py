"""Collector: the mysqld error log, followed for `Recovered position` and a few Galera events.

The path is --mysqld.error-log-file or else the server's log_error, which the wsrep collector
leaves in `Scrape.server`. The follower is started the first time a path is known and
kept across scrapes, also while mysqld is down: that is when its log matters most.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric

from galera_exporter import logparse
from galera_exporter.collectors.backend_log import follower_metrics
from galera_exporter.collectors.base import CollectorError, Scrape
from galera_exporter.follow import LogFollower, resolve_log_path

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Snapshot = tuple[
    logparse.RecoveredPosition | None,
    float | None,
    dict[logparse.Event, int],
    int,
    int,
    logparse.IstProgress | None,
]


class ErrorLogState:
    """The last recovered position and event counts; fed by a LogFollower's thread.

    Events count only lines appended after the exporter started: counting the backlog too
    would make every exporter restart look like a burst of new events to increase().
    The recovered position is state, so it is also looked for in the backlog.
    """

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.recovered: logparse.RecoveredPosition | None = None
        self.recovered_at: float | None = None
        self.events = dict.fromkeys(logparse.Event, 0)
        self.lines = 0
        self.errors = 0
        # Thread-0 lines in a row at the end of what was fed: a position's context may start
        # in the block before its own (logparse.RECOVERY_RUN_LINES).
        self._run = 0
        self._recovering = False
        # The last "Receiving IST..." progress of the current server run (None after a start,
        # shutdown or abort line): state, so recovered from the backlog like the position.
        self.ist: logparse.IstProgress | None = None
        self._ist_known = False  # recovery met a progress or run-boundary line
        self._position_known = False

    def recover(self, block: bytes) -> bool:
        """The follower hands older blocks with a few lines of context before them."""
        if not self._recovering:
            # The newest block's last lines are what the first live line follows.
            self._recovering = True
            self._run = logparse.errorlog_run_after(block)
        parsed = logparse.errorlog_lines(block)
        positions = [p.recovered for p in parsed if p.recovered]
        runs = [p for p in parsed if p.ist is not None or p.run_boundary]
        with self._lock:
            if positions and not self._position_known:
                self._position_known = True
                self._set_position(positions[-1])
            if runs and not self._ist_known:
                self._ist_known = True
                self.ist = runs[-1].ist
        return self._position_known and self._ist_known

    def feed(self, block: bytes) -> None:
        lines = block.count(b"\n")
        errors = logparse.count_error_lines(block)
        parsed = logparse.errorlog_lines(block, self._run)
        self._run = logparse.errorlog_run_after(block, self._run)
        with self._lock:
            self.lines += lines
            self.errors += errors
            for item in parsed:
                for event in item.events:
                    self.events[event] += 1
                if item.recovered is not None:
                    self._set_position(item.recovered)
                if item.run_boundary:
                    self.ist = None
                if item.ist is not None:
                    self.ist = item.ist

    def _set_position(self, position: logparse.RecoveredPosition) -> None:
        self.recovered = position
        self.recovered_at = position.timestamp or self._clock()

    def snapshot(self) -> Snapshot:
        with self._lock:
            return (
                self.recovered,
                self.recovered_at,
                dict(self.events),
                self.lines,
                self.errors,
                self.ist,
            )


def ist_metrics(ist: logparse.IstProgress, src: str) -> Iterable[Metric]:
    """The current server run's last 'Receiving IST...' line (Galera's joiner progress)."""
    run = "in the current server run"
    yield GaugeMetricFamily(
        "galera_ist_received_events",
        f"Events received by the last 'Receiving IST... N% (done/total events)' line {run} ({src})",
        value=ist.done,
    )
    yield GaugeMetricFamily(
        "galera_ist_expected_events",
        f"Events the IST brings, from the last 'Receiving IST...' line {run} ({src})",
        value=ist.total,
    )
    if ist.timestamp is not None:
        yield GaugeMetricFamily(
            "galera_ist_progress_timestamp_seconds",
            f"When the last 'Receiving IST...' line {run} was written, its own timestamp ({src})",
            value=ist.timestamp,
        )


class ErrorLogCollector:
    """galera_recovered_*, galera_errorlog_*, galera_ist_*."""

    name = "errorlog"

    def __init__(
        self,
        path: str = "",
        *,
        default_datadir: str = "/var/lib/mysql",
        backlog_bytes: int = 64 << 20,
        use_inotify: bool = True,
        clock: Clock = time.time,
    ) -> None:
        self._configured = path
        self._default_datadir = default_datadir
        self._backlog_bytes = backlog_bytes
        self._use_inotify = use_inotify
        self._clock = clock
        self._lock = threading.Lock()
        self.path = ""
        self.state: ErrorLogState | None = None
        self.follower: LogFollower | None = None

    def _path_for(self, scrape: Scrape) -> str:
        if self._configured:
            return str(resolve_log_path(self._configured, self._default_datadir))
        server = scrape.server
        if server is None or not server.log_error.strip():
            return ""  # unknown (mysqld down) or stderr: keep what we follow, if anything
        base = server.datadir or self._default_datadir
        return str(resolve_log_path(server.log_error.strip(), base))

    def _ensure_follower(self, scrape: Scrape) -> None:
        path = self._path_for(scrape)
        with self._lock:
            if not path or path == self.path:
                return
            old = self.follower
            if old is not None:
                log.info("mysqld error log moved from %s to %s", self.path, path)
            self.path = path
            self.state = ErrorLogState(self._clock)
            self.follower = LogFollower(
                path,
                self.state,
                backlog_bytes=self._backlog_bytes,
                use_inotify=self._use_inotify,
                name="errorlog",
                context_lines=logparse.RECOVERY_RUN_LINES,
            ).start()
        if old is not None:
            old.close()

    def collect(self, scrape: Scrape) -> Iterable[Metric]:
        self._ensure_follower(scrape)
        with self._lock:
            path, state, follower = self.path, self.state, self.follower
        if state is None or follower is None:
            yield GaugeMetricFamily(
                "galera_errorlog_present",
                "1 if the mysqld error log exists at its path, else 0 (path not known yet: "
                "no --mysqld.error-log-file and no log_error from the server)",
                value=0.0,
            )
            return
        status = follower.status()
        position, position_at, events, lines, errors, ist = state.snapshot()
        src = f"from the mysqld error log {path}"
        if ist is not None:
            yield from ist_metrics(ist, src)
        if position is not None:
            yield GaugeMetricFamily(
                "galera_recovered_seqno",
                f"seqno of the last 'WSREP: Recovered position' line ({src})",
                value=position.seqno,
            )
            info = InfoMetricFamily(
                "galera_recovered_position",
                f"Cluster state uuid of the last 'WSREP: Recovered position' line ({src})",
                labels=["uuid"],
            )
            info.add_metric([position.uuid], {})
            yield info
        if position_at is not None:
            yield GaugeMetricFamily(
                "galera_recovered_position_timestamp_seconds",
                f"When the last 'WSREP: Recovered position' line was written ({src})",
                value=position_at,
            )
        counter = CounterMetricFamily(
            "galera_errorlog_events_total",
            f"Galera events logged since the exporter started, by event ({src})",
            labels=["event"],
        )
        for event, count in events.items():
            counter.add_metric([event.value], count)
        yield counter
        yield CounterMetricFamily(
            "galera_errorlog_lines_total",
            f"Lines appended since the exporter started ({src})",
            value=lines,
        )
        yield CounterMetricFamily(
            "galera_errorlog_errors_total",
            f"Lines at ERROR level appended since the exporter started ({src})",
            value=errors,
        )
        yield InfoMetricFamily(
            "galera_errorlog_file",
            "Path of the mysqld error log being followed (--mysqld.error-log-file or log_error)",
            value={"path": path},
        )
        yield from follower_metrics("galera_errorlog", "mysqld error log", status)
        if status.error:
            raise CollectorError(f"{path}: {status.error}")

    def close(self) -> None:
        with self._lock:
            follower, self.follower = self.follower, None
        if follower is not None:
            follower.close()
