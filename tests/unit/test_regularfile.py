"""The one bounded, non-blocking regular-file reader behind state, option and web-config files."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from galera_exporter.collectors.statefile import read_now
from galera_exporter.regularfile import open_regular, read_at_most, read_regular_file


def test_reads_a_small_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    data, info = read_regular_file(str(path), 3)
    assert data == b"abc"
    assert info.st_size == 3


def test_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file") as caught:
        read_regular_file(str(fifo), 10)
    assert caught.value.errno == errno.EINVAL
    assert read_now(fifo).problem == "not a regular file"


def test_too_large_by_size_and_by_what_was_read(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 11)
    with pytest.raises(OSError, match="larger than 10 bytes") as caught:
        read_regular_file(str(path), 10)
    assert caught.value.errno == errno.EFBIG
    # Without a limit at open, the reader returns limit + 1 bytes: "too large" stays visible.
    with open_regular(path) as (fd, _):
        assert read_at_most(fd, 10) == b"x" * 11
    read = read_now(path, 10)
    assert read.present is True
    assert read.data == b"x" * 11


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_regular_file(str(tmp_path / "none"), 10)
    assert read_now(tmp_path / "none").present is False
