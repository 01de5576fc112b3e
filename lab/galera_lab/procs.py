"""Background processes the lab starts (exporters, Prometheus, Alertmanager, sink): spawn, record,
stop by pid.

A record keeps the pid AND the command line read from /proc right after the start, so a later
`galera-lab down` in another process never signals a stranger that reused the pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from galera_lab.node import process_alive
from galera_lab.wait import wait_for

# Popen objects of what this Python process spawned: kept so they are not garbage-collected
# while running, and polled so an exited child is reaped instead of lingering as a zombie.
_SPAWNED: dict[int, subprocess.Popen[bytes]] = {}


def _reap(pid: int) -> None:
    child = _SPAWNED.get(pid)
    if child is not None and child.poll() is not None:
        del _SPAWNED[pid]


@dataclass(frozen=True)
class Tracked:
    """One process we started: its role, pid, /proc cmdline at start, and where its output goes."""

    name: str
    pid: int
    cmdline: tuple[str, ...]
    log: str

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["cmdline"] = list(self.cmdline)
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Tracked:
        cmdline = data.get("cmdline", [])
        return cls(
            name=str(data["name"]),
            pid=int(str(data["pid"])),
            cmdline=tuple(str(c) for c in cmdline) if isinstance(cmdline, list) else (),
            log=str(data.get("log", "")),
        )


def read_cmdline(pid: int) -> tuple[str, ...]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ()
    return tuple(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def settled_cmdline(pid: int, timeout: float = 2.0) -> tuple[str, ...]:
    """The pid's /proc cmdline once it reads non-empty, or () if the process is gone.

    Right after a spawn (and while a process execs) /proc/<pid>/cmdline can read empty for a
    moment: a stop() in that window took the process for a stranger and left it running.
    """
    deadline = time.monotonic() + timeout
    while True:
        cmdline = read_cmdline(pid)
        if cmdline or not process_alive(pid) or time.monotonic() >= deadline:
            return cmdline
        time.sleep(0.01)


def is_running(proc: Tracked) -> bool:
    """Alive, not a zombie, and still the program we started (pids get reused)."""
    _reap(proc.pid)
    return process_alive(proc.pid) and settled_cmdline(proc.pid) == proc.cmdline


def spawn(name: str, args: list[str], log: Path, env: dict[str, str] | None = None) -> Tracked:
    """Start `args` in its own session with output appended to `log`; return its record."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,  # a Ctrl-C in the terminal must not take the lab down
            close_fds=True,
            env={**os.environ, **(env or {})},
        )
    _SPAWNED[proc.pid] = proc
    # Popen returns after exec succeeded, but /proc may show an empty cmdline for a moment.
    return Tracked(name, proc.pid, settled_cmdline(proc.pid) or tuple(args), str(log))


def stop(proc: Tracked, timeout: float = 15.0) -> bool:
    """SIGTERM, wait, then SIGKILL; returns False if it was not (or no longer) ours to stop."""
    if not is_running(proc):
        return False
    try:
        os.kill(proc.pid, signal.SIGTERM)
        wait_for(
            f"{proc.name} (pid {proc.pid}) to exit",
            lambda: not _alive(proc.pid),
            timeout,
            quiet=True,
        )
    except ProcessLookupError:
        return True
    except AssertionError:
        # It ignored SIGTERM; it is still ours (checked above), so SIGKILL is safe.
        os.kill(proc.pid, signal.SIGKILL)
        wait_for(
            f"{proc.name} (pid {proc.pid}) gone after SIGKILL", lambda: not _alive(proc.pid), 10.0
        )
    return True


def _alive(pid: int) -> bool:
    _reap(pid)
    return process_alive(pid)


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel says is free on host right now (we bind it again a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tail(path: str | Path, chars: int = 2000) -> str:
    try:
        return Path(path).read_text(errors="replace")[-chars:]
    except OSError:
        return ""
