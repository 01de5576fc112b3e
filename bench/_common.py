"""What the benches share: a free port, an offline exporter process, a process's CPU and memory.

The benches run as scripts (`python bench/http_bench.py`), so this module is imported as
`_common` from the script's own folder. Ports come from galera_lab.procs like the lab's and the
tests' (one implementation); waits use galera_lab.wait, so a slow start says what it waited for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO

from galera_lab.procs import free_port
from galera_lab.wait import wait_for

__all__ = ["cpu_seconds", "free_port", "start_exporter", "status_kib", "stop_process"]

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def status_kib(pid: int, name: str) -> int:
    """A kB (or count) field of /proc/PID/status such as VmRSS, VmHWM, Threads; -1 if absent."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    return -1


def _accepts(port: int) -> bool:
    with contextlib.closing(socket.create_connection(("127.0.0.1", port), timeout=1)):
        return True


def start_exporter(
    *args: str,
    env: dict[str, str] | None = None,
    log: IO[bytes] | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """`python -m galera_exporter ARGS` on a free loopback port, once it accepts connections.

    Returns (process, port); stop it with stop_process. Output goes to `log` (default: dropped).
    """
    port = free_port()
    out = log if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "galera_exporter", f"--web.listen-address=127.0.0.1:{port}", *args],
        stdout=out, stderr=out, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        wait_for(f"the exporter on 127.0.0.1:{port}", lambda: _accepts(port), 30.0)
    except BaseException:
        stop_process(proc)
        raise
    return proc, port


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM by pid, then SIGKILL if it has not exited within `timeout` seconds."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout)
