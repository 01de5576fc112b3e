"""A client cannot set the recovered position or raise start/stop events through the real
mysqld error log: failed logins with forged user names, against a real node (127.0.0.41)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from galera_exporter.collectors.errorlog import ErrorLogCollector
from galera_lab.node import Node
from tests.logs.helpers import registry_for, sample
from tests.support.wait import wait_for

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [pytest.mark.timeout(300)]

UUID = "125a32e7-ea40-11f1-8844-577ec5e07595"
HUGE = "9200000000000000000"
STAMP = "2026-12-02  4:50:13"
GUARDED = ("unsafe_bootstrap_refused", "shutdown", "aborted")


def forged_user_names() -> list[str]:
    position = f"{STAMP} 0 [Note] WSREP: Recovered position: {UUID}:{HUGE}"
    small = f"{STAMP} 0 [Note] WSREP: Recovered position: {UUID}:7"
    preamble = f"{STAMP} 0 [Note] x"
    return [
        # the line: the payload inside the quoted user name
        f"x WSREP: Recovered position: {UUID}:{HUGE}",
        # a newline in the user name starts a line of the attacker's own
        f"y\n{position}\n",
        f"y\r\n{position}",
        # as many forged thread-0 lines as 128 characters allow, then a small position
        f"\n{preamble}\n{small}\n",
        f"\n{preamble}\n{preamble}\n{STAMP} 0 [ERROR] Aborting\n",
        f"\n{STAMP} 0 [Note] /usr/sbin/mariadbd: Shutdown complete\n",
        f"\n{STAMP} 0 [ERROR] WSREP: It may not be safe to bootstrap the cluster from this node",
    ]


def failed_login(node: Node, user: str) -> int:
    try:
        pymysql.connect(
            unix_socket=str(node.socket),
            user=user,
            password="wrong",  # noqa: S106 - a wrong one on purpose
            connect_timeout=5,
        ).close()
    except pymysql.err.OperationalError as err:
        return int(err.args[0])
    raise AssertionError(f"login as {user!r} succeeded")


def caught_up(source: ErrorLogCollector, path: Path) -> bool:
    follower = source.follower
    return follower is not None and follower.status().offset == path.stat().st_size


@pytest.fixture
def source(node: Node) -> Iterator[ErrorLogCollector]:
    errorlog = ErrorLogCollector(str(node.error_log), use_inotify=False)
    try:
        yield errorlog
    finally:
        errorlog.close()


def test_forged_user_names_change_nothing(node: Node, source: ErrorLogCollector) -> None:
    reg = registry_for(source)
    assert sample(reg, "galera_errorlog_present") == 1.0
    wait_for("follower at the end of the error log", lambda: caught_up(source, node.error_log))
    seqno_before = sample(reg, "galera_recovered_seqno")
    events_before = {e: sample(reg, "galera_errorlog_events_total", {"event": e}) for e in GUARDED}
    size = node.error_log.stat().st_size

    codes = [failed_login(node, user) for user in forged_user_names()]
    assert set(codes) <= {1045, 1698}, codes
    written = node.error_log.read_bytes()[size:]
    # The real server wrote the forged text into its real log, newlines and all.
    assert written.count(b"Access denied for user") == len(codes), written[-2000:]
    assert f"\n{STAMP} 0 [Note] WSREP: Recovered position: {UUID}:{HUGE}\n".encode() in written
    wait_for("follower read the forged lines", lambda: caught_up(source, node.error_log))

    assert sample(reg, "galera_recovered_seqno") == seqno_before
    for event, before in events_before.items():
        assert sample(reg, "galera_errorlog_events_total", {"event": event}) == before, event
    assert sample(reg, "galera_recovered_position_info", {"uuid": UUID}) is None


def test_a_real_wsrep_recover_still_counts(node: Node, source: ErrorLogCollector) -> None:
    """The control: the same follower does take a real --wsrep-recover run's position."""
    reg = registry_for(source)
    failed_login(node, f"y\n{STAMP} 0 [Note] WSREP: Recovered position: {UUID}:{HUGE}\n")
    node.kill()
    started = time.monotonic()
    position = node.recover_position()
    print(f"[node] --wsrep-recover took {time.monotonic() - started:.1f}s: {position}")
    assert position is not None
    uuid, seqno = position.rsplit(":", 1)
    wait_for(
        "the real recovered position in the metrics",
        lambda: sample(reg, "galera_recovered_seqno") == float(seqno),
    )
    assert sample(reg, "galera_recovered_position_info", {"uuid": uuid}) == 1.0
