"""Shared by the log-follower tests: a recording consumer, a registry reading one source the way
/metrics does (deadline waits: tests.support.wait)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from galera_exporter.collectors.base import Collector
from galera_exporter.exporter import Exporter, ScrapeRegistry

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ERRORLOG = FIXTURES / "errorlog"
BACKENDLOG = FIXTURES / "backendlog"


class Recorder:
    """A LineConsumer that keeps everything it is given."""

    def __init__(self, satisfied_by: bytes | None = None) -> None:
        self.recovered: list[bytes] = []
        self.fed: list[bytes] = []
        self._satisfied_by = satisfied_by
        self._lock = threading.Lock()

    def recover(self, block: bytes) -> bool:
        with self._lock:
            self.recovered.append(block)
        return self._satisfied_by is not None and self._satisfied_by in block

    def feed(self, block: bytes) -> None:
        assert block.endswith(b"\n"), block[-80:]
        with self._lock:
            self.fed.append(block)

    def lines(self) -> list[bytes]:
        with self._lock:
            return b"".join(self.fed).splitlines()

    def recovered_lines(self) -> list[bytes]:
        """In file order (recover() gets the newest block first)."""
        with self._lock:
            return b"".join(reversed(self.recovered)).splitlines()


def registry_for(*sources: Collector) -> CollectorRegistry:
    """A fresh registry whose every read runs one whole scrape, like the /metrics handler."""
    registry = CollectorRegistry(auto_describe=False)

    class _Scrape:
        def collect(self) -> Iterable[Metric]:
            return ScrapeRegistry(Exporter(list(sources)), time.monotonic() + 5).collect()

    registry.register(_Scrape())
    return registry


def append(path: Path, *lines: str | bytes) -> None:
    with path.open("ab") as handle:
        for line in lines:
            handle.write(line.encode() if isinstance(line, str) else line)


def sample(
    registry: CollectorRegistry, name: str, labels: dict[str, str] | None = None
) -> float | None:
    return registry.get_sample_value(name, labels or {})


def fixture_lines(path: Path) -> Sequence[bytes]:
    return path.read_bytes().splitlines()
