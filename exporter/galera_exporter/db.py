"""The one MySQL connection an exporter keeps: status and variables as dicts, with timeouts."""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import pymysql
import pymysql.cursors

from galera_exporter.config import MySQLTarget

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "/run/mysqld/mysqld.sock"  # Debian's and MariaDB's default

# One statement, no privilege needed (SHOW STATUS is open to every account on MariaDB): the
# wsrep variables and the server's Uptime, which tells a node that ran before its peers
# crashed from one started afterwards.
STATUS_QUERY = "SHOW GLOBAL STATUS WHERE Variable_name LIKE 'wsrep%' OR Variable_name = 'Uptime'"
# The few server variables the exporter reports; SHOW VARIABLES needs no privilege on MariaDB.
VARIABLES = (
    "wsrep_cluster_name",
    "wsrep_node_name",
    "wsrep_provider_options",
    "wsrep_on",
    "wsrep_desync",
    "wsrep_sst_method",
    "wsrep_reject_queries",  # the serving state: a node rejecting queries gets no traffic
    "read_only",
    "wsrep_status_file",  # MariaDB >= 10.9; absent before (the status_file collector copes)
    "log_error",
    "datadir",
    "version",
)
VARIABLES_QUERY = "SHOW GLOBAL VARIABLES WHERE Variable_name IN ({})".format(
    ", ".join(f"'{name}'" for name in VARIABLES)
)


# Why the server could not be asked, as the galera_mysql_error{kind} state set says it.
REASONS = ("refused", "auth", "too_many_connections", "timeout", "other")
# Server error codes (MariaDB/MySQL) by reason. auth: 1044 no access to the database, 1045
# wrong password, 1698 access denied (unix_socket/plugin), 1227 missing privilege, 1130 host
# not allowed, 1129 host blocked, 1251/1524 auth plugin not supported/loaded, 1820/1862
# password expired. too_many_connections: 1040 max_connections, 1203 max_user_connections,
# 1226 a user resource limit.
_AUTH_CODES = frozenset({1044, 1045, 1129, 1130, 1227, 1251, 1524, 1698, 1820, 1862})
_TOO_MANY_CODES = frozenset({1040, 1203, 1226})
# Client-side codes of pymysql: 2002/2003 could not connect, 2006/2013 connection lost.
_REFUSED_ERRNOS = frozenset({errno.ENOENT, errno.ECONNREFUSED})


class DatabaseError(Exception):
    """The server could not be asked; the message is safe to log (never holds credentials).

    kind: the counter's label (connect, timeout, query, busy, auth, too_many_connections);
    reason: one of REASONS, why galera_up is 0.
    """

    def __init__(self, kind: str, detail: str, reason: str = "other") -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class ServerState:
    status: dict[str, str]
    variables: dict[str, str]


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


class StatusSource(Protocol):
    """What the wsrep collector reads the server through: a StatusReader, or in the unit tests
    a real node's captured state (tests/unit/fixtures.py), with no mysqld."""

    def read(self, timeout: float) -> ServerState: ...

    def close(self) -> None: ...


