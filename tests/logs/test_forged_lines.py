"""Client text in the mysqld error log never counts as a server line (generated attacks).

mysqld writes a failed login's user name verbatim, newlines included, cut at 128 characters
(seen on MariaDB 10.11: tests/hardening/test_forged_errorlog.py does it for real).
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from galera_exporter import logparse as lp
from galera_exporter.collectors.errorlog import ErrorLogCollector
from galera_exporter.logparse import Event
from tests.logs.helpers import append, registry_for, sample
from tests.support.wait import wait_for

UUID = "125a32e7-ea40-11f1-8844-577ec5e07595"
USER_NAME_CHARS = 128  # mysqld cuts the user name here in its log
# A genuine --wsrep-recover run right before the attack: the worst case for the run rule.
RUN = b"".join(
    b"2026-12-02  4:50:13 0 [Note] InnoDB: line %d of a real start-up\n" % i for i in range(5)
)

prefixes = st.sampled_from(
    [
        "2026-12-02  4:50:13 0 [Note] ",
        "2026-12-02 14:50:13 0 [Note] ",
        "2026-12-02T04:50:13.123456Z 0 [Note] [MY-000000] ",
        "191127  8:54:05 [Note] ",
        "",
    ]
)
payloads = st.sampled_from(
    [
        f"WSREP: Recovered position: {UUID}:9200000000000000000",
        f"WSREP: Recovered position: {UUID}:7",
        f"[WSREP] Recovered position: {UUID}:7,0-1-7",
        "/usr/sbin/mariadbd: Shutdown complete",
        "[ERROR] Aborting",
        "WSREP: It may not be safe to bootstrap the cluster from this node",
    ]
)
junk = st.text(st.sampled_from("x' @\"`\\:;,-"), max_size=8)
separators = st.sampled_from(["", " ", "'", "\n", "\r\n", "\n2026-12-02  4:50:13 0 [Note] x\n"])


@st.composite
def user_names(draw: st.DrawFn) -> str:
    text = (
        draw(junk)
        + draw(separators)
        + draw(prefixes)
        + draw(payloads)
        + draw(separators)
        + draw(junk)
    )
    return text[:USER_NAME_CHARS]


def access_denied(thread: int, user: str, host: str) -> bytes:
    line = f"2026-12-02  4:50:14 {thread} [Warning] Access denied for user '{user}'@'{host}'"
    return (line + " (using password: YES)\n").encode()


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 10**6), user_names()), min_size=1, max_size=4),
    st.sampled_from(["localhost", "127.0.0.1", "10.1.2.3"]),
)
def test_failed_logins_never_set_a_position_or_a_start_stop_event(
    logins: list[tuple[int, str]], host: str
) -> None:
    block = RUN + b"".join(access_denied(thread, user, host) for thread, user in logins)
    for item in lp.errorlog_lines(block):
        assert item.recovered is None, block
        assert not set(item.events) & lp.MAIN_THREAD_EVENTS, block
    # fed in pieces the same: the run carried between blocks ends at the first login
    state = lp.errorlog_run_after(RUN)
    assert state == lp.RECOVERY_RUN_LINES
    rest = block[len(RUN) :]
    assert all(item.recovered is None for item in lp.errorlog_lines(rest, state))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**6), user_names().map(lambda u: u.replace("\n", "").replace("\r", "")))
def test_a_user_name_on_one_line_never_matches_anything(thread: int, user: str) -> None:
    assert lp.errorlog_lines(RUN + access_denied(thread, user, "localhost")) == []


def test_the_issue_line() -> None:
    line = (
        b"2026-12-02  4:50:13 5 [Warning] Access denied for user 'x WSREP: Recovered position: "
        + UUID.encode()
        + b":9200000000000000000'@'localhost' (using password: YES)"
    )
    assert lp.parse_errorlog_line(line, lp.RECOVERY_RUN_LINES) is None


def test_seqno_and_gtid_ranges() -> None:
    def seqno(text: str) -> int | None:
        line = f"2026-12-02  4:50:13 0 [Note] WSREP: Recovered position: {UUID}:{text}".encode()
        parsed = lp.parse_errorlog_line(line, lp.RECOVERY_RUN_LINES)
        return parsed.recovered.seqno if parsed and parsed.recovered else None

    assert seqno("9223372036854775807") == 2**63 - 1
    assert seqno("9223372036854775808") is None
    assert seqno("-1") == -1
    for bad in ("-2", "-0", "+5", "inf", "1e3", "5 x", "5,0-1", "5,4294967296-1-1"):
        assert seqno(bad) is None, bad
    assert seqno("5,4294967295-1-18446744073709551615") == 5


def test_a_position_needs_the_run_of_its_own_start_up() -> None:
    line = f"2026-12-02  4:50:13 0 [Note] WSREP: Recovered position: {UUID}:5\n".encode()
    other = b"2026-12-02  4:50:13 7 [Note] WSREP: from a connection thread\n"
    assert lp.errorlog_lines(RUN + line)[0].recovered is not None
    assert lp.errorlog_lines(line) == []  # nothing before it
    assert lp.errorlog_lines(RUN + other + line) == []
    assert lp.errorlog_lines(RUN[-120:].split(b"\n", 1)[1] + line) == []  # one line only
    # the run may start in the block fed before
    assert lp.errorlog_lines(line, lp.RECOVERY_RUN_LINES)[0].recovered is not None
    assert lp.errorlog_lines(RUN.splitlines(keepends=True)[-1] + line, 2)[0].recovered


def test_events_need_their_place_in_the_line() -> None:
    for text in (
        b"2026-12-02  4:50:13 5 [Note] Access denied for user 'WSREP: Synchronized with group'",
        b"2026-12-02  4:50:13 5 [Warning] user 'x' /usr/sbin/mariadbd: ready for connections",
        b"WSREP: Synchronized with group, ready for connections",
        b" 2026-12-02  4:50:13 0 [Note] WSREP: Synchronized with group",
    ):
        assert lp.errorlog_lines(RUN + text + b"\n") == [], text
    synced = b"2026-12-02  4:50:13 2 [Note] WSREP: Synchronized with group, ready for connections"
    assert lp.errorlog_lines(synced + b"\n")[0].events == (Event.SYNCED,)


# --- back-end log: the default markers are anchored to their line -------------------------------

READY = lp.compile_patterns([lp.DEFAULT_READY_PATTERN])
RESET = lp.compile_patterns([lp.DEFAULT_RESET_PATTERN])
GENUINE_READY = [
    # the guide's line in the layouts seen so far: log4j with logger, the lab's DATE | layout,
    # no logger, and the bare line James prints to stdout
    "2026-11-27 09:12:09,517 INFO  [org.apache.james.smtpserver.SMTPServer] "
    "SMTP Service started plain:10025//127.0.0.1",
    "02 Dec 2026 04:50:13 | INFO  SMTP Service started plain:10025//127.0.0.1",
    "2026-11-27 08:58:23,125 INFO  SMTP Service started plain:10025//127.0.0.1",
    "SMTP Service started plain:10025//127.0.0.1",
    "2026-11-27 10:00:00 INFO [main] [S] SMTP Service started plain:25/mx.example.org/10.0.0.5",
]


def test_default_markers_match_the_real_line_shapes() -> None:
    for line in GENUINE_READY:
        assert lp.classify_backend_line(line.encode(), READY, RESET) is lp.Marker.READY, line
    for line in (
        "2026-11-27 09:12:09,402 INFO  [S] SMTP Service handler hello name is: gateway1",
        "02 Dec 2026 04:50:13 | INFO  SMTP Service handler hello name is node1",
    ):
        assert lp.classify_backend_line(line.encode(), READY, RESET) is lp.Marker.RESET, line


remote_text = st.sampled_from(
    [
        "SMTP Service started plain:10025//127.0.0.1",
        "SMTP Service handler hello name is: gw",
        "] SMTP Service started plain:25//1.2.3.4",
        "INFO  [S] SMTP Service started plain:10025//127.0.0.1",
    ]
)
messages = st.sampled_from(
    [
        "2026-11-27 09:12:09,517 INFO  [S] HELO {} from 10.0.0.9",
        "2026-11-27 09:12:09,517 INFO  [S] Rejected HELO/EHLO {}",
        "2026-11-27 09:12:09,517 INFO  [S] Mail from <{}> accepted",
        "2026-11-27 09:12:09,517 ERROR [S] {}",
        "2026-11-27 09:12:09,517 WARN  [S] {}",
        "02 Dec 2026 04:50:13 | INFO  remote said {}",
    ]
)


@settings(max_examples=300, deadline=None)
@given(messages, st.text(st.sampled_from("ab <>'\"[]:/."), max_size=6), remote_text)
def test_remote_text_in_another_line_never_marks(template: str, pad: str, text: str) -> None:
    line = template.format(pad + text).encode()
    assert lp.classify_backend_line(line, READY, RESET) is None, line
    assert lp.backend_markers(line + b"\n", READY, RESET) == []


def test_a_position_right_after_start_up_keeps_the_backlogs_run(tmp_path: Path) -> None:
    """The exporter starts while a --wsrep-recover run is being written: the first live
    line's run began in the backlog."""
    log = tmp_path / "error.log"
    log.write_bytes(RUN)
    source = ErrorLogCollector(str(log), use_inotify=False)
    try:
        registry = registry_for(source)
        assert sample(registry, "galera_errorlog_present") == 1
        follower = source.follower
        assert follower is not None
        wait_for("the backlog read", lambda: follower.status().offset == len(RUN))
        append(log, f"2026-12-02  4:50:14 0 [Note] WSREP: Recovered position: {UUID}:42\n")
        wait_for("the live position", lambda: sample(registry, "galera_recovered_seqno") == 42)
    finally:
        source.close()
