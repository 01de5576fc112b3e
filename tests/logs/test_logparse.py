"""The pure line parsers: tables over real lines, and properties over generated ones."""

from __future__ import annotations

import calendar
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from galera_exporter import logparse as lp
from galera_exporter.logparse import Event, Marker
from tests.logs.helpers import BACKENDLOG, ERRORLOG

UUID = "125a32e7-ea40-11f1-8844-577ec5e07595"
READY = lp.compile_patterns([r"SMTP Service started"])
RESET = lp.compile_patterns([r"SMTP Service handler hello name is"])
# A line judged as if it followed the start-up lines of a --wsrep-recover run.
RUN = lp.RECOVERY_RUN_LINES


# --- levels -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "level"),
    [
        (b"2026-11-27  8:54:54 0 [ERROR] Aborting", b"ERROR"),
        (b"2026-11-27  8:54:54 0 [Warning] WSREP: x", b"Warning"),
        (b"2026-11-27  8:54:54 0 [Note] WSREP: Error in prose", b"Note"),
        (b"2017-06-27 10:11:12,345 ERROR [x.Y] boom", b"ERROR"),
        (b"27 Jun 2017 10:11:12 | FATAL cannot start (DjigzoServer) [main]", b"FATAL"),
        (b"2017-06-27 10:11:12,345 INFO  [x.Y] the remote said ERROR", b"INFO"),
        (b"WSREP_SST: [ERROR] Cleanup after exit with status: 1 (20261127 10:07:24.263)", b"ERROR"),
        (b"\tat org.apache.james.Foo.bar(Foo.java:12) ERROR", None),
        (b"Caused by: java.io.IOException: ERROR reading", None),
        (b"  id: 125a32e7-ea40-11f1-8844-577ec5e07595:4", None),
        (b"", None),
        (b"x" * 200 + b" ERROR", None),  # beyond the level window: message text, not a level
        (b"2017-06-27 10:11:12,345 error [x] lower case is prose", None),
    ],
)
def test_line_level(line: bytes, level: bytes | None) -> None:
    assert lp.line_level(line) == level


def _grep_count(path: str, pattern: str) -> int:
    return sum(
        1
        for line in (ERRORLOG / path).read_bytes().splitlines()
        if re.search(pattern.encode(), line)
    )


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("run1-node1-error.log", 0),
        # plus rsync's own "rsync: [Receiver] ERROR: cannot stat destination" line
        ("capture-node61-error.log", 1),
        ("capture-node62-sst-joiner-error.log", 0),
    ],
)
def test_error_lines_of_real_logs(name: str, extra: int) -> None:
    # In MariaDB's log the level is the first bracketed word; grep for it independently.
    expected = _grep_count(name, r"^(\S+ +\S+ +\d+ \[ERROR\]|WSREP_SST: \[ERROR\])") + extra
    assert expected > 0
    assert lp.count_error_lines((ERRORLOG / name).read_bytes()) == expected


def test_backend_fixture_error_lines() -> None:
    block = (BACKENDLOG / "djigzo-restart.log").read_bytes()
    assert lp.count_error_lines(block) == 2  # the ERROR and the FATAL line, no stack frames


# --- mysqld error-log lines ---------------------------------------------------------------------


def test_real_recover_lines() -> None:
    node2 = (ERRORLOG / "wsrep-recover-node2.log").read_bytes().strip()
    parsed = lp.parse_errorlog_line(node2, RUN)
    assert parsed is not None and parsed.recovered is not None
    assert (parsed.recovered.uuid, parsed.recovered.seqno) == (UUID, 29)
    assert parsed.recovered.gtid is None
    assert parsed.recovered.timestamp == time.mktime((2026, 11, 27, 8, 58, 13, 0, 0, -1))


@pytest.mark.parametrize(
    ("line", "uuid", "seqno", "gtid"),
    [
        # MariaDB 10.11, captured on a fresh datadir
        (
            b"2026-11-27 10:07:01 0 [Note] WSREP: Recovered position: "
            b"00000000-0000-0000-0000-000000000000:-1",
            "00000000-0000-0000-0000-000000000000",
            -1,
            None,
        ),
        # MariaDB with wsrep_gtid_mode: uuid:seqno,domain-server-seqno
        (
            f"2026-11-27 10:07:11 0 [Note] WSREP: Recovered position: {UUID}:36,0-1-36".encode(),
            UUID,
            36,
            "0-1-36",
        ),
        # PXC 8 / MySQL 8 error-log layout
        (
            b"2026-10-06T01:44:30.673582Z 0 [Note] [MY-000000] [WSREP] Recovered position: "
            b"4E7CA4A7-C127-11F1-804C-2E28D37E9DFC:603",
            "4e7ca4a7-c127-11f1-804c-2e28d37e9dfc",
            603,
            None,
        ),
    ],
)
def test_recovered_position_forms(line: bytes, uuid: str, seqno: int, gtid: str | None) -> None:
    parsed = lp.parse_errorlog_line(line, RUN)
    assert parsed is not None and parsed.recovered is not None
    assert (parsed.recovered.uuid, parsed.recovered.seqno, parsed.recovered.gtid) == (
        uuid,
        seqno,
        gtid,
    )


