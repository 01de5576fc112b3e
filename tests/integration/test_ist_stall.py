"""A stalled IST seen through the joiner's exporter on a real 3-node cluster (issue 16).

Nodes on 127.0.0.141-143, Prometheus on .144. Facts this test stands on (MariaDB 10.11.19,
Galera 26.4.23, measured in the lab, see docs/status-file.md):
- during an IST the joiner's mysqld answers (galera_up 1, Joining = local state 1) and applies
  the write-sets itself: wsrep_last_committed moves with each one (~650/s here);
- Galera logs "Receiving IST... N% (done/total events)" only at 0.0 % and 100.0 %;
- a SIGSTOPped donor is evicted after ~5 s and the joiner aborts and terminates (6.4 s): no
  stall, a node down. What stalls an IST is the joiner's applier waiting; here a session with
  wsrep_on=OFF holds LOCK TABLES on the table the IST writes (a plain session gets ERROR 1047).

A real Prometheus scraping the joiner's exporter evaluates the shipped GaleraStateTransferStalled
expression with its windows shortened (10 m -> SHORT s, for: 5 s): nothing while the IST
applies, firing while the applier is blocked, resolved after; and silent for a joiner killed
mid-IST, whose status file and "<100 %" progress line stay behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pymysql
import pytest

from galera_lab.cluster import Cluster, ClusterSpec
from galera_lab.node import Node
from galera_lab.wait import wait_for
from tests.integration.exporter_process import (
    ExporterProcess,
    Samples,
    lab_node_exporter,
    value,
)
from tests.integration.stall_prometheus import StallPrometheus, stall_rule_file

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
BASE_ADDRESS = "127.0.0.141"
PROMETHEUS_ADDRESS = "127.0.0.144"
ROWS = 8000  # one write-set each: an IST of ~12 s at the joiner's apply rate here
SHORT = 20  # the shipped 10-minute windows, shortened to this many seconds


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    lab = Cluster(
        ClusterSpec(base_dir=tmp_path_factory.mktemp("ist-stall-lab"), base_address=BASE_ADDRESS)
    )
    lab.save()
    try:
        lab.create()
        lab.ensure_schema()
        writer = lab.node(1)
        writer.query("CREATE TABLE labdb.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
        writer.query(
            "CREATE PROCEDURE labdb.fill(n INT) BEGIN DECLARE i INT DEFAULT 0;"
            " WHILE i < n DO INSERT INTO labdb.t (v) VALUES (i); SET i = i + 1; END WHILE; END"
        )
        for node in lab.nodes[:2]:  # the writers only: the joiner applies at disk speed
            node.query("SET GLOBAL innodb_flush_log_at_trx_commit = 0")
        yield lab
    finally:
        for node in lab.nodes:
            node.thaw()
            node.kill()


@pytest.fixture(scope="module")
def joiner_exporter(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ExporterProcess]:
    logs = tmp_path_factory.mktemp("exporter-logs")
    exporter = lab_node_exporter(cluster.node(3), logs)
    try:
        yield exporter
    finally:
        exporter.stop()


RECORDED_INPUTS = (
    "instance:galera_local_state_code:not_synced",
    "instance:galera_last_committed:joining",
    "instance:galera_up:down",
)


def shorten_windows(expr: str) -> str:
    """The IST arm's 10-minute windows (and the SST arm's), shortened to SHORT seconds."""
    assert "instance:galera_last_committed:joining offset 10m == 0" in expr, expr
    return (
        expr.replace("[10m]", f"[{SHORT}s]")
        .replace("offset 10m", f"offset {SHORT}s")
        .replace("> 600", f"> {SHORT}")
    )


@pytest.fixture(scope="module")
def prometheus(
    joiner_exporter: ExporterProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StallPrometheus]:
    directory = tmp_path_factory.mktemp("prometheus")
    rule_file = stall_rule_file(directory, shorten_windows, RECORDED_INPUTS)
    server = StallPrometheus(
        directory, PROMETHEUS_ADDRESS, joiner_exporter.url.removeprefix("http://"), rule_file
    )
    try:
        yield server
    finally:
        server.stop()


def ist_view(samples: Samples) -> dict[str, float | None]:
    return {
        "up": value(samples, "galera_up"),
        "state": value(samples, "galera_local_state_code"),
        "last_committed": value(samples, "galera_last_committed"),
        "status_file_ist": value(samples, "galera_status_file_transfer", kind="ist", role="joiner"),
        "received": value(samples, "galera_ist_received_events"),
        "expected": value(samples, "galera_ist_expected_events"),
    }


def start_ist(cluster: Cluster, exporter: ExporterProcess) -> dict[str, float | None]:
    """Stop node3 gracefully, write ROWS write-sets elsewhere, start it: an IST is applying."""
    joiner, writer = cluster.node(3), cluster.node(1)
    joiner.stop()
    started = time.monotonic()
    writer.query(f"CALL labdb.fill({ROWS})", 300)
    print(f"[ist] {ROWS} write-sets on {writer.name} in {time.monotonic() - started:.1f}s")
    joiner.start()
    view = wait_for(
        "the joiner's exporter sees an IST (mysqld up, Joining, 0 of ROWS+ events)",
        lambda: (
            v
            if (v := ist_view(exporter.scrape()))["state"] == 1
            and v["up"] == 1
            and v["received"] == 0
            and (v["expected"] or 0) >= ROWS
            else None
        ),
        120,
        0.2,
    )
    print(f"[ist] in progress: {view}")
    return view


def block_applier(joiner: Node) -> pymysql.connections.Connection:
    """A session that holds LOCK TABLES on the IST's table: the applier waits for it."""
    conn = joiner.connect()
    with conn.cursor() as cursor:
        cursor.execute("SET SESSION wsrep_on = OFF")  # else ERROR 1047 on a joining node
        cursor.execute("LOCK TABLES labdb.t WRITE")
    return conn


