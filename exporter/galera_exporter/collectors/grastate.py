"""Source: grastate.dat and gvwstate.dat, read on every scrape whether mysqld runs or not."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from galera_exporter import parse
from galera_exporter.collectors.base import Scrape, SourceError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Galera writes a few hundred bytes; anything far larger is not a state file and must not
# cost the exporter memory.
MAX_STATE_FILE_BYTES = 64 * 1024


class StateFileUnreadableError(Exception):
    pass


def read_state_file(path: Path) -> tuple[bytes, float] | None:
    """(content, mtime) of a state file, None if it does not exist; never writes or locks it."""
    try:
        with path.open("rb") as handle:
            stat = os.fstat(handle.fileno())
            return handle.read(MAX_STATE_FILE_BYTES + 1), stat.st_mtime
    except FileNotFoundError:
        return None
    except OSError as err:
        raise StateFileUnreadableError(f"{path}: {err.strerror or type(err).__name__}") from None


def read_and_parse(
    path: Path, parser: Callable[[bytes], T], problems: list[str]
) -> tuple[int, float | None, T | None]:
    """(present, mtime, parsed or None). Unreadable files add to `problems`; invalid ones don't:
    a garbage state file is a fact about the node, not a failure of the collector."""
    try:
        read = read_state_file(path)
    except StateFileUnreadableError as err:
        problems.append(str(err))
        return 0, None, None
    if read is None:
        return 0, None, None
    data, mtime = read
    try:
        if len(data) > MAX_STATE_FILE_BYTES:
            raise parse.ParseError(f"larger than {MAX_STATE_FILE_BYTES} bytes")
        return 1, mtime, parser(data)
    except parse.ParseError as err:
        log.debug("%s is not valid: %s", path, err)
        return 1, mtime, None


def _gauge(name: str, doc: str, value: float) -> Metric:
    return GaugeMetricFamily(name, doc, value=value)


class GrastateSource:
    """grastate.dat (uuid, seqno, safe_to_bootstrap) and gvwstate.dat (pc.recovery's view)."""

    name = "grastate"

    def __init__(self, datadir: str) -> None:
        self._datadir = Path(datadir)
        self._last_problems: tuple[str, ...] = ()

    def collect(self, scrape: Scrape) -> Iterable[Metric]:
        problems: list[str] = []
        yield from grastate_metrics(self._datadir / "grastate.dat", problems)
        yield from gvwstate_metrics(self._datadir / "gvwstate.dat", problems)
        if tuple(problems) != self._last_problems:
            for problem in problems:
                log.warning("cannot read state file %s", problem)
            self._last_problems = tuple(problems)
        if problems:
            raise SourceError("; ".join(problems))

    def close(self) -> None:
        """Nothing is held open between scrapes."""


def grastate_metrics(path: Path, problems: list[str]) -> Iterable[Metric]:
    src = f"from {path.name}"
    present, mtime, state = read_and_parse(path, parse.parse_grastate, problems)
    yield _gauge("galera_grastate_present", f"1 if {path.name} exists and was read", present)
    yield _gauge(
        "galera_grastate_valid",
        f"1 if {path.name} parsed (0 for missing, truncated, garbage or unreadable)",
        1 if state else 0,
    )
    if mtime is not None:
        yield _gauge(
            "galera_grastate_modified_timestamp_seconds",
            f"Modification time of {path.name}; Galera rewrites it on stop and on state changes",
            mtime,
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


def gvwstate_metrics(path: Path, problems: list[str]) -> Iterable[Metric]:
    present, _, view = read_and_parse(path, parse.parse_gvwstate, problems)
    yield _gauge(
        "galera_gvwstate_present",
        f"1 if {path.name} (pc.recovery's saved view) exists: kept after a crash, "
        "deleted on a clean stop",
        present,
    )
    yield _gauge("galera_gvwstate_valid", f"1 if {path.name} parsed", 1 if view else 0)
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