@pytest.mark.parametrize(
    "line",
    [
        # every plain start writes this; it is not a --wsrep-recover result
        f"2026-11-27  8:54:05 3 [Note] WSREP: Recovered position from storage: {UUID}:4".encode(),
        f"WSREP: Recovered position: {UUID}".encode(),  # no seqno
        b"WSREP: Recovered position: 125a32e7-ea40-11f1-8844:5",  # short uuid
        f"WSREP: Recovered position: {UUID}:12x".encode(),  # garbage after seqno
        f"Recovered position: {UUID}:5".encode(),  # not from WSREP
    ],
)
def test_not_a_recovered_position(line: bytes) -> None:
    parsed = lp.parse_errorlog_line(line, RUN)
    assert parsed is None or parsed.recovered is None


@pytest.mark.parametrize(
    ("line", "events"),
    [
        (
            b"2026-11-27  8:54:54 0 [ERROR] WSREP: It may not be safe to bootstrap the cluster "
            b"from "
            b"this node. It was not the last one to leave the cluster and may not contain all the "
            b"updates. To force cluster bootstrap with this node, edit the grastate.dat file "
            b"manually and set safe_to_bootstrap to 1 .",
            {Event.UNSAFE_BOOTSTRAP_REFUSED},
        ),
        (b"2026-11-27  8:54:54 0 [ERROR] Aborting", {Event.ABORTED}),
        (b"2026-10-06T01:44:31.1Z 0 [ERROR] [MY-010119] [Server] Aborting", {Event.ABORTED}),
        (
            b"2026-11-27 10:07:23 0 [Warning] WSREP: 0.0 (logs61): State transfer to 1.0 (logs62) "
            b"failed: Unknown error 255",
            {Event.SST_FAILED},
        ),
        (
            b"2022-02-17T01:24:45.189908Z 0 [ERROR] WSREP: SST failed: 32 (Broken pipe)",
            {Event.SST_FAILED},
        ),
        (
            b"2019-08-25T03:53:37.605266Z 0 [ERROR] WSREP: SST script aborted with error 2 "
            b"(No such file or directory)",
            {Event.SST_FAILED},
        ),
        (
            b"2026-11-27  8:53:53 2 [Note] WSREP: Synchronized with group, ready for connections",
            {Event.SYNCED},
        ),
        (b"2026-11-27  8:58:41 0 [Note] /usr/sbin/mariadbd: Shutdown complete", {Event.SHUTDOWN}),
        (b"2026-11-27 10:08:27 0 [Note] mariadbd: Shutdown complete", {Event.SHUTDOWN}),
        (
            b"2026-10-06T01:50:00.000000Z 0 [System] [MY-010910] [Server] /usr/sbin/mysqld: "
            b"Shutdown complete (mysqld 8.0.36-28.1)  Percona XtraDB Cluster (GPL), Release rel28",
            {Event.SHUTDOWN},
        ),
        (
            b"2026-11-27  8:53:53 0 [Note] /usr/sbin/mariadbd: ready for connections.",
            {Event.READY_FOR_CONNECTIONS},
        ),
        # look-alikes that must not count
        (
            b"2026-11-27  8:58:41 0 [Note] InnoDB: Shutdown completed; log sequence number 92277; "
            b"transaction id 157",
            set(),
        ),
        (
            b"2026-11-27  8:54:05 0 [Note] WSREP: SST succeeded for position "
            + UUID.encode()
            + b":4",
            set(),
        ),
        (b"2026-11-27  8:54:05 0 [Note] WSREP: SST received", set()),
        (
            b"2026-11-27  8:54:45 0 [Note] /usr/sbin/mariadbd (initiated by: unknown): "
            b"Normal shutdown",
            set(),
        ),
    ],
)
def test_events(line: bytes, events: set[Event]) -> None:
    parsed = lp.parse_errorlog_line(line, RUN)
    assert set(parsed.events if parsed else ()) == events


