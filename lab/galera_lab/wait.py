"""Waiting on conditions with deadlines, saying what was waited for and how long it took."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeoutError(AssertionError):
    """A condition did not come true before its deadline (an AssertionError so pytest shows it)."""


WaitTimeout = WaitTimeoutError  # the name before the N818 rename; older callers import it


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    interval: float = 0.1,
    *,
    quiet: bool = False,
    fatal: tuple[type[BaseException], ...] = (),
    progress: Callable[[float], str | None] | None = None,
    progress_every: float = 3.0,
) -> T:
    """Poll `probe` until it returns a truthy value; return that value.

    Exceptions of the `fatal` types end the wait at once. Raises WaitTimeoutError naming `what`, the
    time waited and the last value/exception seen. `progress(elapsed)` is asked every
    `progress_every` seconds for a line to print, so long waits (an SST) show what is going on.
    """
    started = time.monotonic()
    deadline = started + timeout
    next_progress = started + progress_every
    last: object = None
    while True:
        try:
            value = probe()
        except fatal:
            raise
        except Exception as err:  # noqa: BLE001 - a probe may fail until the condition holds
            value = None
            last = f"{type(err).__name__}: {err}"
        else:
            last = value
        if value:
            if not quiet:
                print(f"[wait] {what}: {time.monotonic() - started:.2f}s", file=sys.stderr)
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeoutError(
                f"timed out after {timeout:.1f}s waiting for {what}; last: {last!r}"
            )
        if progress is not None and time.monotonic() >= next_progress:
            next_progress = time.monotonic() + progress_every
            line = progress(time.monotonic() - started)
            if line:
                print(f"  ... {line}", file=sys.stderr, flush=True)
        time.sleep(interval)
