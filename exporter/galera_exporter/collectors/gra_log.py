"""Collector: GRA_*.log files in the datadir (write-sets this node failed to apply), counted.

Galera writes GRA_<thread>_<seqno>[_v2].log into the datadir when applying a replicated
write-set fails (seen in the lab: GRA_2_5021_v2.log, 406 bytes, next to an "Inconsistency
detected" error). Nothing removes them, so they also tell a node that is down what happened
before. The scan is bounded: one directory listing (at most MAX_SCAN_ENTRIES entries, lstat
only of matching names, at most MAX_COUNTED of them) on a helper thread the scrape waits for
only until its deadline; a scrape that finds the previous scan still hanging waits for that
one instead of starting another.

Listing needs read permission on the datadir, which the hardened non-root setup
(docs/deploy.md: search only) does not grant. That is a deployment choice, not a failure:
galera_gra_log_scan_denied 1, no count, and the collector still succeeds, so
GaleraExporterCollectorFailing does not fire on every such node.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from galera_exporter.collectors.base import CollectorError, Scrape
from galera_exporter.collectors.grastate import MIN_READ_SECONDS
from galera_exporter.db import bounded_timeout

log = logging.getLogger(__name__)

# A datadir holds one entry per database plus a few dozen files; far more is not a datadir we
# should spend a scrape on.
MAX_SCAN_ENTRIES = 100_000
MAX_COUNTED = 10_000


@dataclass(frozen=True)
class GraScan:
    """files: GRA logs counted; newest: their latest mtime; truncated: a limit cut the scan;
    denied: listing the datadir is not permitted (the documented non-root setup grants only
    search there); problem: any other failure."""

    files: int = 0
    newest: float | None = None
    truncated: bool = False
    denied: bool = False
    problem: str = ""


def is_gra_name(name: str) -> bool:
    return name.startswith("GRA_") and name.endswith(".log")


def scan_now(datadir: Path) -> GraScan:
    """List `datadir` once; count regular files named GRA_*.log (symlinks are not followed)."""
    files = 0
    newest: float | None = None
    try:
        with os.scandir(datadir) as entries:
            for seen, entry in enumerate(entries, start=1):
                if seen > MAX_SCAN_ENTRIES or files >= MAX_COUNTED:
                    return GraScan(files, newest, truncated=True)
                if not is_gra_name(entry.name):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # removed while we listed
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                files += 1
                newest = st.st_mtime if newest is None else max(newest, st.st_mtime)
    except FileNotFoundError:
        return GraScan(problem="datadir does not exist")
    except PermissionError:
        return GraScan(denied=True)
    except OSError as err:
        if err.errno in (errno.EACCES, errno.EPERM):
            return GraScan(denied=True)
        return GraScan(problem=err.strerror or type(err).__name__)
    return GraScan(files, newest)


class _Scan:
    def __init__(self, datadir: Path) -> None:
        self.done = threading.Event()
        self.result = GraScan(problem="scan did not finish")
        threading.Thread(target=self._run, args=(datadir,), name="scan-gra", daemon=True).start()

    def _run(self, datadir: Path) -> None:
        try:
            self.result = scan_now(datadir)
        finally:
            self.done.set()


class GraLogCollector:
    """galera_gra_log_*."""

    name = "gra_log"

    def __init__(self, datadir: str) -> None:
        self._datadir = Path(datadir)
        self._lock = threading.Lock()
        self._scan: _Scan | None = None
        self._last_problem = ""

    def _read(self, timeout: float) -> GraScan:
        with self._lock:
            if self._scan is None or self._scan.done.is_set():
                self._scan = _Scan(self._datadir)
            scan = self._scan
        if scan.done.wait(timeout):
            return scan.result
        return GraScan(problem=f"scan did not finish within {timeout:.2f}s")

    def collect(self, scrape: Scrape) -> Iterable[Metric]:
        result = self._read(max(bounded_timeout(scrape.remaining()), MIN_READ_SECONDS))
        yield from gra_metrics(result)
        if result.problem != self._last_problem:
            if result.problem:
                log.warning("cannot list %s for GRA logs: %s", self._datadir, result.problem)
            self._last_problem = result.problem
        if result.problem:
            raise CollectorError(f"{self._datadir}: {result.problem}")

    def close(self) -> None:
        """Nothing is held open between scrapes (a hung scan's thread ends with its scan)."""


def gra_metrics(result: GraScan) -> Iterable[Metric]:
    """Pure; no count when the directory could not be listed (unknown is not zero)."""
    yield GaugeMetricFamily(
        "galera_gra_log_scan_denied",
        "1 if the exporter may not list the datadir (the non-root setup of docs/deploy.md "
        "grants search only; add read to count GRA logs): galera_gra_log_files is then absent",
        value=1.0 if result.denied else 0.0,
    )
    if not result.problem and not result.denied:
        yield GaugeMetricFamily(
            "galera_gra_log_files",
            "GRA_*.log files in the datadir: write-sets this node failed to apply (Galera "
            "writes one per failure and never removes them)",
            value=result.files,
        )
        if result.newest is not None:
            yield GaugeMetricFamily(
                "galera_gra_log_newest_timestamp_seconds",
                "Modification time of the newest GRA_*.log file in the datadir",
                value=result.newest,
            )
    yield GaugeMetricFamily(
        "galera_gra_log_scan_truncated",
        f"1 if the datadir scan stopped at its limit ({MAX_SCAN_ENTRIES} entries or "
        f"{MAX_COUNTED} GRA logs): galera_gra_log_files is then a lower bound",
        value=1.0 if result.truncated else 0.0,
    )
