"""Pure parsers for log lines: back-end readiness markers, levels, mysqld error-log events.

Everything works on bytes: logs are not guaranteed to be UTF-8 and decoding every line would
cost more than matching it. A "line" is one line without its trailing newline. A "block" is
a run of complete lines, each ending in b"\\n". The block functions give exactly what folding
the line functions over the block's lines would give (a property test checks this); they only
exist because one regular-expression pass over a block is far cheaper than a Python call per
line, which is what lets a follower keep up with hundreds of thousands of lines a second.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum

# --- levels ------------------------------------------------------------------------------

# How far into a line the level may start. log4j, logback, java.util.logging and MariaDB all
# put the level after at most a timestamp, a thread id and a logger name; looking further
# would let message text such as "... returned ERROR" count as the level.
LEVEL_WINDOW = 120
ERROR_LEVELS = frozenset({b"ERROR", b"FATAL", b"SEVERE"})
_LEVELS = rb"TRACE|DEBUG|INFO|NOTE|NOTICE|WARN|WARNING|ERROR|FATAL|SEVERE"
# The first level word of the line decides; lazy `{0,N}?` finds the earliest one. Case
# matters: "[Note]" (MariaDB) and "INFO" (log4j) are levels, "error" in prose is not, so only
# upper case or MariaDB's bracketed capitalised forms count.
_LEVEL_BODY = (
    rb"[^\n]{0,%d}?(?:\b(" % LEVEL_WINDOW + _LEVELS + rb")\b|\[(Note|Warning|ERROR|Error)\])"
)
# Continuation lines (stack frames, "Caused by:", MariaDB's indented view dumps) carry no level
# even when their text says ERROR.
_LEVEL_LINE = re.compile(rb"\A(?![ \t]|Caused by:|Suppressed:)" + _LEVEL_BODY)


def line_level(line: bytes) -> bytes | None:
    """The line's level word (b"ERROR", b"Note", ...), or None for continuation lines."""
    match = _LEVEL_LINE.match(line)
    if match is None:
        return None
    return match.group(1) or match.group(2)


def is_error_level(level: bytes | None) -> bool:
    return level is not None and level.upper() in ERROR_LEVELS


# A line at an error level contains one of these; finding them with bytes.find runs at
# memory speed, and only the few lines found are then looked at with the level expression.
_ERROR_LITERALS = (b"ERROR", b"FATAL", b"SEVERE", b"[Error]")


def lines_containing(block: bytes, literals: Sequence[bytes]) -> list[tuple[int, bytes]]:
    """(start, line) of each line of the block holding any of the literals, in order, once."""
    found: dict[int, bytes] = {}
    for literal in literals:
        pos = block.find(literal)
        while pos >= 0:
            start, line = _line_at(block, pos)
            found.setdefault(start, line)
            pos = block.find(literal, start + len(line) + 1)
    return sorted(found.items())


def count_error_lines(block: bytes) -> int:
    """How many lines of the block are at ERROR level (or worse)."""
    return sum(
        1
        for _, line in lines_containing(block, _ERROR_LITERALS)
        if is_error_level(line_level(line))
    )


# --- user patterns (back-end readiness) ------------------------------------------------------

# Constructs whose meaning changes when the pattern runs over a block instead of one line:
# \A and \Z anchor to the block, a lookbehind at a line start sees the previous line's "\n".
_BLOCK_UNSAFE = re.compile(r"\\[AZz]|\(\?<[=!]")


@dataclass(frozen=True)
class LinePattern:
    """A user's regular expression, compiled for one line and (if sound) for a whole block."""

    source: str
    line: re.Pattern[bytes]
    block: re.Pattern[bytes] | None

    @classmethod
    def compile(cls, source: str) -> LinePattern:
        """Raises re.error for an invalid expression, naming it."""
        raw = source.encode("utf-8")
        line = re.compile(raw)
        block = None if _BLOCK_UNSAFE.search(source) else re.compile(raw, re.MULTILINE)
        return cls(source, line, block)


def compile_patterns(sources: Sequence[str]) -> tuple[LinePattern, ...]:
    return tuple(LinePattern.compile(s) for s in sources)


def _line_at(block: bytes, pos: int) -> tuple[int, bytes]:
    """(start offset, text) of the line of `block` holding byte `pos`."""
    start = block.rfind(b"\n", 0, pos) + 1
    end = block.find(b"\n", pos)
    if end < 0:
        end = len(block)
    return start, block[start:end]


def _split_lines(block: bytes) -> Iterator[tuple[int, bytes]]:
    start = 0
    for line in block.split(b"\n")[:-1] if block.endswith(b"\n") else block.split(b"\n"):
        yield start, line
        start += len(line) + 1


