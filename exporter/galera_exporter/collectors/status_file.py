"""Collector: MariaDB's wsrep_status_file (JSON), read on every scrape whether mysqld runs or not.

The path is --galera.status-file (absolute, or relative to the datadir like the server's own
setting), else the server's wsrep_status_file variable as last seen (the wsrep collector leaves
it in `Scrape.server`; it is remembered for when mysqld is down), else wsrep_status.json in
the datadir. Messages are counted by kind (status_json.MESSAGE_KINDS), never exported as text.

Seen in the lab (MariaDB 10.11.19, Galera 26.4.23): a joiner's mariabackup SST empties the
datadir, so a status file kept there is absent during the transfer (about 10 s per SST there)
and comes back when the server restarts after it; a failed SST leaves the joiner's file at
JOINING/"Receiving SST" with the failure's errors after mysqld exited. The server creates the
file mode 0600 (a default ACL cannot open it: the mask becomes ---), so an exporter running
as neither root nor the server's user may not read it: that is
galera_status_file_error{reason="permission_denied"}, a deployment fact, not a collector
failure (GaleraExporterCollectorFailing would otherwise fire on every such node).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from galera_exporter import status_json
from galera_exporter.collectors.base import CollectorError, Scrape
from galera_exporter.collectors.grastate import MIN_READ_SECONDS
from galera_exporter.collectors.statefile import PERMISSION_DENIED, BoundedFileReader, FileRead
from galera_exporter.db import bounded_timeout

log = logging.getLogger(__name__)

DEFAULT_NAME = "wsrep_status.json"
# The real file is 1-4 KB; the server keeps few messages, but each may quote a long SST
# command line. Beyond this it is not a status file and is not parsed.
MAX_STATUS_FILE_BYTES = 256 * 1024
ERROR_REASONS = ("permission_denied", "unreadable", "too_large", "malformed")
# SST failures already counted, by the second their errors carry (one failure logs several
# errors within the same second on each node); bounded so a hostile file cannot grow it.
MAX_REMEMBERED_FAILURES = 256


def resolve_status_path(configured: str, server_value: str, datadir: str) -> Path:
    """The file to read: the configured path, else the server's, else the default name."""
    name = configured.strip() or server_value.strip() or DEFAULT_NAME
    path = Path(name)
    return path if path.is_absolute() else Path(datadir) / path


class StatusFileCollector:
    """galera_status_file_*."""

    name = "status_file"

    def __init__(self, path: str = "", *, datadir: str = "/var/lib/mysql") -> None:
        self._configured = path
        self._datadir = datadir
        self._server_value = ""  # the server's wsrep_status_file, as last seen
        self._server_datadir = ""
        self._reader = BoundedFileReader(MAX_STATUS_FILE_BYTES)
        self._failures = 0
        self._seen_failures: OrderedDict[float | None, None] = OrderedDict()
        self._last_problem = ""

    def path_for(self, scrape: Scrape) -> Path:
        server = scrape.server
        if server is not None and server.wsrep_status_file is not None:
            self._server_value = server.wsrep_status_file
            self._server_datadir = server.datadir
        return resolve_status_path(
            self._configured, self._server_value, self._server_datadir or self._datadir
        )

    def collect(self, scrape: Scrape) -> Iterable[Metric]:
        path = self.path_for(scrape)
        read = self._reader.read(path, max(bounded_timeout(scrape.remaining()), MIN_READ_SECONDS))
        parsed, reason = _parse(read)
        if parsed is not None:
            self._count_failures(parsed)
        yield from status_file_metrics(read, parsed, reason, self._failures)
        problem = f"{path}: {read.problem}" if read.problem else ""
        if problem != self._last_problem:
            if problem:
                log.warning("cannot read the wsrep status file %s", problem)
            else:
                log.info("wsrep status file readable again")
            self._last_problem = problem
        if problem and read.problem != PERMISSION_DENIED:
            raise CollectorError(problem)

    def _count_failures(self, parsed: status_json.StatusFile) -> None:
        for message in parsed.messages:
            if message.level != "error" or message.kind != "sst":
                continue
            key = None if message.timestamp is None else float(int(message.timestamp))
            if key in self._seen_failures:
                continue
            self._seen_failures[key] = None
            self._failures += 1
            while len(self._seen_failures) > MAX_REMEMBERED_FAILURES:
                self._seen_failures.popitem(last=False)

    def close(self) -> None:
        """Nothing is held open between scrapes."""


