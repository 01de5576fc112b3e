"""The joiner's datadir walk during an SST (collectors/sst_activity.py, via the grastate
collector): exported only while sst_in_progress exists, bounded, symlinks never followed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from galera_exporter.collectors import sst_activity
from galera_exporter.collectors.grastate import GrastateCollector
from galera_exporter.collectors.sst_activity import SstActivity, walk_now
from tests.unit.test_status_file import samples, scrape_text

T0 = 1_795_000_000.0
WALKED = (
    "galera_sst_datadir_bytes",
    "galera_sst_datadir_files",
    "galera_sst_datadir_last_write_timestamp_seconds",
    "galera_sst_datadir_scan_incomplete",
)


def write(path: Path, size: int, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (mtime, mtime))


def joiner_datadir(tmp_path: Path) -> Path:
    """What the lab's joiner held mid-SST: .sst/ being filled, plus files mysqld keeps."""
    datadir = tmp_path / "data"
    write(datadir / ".sst" / "ibdata1", 1000, T0 + 1)
    write(datadir / ".sst" / "labdb" / "bulk.ibd", 5000, T0 + 5)
    write(datadir / ".sst" / "xtrabackup_checkpoints", 10, T0 + 2)
    # Not part of the transfer; galera.cache moved in the lab while the donor was stopped
    # (the joiner buffers the cluster's write-sets in it).
    for name in ("galera.cache", "gcache.page.000000", "grastate.dat", "gvwstate.dat", "x.err"):
        write(datadir / name, 77, T0 + 100)
    write(datadir / "sst_in_progress", 0, T0 - 100)  # touched when the transfer began
    return datadir


def scrape(datadir: Path) -> dict[str, float]:
    return samples(scrape_text([GrastateCollector(str(datadir), tiebreak_key=1)]))


def test_exported_only_while_the_marker_exists(tmp_path: Path) -> None:
    datadir = joiner_datadir(tmp_path)
    got = scrape(datadir)
    assert got["galera_sst_in_progress"] == 1
    assert got["galera_sst_datadir_bytes"] == 6010
    assert got["galera_sst_datadir_files"] == 3
    assert got["galera_sst_datadir_last_write_timestamp_seconds"] == T0 + 5
    assert got["galera_sst_datadir_scan_incomplete"] == 0
    # Files older than the transfer (a datadir not yet emptied): its start is the last write.
    os.utime(datadir / "sst_in_progress", (T0 + 50, T0 + 50))
    assert scrape(datadir)["galera_sst_datadir_last_write_timestamp_seconds"] == T0 + 50
    (datadir / ".sst").rename(tmp_path / "moved")
    assert scrape(datadir)["galera_sst_datadir_last_write_timestamp_seconds"] == T0 + 50
    (datadir / "sst_in_progress").unlink()
    got = scrape(datadir)
    assert got["galera_sst_in_progress"] == 0
    assert not any(name in got for name in WALKED)  # no SST: no series, no walk


def test_growth_and_rewrites_move_the_numbers(tmp_path: Path) -> None:
    datadir = joiner_datadir(tmp_path)
    collector = GrastateCollector(str(datadir), tiebreak_key=1)
    first = samples(scrape_text([collector]))
    write(datadir / ".sst" / "labdb" / "bulk.ibd", 9000, T0 + 9)  # the stream grows a file
    grown = samples(scrape_text([collector]))
    assert grown["galera_sst_datadir_bytes"] == first["galera_sst_datadir_bytes"] + 4000
    assert grown["galera_sst_datadir_last_write_timestamp_seconds"] == T0 + 9
    os.utime(datadir / ".sst" / "ibdata1", (T0 + 20, T0 + 20))  # --prepare: same size, rewritten
    prepared = samples(scrape_text([collector]))
    assert prepared["galera_sst_datadir_bytes"] == grown["galera_sst_datadir_bytes"]
    assert prepared["galera_sst_datadir_last_write_timestamp_seconds"] == T0 + 20
    write(datadir / "galera.cache", 77, T0 + 500)  # the joiner's gcache: not the transfer
    later = samples(scrape_text([collector]))
    assert {k: later[k] for k in WALKED} == {k: prepared[k] for k in WALKED}


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    datadir = joiner_datadir(tmp_path)
    outside = tmp_path / "outside"
    write(outside / "big", 10**6, T0 + 1000)
    (datadir / ".sst" / "loop").symlink_to(datadir)  # a directory loop
    (datadir / ".sst" / "self").symlink_to(".")
    (datadir / "elsewhere").symlink_to(outside)
    (datadir / "file-link").symlink_to(outside / "big")
    (datadir / "dangling").symlink_to(tmp_path / "nothing")
    result = walk_now(datadir)
    assert (result.files, result.size, result.newest) == (3, 6010, T0 + 5)
    assert not result.incomplete