def candidate_lines(block: bytes, patterns: Sequence[LinePattern]) -> list[tuple[int, bytes]]:
    """Lines of the block that some pattern might match, in order, each once.

    A block-level search finds candidates cheaply; every candidate is then checked by the
    caller with the line patterns, so a block match spanning two lines never counts.
    """
    if not patterns:
        return []
    if any(p.block is None for p in patterns):
        return list(_split_lines(block))
    starts: dict[int, bytes] = {}
    for pattern in patterns:
        assert pattern.block is not None  # noqa: S101 - checked just above, for mypy
        for match in pattern.block.finditer(block):
            start, text = _line_at(block, match.start())
            starts.setdefault(start, text)
    return sorted(starts.items())


# The default markers, anchored to the whole line so that text a remote party gets into the
# log (an SMTP client's HELO name, a recipient address) can never be at their place: only a
# log-layout prefix (timestamp, "|" (written \x7c: Markdown tables show the default), the
# level INFO, bracketed thread/logger names, none of which may hold a space) may come
# before the message, and the message must end the line.
# James prints `plain:<port>/` + InetAddress.toString() (`<host name>/<ip>`, host name empty
# for a literal address: `//127.0.0.1`). The bare form is the same line printed to stdout.
# See docs/logs.md.
_LAYOUT_PREFIX = (
    r"(?:[\d\-:,.TZ+ ]*(?:[A-Z][a-z]{2} [\d:,. ]*)?"  # ISO8601 or DATE timestamp
    r"[\x7c ]*INFO[\x7c ]+(?:\[[^\]\s]*\][\x7c ]+){0,3})?"  # level, [thread] [logger]
)
DEFAULT_READY_PATTERN = (
    r"^" + _LAYOUT_PREFIX + r"SMTP Service started plain:\d{1,5}/[^\s/]*/[0-9A-Za-z.:%]+[ \t\r]*$"
)
DEFAULT_RESET_PATTERN = (
    r"^" + _LAYOUT_PREFIX + r"SMTP Service handler hello name is:? ?[^\s]*[ \t\r]*$"
)


class Marker(Enum):
    """What a back-end log line says about readiness."""

    READY = "ready"
    RESET = "reset"


def classify_backend_line(
    line: bytes, ready: Sequence[LinePattern], reset: Sequence[LinePattern]
) -> Marker | None:
    """A reset (start/stop) marker wins over a ready match on the same line: safer to wait."""
    if any(p.line.search(line) for p in reset):
        return Marker.RESET
    if any(p.line.search(line) for p in ready):
        return Marker.READY
    return None


def backend_markers(
    block: bytes, ready: Sequence[LinePattern], reset: Sequence[LinePattern]
) -> list[tuple[Marker, bytes]]:
    """Every ready/reset marker line of the block, in order."""
    found = []
    for _, line in candidate_lines(block, (*reset, *ready)):
        marker = classify_backend_line(line, ready, reset)
        if marker is not None:
            found.append((marker, line))
    return found


# --- mysqld error log --------------------------------------------------------------------------


class Event(Enum):
    """The error-log events we count; the value is the `event` label."""

    UNSAFE_BOOTSTRAP_REFUSED = "unsafe_bootstrap_refused"
    SST_FAILED = "sst_failed"
    SYNCED = "synced"
    SHUTDOWN = "shutdown"
    ABORTED = "aborted"
    READY_FOR_CONNECTIONS = "ready_for_connections"


# Every line is matched only in mysqld's own layout: the writer's prefix at the start of the
# line, then the subsystem tag, then the wording. Text a client gets into the log (a user name
# in "Access denied for user '...'", a database name) sits after some other message and can
# never be at that place; a user name holding a newline starts a line of its own, which is
# what the recovery-run rule below is for. Prefixes (checked against real captures):
#   2026-11-27  8:54:05 0 [Note] WSREP: ...            MariaDB 10.1+ (hour padded with a space)
#   2026-10-06T01:44:30.673582Z 0 [Note] [MY-000000] [WSREP] ...   MySQL 5.7/8, PXC
#   191127  8:54:05 [Note] WSREP: ...                  MariaDB 5.5/10.0 (no thread id)
_TS_MARIADB = rb"\d{4}-\d\d-\d\d [ \d]\d:\d\d:\d\d"
_TS_ISO = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)"
_TS_OLD = rb"\d{6} [ \d]\d:\d\d:\d\d"


