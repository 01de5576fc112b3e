"""What the exporter says for each real captured state, value by value."""

from __future__ import annotations

import os
import socket
import threading
import time
import zlib
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from galera_exporter.collectors import statefile
from galera_exporter.collectors.grastate import GrastateCollector, node_tiebreak_key
from galera_exporter.collectors.wsrep import WsrepCollector
from galera_exporter.exporter import Exporter, ScrapeRegistry
from galera_exporter.parse import parse_number
from galera_exporter.wsrep_map import NUMERIC_BY_VARIABLE
from tests.unit.fixtures import (
    FIXED_MTIME,
    GOLDEN_KEY,
    STATES_DIR,
    CapturedReader,
    datadir_copy,
    read_tsv,
)


def scrape(state: str, tmp_path: Path) -> CollectorRegistry:
    state_dir = STATES_DIR / state
    datadir = datadir_copy(state_dir, tmp_path / "datadir")
    exporter = Exporter(
        [
            WsrepCollector(CapturedReader(state_dir)),
            GrastateCollector(str(datadir), tiebreak_key=GOLDEN_KEY),
        ]
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeRegistry(exporter, time.monotonic() + 5))
    return registry


def test_synced_three_nodes(tmp_path: Path) -> None:
    r = scrape("synced", tmp_path)
    assert r.get_sample_value("galera_up") == 1
    assert r.get_sample_value("galera_cluster_status", {"status": "Primary"}) == 1
    assert r.get_sample_value("galera_cluster_status", {"status": "non-Primary"}) == 0
    assert r.get_sample_value("galera_cluster_size") == 3
    assert r.get_sample_value("galera_ready") == 1
    assert r.get_sample_value("galera_local_state_code") == 4
    assert r.get_sample_value("galera_local_state", {"state": "Synced"}) == 1
    assert r.get_sample_value("galera_component_members") == 3
    assert r.get_sample_value("galera_grastate_seqno") == -1  # running node
    assert r.get_sample_value("galera_gvwstate_members") == 3
    assert r.get_sample_value("galera_gcache_size_bytes") == 64 * 1024**2
    assert r.get_sample_value("galera_exporter_collector_success", {"collector": "wsrep"}) == 1
    conf_id = r.get_sample_value("galera_cluster_conf_id")
    assert conf_id is not None and conf_id > 0


@pytest.mark.parametrize("state", ["non_primary", "isolated"])
def test_non_primary_survivor(state: str, tmp_path: Path) -> None:
    r = scrape(state, tmp_path)
    assert r.get_sample_value("galera_up") == 1
    assert r.get_sample_value("galera_cluster_status", {"status": "non-Primary"}) == 1
    assert r.get_sample_value("galera_cluster_status", {"status": "Primary"}) == 0
    assert r.get_sample_value("galera_cluster_conf_id") == -1  # Galera's 2**64-1
    assert r.get_sample_value("galera_ready") == 0
    assert r.get_sample_value("galera_connected") == 1
    assert r.get_sample_value("galera_local_state_code") == 0
    assert r.get_sample_value("galera_local_state", {"state": "Initialized"}) == 1
    assert r.get_sample_value("galera_cluster_weight") == 0


def test_donor(tmp_path: Path) -> None:
    r = scrape("donor", tmp_path)
    assert r.get_sample_value("galera_local_state", {"state": "Donor/Desynced"}) == 1
    assert r.get_sample_value("galera_local_state_code") == 2
    assert r.get_sample_value("galera_cluster_status", {"status": "Primary"}) == 1


def test_bootstrap_single(tmp_path: Path) -> None:
    r = scrape("bootstrap_single", tmp_path)
    assert r.get_sample_value("galera_cluster_size") == 1
    assert r.get_sample_value("galera_cluster_status", {"status": "Primary"}) == 1
    # A node alone in its Primary component writes safe_to_bootstrap 1 while running.
    assert r.get_sample_value("galera_grastate_safe_to_bootstrap") == 1


