"""The one MySQL connection an exporter keeps: status and variables as dicts, with timeouts."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import pymysql
import pymysql.cursors

from galera_exporter.config import MySQLTarget

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "/run/mysqld/mysqld.sock"  # Debian's and MariaDB's default

STATUS_QUERY = "SHOW GLOBAL STATUS LIKE 'wsrep%'"
# The few server variables the exporter reports; SHOW VARIABLES needs no privilege on MariaDB.
VARIABLES = (
    "wsrep_cluster_name",
    "wsrep_node_name",
    "wsrep_provider_options",
    "wsrep_on",
    "wsrep_desync",
    "wsrep_sst_method",
    "log_error",
    "datadir",
    "version",
)
VARIABLES_QUERY = "SHOW GLOBAL VARIABLES WHERE Variable_name IN ({})".format(
    ", ".join(f"'{name}'" for name in VARIABLES)
)


class DatabaseError(Exception):
    """The server could not be asked; the message is safe to log (never holds credentials)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind  # connect, timeout, query, busy


@dataclass(frozen=True)
class ServerState:
    status: dict[str, str]
    variables: dict[str, str]


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


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

    def _connect(self, timeout: float) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
        t = self._target
        use_tcp = bool(t.host) and t.host != "localhost"
        path = t.socket or DEFAULT_SOCKET
        try:
            conn = pymysql.connect(
                user=t.user or "",
                password=t.password.reveal() if t.password else "",
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
                **t.tls.connect_args(),  # ssl-* from the option file; may raise OSError
            )
            # pymysql leaves its unix socket open when connect() fails (mysqld down): one
            # leaked descriptor per failed scrape. Open it here and close it on failure.
            conn.connect(None if use_tcp else _open_unix_socket(path, timeout))
        except pymysql.err.MySQLError as err:
            raise DatabaseError("connect", _describe(err)) from None
        except OSError as err:
            reason = err.strerror or type(err).__name__
            raise DatabaseError("connect", f"{path}: {reason}") from None
        return conn

    def read(self, timeout: float) -> ServerState:
        """Status and variables, or DatabaseError within about `timeout` seconds."""
        timeout = max(timeout, 0.05)
        started = time.monotonic()
        if not self._lock.acquire(timeout=timeout):
            raise DatabaseError("busy", "another scrape held the connection past this deadline")
        try:
            remaining = max(timeout - (time.monotonic() - started), 0.05)
            if self._conn is None:
                self._conn = self._connect(remaining)
            conn = self._conn
            # pymysql applies _read_timeout/_write_timeout on every socket operation; setting
            # them per scrape lets a short X-Prometheus-Scrape-Timeout-Seconds bound this query.
            untyped: Any = conn  # the attributes are private to pymysql, absent from its stubs
            untyped._read_timeout = remaining
            untyped._write_timeout = remaining
            try:
                with conn.cursor() as cursor:
                    self.queries += 1
                    cursor.execute(STATUS_QUERY)
                    status = {_text(k): _text(v) for k, v in cursor.fetchall()}
                    self.queries += 1
                    cursor.execute(VARIABLES_QUERY)
                    variables = {_text(k): _text(v) for k, v in cursor.fetchall()}
            except (pymysql.err.MySQLError, OSError) as err:
                self._drop()
                kind = "timeout" if _is_timeout(err) else "query"
                raise DatabaseError(kind, _describe(err)) from None
            return ServerState(status, variables)
        finally:
            self._lock.release()

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


def _open_unix_socket(path: str, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock


def _is_timeout(err: BaseException) -> bool:
    if isinstance(err, TimeoutError):
        return True
    text = str(err).lower()
    return "timed out" in text or "timeout" in text


def _describe(err: BaseException) -> str:
    """errno and message of a pymysql error; pymysql never puts the password in them."""
    args: tuple[object, ...] = err.args
    if len(args) >= 2 and isinstance(args[0], int):
        return f"({args[0]}) {args[1]}"
    return f"{type(err).__name__}: {err}"
