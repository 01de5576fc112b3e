"""Opening and reading a file that must be a small regular file, without ever blocking on it.

Every file the exporter reads sits where other people administer it (state files in the
datadir, option files, the web config and its TLS files). A plain open() of a FIFO waits for
a writer, forever; a huge or growing file must not cost memory. So: open O_NONBLOCK (a FIFO
or device opens at once), check with fstat that it is a regular file (and, given a limit, not
larger than it), and read at most limit + 1 bytes so that "too large" stays visible.

Callers keep their own error wording: the OSErrors raised here carry a short strerror
("not a regular file", "larger than N bytes") they quote or map.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator

OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


@contextlib.contextmanager
def open_regular(
    path: str | os.PathLike[str], limit: int | None = None
) -> Iterator[tuple[int, os.stat_result]]:
    """A descriptor of `path` and its fstat, closed on exit.

    OSError for anything else: the open's own (ENOENT, EACCES, ...), EINVAL "not a regular
    file", and, with a limit, EFBIG "larger than {limit} bytes" when its size says so.
    """
    fd = os.open(path, OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if limit is not None and info.st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit} bytes")
        yield fd, info
    finally:
        os.close(fd)


def read_at_most(fd: int, limit: int) -> bytes:
    """Up to limit + 1 bytes from `fd`: a result longer than `limit` means "too large"."""
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0:
        chunk = os.read(fd, left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_regular_file(path: str, limit: int) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file of at most `limit` bytes, and its fstat.

    Raises OSError (its strerror says why) for anything else, including a file that grew past
    the limit while it was read.
    """
    with open_regular(path, limit) as (fd, info):
        data = read_at_most(fd, limit)
    if len(data) > limit:  # grew while we read it
        raise OSError(errno.EFBIG, f"larger than {limit} bytes")
    return data, info