class StatusReader:
    """Reads wsrep status over one reused connection; reconnects after any failure.

    Scrapes may arrive concurrently: the connection is used by one at a time, and a scrape that
    cannot get it before its deadline reports the server as not answering rather than hanging.
    """

    def __init__(self, target: MySQLTarget, timeout: float) -> None:
        self._target = target
        self._timeout = timeout
        self._lock = threading.Lock()
        self._conn: pymysql.connections.Connection[pymysql.cursors.Cursor] | None = None
        self.queries = 0  # statements sent, for the benchmark's "no queries between scrapes"

    def _connect(
        self, timeout: float, watchdog: _Watchdog
    ) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
        t = self._target
        use_tcp = bool(t.host) and t.host != "localhost"
        path = t.socket or DEFAULT_SOCKET
        where = f"{t.host}:{t.port}" if use_tcp else path
        try:
            tls = t.tls.connect_args()  # ssl-* from the option file; may raise OSError
            if not tls and not use_tcp:
                # Nothing said about TLS and a local socket: PyMySQL would still build a
                # default TLS context (loading the system CA bundle) for every connection,
                # ~55 ms of CPU per scrape while mysqld is down (54.8 -> 0.2 ms measured).
                tls = {"ssl_disabled": True}
            conn = pymysql.connect(
                user=t.user or "",
                # Bytes, not str: PyMySQL encodes a str password as Latin-1, where the mariadb
                # client sends the option file's bytes (UTF-8), so a non-ASCII password would
                # not log in (or fail with an encoding error quoting one of its characters).
                password=t.password.reveal().encode("utf-8") if t.password else b"",
                host=t.host if use_tcp else None,
                port=t.port,
                unix_socket=None if use_tcp else path,
                connect_timeout=timeout,
                read_timeout=timeout,
                write_timeout=timeout,
                autocommit=True,
                charset="utf8mb4",
                program_name="galera-exporter",
                defer_connect=True,
                **tls,
            )
            # The socket is opened here, not by pymysql: it leaves a unix socket open when
            # connect() fails (one leaked descriptor per failed scrape), and the watchdog must
            # be able to cut the handshake too.
            if use_tcp:
                sock = _open_tcp_socket(t.host or "", t.port, timeout)
            else:
                sock = _open_unix_socket(path, timeout)
            watchdog.arm(sock)
            try:
                conn.connect(sock)
            except BaseException:
                sock.close()
                raise
        except pymysql.err.MySQLError as err:
            raise _classify(err, "connect", watchdog) from None
        except OSError as err:
            if watchdog.fired or isinstance(err, TimeoutError):
                raise DatabaseError("timeout", f"{where}: connect timed out", "timeout") from None
            reason = "refused" if err.errno in _REFUSED_ERRNOS else "other"
            text = err.strerror or type(err).__name__
            raise DatabaseError("connect", f"{where}: {text}", reason) from None
        return conn

    def read(self, timeout: float) -> ServerState:
        """Status and variables, or DatabaseError within about `timeout` seconds in total.

        A watchdog shuts the socket down at the deadline: pymysql's timeouts apply to each
        socket operation, so a server dribbling one byte at a time would otherwise hold a
        scrape for as long as it likes (seen: 44 s for one scrape).
        """
        timeout = bounded_timeout(timeout)
        started = time.monotonic()
        if not self._lock.acquire(timeout=timeout):
            raise DatabaseError(
                "busy", "another scrape held the connection past this deadline", "timeout"
            )
        watchdog = _Watchdog(started + timeout)
        try:
            kept = self._conn is not None
            try:
                state = self._query(started, timeout, watchdog)
            except (pymysql.err.MySQLError, OSError) as err:
                self._drop()
                if not (kept and not watchdog.fired and _connection_lost(err)):
                    raise _classify(err, "query", watchdog) from None
                # The connection kept from an earlier scrape died with its server (a restart,
                # a stop): one fresh attempt tells what the server says now - refused, or the
                # restarted node's state - instead of a one-scrape "unobservable" blip.
                log.debug("kept connection lost (%s); reconnecting once", _describe(err))
                try:
                    state = self._query(started, timeout, watchdog)
                except (pymysql.err.MySQLError, OSError) as again:
                    self._drop()
                    raise _classify(again, "query", watchdog) from None
            if watchdog.fired:  # cut right after the last byte: the connection is unusable
                self._drop()
            return state
        finally:
            watchdog.cancel()
            self._lock.release()

    def _query(self, started: float, timeout: float, watchdog: _Watchdog) -> ServerState:
        """Both statements over the kept connection, connecting first if there is none."""
        remaining = max(timeout - (time.monotonic() - started), 0.05)
        if self._conn is None:
            self._conn = self._connect(remaining, watchdog)
        else:
            watchdog.arm(self._conn._sock)  # type: ignore[attr-defined]
        conn = self._conn
        # pymysql applies _read_timeout/_write_timeout on every socket operation; setting
        # them per scrape lets a short X-Prometheus-Scrape-Timeout-Seconds bound this query.
        untyped: Any = conn  # the attributes are private to pymysql, absent from its stubs
        remaining = max(timeout - (time.monotonic() - started), 0.05)
        untyped._read_timeout = remaining
        untyped._write_timeout = remaining
        with conn.cursor() as cursor:
            self.queries += 1
            cursor.execute(STATUS_QUERY)
            status = {_text(k): _text(v) for k, v in cursor.fetchall()}
            self.queries += 1
            cursor.execute(VARIABLES_QUERY)
            variables = {_text(k): _text(v) for k, v in cursor.fetchall()}
        return ServerState(status, variables)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except (pymysql.err.MySQLError, OSError):
                log.debug("closing a broken connection failed; it is discarded anyway")

    def close(self) -> None:
        with self._lock:
            self._drop()


