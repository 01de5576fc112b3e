"""A stalled SST seen through the joiner's exporter on a real 3-node cluster (issue 16).

Nodes on 127.0.0.131-133. MariaDB 10.11.19 writes no progress into wsrep_status_file, so the
joiner's datadir is the signal: galera_sst_datadir_bytes / _last_write_timestamp_seconds,
exported while sst_in_progress exists. ~330 MB of rows make the mariabackup stream last a few
seconds; the test SIGSTOPs the donor's SST processes (the descendants of the donor's mariadbd,
found through /proc, never by name) mid-stream, checks both numbers stop while the cluster keeps
taking writes (the joiner's galera.cache moves then, and must not count), then SIGCONTs them
and the joiner becomes Synced. A real Prometheus scraping the joiner's exporter evaluates the
shipped GaleraStateTransferStalled expression with its windows shortened (20 s silence, for 5 s):
nothing while the stream flows, firing while the donor is stopped, resolved after.

Held much longer by hand (docs/status-file.md): 11 minutes stopped, the joiner neither timed
out nor logged anything (the script's receive of the data stream has no timeout), and it was
Synced 7.8 s after SIGCONT.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from galera_lab.cluster import Cluster, ClusterSpec
from galera_lab.faults import wipe
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
BASE_ADDRESS = "127.0.0.131"
PROMETHEUS_ADDRESS = "127.0.0.134"  # the next address of this module's block
LOAD_BYTES = 320 * 1024 * 1024
STREAMING_BYTES = 40 * 1024 * 1024  # received over the emptied datadir: the stream flows
STOPPED_SECONDS = 40.0
# The shipped alert with its 10-minute silence shortened to this many seconds and `for: 5m` to
# 5 s, evaluated by a real Prometheus scraping the joiner's exporter every second.
SHORT_SILENCE = 20  # above the ~12 s a healthy SST is silent before streaming (donor sleeps 10 s)
WALKED = (
    "galera_sst_datadir_bytes",
    "galera_sst_datadir_files",
    "galera_sst_datadir_last_write_timestamp_seconds",
    "galera_sst_datadir_scan_incomplete",
)


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc's parent links (never by name)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name may contain spaces and ')'
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:60].decode()
    except OSError:
        return "?"


def shorten_silence(expr: str) -> str:
    """The SST arm's 10 minutes of silence, shortened."""
    assert expr.count("> 600") == 1, expr
    return expr.replace("> 600", f"> {SHORT_SILENCE}")


