"""A flood of load-balancer polls against a real exporter process on a real node (127.0.0.124):
the server sees at most one status read per cache TTL, counted by the server itself."""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from galera_lab import procs
from galera_lab.node import Node
from galera_lab.wait import wait_for
from tests.support.galera import bootstrapped_node
from tests.support.tiers import starts_real_galera

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [pytest.mark.timeout(600)]

# This work's single-node address; GALERA_TEST_FLOOD_ADDRESS lets a parallel checkout use another.
ADDRESS = os.environ.get("GALERA_TEST_FLOOD_ADDRESS", "127.0.0.124")
USER = "galera_serving"
# Below the HTTP server's bound (8 workers + 64 queued requests): past it the server itself
# answers 503 "too busy" (httpserver.py), which a load balancer cannot tell from "not serving"
# (docs/runbook.md#load-balancer-health-check).
CLIENTS = 50
SECONDS = 6.0
TTL = 1.0


@pytest.fixture(scope="module")
@starts_real_galera
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with bootstrapped_node("flood1", ADDRESS, tmp_path_factory.mktemp("flood")) as node:
        yield node


@pytest.fixture
def exporter(node: Node, tmp_path: Path) -> Iterator[str]:
    password = secrets.token_urlsafe(18)
    node.query(f"CREATE OR REPLACE USER '{USER}'@'localhost' IDENTIFIED BY '{password}'")
    cnf = tmp_path / "my.cnf"
    cnf.touch(mode=0o600)
    cnf.write_text(f"[client]\nuser = {USER}\npassword = {password}\nsocket = {node.socket}\n")
    listen = f"{ADDRESS}:{procs.free_port(ADDRESS)}"
    proc = procs.spawn(
        "exporter-flood",
        [
            sys.executable,
            "-m",
            "galera_exporter",
            f"--web.listen-address={listen}",
            f"--mysql.defaults-file={cnf}",
            f"--galera.datadir={node.datadir}",
            "--web.serving-path=/clustercheck",
            f"--serving.cache-ttl={TTL}",
            "--no-collect.backend_log",
            "--no-collect.errorlog",
        ],
        tmp_path / "exporter.log",
    )
    try:
        wait_for("exporter answering", lambda: status(f"http://{listen}/-/healthy") == 200, 30)
        yield f"http://{listen}/clustercheck"
    finally:
        procs.stop(proc)


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


def show_status_count(node: Node) -> int:
    """Com_show_status: SHOW STATUS statements the server ran (this one included)."""
    rows = node.query("SHOW GLOBAL STATUS LIKE 'Com_show_status'")
    return int(str(rows[0][1]))


def test_flood_costs_at_most_one_status_read_per_ttl(node: Node, exporter: str) -> None:
    assert status(exporter) == 200  # the first poll reads (nobody scraped yet)
    codes: list[int] = []
    lock = threading.Lock()
    before = show_status_count(node)
    started = time.monotonic()
    stop_at = started + SECONDS

    def client() -> None:
        while time.monotonic() < stop_at:
            code = status(exporter)
            with lock:
                codes.append(code)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    elapsed = time.monotonic() - started
    # Minus our own two SHOW STATUS (before and this one); one per exporter read remains.
    reads = show_status_count(node) - before - 1
    periods = int(elapsed / TTL) + 1
    print(
        f"[flood] {CLIENTS} clients, {len(codes)} polls in {elapsed:.1f}s "
        f"({len(codes) / elapsed:.0f}/s), {reads} status reads at the server, TTL {TTL:g}s"
    )
    assert codes and set(codes) == {200}, sorted(set(codes))
    assert len(codes) > 5 * periods
    assert 1 <= reads <= periods