def _prefix(levels: bytes) -> bytes:
    return (
        rb"\A(?:(?:" + _TS_MARIADB + rb"|" + _TS_ISO + rb") (?P<tid>\d{1,20})|" + _TS_OLD + rb")"
        rb" \[(?:" + levels + rb")\] (?:\[MY-\d{6}\] )?"
    )


_ANY_LEVEL = rb"Note|Warning|ERROR|System"
_PREFIX = _prefix(_ANY_LEVEL)
_WSREP = rb"(?:WSREP: |\[WSREP\] |\[Galera\] )"
_SERVER = rb"(?:\[Server\] )?"
_BINARY = rb"(?:[^\s:]*/)?(?:mariadbd|mysqld)(?:-debug)?"

# Wording checked against MariaDB 10.11 / Galera 4.23 lab logs (tests/fixtures/errorlog), and
# for the lines the lab never produced (SST failures, PXC forms) against public captures.
EVENT_PATTERNS: dict[Event, re.Pattern[bytes]] = {
    Event.UNSAFE_BOOTSTRAP_REFUSED: re.compile(
        _PREFIX + _WSREP + rb"It may not be safe to bootstrap the cluster from this node\b"
    ),
    # Joiner: "WSREP: SST failed: 32 (Broken pipe)", "SST script aborted with error 2 (...)";
    # donor: "WSREP: 0.0 (node1): State transfer to 1.0 (node2) failed: -22 (...)".
    Event.SST_FAILED: re.compile(
        _PREFIX
        + _WSREP
        + rb"(?:SST failed\b|SST script aborted\b"
        + rb"|\d{1,10}\.\d{1,10} \([^\n]{0,200}\): State transfer to \d{1,10}\.\d{1,10} "
        + rb"\([^\n]{0,200}\) failed\b)"
    ),
    Event.SYNCED: re.compile(_PREFIX + _WSREP + rb"Synchronized with group\b"),
    # "/usr/sbin/mariadbd: Shutdown complete" (MySQL 8 adds " (mysqld 8.0.x)"). InnoDB's
    # "Shutdown completed; log sequence number" is a different line and must not count.
    Event.SHUTDOWN: re.compile(_PREFIX + _SERVER + _BINARY + rb": Shutdown complete(?:\Z|[^d\n])"),
    # The server giving up during start-up: "[ERROR] Aborting" (MySQL 8: "[ERROR] [MY-010119]
    # [Server] Aborting").
    Event.ABORTED: re.compile(_prefix(rb"ERROR") + _SERVER + rb"Aborting\s*\Z"),
    Event.READY_FOR_CONNECTIONS: re.compile(
        _PREFIX + _SERVER + _BINARY + rb": ready for connections"
    ),
}

_UUID = rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# "WSREP: Recovered position: <uuid>:<seqno>[,<domain>-<server>-<seqno>]" (MariaDB,
# --wsrep-recover) and "[WSREP] Recovered position: <uuid>:<seqno>" (PXC 8), alone on its
# line. Not the start-up line "Recovered position from storage:", which every plain start
# writes.
RECOVERED_RE = re.compile(
    _prefix(rb"Note")
    + rb"(?:WSREP: |\[WSREP\] )Recovered position: ?(?P<uuid>"
    + _UUID
    + rb"):(?P<seqno>-1|\d{1,19})(?:,(?P<gtid>\d{1,10}-\d{1,10}-\d{1,20}))?[ \t\r]*\Z"
)
SEQNO_MAX = 2**63 - 1  # Galera's seqno is a signed 64-bit integer; -1 means "undefined"
_GTID_LIMITS = (2**32 - 1, 2**32 - 1, 2**64 - 1)  # domain id, server id, sequence number

# A --wsrep-recover run is mysqld's main thread (id 0) starting InnoDB and the plugins, then
# writing the position, before it could accept a single connection. So a position counts only
# after at least this many thread-0 lines in a row. A user name is cut at 128 characters in
# the log: a newline in it can forge one such line, not the run before it (each login's text
# follows its own "N [Warning] Access denied" line, N > 0, which ends the run).
RECOVERY_RUN_LINES = 3
_THREAD0_LINE = re.compile(
    rb"\A(?:" + _TS_MARIADB + rb"|" + _TS_ISO + rb") 0 \[(?:" + _ANY_LEVEL + rb")\] [^\n]"
)

# Lines only the main thread writes, after more of its own lines, while no client can be
# connected (start-up, shutdown): counted only inside a thread-0 run, like a position. Every
# one of them in the real captures (tests/fixtures/errorlog, the reference lab) is. The
# others (synced, ready, sst_failed) are written by other threads too, so they only get the
# layout check: a newline in a user name can still forge one of them (docs/logs.md).
MAIN_THREAD_EVENTS = frozenset({Event.UNSAFE_BOOTSTRAP_REFUSED, Event.SHUTDOWN, Event.ABORTED})