def signal_all(pids: set[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # it has exited meanwhile
            os.kill(pid, sig)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("sst-stall-lab")
    lab = Cluster(ClusterSpec(base_dir=base, base_address=BASE_ADDRESS))
    lab.save()
    try:
        lab.create()
        lab.ensure_schema()
        yield lab
    finally:
        for node in lab.nodes:
            node.thaw()
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


@pytest.fixture(scope="module")
def prometheus(
    exporters: dict[str, ExporterProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StallPrometheus]:
    directory = tmp_path_factory.mktemp("prometheus")
    rule_file = stall_rule_file(directory, shorten_silence)
    server = StallPrometheus(
        directory, PROMETHEUS_ADDRESS, exporters["node3"].url.removeprefix("http://"), rule_file
    )
    try:
        yield server
    finally:
        server.stop()


def load(cluster: Cluster, joiner: Node) -> None:
    """Rows of incompressible-ish text on the two other nodes while the joiner is wiped."""
    writer = cluster.node(1)
    writer.query(
        "CREATE TABLE IF NOT EXISTS labdb.bulk (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB)"
    )
    started = time.monotonic()
    have = 0
    while have < LOAD_BYTES:
        rows = ",".join(["(REPEAT(SHA2(RAND(), 512), 8192))"] * 16)  # 16 x 1 MiB
        writer.query(f"INSERT INTO labdb.bulk (b) VALUES {rows}", 120)  # noqa: S608 - constant
        have = int(str(writer.query("SELECT COALESCE(SUM(LENGTH(b)), 0) FROM labdb.bulk")[0][0]))
    print(
        f"[load] {have / 1e6:.0f} MB in {time.monotonic() - started:.1f}s (without {joiner.name})"
    )


def walked(samples: Samples) -> tuple[float | None, float | None]:
    return (
        value(samples, "galera_sst_datadir_bytes"),
        value(samples, "galera_sst_datadir_last_write_timestamp_seconds"),
    )


def test_1_no_sst_no_walk(cluster: Cluster, exporters: dict[str, ExporterProcess]) -> None:
    for name, exporter in exporters.items():
        samples = exporter.scrape()
        assert value(samples, "galera_sst_in_progress") == 0, name
        assert not any(n in WALKED for n, _ in samples), name


def test_2_stopped_donor_stops_the_joiners_datadir(
    cluster: Cluster, exporters: dict[str, ExporterProcess], prometheus: StallPrometheus
) -> None:
    joiner = cluster.node(3)
    wipe(joiner)
    load(cluster, joiner)
    watch = exporters["node3"]
    started = time.monotonic()
    joiner.start()
    history: list[tuple[float, float, float]] = []

    def streaming() -> bool:
        samples = watch.scrape()
        size, last = walked(samples)
        if (
            size is not None
            and last is not None
            and (not history or history[-1][1:] != (size, last))
        ):
            history.append((time.monotonic() - started, size, last))
            print(f"  {history[-1][0]:6.2f}s bytes={size:.0f} last_write={last:.2f}")
        # The joiner first empties its old datadir (67 MB after mariadb-install-db), then the
        # stream fills .sst/: streaming once it holds STREAMING_BYTES over the low point.
        low = min((h[1] for h in history), default=0.0)
        return size is not None and size >= low + STREAMING_BYTES

    wait_for("the joiner's datadir filling from the stream", streaming, 240, 0.2)
    # While data flows, both numbers advance between scrapes.
    wait_for("two more advancing scrapes", lambda: streaming() and len(history) >= 3, 30, 0.2)
    sizes = [size for _, size, _ in history]
    lasts = [last for _, _, last in history]
    assert sizes[-1] > sizes[-2] and lasts[-1] > lasts[0], history
    assert prometheus.stall_alert()[0] == "", "a transfer that streams is not stalled"

    donor = next(
        n
        for n in (cluster.node(1), cluster.node(2))
        if n.wsrep_status().get("wsrep_local_state_comment") == "Donor/Desynced"
    )
    other = cluster.node(2) if donor is cluster.node(1) else cluster.node(1)
    donor_pid = donor.pid
    assert donor_pid is not None
    stopped: set[int] = set()
    try:
        # SIGSTOP every descendant; repeat until no new one appears (one may fork meanwhile).
        for _ in range(10):
            new = set(descendants(donor_pid)) - stopped
            if not new:
                break
            signal_all(new, signal.SIGSTOP)
            stopped |= new
        stop_at = time.monotonic()
        print(f"[stop] {donor.name}'s SST: {sorted((p, cmdline(p)) for p in stopped)}")
        assert stopped, "the donor has no SST processes"

        # Data already in socket and pipe buffers still lands: wait until it settles.
        def settled() -> tuple[float, float] | None:
            first = walked(watch.scrape())
            time.sleep(1.5)
            size, last = walked(watch.scrape())
            if size is None or last is None or first != (size, last):
                return None
            return size, last

        frozen = wait_for("the joiner's datadir to stop changing", settled, 30, 0.1)
        print(f"[stop] settled {time.monotonic() - stop_at:.1f}s after SIGSTOP at {frozen}")
        cache = joiner.datadir / "galera.cache"
        cache_before = cache.stat().st_mtime
        deadline = time.monotonic() + STOPPED_SECONDS
        writes = 0
        alert_states: list[tuple[float, str]] = []
        while time.monotonic() < deadline:
            # The cluster goes on: the joiner buffers these write-sets (galera.cache).
            other.query(
                "INSERT INTO labdb.markers (note, node) VALUES (%s, %s)",
                5.0,
                (f"while-stalled-{writes}", other.name),
            )
            writes += 1
            samples = watch.scrape()
            assert walked(samples) == frozen, (walked(samples), frozen)
            assert value(samples, "galera_sst_in_progress") == 1
            assert value(samples, "galera_sst_datadir_scan_incomplete") == 0
            assert joiner.is_running()
            state = prometheus.stall_alert()[0]
            if not alert_states or alert_states[-1][1] != state:
                alert_states.append((round(time.time() - frozen[1], 1), state))
            time.sleep(1.0)
        age = time.time() - frozen[1]
        print(
            f"[stop] {STOPPED_SECONDS:.0f}s stopped, {writes} writes elsewhere: bytes and last "
            f"write unchanged (last write {age:.0f}s ago); galera.cache mtime moved "
            f"{cache.stat().st_mtime - cache_before:+.1f}s meanwhile"
        )
        assert age >= STOPPED_SECONDS
        # The shipped expression, windows shortened: pending once the last write is more than
        # SHORT_SILENCE s old, firing 5 s later (seconds since the last write, state).
        print(f"[stop] GaleraStateTransferStalled (short windows): {alert_states}")
        assert alert_states[-1][1] == "firing", alert_states
    finally:
        signal_all(stopped, signal.SIGCONT)
    resumed = time.monotonic()
    cluster.wait_node_synced(joiner, 300)
    print(
        f"[resume] {joiner.name} Synced {time.monotonic() - resumed:.1f}s after SIGCONT; "
        f"SST start to Synced {time.monotonic() - started:.1f}s"
    )
    samples = wait_for(
        "the joiner's exporter sees the SST over",
        watch.scraped_when(lambda s: value(s, "galera_sst_in_progress") == 0),
        30,
    )
    assert not any(n in WALKED for n, _ in samples)
    assert value(samples, "galera_sst_starts_total") == 1
    wait_for("the stall alert resolved", lambda: prometheus.stall_alert()[0] == "", 30, 0.5)
    for name in ("node1", "node2"):
        assert not any(n in WALKED for n, _ in exporters[name].scrape()), name
    cluster.wait_healthy(60)
    assert not cluster.missing_marker(f"while-stalled-{writes - 1}")