def test_down_after_clean_stop(tmp_path: Path) -> None:
    r = scrape("down_stopped_last", tmp_path)
    assert r.get_sample_value("galera_up") == 0
    assert r.get_sample_value("galera_cluster_size") is None  # no stale wsrep series
    assert r.get_sample_value("galera_cluster_status", {"status": "Primary"}) is None
    assert r.get_sample_value("galera_grastate_seqno") == 22
    assert r.get_sample_value("galera_grastate_safe_to_bootstrap") == 1
    assert r.get_sample_value("galera_gvwstate_present") == 0  # deleted on a clean stop
    assert r.get_sample_value("galera_exporter_collector_success", {"collector": "wsrep"}) == 0
    assert r.get_sample_value("galera_exporter_collector_success", {"collector": "grastate"}) == 1
    # Every get_sample_value is a scrape; each failed one counts once.
    first = r.get_sample_value("galera_exporter_mysql_errors_total", {"kind": "connect"})
    second = r.get_sample_value("galera_exporter_mysql_errors_total", {"kind": "connect"})
    assert first is not None and second == first + 1
    assert r.get_sample_value("galera_exporter_mysql_errors_total", {"kind": "timeout"}) == 0


def test_down_after_crash(tmp_path: Path) -> None:
    r = scrape("down_crashed", tmp_path)
    assert r.get_sample_value("galera_up") == 0
    assert r.get_sample_value("galera_grastate_seqno") == -1
    assert r.get_sample_value("galera_grastate_safe_to_bootstrap") == 0
    assert r.get_sample_value("galera_gvwstate_present") == 1  # survives kill -9
    assert r.get_sample_value("galera_gvwstate_members") == 3


@pytest.mark.parametrize(
    ("content", "present", "valid"),
    [
        (None, 0, 0),
        (b"", 1, 0),
        (b"# GALERA saved state\nversion: 2.1\nuuid:    125a32e7-ea40", 1, 0),
        (b"\x89PNG\r\n\x1a\n\x00\x00", 1, 0),
        (b"x" * 200_000, 1, 0),
    ],
    ids=["missing", "empty", "truncated", "binary", "huge"],
)
def test_broken_grastate_never_fails_the_scrape(
    tmp_path: Path, content: bytes | None, present: int, valid: int
) -> None:
    datadir = tmp_path / "datadir"
    datadir.mkdir()
    if content is not None:
        (datadir / "grastate.dat").write_bytes(content)
    exporter = Exporter([GrastateCollector(str(datadir))])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeRegistry(exporter, time.monotonic() + 5))
    assert registry.get_sample_value("galera_grastate_present") == present
    assert registry.get_sample_value("galera_grastate_valid") == valid
    assert registry.get_sample_value("galera_grastate_seqno") is None
    assert (
        registry.get_sample_value("galera_exporter_collector_success", {"collector": "grastate"})
        == 1
    )
    if content is not None:
        assert (datadir / "grastate.dat").read_bytes() == content  # read-only: untouched


def grastate_registry(datadir: Path, source: GrastateCollector | None = None) -> CollectorRegistry:
    exporter = Exporter([source or GrastateCollector(str(datadir), tiebreak_key=GOLDEN_KEY)])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeRegistry(exporter, time.monotonic() + 5))
    return registry


def unreadable(registry: CollectorRegistry, name: str) -> float | None:
    return registry.get_sample_value("galera_state_file_unreadable", {"file": name})


def test_unreadable_grastate_reports_collector_failure(tmp_path: Path) -> None:
    datadir = tmp_path / "datadir"
    (datadir / "grastate.dat").mkdir(parents=True)  # a directory: not a regular file
    registry = grastate_registry(datadir)
    # unreadable is its own state: the _present series is omitted, never 0 ("absent")
    assert registry.get_sample_value("galera_grastate_present") is None
    assert unreadable(registry, "grastate.dat") == 1
    assert registry.get_sample_value("galera_grastate_valid") == 0
    assert (
        registry.get_sample_value("galera_exporter_collector_success", {"collector": "grastate"})
        == 0
    )
    assert registry.get_sample_value("galera_gvwstate_present") == 0  # verifiably absent
    assert unreadable(registry, "gvwstate.dat") == 0