# Galera's IST receiver (gu::Progress) on the joiner, at the start, then at most every ~10 s
# while events arrive, and at the end:
#   2026-11-27  8:54:05 0 [Note] WSREP: Receiving IST... 42.0% (63/150 events) complete.
# Only the counts are kept, bounded like seqnos (an IST is a seqno range) and done <= total,
# so a forged line cannot produce an absurd value; the percentage is not trusted.
IST_PROGRESS_RE = re.compile(
    _prefix(rb"Note")
    + rb"(?:WSREP: |\[WSREP\] |\[Galera\] )Receiving IST\.\.\. {0,4}\d{1,3}\.\d%"
    + rb" \((?P<done>\d{1,19})/(?P<total>\d{1,19}) events\) complete\.[ \t\r]*\Z"
)
# Lines after which the progress of an earlier IST no longer describes the server: it stopped
# (shutdown, aborted start) or a new server process started ("Starting MariaDB ..." is the
# first line of every start, also after a kill -9, which writes nothing).
SERVER_START_RE = re.compile(
    _prefix(rb"Note|System") + _SERVER + rb"(?:Starting MariaDB |" + _BINARY + rb" \(mysqld )"
)
# The last line of a server that gave up on its own (donor lost mid-IST: "Unrecoverable error
# happened above. Aborting..." then "WSREP: /usr/sbin/mariadbd: Terminated.").
SERVER_TERMINATED_RE = re.compile(_PREFIX + _WSREP + _BINARY + rb": Terminated\.")

# Every line of interest contains one of these (each pattern above needs its literal).
_ERRORLOG_LITERALS = (
    b"Receiving IST... ",
    b"Starting MariaDB",
    b"(mysqld ",
    b": Terminated.",
    b"Recovered position: ",
    b"It may not be safe to bootstrap",
    b"SST ",
    b"State transfer to",
    b"Synchronized with group",
    b"Shutdown complete",
    b"Aborting",
    b"ready for connections",
)


@dataclass(frozen=True)
class RecoveredPosition:
    uuid: str
    seqno: int
    gtid: str | None
    timestamp: float | None  # from the line, if it has one we understand


@dataclass(frozen=True)
class IstProgress:
    done: int  # events received so far, <= total
    total: int  # events the IST brings
    timestamp: float | None  # from the line, if it has one we understand


@dataclass(frozen=True)
class ErrorLogLine:
    events: tuple[Event, ...]
    recovered: RecoveredPosition | None
    ist: IstProgress | None = None
    # A new server process, or the end of one: progress logged before it is over.
    run_boundary: bool = False


def next_run(run: int, line: bytes) -> int:
    """The count of thread-0 server lines in a row after `line` (capped: more is not needed)."""
    return min(run + 1, RECOVERY_RUN_LINES) if _THREAD0_LINE.match(line) else 0


def _recovered(line: bytes, run: int) -> RecoveredPosition | None:
    match = RECOVERED_RE.match(line)
    if match is None or match.group("tid") != b"0" or run < RECOVERY_RUN_LINES:
        return None
    seqno = int(match.group("seqno"))
    if seqno > SEQNO_MAX:
        return None
    gtid = match.group("gtid")
    if gtid is not None:
        parts = [int(part) for part in gtid.split(b"-")]
        if any(value > limit for value, limit in zip(parts, _GTID_LIMITS, strict=True)):
            return None
    return RecoveredPosition(
        uuid=match.group("uuid").decode("ascii").lower(),
        seqno=seqno,
        gtid=gtid.decode("ascii") if gtid else None,
        timestamp=line_timestamp(line),
    )


def _ist_progress(line: bytes) -> IstProgress | None:
    match = IST_PROGRESS_RE.match(line)
    if match is None:
        return None
    done, total = int(match.group("done")), int(match.group("total"))
    if total > SEQNO_MAX or done > total:
        return None
    return IstProgress(done, total, line_timestamp(line))


def parse_errorlog_line(line: bytes, run: int = 0) -> ErrorLogLine | None:
    """What one mysqld error-log line tells us, or None if nothing of interest.

    `run`: how many thread-0 server lines come right before it (see RECOVERY_RUN_LINES); a
    recovered position needs the full run, so a line without its context gives none.
    """
    recovered = _recovered(line, run)
    in_run = run >= RECOVERY_RUN_LINES and _THREAD0_LINE.match(line) is not None
    events = tuple(
        event
        for event, pattern in EVENT_PATTERNS.items()
        if pattern.match(line) and (in_run or event not in MAIN_THREAD_EVENTS)
    )
    ist = _ist_progress(line)
    boundary = (
        Event.SHUTDOWN in events
        or Event.ABORTED in events
        or _main_thread(SERVER_START_RE.match(line))
        or _main_thread(SERVER_TERMINATED_RE.match(line))
    )
    if recovered is None and not events and ist is None and not boundary:
        return None
    return ErrorLogLine(events, recovered, ist, boundary)