def last_committed(exporter: ExporterProcess) -> float | None:
    return value(exporter.scrape(), "galera_last_committed")


def test_1_blocked_ist_fires_and_resolves(
    cluster: Cluster, joiner_exporter: ExporterProcess, prometheus: StallPrometheus
) -> None:
    joiner = cluster.node(3)
    first = start_ist(cluster, joiner_exporter)
    assert first["status_file_ist"] == 1
    # Applying: last_committed moves between scrapes while the progress line stays at 0 %.
    moved = wait_for(
        "last_committed moving during the IST",
        lambda: (
            lc
            if (lc := last_committed(joiner_exporter)) and lc > (first["last_committed"] or 0)
            else None
        ),
        30,
        0.2,
    )
    assert prometheus.stall_alert()[0] == "", "an IST that applies is not stalled"
    conn = block_applier(joiner)
    try:
        blocked_at = time.monotonic()

        def settled() -> float | None:
            before = last_committed(joiner_exporter)
            time.sleep(1.5)
            after = last_committed(joiner_exporter)
            return after if after is not None and after == before else None

        stuck = wait_for("last_committed to stop moving", settled, 30, 0.1)
        print(f"[stall] applier blocked: last_committed {moved:.0f} -> stuck at {stuck:.0f}")
        states: list[tuple[float, str]] = []

        def firing() -> bool:
            state, labels = prometheus.stall_alert()
            if not states or states[-1][1] != state:
                states.append((round(time.monotonic() - blocked_at, 1), state))
            view = ist_view(joiner_exporter.scrape())
            assert view["last_committed"] == stuck and view["up"] == 1 and view["state"] == 1
            if state == "firing":
                assert labels["kind"] == "ist" and labels["role"] == "joiner", labels
            return state == "firing"

        wait_for("GaleraStateTransferStalled firing (short windows)", firing, SHORT + 40, 0.5)
        print(f"[stall] alert states (seconds after the lock, state): {states}")
    finally:
        conn.close()  # the lock goes with the session
    released = time.monotonic()
    cluster.wait_node_synced(joiner, 120)
    print(f"[resume] Synced {time.monotonic() - released:.1f}s after the lock was released")
    done = wait_for(
        "the 100 % progress line",
        joiner_exporter.scraped_when(
            lambda s: (
                value(s, "galera_ist_received_events") == value(s, "galera_ist_expected_events")
            )
        ),
        30,
    )
    assert value(done, "galera_local_state_code") == 4
    wait_for("the stall alert resolved", lambda: prometheus.stall_alert()[0] == "", 60, 0.5)


def test_2_joiner_killed_mid_ist_is_not_a_stall(
    cluster: Cluster, joiner_exporter: ExporterProcess, prometheus: StallPrometheus
) -> None:
    joiner = cluster.node(3)
    start_ist(cluster, joiner_exporter)
    conn = block_applier(joiner)  # keeps the IST from finishing before the kill
    try:
        joiner.kill()
    finally:
        conn.close()
    killed_at = time.monotonic()
    # What a killed joiner leaves behind: the status file's Receiving IST and the last "<100 %"
    # line (no start or termination line after it yet); mysqld gone.
    view = ist_view(joiner_exporter.scrape())
    print(f"[killed] {view}")
    assert view["up"] == 0
    assert view["status_file_ist"] == 1
    assert view["received"] == 0 and (view["expected"] or 0) >= ROWS
    # Longer than the shortened silence plus `for:` and Prometheus' staleness handling of the
    # vanished last_committed: the IST arm needs mysqld up and Joining.
    deadline = killed_at + SHORT + 20
    while time.monotonic() < deadline:
        state, labels = prometheus.stall_alert()
        assert state == "", (round(time.monotonic() - killed_at, 1), state, labels)
        time.sleep(1.0)
    print(f"[killed] no stall alert for {time.monotonic() - killed_at:.0f}s after kill -9")
