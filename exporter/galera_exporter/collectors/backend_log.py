"""Collector: the back-end application's log (Djigzo/CipherMail), followed for readiness.

Readiness is 1 once a ready line (default: James's `SMTP Service started`) has been seen
after the last reset line (a start or stop marker), else 0. The follower keeps the state
between scrapes; collect() only reads it under a lock. See docs/logs.md for the choice of
markers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from galera_exporter import logparse
from galera_exporter.collectors.base import CollectorError, Scrape
from galera_exporter.follow import FollowStatus, LogFollower

Clock = Callable[[], float]


class BackendLogState:
    """Readiness and counters built from the log's lines; fed by a LogFollower's thread."""

    def __init__(
        self,
        ready_patterns: Sequence[str],
        reset_patterns: Sequence[str],
        clock: Clock = time.time,
    ) -> None:
        self._ready = logparse.compile_patterns(ready_patterns)
        self._reset = logparse.compile_patterns(reset_patterns)
        self._clock = clock
        self._lock = threading.Lock()
        self.ready = False
        self.ready_since: float | None = None
        self.reset_at: float | None = None
        self.lines = 0
        self.errors = 0
        self.transitions = 0

    def recover(self, block: bytes) -> bool:
        """The newest marker before start-up decides; older blocks are not needed after it."""
        markers = logparse.backend_markers(block, self._ready, self._reset)
        if not markers:
            return False
        with self._lock:
            # Replay from the last reset on, so ready_since is the first ready line after it.
            last_reset = max(
                (i for i, (m, _) in enumerate(markers) if m is logparse.Marker.RESET), default=-1
            )
            if last_reset < 0:
                # Only ready lines here; an older block may hold the reset before them, but
                # readiness is known: the earliest ready line of this block is a lower bound.
                self._apply(*markers[0])
            else:
                for marker, line in markers[last_reset:]:
                    self._apply(marker, line)
            self.transitions = 0  # recovered state is not a transition we watched
        return True

    def feed(self, block: bytes) -> None:
        lines = block.count(b"\n")
        errors = logparse.count_error_lines(block)
        markers = logparse.backend_markers(block, self._ready, self._reset)
        with self._lock:
            self.lines += lines
            self.errors += errors
            for marker, line in markers:
                self._apply(marker, line)

    def _apply(self, marker: logparse.Marker, line: bytes) -> None:
        when = logparse.line_timestamp(line) or self._clock()
        if marker is logparse.Marker.RESET:
            if self.ready:
                self.transitions += 1
            self.ready = False
            self.reset_at = when
        elif not self.ready:
            self.ready = True
            self.ready_since = when
            self.transitions += 1

    def snapshot(self) -> tuple[bool, float | None, float | None, int, int, int]:
        with self._lock:
            return (
                self.ready,
                self.ready_since,
                self.reset_at,
                self.lines,
                self.errors,
                self.transitions,
            )


def follower_metrics(prefix: str, what: str, status: FollowStatus) -> Iterable[Metric]:
    """The families every followed log has: present, rotations, cut lines."""
    yield GaugeMetricFamily(
        f"{prefix}_present",
        f"1 if the {what} exists at its path, else 0 (from the log follower)",
        value=1.0 if status.present else 0.0,
    )
    yield CounterMetricFamily(
        f"{prefix}_rotations_total",
        f"Times the {what} was replaced or truncated while followed (from the log follower)",
        value=status.rotations,
    )
    yield CounterMetricFamily(
        f"{prefix}_truncated_lines_total",
        f"Lines of the {what} longer than the line limit, cut (from the log follower)",
        value=status.truncated_lines,
    )


class BackendLogCollector:
    """galera_backend_*: the follower starts with the collector and stops with close()."""

    name = "backend_log"

    def __init__(
        self,
        path: str,
        ready_patterns: Sequence[str],
        reset_patterns: Sequence[str],
        *,
        backlog_bytes: int = 64 << 20,
        use_inotify: bool = True,
        clock: Clock = time.time,
    ) -> None:
        self.path = path
        self.state = BackendLogState(ready_patterns, reset_patterns, clock)
        self.follower = LogFollower(
            path,
            self.state,
            backlog_bytes=backlog_bytes,
            use_inotify=use_inotify,
            name="backend",
        ).start()

    def collect(self, scrape: Scrape) -> Iterable[Metric]:
        del scrape  # the state is kept by the follower; nothing to read per scrape
        status = self.follower.status()
        ready, since, reset_at, lines, errors, transitions = self.state.snapshot()
        src = f"from the back-end log {self.path}"
        yield GaugeMetricFamily(
            "galera_backend_ready",
            f"1 if a ready line was seen after the last start/stop marker, else 0 ({src})",
            value=1.0 if ready else 0.0,
        )
        if since is not None:
            yield GaugeMetricFamily(
                "galera_backend_ready_timestamp_seconds",
                f"When the back-end last became ready: the ready line's own time ({src})",
                value=since,
            )
        if reset_at is not None:
            yield GaugeMetricFamily(
                "galera_backend_reset_timestamp_seconds",
                f"When the last start/stop marker was written ({src})",
                value=reset_at,
            )
        yield CounterMetricFamily(
            "galera_backend_ready_transitions_total",
            f"Changes of galera_backend_ready seen since the exporter started ({src})",
            value=transitions,
        )
        yield CounterMetricFamily(
            "galera_backend_log_lines_total",
            f"Lines appended since the exporter started ({src})",
            value=lines,
        )
        yield CounterMetricFamily(
            "galera_backend_log_errors_total",
            f"Lines at ERROR level or worse appended since the exporter started ({src})",
            value=errors,
        )
        yield from follower_metrics("galera_backend_log", "back-end log", status)
        if status.error:
            raise CollectorError(f"{self.path}: {status.error}")

    def close(self) -> None:
        self.follower.close()
