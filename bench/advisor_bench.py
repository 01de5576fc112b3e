"""Wall time of galera-advisor against three real galera-exporter processes, and with one node
hanging (its port accepts connections but never answers).

    python bench/advisor_bench.py [--runs 10] [--timeout 2]

The exporters run without a mysqld (galera_up 0, refused) over a copy of a captured datadir:
their pages are real, their cost is the exporter's own. Figures are printed; nothing is
asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import start_exporter, stop_process

REPO = Path(__file__).resolve().parents[1]
DATADIR = REPO / "tests" / "fixtures" / "states" / "down_stopped_last"


def exporter_on_fixture(work: Path, name: str) -> tuple[subprocess.Popen[bytes], str]:
    datadir = work / name
    shutil.copytree(DATADIR, datadir)
    option_file = work / f"{name}.cnf"
    option_file.write_text(f"[client]\nuser = nobody\nsocket = {work}/{name}-no.sock\n")
    proc, port = start_exporter(
        f"--mysql.defaults-file={option_file}", f"--galera.datadir={datadir}"
    )
    return proc, f"http://127.0.0.1:{port}/metrics"


def advisor(args: list[str]) -> tuple[float, float]:
    """(process wall seconds, the advisor's own fetch seconds from its text output)."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "galera_exporter.advisor", *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.monotonic() - started
    first = result.stdout.splitlines()[0]  # "Cluster X: 3 nodes read in 0.01 s"
    return wall, float(first.rsplit(" ", 2)[-2])


def report(label: str, runs: list[tuple[float, float]]) -> None:
    walls = [w for w, _ in runs]
    fetches = [f for _, f in runs]
    print(f"{label:<34} process wall median {statistics.median(walls):.3f} s "
          f"(max {max(walls):.3f}); fetch median {statistics.median(fetches):.3f} s "
          f"(max {max(fetches):.3f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=2.0)
    options = parser.parse_args()
    env_path = os.pathsep.join([str(REPO / "exporter"), os.environ.get("PYTHONPATH", "")])
    os.environ["PYTHONPATH"] = env_path
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        exporters = [exporter_on_fixture(work, f"node{i}") for i in (1, 2, 3)]
        hang = socket.socket()  # listens, never accepts: a request waits forever
        hang.bind(("127.0.0.1", 0))
        hang.listen(8)
        try:
            nodes = [f"node{i}={url}" for i, (_, url) in enumerate(exporters, 1)]
            timeout = ["--timeout", f"{options.timeout:g}"]
            report("3 exporters", [advisor([*timeout, *nodes]) for _ in range(options.runs)])
            hanging = [*nodes[:2], f"node3=127.0.0.1:{hang.getsockname()[1]}"]
            report(
                f"node3 hanging, --timeout {options.timeout:g}",
                [advisor([*timeout, *hanging]) for _ in range(max(3, options.runs // 3))],
            )
        finally:
            hang.close()
            for proc, _ in exporters:
                stop_process(proc)


if __name__ == "__main__":
    main()
