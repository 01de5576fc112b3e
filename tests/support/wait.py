"""One deadline wait for every test: galera_lab.wait.wait_for, with defaults for in-process waits.

The lab's waits (a node, an SST) pass their own timeout and interval; the tests' waits on a
thread or a follower in this process are short, so they poll often and give up after 10 s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from galera_lab.wait import WaitTimeoutError
from galera_lab.wait import wait_for as lab_wait_for

__all__ = ["WaitTimeoutError", "wait_for"]

T = TypeVar("T")

IN_PROCESS_TIMEOUT = 10.0
IN_PROCESS_INTERVAL = 0.005


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float = IN_PROCESS_TIMEOUT,
    interval: float = IN_PROCESS_INTERVAL,
) -> T:
    """Poll `probe` until it is truthy and return its value; print how long it took (stderr)."""
    return lab_wait_for(what, probe, timeout, interval)
