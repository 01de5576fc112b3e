"""`galera-lab up`, `status` and `down` as separate processes: down finds every pid from the
state files and stops them all (a 1-node lab on 127.0.0.35 by default, a few seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from galera_lab.node import process_alive

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]

# GALERA_TEST_LAB_CLI_ADDRESS lets a parallel checkout on this machine use another address.
ADDRESS = os.environ.get("GALERA_TEST_LAB_CLI_ADDRESS", "127.0.0.35")


def galera_lab(base: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "galera_lab.cli", "--dir", str(base), *args],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


def test_up_status_down_in_separate_processes(tmp_path: Path) -> None:
    base = tmp_path / "lab"
    up = galera_lab(base, "up", "--nodes", "1", "--base-address", ADDRESS)
    assert "prometheus:" in up.stdout and "Try this" in up.stdout

    processes = json.loads((base / "stack.json").read_text())["processes"]
    assert set(processes) == {"exporter-node1", "sink", "alertmanager", "prometheus"}
    pids = [int(p["pid"]) for p in processes.values()]
    pids.append(int((base / "node1" / "lab.pid").read_text()))
    assert all(process_alive(pid) for pid in pids)

    status = galera_lab(base, "status")
    assert "cluster: healthy" in status.stdout
    assert "NOT RUNNING" not in status.stdout

    galera_lab(base, "down", "--purge")
    assert not any(process_alive(pid) for pid in pids)
    assert not base.exists()