def _event_counts(name: str) -> dict[str, int]:
    counts = {event.value: 0 for event in Event}
    for item in lp.errorlog_lines((ERRORLOG / name).read_bytes()):
        for event in item.events:
            counts[event.value] += 1
    return counts


def test_events_of_the_lab_day() -> None:
    # Expected numbers counted with grep over the same real log (see tests/fixtures/errorlog).
    assert _event_counts("run1-node1-error.log") == {
        "unsafe_bootstrap_refused": 1,
        "sst_failed": 0,
        "synced": 10,
        "shutdown": 2,
        "aborted": 2,
        "ready_for_connections": 3,
    }


def test_events_of_the_sst_failure_captures() -> None:
    assert _event_counts("capture-node61-error.log") == {
        "unsafe_bootstrap_refused": 0,
        "sst_failed": 1,
        "synced": 3,
        "shutdown": 1,
        "aborted": 0,
        "ready_for_connections": 2,
    }
    assert _event_counts("capture-node62-sst-joiner-error.log")["sst_failed"] == 1


def test_recovered_positions_of_the_kill9_capture_in_order() -> None:
    found = [
        (item.recovered.uuid, item.recovered.seqno)
        for item in lp.errorlog_lines((ERRORLOG / "capture-node61-error.log").read_bytes())
        if item.recovered
    ]
    assert found == [
        ("00000000-0000-0000-0000-000000000000", -1),
        ("4e301b5d-ea4a-11f1-b08c-bf19b5714d34", 6),
    ]


# --- timestamps ---------------------------------------------------------------------------------


def _local(*fields: int) -> float:
    return time.mktime((*fields, 0, 0, -1))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"2026-11-27  8:54:05 0 [Note] x", _local(2026, 11, 27, 8, 54, 5)),
        (b"2026-11-27 10:07:01 0 [Note] x", _local(2026, 11, 27, 10, 7, 1)),
        (b"2026-10-06T01:44:30.5Z 0 [Note] x", calendar.timegm((2026, 10, 6, 1, 44, 30)) + 0.5),
        (b"2026-10-06T03:44:30+02:00 0 [Note] x", calendar.timegm((2026, 10, 6, 1, 44, 30))),
        (b"2017-06-27 10:11:12,345 INFO x", _local(2017, 6, 27, 10, 11, 12) + 0.345),
        (b"27 Jun 2017 10:11:12,250 | INFO x", _local(2017, 6, 27, 10, 11, 12) + 0.25),
        (b"191127  8:54:05 [Note] x", _local(2019, 11, 27, 8, 54, 5)),
        (b"2026-13-27 10:07:01 bad month", None),
        (b"27 Foo 2017 10:11:12 x", None),
        (b"no timestamp", None),
        (b"", None),
    ],
)
def test_line_timestamp(line: bytes, expected: float | None) -> None:
    got = lp.line_timestamp(line)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-6)


# --- back-end markers ----------------------------------------------------------------------


def test_backend_fixture_markers() -> None:
    markers = lp.backend_markers((BACKENDLOG / "djigzo-restart.log").read_bytes(), READY, RESET)
    assert [m for m, _ in markers] == [
        Marker.RESET,
        Marker.READY,
        Marker.RESET,
        Marker.RESET,
        Marker.READY,
    ]


def test_reset_wins_on_the_same_line() -> None:
    line = b"SMTP Service handler hello name is: x; SMTP Service started plain:25"
    assert lp.classify_backend_line(line, READY, RESET) is Marker.RESET


def test_anchored_user_patterns_fall_back_to_lines() -> None:
    ready = lp.compile_patterns([r"\ASMTP Service started", r"(?<!x)ready$"])
    assert all(p.block is None for p in ready)
    block = b"a\nSMTP Service started\nb\nis ready\n"
    assert [m for m, _ in lp.backend_markers(block, ready, ())] == [Marker.READY, Marker.READY]


def test_invalid_pattern_is_an_error() -> None:
    with pytest.raises(re.error):
        lp.compile_patterns(["SMTP ("])


# --- properties ---------------------------------------------------------------------------------

