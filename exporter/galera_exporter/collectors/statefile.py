"""Reading a small state file safely: regular files only, non-blocking, bounded size and time.

grastate.dat and gvwstate.dat live in a directory other people administer. A FIFO put there
would block open() for reading until a writer comes (forever, one leaked thread per scrape);
a stuck network file system blocks read(). So the file is opened O_NONBLOCK, anything but a
regular file is refused, at most MAX_STATE_FILE_BYTES + 1 bytes are read (regularfile.py, shared
with the option-file and web-config readers), and the open and
read run on a helper thread the scrape waits for only until its deadline. At most one such
thread per file exists: a scrape that finds the previous read still hanging waits for that
one instead of starting another.
"""

from __future__ import annotations

import errno
import threading
from dataclasses import dataclass
from pathlib import Path

from galera_exporter.regularfile import open_regular, read_at_most

# Galera writes a few hundred bytes; anything far larger is not a state file and must not
# cost the exporter memory.
MAX_STATE_FILE_BYTES = 64 * 1024
PERMISSION_DENIED = "permission denied"  # FileRead.problem for EACCES/EPERM


@dataclass(frozen=True)
class FileRead:
    """What reading a state file gave: exactly one of the three outcomes.

    present: True (read; data and mtime set), False (verifiably absent: ENOENT), None (it
    exists, or may exist, but could not be read; problem says why).
    """

    present: bool | None
    data: bytes | None = None
    mtime: float | None = None
    problem: str = ""


def _describe(err: OSError) -> str:
    if err.errno in (errno.EACCES, errno.EPERM):
        return PERMISSION_DENIED
    return err.strerror or type(err).__name__


def read_now(path: Path, max_bytes: int = MAX_STATE_FILE_BYTES) -> FileRead:
    """Open and read `path` on the calling thread (never blocks on a FIFO or device).

    At most max_bytes + 1 bytes are read: a longer result means "too large"."""
    try:
        # No size limit at open: a larger file is read to max_bytes + 1, its caller says so.
        with open_regular(path) as (fd, st):
            return FileRead(present=True, data=read_at_most(fd, max_bytes), mtime=st.st_mtime)
    except FileNotFoundError:
        return FileRead(present=False)
    except OSError as err:  # EACCES, "not a regular file", EIO and the like
        return FileRead(present=None, problem=_describe(err))


class _Attempt:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.done = threading.Event()
        self.result = FileRead(present=None, problem="read did not finish")
        self._thread = threading.Thread(
            target=self._run, args=(path, max_bytes), name=f"read-{path.name}", daemon=True
        )
        self._thread.start()

    def _run(self, path: Path, max_bytes: int) -> None:
        try:
            self.result = read_now(path, max_bytes)
        finally:
            self.done.set()


class BoundedFileReader:
    """read(path, timeout): a FileRead within `timeout` seconds, at most one thread per path."""

    def __init__(self, max_bytes: int = MAX_STATE_FILE_BYTES) -> None:
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._attempts: dict[Path, _Attempt] = {}

    def read(self, path: Path, timeout: float) -> FileRead:
        with self._lock:
            attempt = self._attempts.get(path)
            if attempt is None or attempt.done.is_set():
                attempt = _Attempt(path, self._max_bytes)
                self._attempts[path] = attempt
        if attempt.done.wait(timeout):
            return attempt.result
        return FileRead(present=None, problem=f"read did not finish within {timeout:.2f}s")
