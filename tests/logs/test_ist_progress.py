"""Galera's 'Receiving IST... N% (done/total events) complete.' lines (issue 16).

Fixture: tests/fixtures/errorlog/ist-joiner-error.log, a real joiner's log (MariaDB 10.11.19,
Galera 26.4.23): a 150,005-event IST that took 232 s (only its 0.0 % and 100.0 % lines exist:
Galera wrote none in between), then an IST of 69,768 events whose donor was SIGSTOPped: the
joiner aborted ("Donor ... is no longer in the group") and terminated 6 s later.
"""

from __future__ import annotations

import time

import pytest

from galera_exporter import logparse as lp
from galera_exporter.collectors.errorlog import ErrorLogState, ist_metrics
from tests.logs.helpers import ERRORLOG

CAPTURE = ERRORLOG / "ist-joiner-error.log"
LINE = b"2026-12-02 15:42:30 0 [Note] WSREP: Receiving IST... 42.0% (63/150 events) complete."


def local(text: str) -> float:
    return time.mktime(time.strptime(text, "%Y-%m-%d %H:%M:%S"))


def test_the_capture_in_order() -> None:
    parsed = [
        (p.ist, p.run_boundary)
        for p in lp.errorlog_lines(CAPTURE.read_bytes())
        if p.ist is not None or p.run_boundary
    ]
    assert parsed == [
        (None, True),  # Shutdown complete
        (None, True),  # Starting MariaDB
        (lp.IstProgress(0, 150005, local("2026-12-02 15:42:30")), False),
        (lp.IstProgress(150005, 150005, local("2026-12-02 15:46:22")), False),
        (None, True),
        (None, True),
        (lp.IstProgress(0, 69768, local("2026-12-02 15:47:09")), False),
        (None, True),  # WSREP: /usr/sbin/mariadbd: Terminated. (donor lost, joiner aborted)
    ]


@pytest.mark.parametrize(
    ("line", "done", "total"),
    [
        (LINE, 63, 150),
        (b"2026-11-27  8:54:05 0 [Note] WSREP: Receiving IST...  0.0% (0/3 events)"
         b" complete.", 0, 3),
        (b"2026-11-27 08:54:05 0 [Note] WSREP: Receiving IST... 100.0% (3/3 events)"
         b" complete.\r", 3, 3),
        (
            b"2026-10-06T01:44:30.673582Z 0 [Note] [MY-000000] [Galera] Receiving IST... 50.0%"
            b" (1/2 events) complete.",
            1,
            2,
        ),
        (b"191127  8:54:05 [Note] WSREP: Receiving IST... 0.0% (0/9223372036854775807 events)"
         b" complete.", 0, 2**63 - 1),
    ],
)  # fmt: skip
def test_progress_forms(line: bytes, done: int, total: int) -> None:
    parsed = lp.parse_errorlog_line(line)
    assert parsed is not None and parsed.ist is not None
    assert (parsed.ist.done, parsed.ist.total) == (done, total)


@pytest.mark.parametrize(
    "line",
    [
        LINE.replace(b"63/150", b"151/150"),  # done > total
        LINE.replace(b"63/150", b"0/9223372036854775808"),  # past a seqno
        LINE.replace(b"63/150", b"0/" + b"9" * 25),
        LINE.replace(b"[Note]", b"[ERROR]"),
        LINE.replace(b"events", b"bytes"),
        LINE + b" and more",
        b"x " + LINE,  # not at the start of the line: some other message's text
        b"2026-12-02 15:42:30 7 [Warning] Access denied for user '" + LINE[20:] + b"'",
        LINE.replace(b"Receiving IST...", b"Receiving SST..."),
    ],
)
def test_not_progress(line: bytes) -> None:
    parsed = lp.parse_errorlog_line(line)
    assert parsed is None or parsed.ist is None


@pytest.mark.parametrize(
    "line",
    [
        b"2026-12-02 15:48:18 0 [Note] Starting MariaDB 10.11.19-MariaDB-0+deb12u1 source revision"
        b" 5843d8 server_uid x= as process 1",
        b"2026-10-06T01:44:30.673582Z 0 [System] [MY-010116] [Server] /usr/sbin/mysqld (mysqld"
        b" 8.0.35) starting as process 1",
        b"2026-12-02 15:47:22 0 [Note] WSREP: /usr/sbin/mariadbd: Terminated.",
    ],
)
def test_run_boundaries(line: bytes) -> None:
    parsed = lp.parse_errorlog_line(line)
    assert parsed is not None and parsed.run_boundary
    # Another thread's id: not the server's own start or end.
    other = line.replace(b" 0 [", b" 12 [", 1)
    parsed = lp.parse_errorlog_line(other)
    assert parsed is None or not parsed.run_boundary


def test_state_follows_the_current_run() -> None:
    state = ErrorLogState()
    state.feed(LINE + b"\n")
    assert state.ist == lp.IstProgress(63, 150, local("2026-12-02 15:42:30"))
    state.feed(b"2026-12-02 15:43:30 0 [Note] WSREP: /usr/sbin/mariadbd: Terminated.\n")
    assert state.ist is None
    state.feed(LINE + b"\n" + b"2026-12-02 15:50:00 0 [Note] Starting MariaDB 10.11.19 x\n")
    assert state.ist is None


def test_recovered_from_the_backlog_newest_block_first() -> None:
    state = ErrorLogState()
    # The follower hands the newest block first: its last progress-or-boundary line decides,
    # and recovery of the IST stops there (the position is still looked for).
    assert state.recover(b"2026-12-02 15:40:00 0 [Note] x\n" + LINE + b"\n") is False
    assert state.ist is not None and state.ist.done == 63
    state.recover(b"2026-12-02 15:30:00 0 [Note] Starting MariaDB 10.11.19 x\n")
    assert state.ist is not None, "an older block cannot undo what a newer one decided"
    stale = ErrorLogState()
    stale.recover(LINE + b"\n2026-12-02 15:47:22 0 [Note] WSREP: /usr/sbin/mariadbd: Terminated.\n")
    assert stale.ist is None
    state_of_capture = ErrorLogState()
    state_of_capture.recover(CAPTURE.read_bytes())
    assert state_of_capture.ist is None  # the capture ends with the aborted joiner's last line


def test_metrics() -> None:
    ist = lp.IstProgress(63, 150, 1796226150.0)
    got = {m.name: m.samples[0].value for m in ist_metrics(ist, "src")}
    assert got == {
        "galera_ist_received_events": 63,
        "galera_ist_expected_events": 150,
        "galera_ist_progress_timestamp_seconds": 1796226150.0,
    }
    for metric in ist_metrics(ist, "src"):
        assert all(not s.labels for s in metric.samples), "no labels, no free text"
    no_stamp = {m.name for m in ist_metrics(lp.IstProgress(0, 1, None), "src")}
    assert "galera_ist_progress_timestamp_seconds" not in no_stamp
