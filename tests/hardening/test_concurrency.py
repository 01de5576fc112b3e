"""20 clients x 300 scrapes against a real node: every answer complete and right, RSS flat.

The memory figure over 10,000 scrapes is bench/scrape_bench.py's; this test checks that
concurrent answers stay right and that RSS does not grow by more than allocator noise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from galera_lab.node import Node
from tests.hardening.harness import Exporter, metric

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [pytest.mark.timeout(600)]

CLIENTS = 20
REQUESTS = 300
WARMUP = 1_000
# Python's allocator keeps freed arenas, hence the 3 MiB of slack: 5,000 scrapes after the
# warm-up, so a leak of ~600 bytes per scrape or more fails.
MAX_RSS_GROWTH_KIB = 3 * 1024


@pytest.fixture
def exporter(node: Node, socket_cnf: Path, tmp_path: Path) -> Iterator[Exporter]:
    proc = Exporter(
        [f"--mysql.defaults-file={socket_cnf}", f"--galera.datadir={node.datadir}"],
        tmp_path / "exporter.log",
    )
    try:
        yield proc
    finally:
        proc.stop()


@pytest.mark.alone  # scrapes within their deadlines under concurrency: not on a loaded machine
def test_concurrent_scrapes_flat_rss(node: Node, exporter: Exporter) -> None:
    reference = exporter.scrape(5).samples()
    assert metric(reference, "galera_up") == 1
    expected_lines = (
        "galera_up 1.0",
        f"galera_cluster_size {metric(reference, 'galera_cluster_size')}",
        'galera_local_state{state="Synced"} 1.0',
        "galera_grastate_valid 1.0",
        'galera_exporter_collector_success{collector="grastate"} 1.0',
        "galera_exporter_build_info",
    )
    done = 0
    done_lock = threading.Lock()
    rss: dict[str, int] = {}
    failures: list[str] = []
    slowest = 0.0

    def client() -> None:
        nonlocal done, slowest
        for _ in range(REQUESTS):
            try:
                response = exporter.scrape(10)
            except (OSError, AssertionError) as err:
                failures.append(repr(err))
                continue
            missing = [line for line in expected_lines if line not in response.body]
            if missing:
                failures.append(f"missing {missing}")
            with done_lock:
                done += 1
                slowest = max(slowest, response.seconds)
                if done == WARMUP:
                    rss["warm"] = exporter.rss_kib()

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(500)
    elapsed = time.monotonic() - started
    rss["end"] = exporter.rss_kib()
    total = CLIENTS * REQUESTS
    print(
        f"{total} scrapes by {CLIENTS} clients in {elapsed:.1f}s ({total / elapsed:.0f}/s), "
        f"slowest {slowest * 1000:.0f} ms, RSS after {WARMUP}: {rss['warm']} KiB, "
        f"at the end: {rss['end']} KiB"
    )
    assert not failures, failures[:5]
    assert done == total
    assert rss["end"] - rss["warm"] <= MAX_RSS_GROWTH_KIB
    assert rss["end"] < 40 * 1024
    # Still one connection to mysqld, reused by every scrape.
    threads_connected = node.query(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'galera_hard'"
    )
    assert int(str(threads_connected[0][0])) == 1
