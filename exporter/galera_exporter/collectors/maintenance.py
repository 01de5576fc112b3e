"""Collector: the planned-maintenance marker file, exported as galera_maintenance (0 or 1).

An operator creates the file (any content; it is never parsed or exported) before planned
work and removes it afterwards; the GaleraMaintenance alert and Alertmanager's inhibit rule
keep the cluster's other alerts from paging meanwhile (docs/runbook.md, Planned maintenance).
The file is read like the state files (regular files only, bounded size and time), so a FIFO
or a hung file system cannot hold the scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from galera_exporter.collectors.base import CollectorError, Scrape
from galera_exporter.collectors.statefile import BoundedFileReader
from galera_exporter.db import bounded_timeout

log = logging.getLogger(__name__)

# A local stat and read take well under a millisecond; the floor only matters when it hangs.
MIN_READ_SECONDS = 0.25


class MaintenanceCollector:
    name = "maintenance"

    def __init__(self, path: str) -> None:
        self._path = Path(path) if path else None
        self._reader = BoundedFileReader()
        self._last_problem = ""

    def collect(self, scrape: Scrape) -> Iterable[Metric]:
        if self._path is None:  # not configured: no series, so no rule sees a false 0
            return
        timeout = max(bounded_timeout(scrape.remaining()), MIN_READ_SECONDS)
        read = self._reader.read(self._path, timeout)
        if read.problem != self._last_problem:
            if read.problem:
                log.warning("cannot read maintenance file %s: %s", self._path, read.problem)
            self._last_problem = read.problem
        if read.present is None:
            # Unknown is not "absent": a 0 here would let the cluster page during the work.
            raise CollectorError(f"{self._path}: {read.problem}")
        yield GaugeMetricFamily(
            "galera_maintenance",
            "1 if the maintenance marker file (--maintenance.file) exists: planned work, "
            "alerts of this cluster are inhibited; 0 if it does not",
            value=1.0 if read.present else 0.0,
        )
        if read.present and read.mtime is not None:
            yield GaugeMetricFamily(
                "galera_maintenance_since_timestamp_seconds",
                "Modification time of the maintenance marker file: when the work was announced",
                value=read.mtime,
            )

    def close(self) -> None:
        """Nothing to release: a hung read's helper thread is a daemon and ends with it."""
