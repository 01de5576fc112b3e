"""The status_file and gra_log collectors on a real 3-node cluster: an SST, failed SSTs, a GRA log.

Nodes on 127.0.0.111-113, every node with `wsrep_status_file = wsrep_status.json` (the lab's
default) and its own exporter process. What is asserted is what MariaDB 10.11.19 / Galera
26.4.23 really do (docs/status-file.md): no progress numbers, the joiner's file gone while a
mariabackup SST has emptied its datadir, a failed SST's errors left in the file after mysqld
exited, a GRA_*.log left by an apply failure and exported while mysqld is down.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from galera_lab import faults
from galera_lab.cluster import Cluster, ClusterSpec
from galera_lab.node import Node
from galera_lab.wait import wait_for
from tests.integration.exporter_process import (
    ExporterProcess,
    Samples,
    lab_node_exporter,
    value,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
BASE_ADDRESS = "127.0.0.111"


def labelled(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(labels) for (n, labels) in samples if n == name]


def phase(samples: Samples) -> str:
    """A short text of what the exporter says about the transfer, for the printed timeline."""
    info = labelled(samples, "galera_status_file_state_info")
    transfer = labelled(samples, "galera_status_file_transfer")
    parts = [
        f"present={value(samples, 'galera_status_file_present')}",
        f"sst_in_progress={value(samples, 'galera_sst_in_progress')}",
        f"up={value(samples, 'galera_up')}",
    ]
    if info:
        parts.append(f"{info[0]['state']}/{info[0]['comment']}")
    if transfer:
        parts.append(f"transfer={transfer[0]['kind']}:{transfer[0]['role']}")
    return " ".join(parts)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("recovery-lab")
    lab = Cluster(ClusterSpec(base_dir=base, base_address=BASE_ADDRESS))
    lab.save()
    try:
        lab.create()
        lab.ensure_schema()
        yield lab
    finally:
        for node in lab.nodes:
            node.kill()


@pytest.fixture(scope="module")
def exporters(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ExporterProcess]]:
    started: dict[str, ExporterProcess] = {}
    logs = tmp_path_factory.mktemp("exporter-logs")
    try:
        for node in cluster.nodes:
            started[node.name] = lab_node_exporter(node, logs)
        yield started
    finally:
        for exporter in started.values():
            exporter.stop()


def watch(
    exporters: dict[str, ExporterProcess],
    until: Callable[[dict[str, Samples]], bool],
    timeout: float,
    what: str,
) -> list[tuple[float, str, Samples]]:
    """Scrape every exporter about 5 times a second until `until(samples_by_node)`; the
    distinct phases seen, with their time since the start, are printed and returned."""
    started = time.monotonic()
    seen: list[tuple[float, str, Samples]] = []
    last: dict[str, str] = {}
    while True:
        now = {name: e.scrape() for name, e in exporters.items()}
        for name, samples in now.items():
            text = phase(samples)
            if last.get(name) != text:
                last[name] = text
                elapsed = time.monotonic() - started
                seen.append((elapsed, name, samples))
                print(f"  {elapsed:6.2f}s {name}: {text}")
        if until(now):
            print(f"[wait] {what}: {time.monotonic() - started:.2f}s")
            return seen
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout}s; last {last}")
        time.sleep(0.2)


def synced(samples: Samples) -> bool:
    return (
        value(samples, "galera_status_file_state_info", state="SYNCED", comment="Operational") == 1
        and value(samples, "galera_up") == 1
    )


def test_1_synced_nodes(cluster: Cluster, exporters: dict[str, ExporterProcess]) -> None:
    for name, exporter in exporters.items():
        samples = exporter.scrape()
        assert synced(samples), (name, phase(samples))
        assert value(samples, "galera_status_file_present") == 1
        assert value(samples, "galera_status_file_valid") == 1
        assert value(samples, "galera_gra_log_files") == 0
        assert value(samples, "galera_status_file_progress_done") is None
        assert value(samples, "galera_exporter_collector_success", collector="status_file") == 1
        mtime = value(samples, "galera_status_file_modified_timestamp_seconds")
        node = cluster.node(name)
        assert mtime == pytest.approx(node.status_file.stat().st_mtime)


def test_2_sst_observed_through_the_status_file(
    cluster: Cluster, exporters: dict[str, ExporterProcess]
) -> None:
    joiner = cluster.node(3)
    faults.wipe(joiner)  # empty datadir: the next start is a full SST
    joiner.start()
    seen = watch(
        exporters,
        lambda now: (
            all(synced(s) for s in now.values())
            and len(labelled(now["node3"], "galera_status_file_state_info")) == 1
        ),
        240,
        "node3 rejoined by SST and every node Synced",
    )
    joiner_phases = [phase(s) for _, name, s in seen if name == "node3"]
    donor_transfer = [
        (t, name)
        for t, name, s in seen
        if value(s, "galera_status_file_transfer", kind="sst", role="donor") == 1
    ]
    # The donor's file said "Donating SST" while it served the transfer.
    assert donor_transfer, "no donor seen in Donating SST"
    # The SST emptied the joiner's datadir: its status file was gone while the marker was there.
    gone = [
        t
        for t, name, s in seen
        if name == "node3"
        and value(s, "galera_status_file_present") == 0
        and value(s, "galera_sst_in_progress") == 1
    ]
    assert gone, f"joiner never seen mid-SST: {joiner_phases}"
    # MariaDB 10.11.19 reports no progress numbers: not at any point of the transfer.
    assert all(value(s, "galera_status_file_progress_done") is None for _, _, s in seen)
    print(f"joiner phases: {joiner_phases}")
    print(
        f"donor in Donating SST first seen at {donor_transfer[0][0]:.2f}s ({donor_transfer[0][1]})"
    )


def fail_one_sst(cluster: Cluster, joiner: Node) -> float:
    """Start the wiped joiner with its SST port taken: socat cannot listen, the SST fails and
    mysqld exits (about 33 s in the lab). Returns how long it took.

    Under load the joiner's SST script can fail before mysqld has asked a donor for the state
    (seen in CI: "not JOINING when sst_received() called, state: CONNECTED"); the request then
    goes out with nobody to receive it, and mysqld aborts only when the donor gives up ("Will
    never receive state. Need to abort"). Hence the long deadline."""
    # Bound, never listening, without SO_REUSEADDR: socat's own bind (reuseaddr) fails, and a
    # donor that connects anyway (the race below) is refused at once. A listening blocker
    # accepted that connection into its backlog: the donor then streamed into a socket nobody
    # read and never gave up (CI: no abort within 480 s).
    blocker = socket.socket()
    blocker.bind((joiner.spec.address, joiner.spec.sst_port))
    started = time.monotonic()
    try:
        joiner.start()
        wait_for(f"{joiner.name} to give up its SST", lambda: not joiner.is_running(), 480, 0.5)
    finally:
        blocker.close()
    return time.monotonic() - started


def sst_failures(samples: Samples) -> float:
    """The status file's SST failure counter, which every exporter here emits from the start."""
    count = value(samples, "galera_status_file_sst_failures_total")
    assert count is not None, "galera_status_file_sst_failures_total missing"
    return count


def sst_failures_are(want: float) -> Callable[[Samples], bool]:
    return lambda samples: value(samples, "galera_status_file_sst_failures_total") == want


def test_3_failed_ssts_are_counted_on_both_sides(
    cluster: Cluster, exporters: dict[str, ExporterProcess]
) -> None:
    joiner = cluster.node(3)
    before = {n: sst_failures(e.scrape()) for n, e in exporters.items()}
    faults.wipe(joiner)

    def donor_failures() -> float:
        return sum(sst_failures(exporters[n].scrape()) - before[n] for n in ("node1", "node2"))

    for attempt in (1, 2):
        took = fail_one_sst(cluster, joiner)
        print(f"failed SST {attempt}: mysqld exited after {took:.1f}s")
        samples = wait_for(
            "joiner's exporter sees the failed SST",
            exporters["node3"].scraped_when(sst_failures_are(before["node3"] + attempt)),
            30,
        )
        # mysqld is gone; its file still says what it was doing, with the errors by kind.
        assert value(samples, "galera_up") == 0
        assert value(samples, "galera_status_file_transfer", kind="sst", role="joiner") == 1
        errors = value(samples, "galera_status_file_messages", level="error", kind="sst")
        assert errors is not None and errors >= 1
        text = exporters["node3"].scrape_text()
        assert "wsrep_sst_mariabackup" not in text and "Broken pipe" not in text  # never text

        # The donor gives up a few seconds after the joiner exited (mariabackup's own timeout),
        # and writes its own SST errors then: one more failure on exactly one donor.
        def donor_counted(want: int = attempt) -> bool:
            return donor_failures() == want

        wait_for(f"a donor's exporter counts failure {attempt}", donor_counted, 120, 0.5)
    counted = {n: sst_failures(exporters[n].scrape()) - before[n] for n in ("node1", "node2")}
    print(f"donor-side SST failures counted: {counted}")
    # Back to a healthy cluster for the next test.
    cluster.join(joiner)
    cluster.wait_healthy(120)


def test_4_gra_log_from_a_real_apply_failure(
    cluster: Cluster, exporters: dict[str, ExporterProcess], tmp_path: Path
) -> None:
    writer, victim = cluster.node(1), cluster.node(3)
    writer.query("CREATE TABLE IF NOT EXISTS labdb.gra (id INT PRIMARY KEY, v INT)")
    writer.query("REPLACE INTO labdb.gra VALUES (1, 0)")
    wait_for("row on node3", lambda: victim.query("SELECT 1 FROM labdb.gra WHERE id = 1"), 30)
    conn = victim.connect()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET SESSION wsrep_on = 0")  # a local-only change: data now differs
            cursor.execute("DELETE FROM labdb.gra WHERE id = 1")
    finally:
        conn.close()
    writer.query("UPDATE labdb.gra SET v = 1 WHERE id = 1")  # node3 cannot apply it
    gra = wait_for("GRA_*.log on node3", lambda: sorted(victim.datadir.glob("GRA_*.log")), 60)
    samples = wait_for(
        "node3's exporter counts the GRA log",
        exporters["node3"].scraped_when(lambda s: value(s, "galera_gra_log_files")),
        30,
    )
    assert value(samples, "galera_gra_log_files") == len(gra)
    assert value(samples, "galera_gra_log_newest_timestamp_seconds") == pytest.approx(
        max(p.stat().st_mtime for p in gra)
    )
    samples = wait_for(
        "node3's status file shows the inconsistency",
        exporters["node3"].scraped_when(
            lambda s: value(s, "galera_status_file_messages", level="error", kind="inconsistency")
        ),
        60,
    )
    print(f"GRA logs: {[p.name for p in gra]}; node3 now: {phase(samples)}")
    # The runbook's command reads the failed event.
    decoded = subprocess.run(
        ["mysqlbinlog", "-vvv", "--base64-output=decode-rows", str(gra[-1])],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert decoded.returncode == 0, decoded.stderr
    assert "UPDATE `labdb`.`gra`" in decoded.stdout
    # Readable while mysqld is down.
    victim.kill()
    samples = exporters["node3"].scrape()
    assert value(samples, "galera_up") == 0
    assert value(samples, "galera_gra_log_files") == len(gra)
    assert value(samples, "galera_status_file_valid") == 1
    for name in ("node1", "node2"):
        assert value(exporters[name].scrape(), "galera_gra_log_files") == 0
