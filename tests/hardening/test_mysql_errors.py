"""Why galera_up is 0, against a real node (127.0.0.41): wrong password, max_connections
exhausted, mysqld frozen, mysqld stopped. And the server's Uptime, read with the USAGE-only
account in the same statement as the wsrep variables."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pymysql
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from galera_exporter.collectors.wsrep import WsrepCollector
from galera_exporter.config import MySQLTarget, Secret
from galera_exporter.db import REASONS, STATUS_QUERY, StatusReader
from galera_exporter.exporter import Exporter, ScrapeRegistry
from galera_lab.node import Node
from tests.hardening.conftest import DB_USER
from tests.hardening.harness import DISTINCTIVE_PASSWORD

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [pytest.mark.timeout(300)]


def source(node: Node, password: str = DISTINCTIVE_PASSWORD) -> WsrepCollector:
    target = MySQLTarget(user=DB_USER, password=Secret(password), socket=str(node.socket))
    return WsrepCollector(StatusReader(target, 2.0))


def scrape(wsrep: WsrepCollector, seconds: float = 2.0) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    # One scrape, read once: the registry's collect() runs the sources every time it is read.
    families = list(ScrapeRegistry(Exporter([wsrep]), time.monotonic() + seconds).collect())

    class _Frozen:
        def collect(self) -> list[Metric]:
            return families

    registry.register(_Frozen())
    return registry


def reason(registry: CollectorRegistry) -> str | None:
    """The one kind set to 1; checks that all kinds are there and at most one is 1."""
    values = {k: registry.get_sample_value("galera_mysql_error", {"kind": k}) for k in REASONS}
    assert all(v in (0.0, 1.0) for v in values.values()), values
    on = [k for k, v in values.items() if v == 1.0]
    assert len(on) <= 1, values
    up = registry.get_sample_value("galera_up")
    assert (up == 0) == bool(on), (up, values)
    return on[0] if on else None


@pytest.fixture
def wsrep(node: Node) -> Iterator[WsrepCollector]:
    created = source(node)
    try:
        yield created
    finally:
        created.close()


def test_up_uptime_and_no_error_with_the_usage_only_account(
    node: Node, wsrep: WsrepCollector
) -> None:
    grants = node.query(f"SHOW GRANTS FOR '{DB_USER}'@'localhost'")
    assert all("GRANT USAGE ON *.*" in str(row[0]) for row in grants), grants
    registry = scrape(wsrep)
    assert reason(registry) is None
    server_uptime = float(str(node.query("SHOW GLOBAL STATUS LIKE 'Uptime'")[0][1]))
    uptime = registry.get_sample_value("galera_mysqld_uptime_seconds")
    print(f"uptime: exporter {uptime}, server {server_uptime}")
    assert uptime is not None and 0 <= server_uptime - uptime <= 2
    assert registry.get_sample_value("galera_cluster_size") == 1
    assert STATUS_QUERY.count(";") == 0 and STATUS_QUERY.startswith("SHOW GLOBAL STATUS")


def test_wrong_password_is_auth(node: Node) -> None:
    wrong = source(node, "not-the-password")
    try:
        registry = scrape(wrong)
        assert reason(registry) == "auth"
        counter = "galera_exporter_mysql_errors_total"
        assert registry.get_sample_value(counter, {"kind": "auth"}) == 1
        assert registry.get_sample_value(counter, {"kind": "connect"}) == 0
    finally:
        wrong.close()


def test_max_connections_exhausted_is_too_many_connections(
    node: Node, wsrep: WsrepCollector
) -> None:
    before = int(str(node.query("SELECT @@GLOBAL.max_connections")[0][0]))
    held: list[pymysql.connections.Connection[pymysql.cursors.Cursor]] = []
    node.query("SET GLOBAL max_connections = 10")
    try:
        # Fill every slot with the same unprivileged account (no SUPER: no extra slot).
        for _ in range(40):
            try:
                held.append(
                    pymysql.connect(
                        unix_socket=str(node.socket),
                        user=DB_USER,
                        password=DISTINCTIVE_PASSWORD,
                        connect_timeout=5,
                    )
                )
            except pymysql.err.OperationalError as err:
                assert err.args[0] == 1040, err
                break
        else:
            pytest.fail("max_connections never ran out")
        print(f"held {len(held)} connections at max_connections 10")
        registry = scrape(wsrep)
        assert reason(registry) == "too_many_connections"
        assert (
            registry.get_sample_value(
                "galera_exporter_mysql_errors_total", {"kind": "too_many_connections"}
            )
            == 1
        )
    finally:
        for conn in held:
            conn.close()
        node.query(f"SET GLOBAL max_connections = {before}")
    assert reason(scrape(wsrep)) is None


def test_frozen_is_timeout_and_stopped_is_refused(node: Node, wsrep: WsrepCollector) -> None:
    node.freeze()
    try:
        started = time.monotonic()
        registry = scrape(wsrep, 1.0)
        took = time.monotonic() - started
        print(f"frozen mysqld: scrape took {took:.2f}s")
        assert took < 1.5
        assert reason(registry) == "timeout"
    finally:
        node.thaw()
    node.stop()
    registry = scrape(wsrep)
    assert reason(registry) == "refused"
    assert registry.get_sample_value("galera_mysqld_uptime_seconds") is None
    node.socket.unlink(missing_ok=True)  # a socket file missing altogether: refused too
    assert reason(scrape(wsrep)) == "refused"
