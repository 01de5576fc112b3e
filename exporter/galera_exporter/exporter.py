"""Runs every enabled collector for one scrape and adds the exporter's own success/duration
metrics."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric

from galera_exporter import __version__
from galera_exporter.collectors.base import Collector, CollectorError, Scrape

log = logging.getLogger(__name__)


class Exporter:
    """Holds the collectors; each call to scrape() yields a fresh, complete set of families."""

    def __init__(self, collectors: Sequence[Collector]) -> None:
        self._collectors = list(collectors)
        self._lock = threading.Lock()

    @property
    def collectors(self) -> list[Collector]:
        return list(self._collectors)

    def replace_collectors(self, collectors: Sequence[Collector]) -> None:
        """Swap in the collectors of a reloaded configuration; close the old ones not kept."""
        new = list(collectors)
        with self._lock:
            old, self._collectors = self._collectors, new
        for collector in old:
            if not any(collector is kept for kept in new):
                collector.close()

    def scrape(self, deadline: float) -> Iterator[Metric]:
        scrape = Scrape(deadline=deadline)
        success = GaugeMetricFamily(
            "galera_exporter_collector_success",
            "1 if the collector read its input in this scrape, else 0",
            labels=["collector"],
        )
        duration = GaugeMetricFamily(
            "galera_exporter_collector_duration_seconds",
            "Time the collector took in this scrape",
            labels=["collector"],
        )
        with self._lock:
            collectors = list(self._collectors)
        for collector in collectors:
            started = time.perf_counter()
            ok = 1.0
            try:
                yield from collector.collect(scrape)
            except CollectorError as err:
                ok = 0.0
                log.debug("collector %s failed: %s", collector.name, err)
            success.add_metric([collector.name], ok)
            duration.add_metric([collector.name], time.perf_counter() - started)
        yield success
        yield duration
        build = InfoMetricFamily(
            "galera_exporter_build", "Version of galera-exporter", value={"version": __version__}
        )
        yield build

    def serving_reason(self, ttl: float, timeout: float) -> str | None:
        """The wsrep collector's serving verdict (serving.REASONS), None if it is not enabled."""
        with self._lock:
            collectors = list(self._collectors)
        for collector in collectors:
            verdict = getattr(collector, "serving_reason", None)
            if verdict is not None:
                reason: str = verdict(ttl, timeout)
                return reason
        return None

    def close(self) -> None:
        with self._lock:
            collectors, self._collectors = self._collectors, []
        for collector in collectors:
            collector.close()


class ScrapeRegistry:
    """What prometheus_client's generate_latest wants: an object with collect()."""

    def __init__(self, exporter: Exporter, deadline: float) -> None:
        self._exporter = exporter
        self._deadline = deadline

    def collect(self) -> Iterable[Metric]:
        return self._exporter.scrape(self._deadline)
