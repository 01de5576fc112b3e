"""Helpers that turn a captured state directory into the exporter's inputs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from galera_exporter.collectors.grastate import node_tiebreak_key
from galera_exporter.db import DatabaseError, ServerState

STATES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "states"
FIXED_MTIME = 1_795_000_000.0  # state files get a fixed mtime so expositions are stable
# galera_node_tiebreak_key as on a host "golden" with the default datadir
GOLDEN_KEY = node_tiebreak_key("golden", "/var/lib/mysql")


def read_tsv(path: Path) -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("\t")
        rows[key] = value
    return rows


class CapturedReader:
    """Stands in for StatusReader at the DB boundary, answering with a real node's capture.

    A state directory without status.tsv is a node whose mysqld is down.
    """

    def __init__(self, state_dir: Path) -> None:
        self._dir = state_dir
        self.queries = 0

    def read(self, timeout: float) -> ServerState:
        del timeout
        status = self._dir / "status.tsv"
        if not status.exists():
            raise DatabaseError(
                "connect", "(2002) Can't connect to local server through socket", "refused"
            )
        self.queries += 2
        return ServerState(read_tsv(status), read_tsv(self._dir / "variables.tsv"))

    def close(self) -> None:
        pass


def datadir_copy(state_dir: Path, target: Path) -> Path:
    """Copy the state files into a fresh datadir with a fixed mtime."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("grastate.dat", "gvwstate.dat"):
        src = state_dir / name
        if src.exists():
            shutil.copy(src, target / name)
            os.utime(target / name, (FIXED_MTIME, FIXED_MTIME))
    return target


def state_dirs() -> list[Path]:
    return sorted(p for p in STATES_DIR.iterdir() if p.is_dir())
