"""Runs every enabled source for one scrape and adds the exporter's own success/duration metrics."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric

from galera_exporter import __version__
from galera_exporter.collectors.base import Scrape, Source, SourceError

log = logging.getLogger(__name__)


class Exporter:
    """Holds the sources; each call to scrape() yields a fresh, complete set of families."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self._sources = list(sources)
        self._lock = threading.Lock()

    @property
    def sources(self) -> list[Source]:
        return list(self._sources)

    def replace_sources(self, sources: Sequence[Source]) -> None:
        """Swap in the sources of a reloaded configuration; close the old ones not kept."""
        new = list(sources)
        with self._lock:
            old, self._sources = self._sources, new
        for source in old:
            if not any(source is kept for kept in new):
                source.close()

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
            sources = list(self._sources)
        for source in sources:
            started = time.perf_counter()
            ok = 1.0
            try:
                yield from source.collect(scrape)
            except SourceError as err:
                ok = 0.0
                log.debug("collector %s failed: %s", source.name, err)
            success.add_metric([source.name], ok)
            duration.add_metric([source.name], time.perf_counter() - started)
        yield success
        yield duration
        build = InfoMetricFamily(
            "galera_exporter_build", "Version of galera-exporter", value={"version": __version__}
        )
        yield build

    def serving_reason(self, ttl: float, timeout: float) -> str | None:
        """The wsrep source's serving verdict (serving.REASONS), None if it is not enabled."""
        with self._lock:
            sources = list(self._sources)
        for source in sources:
            verdict = getattr(source, "serving_reason", None)
            if verdict is not None:
                reason: str = verdict(ttl, timeout)
                return reason
        return None

    def close(self) -> None:
        with self._lock:
            sources, self._sources = self._sources, []
        for source in sources:
            source.close()


class ScrapeRegistry:
    """What prometheus_client's generate_latest wants: an object with collect()."""

    def __init__(self, exporter: Exporter, deadline: float) -> None:
        self._exporter = exporter
        self._deadline = deadline

    def collect(self) -> Iterable[Metric]:
        return self._exporter.scrape(self._deadline)