@pytest.mark.timeout(20)
def test_a_fifo_never_hangs_the_scrape(tmp_path: Path) -> None:
    datadir = datadir_copy(STATES_DIR / "synced", tmp_path / "datadir")
    (datadir / "gvwstate.dat").unlink()
    os.mkfifo(datadir / "gvwstate.dat")  # no writer: a blocking open() would wait forever
    (datadir / "grastate.dat").unlink()
    (datadir / "grastate.dat").symlink_to("/dev/zero")  # endless: must not be read at all
    registry = grastate_registry(datadir)
    started = time.monotonic()
    assert registry.get_sample_value("galera_grastate_valid") == 0  # one whole scrape
    took = time.monotonic() - started
    print(f"scrape with a FIFO and /dev/zero took {took * 1000:.2f} ms")
    assert took < 2
    assert unreadable(registry, "gvwstate.dat") == 1
    assert unreadable(registry, "grastate.dat") == 1
    assert registry.get_sample_value("galera_gvwstate_present") is None
    assert registry.get_sample_value("galera_grastate_present") is None
    assert registry.get_sample_value("galera_node_tiebreak_key") == GOLDEN_KEY


def test_present_files_and_their_mtimes(tmp_path: Path) -> None:
    datadir = datadir_copy(STATES_DIR / "down_crashed", tmp_path / "datadir")
    registry = grastate_registry(datadir)
    for name in ("grastate", "gvwstate"):
        assert registry.get_sample_value(f"galera_{name}_present") == 1
        assert registry.get_sample_value(f"galera_{name}_modified_timestamp_seconds") == (
            FIXED_MTIME
        )
        assert unreadable(registry, f"{name}.dat") == 0
    (datadir / "gvwstate.dat").unlink()
    registry = grastate_registry(datadir)
    assert registry.get_sample_value("galera_gvwstate_present") == 0
    assert registry.get_sample_value("galera_gvwstate_modified_timestamp_seconds") is None


def test_a_hung_read_is_cut_at_the_deadline_and_not_repeated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A regular file whose read() hangs needs a stuck file system; stand in for the read.
    release = threading.Event()
    calls: list[Path] = []

    def hanging(path: Path, *_limits: int) -> statefile.FileRead:
        calls.append(path)
        release.wait(30)
        return statefile.FileRead(present=True, data=b"", mtime=0.0)

    monkeypatch.setattr(statefile, "read_now", hanging)
    reader = statefile.BoundedFileReader()
    path = tmp_path / "grastate.dat"
    try:
        for _ in range(3):
            started = time.monotonic()
            result = reader.read(path, 0.2)
            assert time.monotonic() - started < 1
            assert result.present is None and "did not finish" in result.problem
        assert len(calls) == 1  # one hung thread per file, not one per scrape
    finally:
        release.set()
    wait_for_done = time.monotonic() + 5
    while reader.read(path, 1).present is None and time.monotonic() < wait_for_done:
        pass
    assert reader.read(path, 1).present is True


def test_tiebreak_key_is_stable_and_differs_per_datadir(tmp_path: Path) -> None:
    key = node_tiebreak_key("db1", "/var/lib/mysql")
    assert key == zlib.crc32(b"db1\0/var/lib/mysql")
    assert key == node_tiebreak_key("db1", "/var/lib/mysql")
    assert node_tiebreak_key("db1", "/var/lib/mysql2") != key
    assert node_tiebreak_key("db2", "/var/lib/mysql") != key
    # relative datadirs count as absolute ones
    monkey_cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        assert node_tiebreak_key("db1", "data") == node_tiebreak_key("db1", str(tmp_path / "data"))
    finally:
        os.chdir(monkey_cwd)
    first = grastate_registry(tmp_path, GrastateCollector(str(tmp_path)))
    second = grastate_registry(tmp_path, GrastateCollector(str(tmp_path)))
    expected = node_tiebreak_key(socket.gethostname(), str(tmp_path))
    assert first.get_sample_value("galera_node_tiebreak_key") == expected
    assert second.get_sample_value("galera_node_tiebreak_key") == expected  # another "restart"


def test_every_numeric_status_variable_of_a_real_node_is_mapped() -> None:
    """No numeric wsrep variable a real node reports is dropped without a decision."""
    handled_specially = {"wsrep_cluster_conf_id"}  # -1 for 2**64-1, see parse.parse_conf_id
    unmapped = {
        name
        for status in STATES_DIR.glob("*/status.tsv")
        for name, raw in read_tsv(status).items()
        if parse_number(raw) is not None
        and name not in NUMERIC_BY_VARIABLE
        and name not in handled_specially
    }
    assert not unmapped