FRAGMENTS = [
    b"2026-11-27  8:54:05 0 [Note] ",
    b"2026-11-27  8:54:05 0 [ERROR] ",
    b"2017-06-27 10:11:12,345 INFO  [x] ",
    b"2017-06-27 10:11:12,345 ERROR [x] ",
    b"FATAL ",
    b"\tat x.y(Z.java:1) ",
    b"Caused by: ",
    b"SMTP Service started plain:10025//127.0.0.1",
    b"SMTP Service handler hello name is: gw",
    b"WSREP: Recovered position: " + UUID.encode() + b":",
    b"[WSREP] Recovered position: " + UUID.encode() + b":-1,0-1-2",
    b"It may not be safe to bootstrap the cluster from this node",
    b"WSREP: SST failed: 1 (x)",
    b"WSREP: 0.0 (a): State transfer to 1.0 (b) failed: -1",
    b"WSREP: Synchronized with group, ready for connections",
    b"/usr/sbin/mariadbd: Shutdown complete",
    b"InnoDB: Shutdown completed; log",
    b"[ERROR] Aborting",
    b"mariadbd: ready for connections.",
    b"WSREP: Receiving IST... 50.0% (1/2 events) complete.",
    b"Starting MariaDB ",
    b"WSREP: /usr/sbin/mariadbd: Terminated.",
    b"42",
    b" ",
    b"\xff\xfe\x80 not utf-8 \xc3",
    b"\r",
]
line_strategy = st.lists(
    st.one_of(
        st.sampled_from(FRAGMENTS), st.binary(max_size=12).map(lambda b: b.replace(b"\n", b""))
    ),
    max_size=6,
).map(b"".join)
block_strategy = st.lists(line_strategy, max_size=30).map(
    lambda lines: b"".join(line + b"\n" for line in lines)
)


@settings(max_examples=300, deadline=None)
@given(block_strategy)
def test_block_functions_equal_the_fold_over_lines(block: bytes) -> None:
    lines = block.split(b"\n")[:-1]
    assert lp.count_error_lines(block) == sum(lp.is_error_level(lp.line_level(x)) for x in lines)
    expected_markers = [
        (m, x) for x in lines if (m := lp.classify_backend_line(x, READY, RESET)) is not None
    ]
    assert lp.backend_markers(block, READY, RESET) == expected_markers
    expected_errorlog, run = [], 0
    for x in lines:
        if (p := lp.parse_errorlog_line(x, run)) is not None:
            expected_errorlog.append(p)
        run = lp.next_run(run, x)
    assert lp.errorlog_lines(block) == expected_errorlog
    assert lp.errorlog_run_after(block) == run


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400))
def test_parsers_take_any_bytes(line: bytes) -> None:
    line = line.replace(b"\n", b"")
    lp.line_level(line)
    lp.line_timestamp(line)
    lp.parse_errorlog_line(line)
    lp.classify_backend_line(line, READY, RESET)


@settings(max_examples=200, deadline=None)
@given(
    st.uuids().map(str),
    st.integers(min_value=-1, max_value=2**63 - 1),
    st.one_of(
        st.none(),
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**63)).map(
            lambda t: f"{t[0]}-{t[1]}-{t[2]}"
        ),
    ),
    st.sampled_from(
        [
            "2026-11-27 10:07:11 0 [Note] WSREP: ",
            "2026-10-06T01:44:30.673582Z 0 [Note] [MY-000000] [WSREP] ",
        ]
    ),
    st.booleans(),
)
def test_recovered_position_round_trip(
    uuid: str, seqno: int, gtid: str | None, prefix: str, upper: bool
) -> None:
    text = f"{uuid.upper() if upper else uuid}:{seqno}" + (f",{gtid}" if gtid else "")
    parsed = lp.parse_errorlog_line(f"{prefix}Recovered position: {text}".encode(), RUN)
    assert parsed is not None and parsed.recovered is not None
    assert (parsed.recovered.uuid, parsed.recovered.seqno, parsed.recovered.gtid) == (
        uuid,
        seqno,
        gtid,
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"ready", b"reset", b"noise"]), max_size=40))
def test_readiness_is_decided_by_the_last_marker(kinds: list[bytes]) -> None:
    text = {
        b"ready": b"2017-06-27 10:11:12,345 INFO  [S] SMTP Service started plain:10025\n",
        b"reset": b"2017-06-27 10:11:12,345 INFO  [S] SMTP Service handler hello name is: gw\n",
        b"noise": b"2017-06-27 10:11:12,345 INFO  [S] something else\n",
    }
    markers = lp.backend_markers(b"".join(text[k] for k in kinds), READY, RESET)
    marked = [k for k in kinds if k != b"noise"]
    assert [m.value.encode() for m, _ in markers] == marked
