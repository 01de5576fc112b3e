"""What the exporter says for each real captured state, value by value."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from galera_exporter.collectors.grastate import GrastateSource
from galera_exporter.collectors.wsrep import WsrepSource
from galera_exporter.exporter import Exporter, ScrapeRegistry
from galera_exporter.parse import parse_number
from galera_exporter.wsrep_map import NUMERIC_BY_VARIABLE
from tests.unit.fixtures import STATES_DIR, CapturedReader, datadir_copy, read_tsv


def scrape(state: str, tmp_path: Path) -> CollectorRegistry:
    state_dir = STATES_DIR / state
    datadir = datadir_copy(state_dir, tmp_path / "datadir")
    exporter = Exporter([WsrepSource(CapturedReader(state_dir)), GrastateSource(str(datadir))])  # type: ignore[arg-type]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeRegistry(exporter, time.monotonic() + 5))  # type: ignore[arg-type]
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
    exporter = Exporter([GrastateSource(str(datadir))])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeRegistry(exporter, time.monotonic() + 5))  # type: ignore[arg-type]
    assert registry.get_sample_value("galera_grastate_present") == present
    assert registry.get_sample_value("galera_grastate_valid") == valid
    assert registry.get_sample_value("galera_grastate_seqno") is None
    assert (
        registry.get_sample_value("galera_exporter_collector_success", {"collector": "grastate"})
        == 1
    )
    if content is not None:
        assert (datadir / "grastate.dat").read_bytes() == content  # read-only: untouched


def test_unreadable_grastate_reports_collector_failure(tmp_path: Path) -> None:
    datadir = tmp_path / "datadir"
    (datadir / "grastate.dat").mkdir(parents=True)  # a directory: open() fails even as root
    exporter = Exporter([GrastateSource(str(datadir))])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeRegistry(exporter, time.monotonic() + 5))  # type: ignore[arg-type]
    assert registry.get_sample_value("galera_grastate_present") == 0
    assert (
        registry.get_sample_value("galera_exporter_collector_success", {"collector": "grastate"})
        == 0
    )
    assert registry.get_sample_value("galera_gvwstate_present") == 0


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
