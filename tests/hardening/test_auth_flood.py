"""Wrong-password floods against a real exporter process: bcrypt work is bounded and the
scraper with the right password is still served."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from galera_exporter import auth
from tests.hardening.harness import Exporter, basic_auth, metric, offline_exporter

pytestmark = [pytest.mark.timeout(120)]

ALICE = ("alice", "alice-Secret-1")
CLIENTS = 20
FLOOD_SECONDS = 6.0


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[Exporter]:
    web = tmp_path / "web.yml"
    hashed = bcrypt.hashpw(ALICE[1].encode(), bcrypt.gensalt(10)).decode()
    web.write_text(f"basic_auth_users:\n  alice: '{hashed}'\n")
    proc = offline_exporter(tmp_path, f"--web.config.file={web}")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.mark.slow  # ~6 s of flood
def test_wrong_password_flood_is_bounded(exporter: Exporter) -> None:
    """20 clients with ever-new wrong passwords used to run 20 bcrypt checks at once and pin
    both cores for as long as the flood lasted."""
    alice = basic_auth(*ALICE)
    assert exporter.get("/metrics", alice).status == 200  # pays bcrypt once; cached after
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def attacker(n: int) -> None:
        for i in range(2000):  # bounded; normally ended by `stop`
            if stop.is_set():
                return
            try:
                status = exporter.get("/metrics", basic_auth("alice", f"guess-{n}-{i}"), 10).status
            except OSError:
                status = 0
            with lock:
                statuses[status] += 1

    cpu_before, started = exporter.cpu_seconds(), time.monotonic()
    threads = [threading.Thread(target=attacker, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    scrape_times = []
    try:
        while time.monotonic() - started < FLOOD_SECONDS:
            response = exporter.get("/metrics", alice, timeout=5)
            assert response.status == 200, response.status
            assert metric(response.samples(), "galera_up") == 0
            scrape_times.append(response.seconds)
            stop.wait(0.5)  # Prometheus' pace, compressed: not a wait for a condition
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
    wall = time.monotonic() - started
    cpu = exporter.cpu_seconds() - cpu_before
    print(
        f"{CLIENTS} clients, {sum(statuses.values())} wrong-password requests in {wall:.1f}s: "
        f"{dict(statuses)}; exporter CPU {cpu:.1f}s ({cpu / wall:.2f} cores); correct-password "
        f"scrapes: {len(scrape_times)}, slowest {max(scrape_times) * 1000:.0f} ms"
    )
    # One bcrypt at a time: one core at most, plus the HTTP work of answering the flood
    # (~2,000 requests, mostly 503). Before the bound: every core the machine had.
    assert auth.MAX_CONCURRENT_CHECKS == 1
    assert cpu / wall <= 1.5
    assert max(scrape_times) <= 1.0
    assert statuses[401] > 0
    assert set(statuses) <= {401, 503}, statuses
    busy = metric(
        exporter.get("/metrics", alice).samples(),
        "galera_exporter_http_rejected_total",
        reason="auth_busy",
    )
    assert busy == statuses[503]


def test_repeated_wrong_password_costs_one_check(exporter: Exporter) -> None:
    """A client retrying one wrong password (a stale secret) pays bcrypt once, as in
    exporter-toolkit, whose cache also keeps failures."""
    wrong = basic_auth("alice", "stale-password")
    first = exporter.get("/metrics", wrong)
    assert first.status == 401
    times = [exporter.get("/metrics", wrong).seconds for _ in range(10)]
    print(f"first wrong try {first.seconds * 1000:.0f} ms, then at most {max(times) * 1000:.0f} ms")
    assert max(times) < first.seconds
    assert max(times) < 0.04  # bcrypt at cost 10 takes ~80 ms
