"""mysqld frozen, slow, refusing, dropping mid-query or killed: every scrape still answers in
time with galera_up 0 and the grastate.dat metrics, and the exporter recovers by itself."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from galera_lab.node import Node
from galera_lab.wait import wait_for
from tests.hardening.conftest import DB_USER, write_option_file
from tests.hardening.harness import (
    DISTINCTIVE_PASSWORD,
    Exporter,
    FaultProxy,
    Response,
    assert_down_with_files,
    metric,
)

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [pytest.mark.timeout(300)]

# Response time allowed beyond the exporter's own deadline (HTTP, encoding, a busy CI box).
SLACK = 0.5


def up(exporter: Exporter, scrape_timeout: float = 5.0) -> bool:
    return metric(exporter.scrape(scrape_timeout).samples(), "galera_up") == 1


def wait_recovered(exporter: Exporter, what: str, timeout: float = 30.0) -> None:
    wait_for(f"exporter reports galera_up 1 again after {what}", lambda: up(exporter), timeout, 0.2)


@pytest.fixture
def exporter(node: Node, socket_cnf: Path, tmp_path: Path) -> Iterator[Exporter]:
    proc = Exporter(
        [
            f"--mysql.defaults-file={socket_cnf}",
            f"--galera.datadir={node.datadir}",
            "--mysql.timeout=2",
            "--log.level=debug",
        ],
        tmp_path / "exporter.log",
    )
    try:
        assert up(proc)
        yield proc
    finally:
        proc.stop()


def test_frozen_mysqld_every_scrape_answers_within_its_timeout(
    node: Node, exporter: Exporter
) -> None:
    node.freeze()
    try:
        # The header shortens the deadline (minus a 0.5 s margin); without it, --mysql.timeout.
        for header, limit in ((3.0, 3.0), (1.0, 1.0), (None, 2.0), (10.0, 2.0)):
            response = exporter.scrape(header)
            print(f"frozen: header {header} -> {response.seconds:.2f}s")
            assert_down_with_files(response, limit + SLACK)
        # Concurrent scrapes do not queue behind each other past their own deadlines.
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(lambda _: exporter.scrape(1.5), range(8)))
        for response in responses:
            assert_down_with_files(response, 1.5 + SLACK)
        assert metric(responses[0].samples(), "galera_grastate_seqno") == -1
    finally:
        node.thaw()
    wait_recovered(exporter, "SIGCONT")


def test_slow_mysqld_is_cut_at_the_deadline(node: Node, tmp_path: Path) -> None:
    proxy = FaultProxy((node.spec.address, node.spec.mysql_port))
    cnf = write_option_file(
        tmp_path / "tcp.cnf",
        user=DB_USER,
        password=DISTINCTIVE_PASSWORD,
        host=proxy.address[0],
        port=proxy.address[1],
    )
    exporter = Exporter(
        [f"--mysql.defaults-file={cnf}", f"--galera.datadir={node.datadir}", "--mysql.timeout=2"],
        tmp_path / "exporter.log",
    )
    try:
        assert up(exporter)
        proxy.delay = 4.0  # every reply of the server arrives 4 s late
        for header in (2.5, 1.0):
            response = exporter.scrape(header)
            print(f"slow server: header {header} -> {response.seconds:.2f}s")
            assert_down_with_files(response, header + SLACK)
        proxy.delay = 0.0
        proxy.drop_all()  # connections still sleeping in the proxy
        wait_recovered(exporter, "the server became fast again")
    finally:
        exporter.stop()
        proxy.close()


def test_dribbling_server_is_cut_at_the_scrape_deadline(node: Node, tmp_path: Path) -> None:
    """A server sending one byte every 0.3 s never trips a per-read timeout; the scrape's
    total deadline must still hold (it held one scrape 44 s before the watchdog)."""
    proxy = FaultProxy((node.spec.address, node.spec.mysql_port))
    cnf = write_option_file(
        tmp_path / "tcp.cnf",
        user=DB_USER,
        password=DISTINCTIVE_PASSWORD,
        host=proxy.address[0],
        port=proxy.address[1],
    )
    exporter = Exporter(
        [f"--mysql.defaults-file={cnf}", f"--galera.datadir={node.datadir}", "--mysql.timeout=2"],
        tmp_path / "exporter.log",
    )
    try:
        assert up(exporter)
        proxy.dribble = 0.3
        for header in (None, 2.5, 1.2):
            response = exporter.scrape(header)
            limit = 2.0 if header is None else min(2.0, header - 0.5)
            print(f"dribbling server: header {header} -> {response.seconds:.2f}s")
            samples = assert_down_with_files(response, limit + SLACK)
            assert metric(samples, "galera_mysql_error", kind="timeout") == 1
            errors = metric(samples, "galera_exporter_mysql_errors_total", kind="timeout")
            assert errors is not None and errors >= 1
        proxy.dribble = 0.0
        proxy.drop_all()
        wait_recovered(exporter, "the server stopped dribbling")
    finally:
        exporter.stop()
        proxy.close()


def test_refused_connections_then_restart(node: Node, exporter: Exporter) -> None:
    node.stop()
    response = exporter.scrape(2.0)
    samples = assert_down_with_files(response, 2.0)
    print(f"refused: {response.seconds:.3f}s")
    assert response.seconds < 1.0, "a refused connection should fail fast, not wait for a timeout"
    fields = node.grastate_fields()
    assert metric(samples, "galera_grastate_seqno") == float(fields["seqno"]) >= 0
    assert metric(samples, "galera_grastate_safe_to_bootstrap") == 1  # last node out
    assert metric(samples, "galera_gvwstate_present") == 0  # deleted on a clean stop
    node.start(bootstrap=True)
    node.wait_synced(60)
    wait_recovered(exporter, "mysqld restarted")


def test_connection_killed_from_another_session(node: Node, exporter: Exporter) -> None:
    def exporter_connections() -> list[int]:
        rows = node.query(f"SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{DB_USER}'")  # noqa: S608 - a constant
        return [int(str(row[0])) for row in rows]

    before = exporter_connections()
    assert len(before) == 1, f"expected one reused connection, got {before}"
    node.query(f"KILL CONNECTION {before[0]}")
    wait_for("killed connection gone", lambda: before[0] not in exporter_connections(), 10)
    ups = []
    for _ in range(3):
        response = exporter.scrape(2.0)
        assert response.seconds <= 2.0 + SLACK
        ups.append(metric(response.samples(), "galera_up"))
    print(f"galera_up in the scrapes after KILL: {ups}")
    assert ups[-1] == 1 and ups.count(0) <= 1, ups
    after = exporter_connections()
    assert len(after) == 1 and after != before


def test_connection_cut_mid_reply(node: Node, tmp_path: Path) -> None:
    proxy = FaultProxy((node.spec.address, node.spec.mysql_port))
    cnf = write_option_file(
        tmp_path / "tcp.cnf",
        user=DB_USER,
        password=DISTINCTIVE_PASSWORD,
        host=proxy.address[0],
        port=proxy.address[1],
    )
    exporter = Exporter(
        [f"--mysql.defaults-file={cnf}", f"--galera.datadir={node.datadir}", "--mysql.timeout=2"],
        tmp_path / "exporter.log",
    )
    try:
        assert up(exporter)
        proxy.cut_after = 300  # the status result set is a few KB: cut inside it (once)
        response = exporter.scrape(3.0)
        # The kept connection died mid-reply; the exporter reconnects once within the same
        # scrape and the server answers: up, on time, not a false "down" for one scrape.
        assert response.seconds <= 3.0 + SLACK, f"scrape took {response.seconds:.2f}s"
        assert metric(response.samples(), "galera_up") == 1, response.body[:2000]
        print(f"cut mid-reply, retried: {response.seconds:.3f}s")
        # Cut again while the proxy no longer reaches mysqld at all: down, with the files.
        proxy.cut_after = 300
        proxy.target = ("127.0.0.1", 1)  # nothing listens there: the retry is refused
        response = exporter.scrape(3.0)
        assert_down_with_files(response, 3.0 + SLACK)
        print(f"cut mid-reply, retry refused: {response.seconds:.3f}s")
    finally:
        exporter.stop()
        proxy.close()


def test_kill_9_during_a_scrape_storm(node: Node, exporter: Exporter) -> None:
    responses: list[Response] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def storm() -> None:
        while not stop.is_set():
            try:
                responses.append(exporter.scrape(2.0))
            except (OSError, AssertionError) as err:
                errors.append(err)

    threads = [threading.Thread(target=storm) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_for("a few scrapes before the kill", lambda: len(responses) > 20, 30, quiet=True)
        node.kill()
        killed_at = len(responses)
        wait_for("40 scrapes after kill -9", lambda: len(responses) > killed_at + 40, 60)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert not errors, errors[:3]
    assert max(r.seconds for r in responses) <= 2.0 + SLACK
    last = responses[-1]
    samples = assert_down_with_files(last, 2.0 + SLACK)
    assert metric(samples, "galera_grastate_seqno") == -1  # a crash leaves -1
    assert metric(samples, "galera_gvwstate_present") == 1  # and keeps the saved view
    started = time.monotonic()
    position = node.recover_position()
    node.start(bootstrap=True, start_position=position)
    node.wait_synced(60)
    wait_recovered(exporter, f"restart from {position} ({time.monotonic() - started:.1f}s)")


def test_fifo_state_files_never_hang_the_exporter(tmp_path: Path) -> None:
    """A FIFO as gvwstate.dat hung every scrape for ever and leaked a thread each time."""
    datadir = tmp_path / "datadir"
    datadir.mkdir()
    (datadir / "grastate.dat").write_text(
        "# GALERA saved state\nversion: 2.1\nuuid:    125a32e7-ea40-11f1-8844-577ec5e07595\n"
        "seqno:   -1\nsafe_to_bootstrap: 0\n"
    )
    os.mkfifo(datadir / "gvwstate.dat")
    cnf = write_option_file(tmp_path / "down.cnf", user=DB_USER, socket=tmp_path / "no.sock")
    exporter = Exporter(
        [f"--mysql.defaults-file={cnf}", f"--galera.datadir={datadir}", "--mysql.timeout=2"],
        tmp_path / "exporter.log",
    )
    try:
        threads = []
        for _ in range(20):
            response = exporter.scrape(2.0)
            samples = response.samples()
            assert response.seconds < 1.0
            assert metric(samples, "galera_state_file_unreadable", file="gvwstate.dat") == 1
            assert metric(samples, "galera_gvwstate_present") is None
            assert metric(samples, "galera_grastate_valid") == 1
            assert metric(samples, "galera_mysql_error", kind="refused") == 1
            status = Path(f"/proc/{exporter.pid}/status").read_text()
            threads.append(int(status.split("Threads:")[1].split()[0]))
        print(f"threads over 20 scrapes: {threads}")
        assert max(threads) - min(threads) <= 2, threads
        assert exporter.log_text().count("gvwstate.dat: not a regular file") == 1
    finally:
        exporter.stop()