# No scrape waits longer than this, whatever the configuration says: a huge or infinite
# timeout (no Prometheus header, --mysql.timeout 1e12) overflowed the lock and socket
# timeouts and turned every scrape into a 500.
MAX_TIMEOUT_SECONDS = 3600.0


def bounded_timeout(timeout: float) -> float:
    """`timeout` within [0.05, MAX_TIMEOUT_SECONDS]; NaN counts as the maximum."""
    if math.isnan(timeout):
        return MAX_TIMEOUT_SECONDS
    return min(max(timeout, 0.05), MAX_TIMEOUT_SECONDS)


def _open_unix_socket(path: str, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock


def _open_tcp_socket(host: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((host, port), timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    return sock


class _Watchdog:
    """Shuts a socket down at a deadline, which ends any read or write on it at once."""

    def __init__(self, deadline: float) -> None:
        self.fired = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(max(deadline - time.monotonic(), 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def arm(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.fired:
                self._shutdown()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _is_timeout(err: BaseException) -> bool:
    if isinstance(err, TimeoutError):
        return True
    text = str(err).lower()
    return "timed out" in text or "timeout" in text


def _classify(err: BaseException, stage: str, watchdog: _Watchdog) -> DatabaseError:
    """A pymysql/OS error as DatabaseError(kind, detail, reason)."""
    detail = _describe(err)
    if watchdog.fired or _is_timeout(err):
        return DatabaseError("timeout", detail, "timeout")
    code = err.args[0] if err.args and isinstance(err.args[0], int) else None
    if code in _AUTH_CODES:
        return DatabaseError("auth", detail, "auth")
    if code in _TOO_MANY_CODES:
        return DatabaseError("too_many_connections", detail, "too_many_connections")
    if stage == "connect" and code in (2002, 2003) and _refused_text(str(err)):
        return DatabaseError("connect", detail, "refused")
    return DatabaseError(stage, detail, "other")


# "MySQL server has gone away", "Lost connection to MySQL server during query", and the
# interface errors of a connection pymysql already knows is dead.
_LOST_CODES = frozenset({2006, 2013, 2055})


def _connection_lost(err: BaseException) -> bool:
    if isinstance(err, pymysql.err.InterfaceError | BrokenPipeError | ConnectionResetError):
        return True
    code = err.args[0] if err.args and isinstance(err.args[0], int) else None
    return isinstance(err, pymysql.err.OperationalError) and code in _LOST_CODES


def _refused_text(text: str) -> bool:
    return "connection refused" in text.lower() or "no such file" in text.lower()


def _describe(err: BaseException) -> str:
    """errno and message of a pymysql error; pymysql never puts the password in them."""
    args: tuple[object, ...] = err.args
    if len(args) >= 2 and isinstance(args[0], int):
        return f"({args[0]}) {args[1]}"
    return f"{type(err).__name__}: {err}"
