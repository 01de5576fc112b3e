"""Collector: grastate.dat and gvwstate.dat, read on every scrape whether mysqld runs or not."""

from __future__ import annotations

import logging
import os
import socket
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from galera_exporter import parse
from galera_exporter.collectors.base import CollectorError, Scrape
from galera_exporter.collectors.sst_activity import SstActivity, activity_metrics
from galera_exporter.collectors.statefile import (
    MAX_STATE_FILE_BYTES,
    BoundedFileReader,
    FileRead,
)
from galera_exporter.db import bounded_timeout

log = logging.getLogger(__name__)
T = TypeVar("T")

__all__ = ["MAX_STATE_FILE_BYTES", "GrastateCollector", "node_tiebreak_key"]

# A file that hangs (a stuck network file system) may hold a scrape this long at least, even
# when the scrape's deadline is already spent by the database: a healthy local read takes
# well under a millisecond, so the floor only ever costs time when the file really hangs.
MIN_READ_SECONDS = 0.25
# Created in the datadir by wsrep_sst_common's joiner side (mariabackup and rsync SST).
SST_MARKER = "sst_in_progress"


def node_tiebreak_key(hostname: str, datadir: str) -> int:
    """CRC32 of `<host name>\\0<absolute datadir>`: stable per node, differs between nodes."""
    text = f"{hostname}\0{os.path.abspath(datadir)}"
    return zlib.crc32(text.encode("utf-8", "surrogateescape"))


def _parsed(read: FileRead, parser: Callable[[bytes], T], path: Path) -> T | None:
    """The parsed file, or None; a garbage state file is a fact about the node, not a failure
    of the collector (galera_*_valid says it)."""
    if read.data is None:
        return None
    try:
        if len(read.data) > MAX_STATE_FILE_BYTES:
            raise parse.ParseError(f"larger than {MAX_STATE_FILE_BYTES} bytes")
        return parser(read.data)
    except parse.ParseError as err:
        log.debug("%s is not valid: %s", path, err)
        return None


def _gauge(name: str, doc: str, value: float) -> Metric:
    return GaugeMetricFamily(name, doc, value=value)


class GrastateCollector:
    """grastate.dat (uuid, seqno, safe_to_bootstrap) and gvwstate.dat (pc.recovery's view)."""

    name = "grastate"

    def __init__(self, datadir: str, *, tiebreak_key: int | None = None) -> None:
        """`tiebreak_key`: for tests only (golden files must not depend on the machine)."""
        self._datadir = Path(datadir)
        self._reader = BoundedFileReader()
        self._tiebreak = (
            node_tiebreak_key(socket.gethostname(), datadir)
            if tiebreak_key is None
            else tiebreak_key
        )
        self._last_problems: tuple[str, ...] = ()
        self._sst_starts = 0
        self._sst_marker_mtime: float | None = None
        self._sst_activity = SstActivity(self._datadir)

    def collect(self, scrape: Scrape) -> Iterable[Metric]:
        timeout = max(bounded_timeout(scrape.remaining()), MIN_READ_SECONDS)
        grastate_path = self._datadir / "grastate.dat"
        gvwstate_path = self._datadir / "gvwstate.dat"
        grastate = self._reader.read(grastate_path, timeout)
        gvwstate = self._reader.read(gvwstate_path, timeout)
        marker = self._reader.read(self._datadir / SST_MARKER, timeout)
        yield from grastate_metrics(grastate_path, grastate)
        yield from gvwstate_metrics(gvwstate_path, gvwstate)
        yield from self._sst_metrics(marker)
        if marker.present:
            # Only while a transfer runs (or its marker was left behind): the datadir walk
            # costs nothing on the other nodes and at other times.
            walk = self._sst_activity.read(
                max(bounded_timeout(scrape.remaining()), MIN_READ_SECONDS)
            )
            yield from activity_metrics(walk, marker.mtime)
        unreadable = GaugeMetricFamily(
            "galera_state_file_unreadable",
            "1 if the state file exists but could not be read (permission denied, not a "
            "regular file, I/O error, timed out); its galera_*_present is then omitted",
            labels=["file"],
        )
        for path, read in ((grastate_path, grastate), (gvwstate_path, gvwstate)):
            unreadable.add_metric([path.name], 1.0 if read.problem else 0.0)
        yield unreadable
        yield _gauge(
            "galera_node_tiebreak_key",
            "CRC32 of this node's host name and absolute datadir: a stable number per node, "
            "only for picking exactly one of several equally advanced bootstrap candidates "
            "(lowest wins); it says nothing about the node's data",
            self._tiebreak,
        )
        problems = tuple(
            f"{path}: {read.problem}"
            for path, read in ((grastate_path, grastate), (gvwstate_path, gvwstate))
            if read.problem
        )
        if problems != self._last_problems:
            for problem in problems:
                log.warning("cannot read state file %s", problem)
            if not problems:
                log.info("state files readable again")
            self._last_problems = problems
        if problems:
            raise CollectorError("; ".join(problems))

    def _sst_metrics(self, marker: FileRead) -> Iterable[Metric]:
        """The joiner's sst_in_progress marker: present while a state transfer runs (and left
        behind by one that died); each new marker (new mtime) is one more SST started."""
        if marker.present and marker.mtime != self._sst_marker_mtime:
            self._sst_starts += 1
        self._sst_marker_mtime = marker.mtime if marker.present else None
        if marker.present is not None:
            yield _gauge(
                "galera_sst_in_progress",
                f"1 if {SST_MARKER} exists in the datadir: the SST script creates it on the "
                "joiner and removes it when the transfer ends",
                1.0 if marker.present else 0.0,
            )
        yield CounterMetricFamily(
            "galera_sst_starts",
            f"State transfers seen starting ({SST_MARKER} appeared) since the exporter started",
            value=self._sst_starts,
        )

    def close(self) -> None:
        """Nothing is held open between scrapes (a hung read's thread ends with its read)."""


