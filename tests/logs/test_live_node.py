"""The errorlog source beside the real wsrep source, against a real Galera node (127.0.0.61).

The path comes from the server's log_error, the follower outlives mysqld, and a kill -9,
`--wsrep-recover` and restart show up as the recovered position and live events.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from galera_exporter.collectors.errorlog import ErrorLogCollector
from galera_exporter.collectors.wsrep import WsrepCollector
from galera_exporter.config import MySQLTarget
from galera_exporter.db import StatusReader
from galera_lab.node import Node
from tests.logs.helpers import registry_for, sample
from tests.support.galera import bootstrapped_node
from tests.support.tiers import starts_real_galera
from tests.support.wait import wait_for

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [pytest.mark.timeout(300)]

# The logs block of the working agreement; GALERA_TEST_LOGS_ADDRESS lets a parallel checkout on
# this machine use another address.
ADDRESS = os.environ.get("GALERA_TEST_LOGS_ADDRESS", "127.0.0.61")


@pytest.fixture(scope="module")
@starts_real_galera
def node() -> Iterator[Node]:
    base = Path(tempfile.mkdtemp(prefix="galera-logs-"))
    try:
        with bootstrapped_node("logs1", ADDRESS, base, cluster_name="logs_test") as lab_node:
            yield lab_node
    finally:
        shutil.rmtree(base, ignore_errors=True)


def event(registry: object, name: str) -> float | None:
    return sample(registry, "galera_errorlog_events_total", {"event": name})  # type: ignore[arg-type]


def test_errorlog_follows_the_real_node(node: Node) -> None:
    wsrep = WsrepCollector(StatusReader(MySQLTarget(user="root", socket=str(node.socket)), 2.0))
    errorlog = ErrorLogCollector("")  # no flag: the path must come from log_error
    reg = registry_for(wsrep, errorlog)
    # While mysqld is down, waits read the errorlog source alone: each failed connect of the
    # wsrep source's StatusReader leaks a socket (a ResourceWarning; reported to db.py's owner).
    log_only = registry_for(errorlog)
    try:
        assert sample(reg, "galera_up") == 1.0
        assert sample(reg, "galera_errorlog_file_info", {"path": str(node.error_log)}) == 1.0
        assert sample(reg, "galera_errorlog_present") == 1.0
        follower = errorlog.follower
        assert follower is not None
        size = node.error_log.stat().st_size
        wait_for("start-up recovery of the error log", lambda: follower.status().offset >= size)
        assert event(reg, "synced") == 0  # the bootstrap's lines are from before start-up

        node.query("CREATE DATABASE IF NOT EXISTS t")
        node.query("CREATE TABLE IF NOT EXISTS t.a (id INT PRIMARY KEY AUTO_INCREMENT, v INT)")
        node.query("INSERT INTO t.a (v) VALUES (1), (2), (3)")
        committed = int(node.wsrep_status()["wsrep_last_committed"])
        uuid = node.wsrep_status()["wsrep_local_state_uuid"]

        node.kill()
        assert sample(reg, "galera_up") == 0.0
        # mysqld is down, so Scrape.server stays None: the follower is kept, not dropped
        assert errorlog.follower is follower
        position = node.recover_position()  # appends the recover run to the error log
        assert position == f"{uuid}:{committed}"
        wait_for("the recovered seqno on /metrics",
                 lambda: sample(log_only, "galera_recovered_seqno") == committed)  # fmt: skip
        assert sample(log_only, "galera_recovered_position_info", {"uuid": uuid}) == 1.0

        node.start(bootstrap=True, start_position=position)
        node.wait_synced(90)
        wait_for("the restart's 'Synchronized with group'", lambda: event(reg, "synced") == 1)
        assert event(reg, "ready_for_connections") == 1
        assert sample(reg, "galera_up") == 1.0
        assert errorlog.follower is follower  # the same path again: still the same follower

        node.stop()
        wait_for("the stop's 'Shutdown complete'", lambda: event(log_only, "shutdown") == 1)
        assert event(log_only, "unsafe_bootstrap_refused") == 0
        assert (sample(log_only, "galera_errorlog_lines_total") or 0) > 100
    finally:
        errorlog.close()
        wsrep.close()