def test_an_unlistable_subdirectory_makes_it_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """We run as root, which ignores modes: the refusal is stood in for."""
    datadir = joiner_datadir(tmp_path)
    real_scandir = os.scandir
    denied = str(datadir / ".sst" / "labdb")

    def scandir(path: str) -> os._ScandirIterator[str]:
        if str(path) == denied:
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    got = scrape(datadir)
    assert got["galera_sst_datadir_scan_incomplete"] == 1
    assert got["galera_sst_datadir_bytes"] == 1010  # what could be listed
    # The datadir itself unlistable: unknown, so no numbers at all.
    denied = str(datadir)
    got = scrape(datadir)
    assert got["galera_sst_datadir_scan_incomplete"] == 1
    assert "galera_sst_datadir_bytes" not in got
    assert got["galera_sst_in_progress"] == 1  # the marker is read by path, not listed


def test_a_vanishing_subdirectory_is_not_a_fault(tmp_path: Path) -> None:
    """mariabackup moves .sst/ away at the end: a directory gone between listing and walking."""
    datadir = joiner_datadir(tmp_path)
    real_scandir = os.scandir

    def scandir(path: str) -> os._ScandirIterator[str]:
        if str(path).endswith("labdb"):
            raise FileNotFoundError(2, "No such file or directory")
        return real_scandir(path)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "scandir", scandir)
        result = walk_now(datadir)
    assert (result.files, result.incomplete) == (2, False)


def test_the_entry_bound_stops_a_huge_directory(tmp_path: Path) -> None:
    datadir = tmp_path / "data"
    many = datadir / ".sst" / "many"
    many.mkdir(parents=True)
    for i in range(3000):
        (many / f"t{i}.ibd").touch()
    started = time.monotonic()
    result = walk_now(datadir, max_entries=1000)
    assert result.incomplete and result.files < 1000
    full = walk_now(datadir)
    assert (full.files, full.incomplete) == (3000, False)
    print(f"walk of 3,000 files: {time.monotonic() - started:.3f}s")


def test_the_time_budget_stops_a_slow_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    datadir = tmp_path / "data"
    for i in range(2000):
        write(datadir / f"d{i % 20}" / f"f{i}", 1, T0)
    clock = iter(float(i) for i in range(10**6))  # one "second" per clock reading
    monkeypatch.setattr(f"{sst_activity.__name__}.time.monotonic", lambda: next(clock))
    result = walk_now(datadir, budget=3.0)
    assert result.incomplete and 0 < result.files < 2000


def test_a_hanging_walk_never_holds_the_scrape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datadir = joiner_datadir(tmp_path)
    release = __import__("threading").Event()
    started_walks = []

    def stuck(root: Path, budget: float, max_entries: int = 0) -> sst_activity.SstWalk:
        started_walks.append(root)
        release.wait(10)
        return sst_activity.SstWalk(files=1)

    monkeypatch.setattr(sst_activity, "walk_now", stuck)
    activity = SstActivity(datadir)
    began = time.monotonic()
    first = activity.read(0.2)
    second = activity.read(0.2)
    assert time.monotonic() - began < 2
    assert first.problem and second.problem and len(started_walks) == 1  # one walk at a time
    release.set()
    time.sleep(0.1)
    assert activity.read(0.5).files == 1


def test_every_walked_name_is_emitted_mid_sst(tmp_path: Path) -> None:
    """(The README documents them: tests/unit/test_readme.py runs the walk too.)"""
    assert set(WALKED) <= set(scrape(joiner_datadir(tmp_path)))