def _present(name: str, doc: str, read: FileRead) -> Iterable[Metric]:
    """1 read, 0 verifiably absent; omitted when the file exists but cannot be read."""
    if read.present is not None:
        yield _gauge(name, doc, 1.0 if read.present else 0.0)


def grastate_metrics(path: Path, read: FileRead) -> Iterable[Metric]:
    src = f"from {path.name}"
    state = _parsed(read, parse.parse_grastate, path)
    yield from _present(
        "galera_grastate_present",
        f"1 if {path.name} exists and was read, 0 if it does not exist; absent when it exists "
        "but cannot be read (see galera_state_file_unreadable)",
        read,
    )
    yield _gauge(
        "galera_grastate_valid",
        f"1 if {path.name} parsed (0 for missing, truncated, garbage or unreadable)",
        1 if state else 0,
    )
    if read.mtime is not None:
        yield _gauge(
            "galera_grastate_modified_timestamp_seconds",
            f"Modification time of {path.name}; Galera rewrites it on stop and on state changes",
            read.mtime,
        )
    if state is None:
        return
    yield _gauge(
        "galera_grastate_seqno",
        f"seqno {src}: -1 while running or after a crash, the last seqno after a clean stop",
        state.seqno,
    )
    if state.safe_to_bootstrap is not None:
        yield _gauge(
            "galera_grastate_safe_to_bootstrap",
            f"safe_to_bootstrap {src}: 1 on the node that left the cluster last",
            state.safe_to_bootstrap,
        )
    info = GaugeMetricFamily(
        "galera_grastate_info", f"uuid and version {src}", labels=["uuid", "version"]
    )
    info.add_metric([state.uuid, state.version], 1)
    yield info


def gvwstate_metrics(path: Path, read: FileRead) -> Iterable[Metric]:
    view = _parsed(read, parse.parse_gvwstate, path)
    yield from _present(
        "galera_gvwstate_present",
        f"1 if {path.name} (pc.recovery's saved view) exists and was read: kept after a crash, "
        "deleted on a clean stop; 0 if it does not exist; absent when it exists but cannot be "
        "read (see galera_state_file_unreadable)",
        read,
    )
    yield _gauge("galera_gvwstate_valid", f"1 if {path.name} parsed", 1 if view else 0)
    if read.mtime is not None:
        yield _gauge(
            "galera_gvwstate_modified_timestamp_seconds",
            f"Modification time of {path.name}; Galera rewrites it at every Primary view change",
            read.mtime,
        )
    if view is None:
        return
    yield _gauge(
        "galera_gvwstate_members",
        f"Members of the saved primary view in {path.name}",
        len(view.members),
    )
    info = GaugeMetricFamily(
        "galera_gvwstate_info",
        f"my_uuid and view_id from {path.name}",
        labels=["my_uuid", "view_id"],
    )
    info.add_metric([view.my_uuid, view.view_id], 1)
    yield info
    # The rules compare these gcomm UUIDs with a running node's wsrep_gcomm_uuid: a survivor
    # that was in a crashed node's last Primary view has all of its transactions.
    members = GaugeMetricFamily(
        "galera_gvwstate_member_info",
        f"1 per member (gcomm UUID) of the saved Primary view in {path.name}",
        labels=["uuid"],
    )
    for member in sorted(set(view.members)):
        members.add_metric([member], 1)
    yield members
