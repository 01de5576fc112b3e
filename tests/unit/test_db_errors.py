"""Why the server could not be asked: the reason behind galera_mysql_error{kind}.

The real-server cases (wrong password, max_connections, SIGSTOP, stopped) are in
tests/hardening/test_mysql_errors.py; these are the codes and the refused connects."""

from __future__ import annotations

import socket
from pathlib import Path

import pymysql
import pytest

from galera_exporter import db
from galera_exporter.config import MySQLTarget


@pytest.mark.parametrize(
    ("error", "kind", "reason"),
    [
        (pymysql.err.OperationalError(1045, "Access denied for user 'x'@'localhost'"), "auth",
         "auth"),
        (pymysql.err.OperationalError(1698, "Access denied for user 'root'@'localhost'"), "auth",
         "auth"),
        (pymysql.err.OperationalError(1044, "Access denied ... to database 'x'"), "auth", "auth"),
        (pymysql.err.OperationalError(1227, "Access denied; you need ... privilege"), "auth",
         "auth"),
        (pymysql.err.OperationalError(1040, "Too many connections"), "too_many_connections",
         "too_many_connections"),
        (pymysql.err.OperationalError(1203, "User x already has more than "
                                            "'max_user_connections' active connections"),
         "too_many_connections", "too_many_connections"),
        (pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query "
                                            "(timed out)"), "timeout", "timeout"),
        (pymysql.err.OperationalError(2003, "Can't connect to MySQL server on 'h' "
                                            "([Errno 111] Connection refused)"), "connect",
         "refused"),
        (pymysql.err.ProgrammingError(1064, "You have an error in your SQL syntax"), "connect",
         "other"),
        (pymysql.err.OperationalError(1047, "WSREP has not yet prepared node"), "connect",
         "other"),
    ],
)  # fmt: skip
def test_codes(error: Exception, kind: str, reason: str) -> None:
    watchdog = db._Watchdog(1e9)
    try:
        classified = db._classify(error, "connect", watchdog)
    finally:
        watchdog.cancel()
    assert (classified.kind, classified.reason) == (kind, reason)
    assert db.REASONS.count(classified.reason) == 1


def test_a_cut_by_the_watchdog_is_a_timeout() -> None:
    watchdog = db._Watchdog(0.0)
    watchdog._timer.join(5)
    assert watchdog.fired
    error = pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
    assert db._classify(error, "query", watchdog).reason == "timeout"


def test_refused_over_tcp_and_unix_socket(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for target in (
        MySQLTarget(host="127.0.0.1", port=port, user="x"),
        MySQLTarget(socket=str(tmp_path / "missing.sock"), user="x"),
    ):
        reader = db.StatusReader(target, 2.0)
        with pytest.raises(db.DatabaseError) as caught:
            reader.read(2.0)
        assert (caught.value.kind, caught.value.reason) == ("connect", "refused"), target