def _main_thread(match: re.Match[bytes] | None) -> bool:
    """Start-up and termination lines are the main thread's (id 0; none in the old layout)."""
    return match is not None and match.group("tid") in (b"0", None)


def _run_before(block: bytes, start: int, run: int) -> int:
    """The run before the line at `start` of a block of whole lines: its own lines first,
    then, if all of them before `start` are in the run, `run` from before the block."""
    count = 0
    end = start  # the text before the line ends here, with a newline
    while count < RECOVERY_RUN_LINES:
        if end <= 0:
            return min(count + run, RECOVERY_RUN_LINES)
        line_start = block.rfind(b"\n", 0, end - 1) + 1
        if not _THREAD0_LINE.match(block[line_start : end - 1]):
            return count
        count += 1
        end = line_start
    return count


def errorlog_lines(block: bytes, run: int = 0) -> list[ErrorLogLine]:
    """Parsed lines of interest in the block, in order; `run` as for the line before it."""
    found = []
    for start, line in lines_containing(block, _ERRORLOG_LITERALS):
        parsed = parse_errorlog_line(line, _run_before(block, start, run))
        if parsed is not None:
            found.append(parsed)
    return found


def errorlog_run_after(block: bytes, run: int = 0) -> int:
    """`run` for the line after the block (the block's last lines and, if few, `run`)."""
    return _run_before(block, len(block), run) if block.endswith(b"\n") else 0


# --- timestamps --------------------------------------------------------------------------

_MONTHS = {
    m.encode(): i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
# Accepted at the very start of a line (after optional "[" or spaces):
#   2026-11-27  8:54:05            MariaDB (local time, hour padded with a space)
#   2026-10-06T01:44:30.673582Z    MySQL 8 / PXC (UTC unless log_timestamps=SYSTEM)
#   2017-06-27 10:11:12,345        log4j ISO8601 (local time)
#   27 Jun 2017 10:11:12,345       log4j DATE
#   191127  8:54:05                MariaDB before 10.1.x
_ISO_TS = re.compile(
    rb"\A\[?(\d{4})-(\d\d)-(\d\d)[T ] ?(\d{1,2}):(\d\d):(\d\d)(?:[.,](\d{1,9}))?"
    rb"(Z|[+-]\d\d:?\d\d)?(?![\d])"
)
_DMY_TS = re.compile(
    rb"\A\[?(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{1,2}):(\d\d):(\d\d)(?:[.,](\d{1,9}))?"
)
_OLD_TS = re.compile(rb"\A(\d\d)(\d\d)(\d\d) {1,2}(\d{1,2}):(\d\d):(\d\d)(?![\d])")


def _epoch(
    fields: tuple[int, int, int, int, int, int], frac: bytes | None, zone: bytes | None
) -> float | None:
    year, month, day, hour, minute, second = fields
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    fraction = int(frac) / 10 ** len(frac) if frac else 0.0
    try:
        if zone is None:
            # No zone in the line: the writer's local time, which on one host is ours.
            value = time.mktime((year, month, day, hour, minute, second, 0, 0, -1))
        else:
            value = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
            if zone != b"Z":
                digits = zone[1:].replace(b":", b"")
                offset = int(digits[:2]) * 3600 + int(digits[2:]) * 60
                value -= offset if zone[:1] == b"+" else -offset
    except (OverflowError, ValueError):
        return None
    return value + fraction


def line_timestamp(line: bytes) -> float | None:
    """Seconds since the epoch of a line's leading timestamp, None if it has none we know."""
    match = _ISO_TS.match(line)
    if match:
        y, mo, d, h, mi, s, frac, zone = match.groups()
        return _epoch((int(y), int(mo), int(d), int(h), int(mi), int(s)), frac, zone)
    match = _DMY_TS.match(line)
    if match:
        d, mon, y, h, mi, s, frac = match.groups()
        if mon not in _MONTHS:
            return None
        return _epoch((int(y), _MONTHS[mon], int(d), int(h), int(mi), int(s)), frac, None)
    match = _OLD_TS.match(line)
    if match:
        yy, mo, d, h, mi, s = (int(g) for g in match.groups())
        return _epoch((2000 + yy, mo, d, h, mi, s), None, None)
    return None