def _parse(read: FileRead) -> tuple[status_json.StatusFile | None, str]:
    """The parsed file and "", or None and the reason (one of ERROR_REASONS, or "" if absent)."""
    if read.problem == PERMISSION_DENIED:
        return None, "permission_denied"
    if read.problem:
        return None, "unreadable"
    if read.data is None:
        return None, ""
    if len(read.data) > MAX_STATUS_FILE_BYTES:
        return None, "too_large"
    try:
        return status_json.parse_status_file(read.data), ""
    except status_json.StatusFileError as err:
        log.debug("wsrep status file is not valid: %s", err)
        return None, "malformed"


def status_file_metrics(
    read: FileRead, parsed: status_json.StatusFile | None, reason: str, failures: int
) -> Iterable[Metric]:
    """Pure: every metric from one read of the file (golden-tested)."""
    src = "from wsrep_status_file"
    if read.present is not None:
        yield GaugeMetricFamily(
            "galera_status_file_present",
            "1 if the wsrep status file exists and was read, 0 if it does not exist (feature off,"
            " or a mariabackup SST emptied the datadir); absent when it cannot be read",
            value=1.0 if read.present else 0.0,
        )
    yield GaugeMetricFamily(
        "galera_status_file_valid",
        "1 if the wsrep status file parsed as MariaDB's JSON (0 when missing, unreadable, too "
        "large or malformed)",
        value=1.0 if parsed else 0.0,
    )
    errors = GaugeMetricFamily(
        "galera_status_file_error",
        "1 for the reason the wsrep status file could not be used: permission_denied (the"
        " server creates it 0600), unreadable (not a regular file, I/O error, timeout),"
        " too_large, malformed (not the expected JSON)",
        labels=["reason"],
    )
    for name in ERROR_REASONS:
        errors.add_metric([name], 1.0 if name == reason else 0.0)
    yield errors
    if read.mtime is not None:
        yield GaugeMetricFamily(
            "galera_status_file_modified_timestamp_seconds",
            "Modification time of the wsrep status file; the server rewrites it at every state"
            " change and logged error or warning, never while a state lasts",
            value=read.mtime,
        )
    yield CounterMetricFamily(
        "galera_status_file_sst_failures",
        "SST failures seen in the wsrep status file's errors since the exporter started (one"
        " per second carrying SST errors: a failure writes several at once)",
        value=failures,
    )
    if parsed is None:
        return
    info = GaugeMetricFamily(
        "galera_status_file_state_info",
        f"status.state and status.comment {src} (values outside the known sets: other)",
        labels=["state", "comment"],
    )
    info.add_metric([parsed.state, parsed.comment], 1.0)
    yield info
    if parsed.transfer is not None:
        transfer = GaugeMetricFamily(
            "galera_status_file_transfer",
            f"1 while status.comment {src} says a state transfer runs (Receiving/Donating "
            "SST/IST); absent otherwise",
            labels=["kind", "role"],
        )
        transfer.add_metric(list(parsed.transfer), 1.0)
        yield transfer
    if parsed.progress is not None:
        yield GaugeMetricFamily(
            "galera_status_file_progress_done",
            f"status.progress.done {src}; present only while the writer reports a total",
            value=parsed.progress.done,
        )
        yield GaugeMetricFamily(
            "galera_status_file_progress_expected",
            f"status.progress.total {src} (units the transfer expects in all); present only "
            "while the writer reports one",
            value=parsed.progress.total,
        )
    counts = parsed.counts()
    if counts:
        messages = GaugeMetricFamily(
            "galera_status_file_messages",
            f"Entries of the errors and warnings lists {src}, by kind of message (sst, ist, "
            "inconsistency, apply, state_file, other); kinds with none are absent",
            labels=["level", "kind"],
        )
        for (level, kind), count in sorted(counts.items()):
            messages.add_metric([level, kind], count)
        yield messages
