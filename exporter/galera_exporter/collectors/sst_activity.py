"""The joiner's datadir while an SST runs: how much is there and when it was last written.

MariaDB 10.11 writes no transfer progress into wsrep_status_file (docs/status-file.md), so the
only progress a joiner shows without configuration is its datadir filling up. Seen in the lab
(mariabackup SST, 330 MB): the joiner empties the datadir, creates `.sst/` and mbstream writes
the stream there (the size grows ~60 MB/s); mariabackup --prepare then rewrites files in
`.sst/` (mtimes move, sizes barely), the files are moved into the datadir, and only then the
script removes `sst_in_progress`. An rsync SST writes straight into the datadir. So the walk
covers the whole datadir, `.sst/` included, and skips what is not part of the transferred
state but may be written by the joiner's own mysqld meanwhile: the names the SST script itself
keeps when it empties the datadir (its `cpat`: galera.cache, grastate.dat, gvwstate.dat, *.pem,
*.err, *.log, sst_in_progress) plus gcache overflow pages.

Bounded like the GRA log scan: at most MAX_WALK_ENTRIES directory entries, at most
WALK_SECONDS (and never past the scrape's deadline), symlinks never followed (neither to
files nor to directories, so no loop), one walk at a time on a helper thread the scrape waits
for only until its deadline. A walk cut short says so (`..._scan_incomplete 1`); its numbers
are then lower bounds.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

# A datadir holds one directory per database and a few files per table: 200,000 entries is a
# very large server; beyond that the numbers are lower bounds (still enough to see activity in
# the part walked, which always starts with the top level and `.sst`).
MAX_WALK_ENTRIES = 200_000
# The walk's own time budget, whatever the scrape's deadline: 20,000 files in 200 directories
# took 0.03-0.3 s on a warm cache (test_walk_cost, lab machine, idle/busy), so the entry bound
# usually comes first.
WALK_SECONDS = 2.0
# Look at the clock once per this many entries (a monotonic() call costs more than an lstat
# of a cached inode would gain).
CLOCK_EVERY = 256
SKIPPED_NAMES = frozenset(("galera.cache", "grastate.dat", "gvwstate.dat", "sst_in_progress"))
SKIPPED_SUFFIXES = (".pem", ".err", ".log")


def skipped(name: str) -> bool:
    """Files the SST does not write but the joiner's mysqld may (see the module docstring)."""
    return (
        name in SKIPPED_NAMES or name.endswith(SKIPPED_SUFFIXES) or name.startswith("gcache.page.")
    )


@dataclass(frozen=True)
class SstWalk:
    """Regular files counted (symlinks and skipped names are not), their total size and newest
    mtime; incomplete: a bound, the deadline or an unlistable directory cut the walk; problem:
    the datadir itself could not be listed (nothing is known)."""

    files: int = 0
    size: int = 0
    newest: float | None = None
    incomplete: bool = False
    problem: str = ""


def walk_now(
    root: Path, budget: float = WALK_SECONDS, max_entries: int = MAX_WALK_ENTRIES
) -> SstWalk:
    """Walk `root` depth-first with os.scandir, never following symlinks."""
    stop_at = time.monotonic() + budget
    files = size = seen = 0
    newest: float | None = None
    incomplete = False
    pending: list[str] = [os.fspath(root)]
    first = True
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    seen += 1
                    if seen > max_entries or (
                        seen % CLOCK_EVERY == 0 and time.monotonic() > stop_at
                    ):
                        return SstWalk(files, size, newest, incomplete=True)
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            pending.append(entry.path)
                            continue
                        if skipped(entry.name):
                            continue
                        st = entry.stat(follow_symlinks=False)
                    except OSError:  # removed while we listed (the SST moves files)
                        continue
                    if not stat.S_ISREG(st.st_mode):
                        continue
                    files += 1
                    size += st.st_size
                    newest = st.st_mtime if newest is None else max(newest, st.st_mtime)
        except OSError as err:
            if first:
                return SstWalk(problem=err.strerror or type(err).__name__)
            # A subdirectory we may not list, or one removed while we walked (mariabackup
            # moves `.sst` away at the end): what is in it is unknown, the rest still counts.
            incomplete = incomplete or not isinstance(err, FileNotFoundError)
        first = False
    return SstWalk(files, size, newest, incomplete)


class _Walk:
    def __init__(self, root: Path, budget: float) -> None:
        self.done = threading.Event()
        self.result = SstWalk(incomplete=True, problem="walk did not finish")
        threading.Thread(
            target=self._run, args=(root, budget), name="walk-sst", daemon=True
        ).start()

    def _run(self, root: Path, budget: float) -> None:
        try:
            self.result = walk_now(root, budget)
        finally:
            self.done.set()


class SstActivity:
    """One walk at a time: a scrape that finds the previous walk still hanging (a stuck file
    system) waits for that one instead of starting another thread."""

    def __init__(self, datadir: Path) -> None:
        self._datadir = datadir
        self._lock = threading.Lock()
        self._walk: _Walk | None = None

    def read(self, timeout: float) -> SstWalk:
        with self._lock:
            if self._walk is None or self._walk.done.is_set():
                self._walk = _Walk(self._datadir, min(WALK_SECONDS, timeout))
            walk = self._walk
        # A little beyond the walk's own budget: it checks the clock only every CLOCK_EVERY
        # entries; a walk blocked in a system call is given up here.
        if walk.done.wait(timeout):
            return walk.result
        return SstWalk(incomplete=True, problem=f"walk did not finish within {timeout:.2f}s")


def activity_metrics(result: SstWalk, started: float | None = None) -> Iterable[Metric]:
    """Pure. Only called while sst_in_progress exists; `started` is the marker's mtime (the
    script touches it once, when the transfer begins). Nothing but `incomplete` when the
    datadir could not be listed (unknown is not zero)."""
    yield GaugeMetricFamily(
        "galera_sst_datadir_scan_incomplete",
        "1 if the walk of the joiner's datadir during an SST stopped at its bound (200,000 "
        "entries, 2 s, the scrape deadline) or could not list a directory: the galera_sst_"
        "datadir_* values are then lower bounds, or absent when the datadir was not listable",
        value=1.0 if (result.incomplete or result.problem) else 0.0,
    )
    if result.problem:
        return
    yield GaugeMetricFamily(
        "galera_sst_datadir_bytes",
        "While sst_in_progress exists: total size of the regular files in the datadir and "
        "below (mariabackup receives into .sst/), without galera.cache, grastate.dat, "
        "gvwstate.dat, *.err, *.log, *.pem; grows while the transfer streams",
        value=result.size,
    )
    yield GaugeMetricFamily(
        "galera_sst_datadir_files",
        "While sst_in_progress exists: regular files counted in galera_sst_datadir_bytes",
        value=result.files,
    )
    # The transfer's start counts as a write: files older than it (a datadir the joiner has
    # not emptied yet) must not make a transfer that just began look stalled.
    last = max((t for t in (result.newest, started) if t is not None), default=None)
    if last is not None:
        yield GaugeMetricFamily(
            "galera_sst_datadir_last_write_timestamp_seconds",
            "While sst_in_progress exists: newest modification time among the files counted "
            "in galera_sst_datadir_bytes and sst_in_progress itself (the transfer's start); "
            "moves while data arrives and while mariabackup --prepare rewrites files, stops "
            "when the transfer stalls",
            value=last,
        )
