"""Follows one log file like `tail -F`, event-driven, and hands complete lines to a consumer.

Read-only: the file is opened O_RDONLY and never written, locked or truncated.

How a change is noticed: watchdog (inotify on Linux) watches the file's directory, and each
event for the file's name, or for the name a rotation moved it to, wakes the follower's
thread. If inotify cannot be used (no support, limits reached, the directory is missing) the
thread wakes every `poll_interval` instead; with inotify it still looks every
`safety_interval` so that a lost event or a directory replaced under us heals by itself.
Either way a wake-up costs a stat() and an fstat() when nothing changed, so idle CPU stays ~0.

What survives:
- rename + create (logrotate `create`): the old file is kept open and drained; the follower
  switches to the new file once the writer has started writing there (a new, still empty file
  does not end the old one: an application that has not reopened its log, like a Java app
  without a reopen signal, goes on writing to the renamed file and we go on reading it).
- copytruncate and plain truncation: noticed by the size dropping below our offset or the
  bytes just before our offset changing; the tail we had not read yet is taken from the
  rotated copy when one of the file's siblings carries the same bytes (logrotate's copy).
- deletion and re-creation, the file not existing yet, permission denied: retried on every
  wake-up; `status()` says what is wrong meanwhile.
- partial lines: only text up to the last newline is handed over; the rest waits.
- very long lines: at most `max_line_bytes` of a line are kept; the rest is skipped.
  (Both are linebuffer.LineBuffer's job: bytes to lines, no I/O, tested on its own.)
- bytes that are not UTF-8: nothing is decoded here.

At start-up the consumer recovers its state from the file's end, read backwards in blocks,
at most `backlog_bytes`, stopping as soon as the consumer says it has what it needs.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from watchdog.events import (
    DirDeletedEvent,
    DirMovedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from galera_exporter.linebuffer import LineBuffer

log = logging.getLogger(__name__)

READ_SIZE = 1 << 20
BACKLOG_BLOCK = 64 * 1024
# Bytes remembered just before our offset; if they change, the file was rewritten under us.
FINGERPRINT_BYTES = 64
# How far back a block's context lines are looked for (a few mysqld lines are ~100 bytes).
CONTEXT_BYTES = 4096


# A start-up backlog larger than this is read as this (2**62 bytes: more than any file).
MAX_BACKLOG_BYTES = 1 << 62


def byte_count(value: float) -> int:
    """A configured number of bytes as an int: negative or NaN is 0, infinite or huge is the
    maximum. (int() of a YAML `.inf` raised OverflowError: a crash trace at start-up.)"""
    if math.isnan(value) or value <= 0:
        return 0
    return int(min(value, MAX_BACKLOG_BYTES))


class LineConsumer(Protocol):
    """Receives text from a follower, always on the follower's thread."""

    def recover(self, block: bytes) -> bool:
        """Complete lines from before start-up, latest block first; True when satisfied."""
        ...

    def feed(self, block: bytes) -> None:
        """New complete lines (each ending in b"\\n"), in file order."""
        ...


@dataclass(frozen=True)
class FollowStatus:
    """What the follower knows about its file, for the metrics."""

    present: bool  # a file exists at the path
    following: bool  # a file (maybe a rotated one) is open and being read
    error: str  # why the file cannot be read, "" if it can
    rotations: int  # times the followed file was replaced or truncated
    truncated_lines: int  # lines longer than max_line_bytes, cut
    inotify: bool  # woken by inotify (else by polling)
    offset: int  # bytes of the followed file read so far
    checked: bool  # the follower has looked at the path at least once
    looks: int  # looks finished (woken by an event, a poll or the safety interval)


_IGNORED_EVENTS = frozenset({"opened", "closed_no_write"})
# Asked of the kernel, so opens and closes (our own reads cause them) never reach Python.
_EVENT_FILTER = [
    FileModifiedEvent,
    FileCreatedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    DirMovedEvent,
    DirDeletedEvent,
]


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


class _Wakeup(FileSystemEventHandler):
    """watchdog event handler: wakes the follower for events on the names it cares about."""

    def __init__(self, follower: LogFollower) -> None:
        super().__init__()
        self._follower = follower

    def dispatch(self, event: FileSystemEvent) -> None:
        # Called on watchdog's thread: decide quickly, do no I/O. Opens and read-only closes
        # are ignored: our own reads cause them, and waking for them would be a busy loop.
        if event.event_type in _IGNORED_EVENTS:
            return
        names = self._follower.watched_names
        src = os.fsdecode(event.src_path)
        if event.is_directory and src == os.path.dirname(self._follower.path):
            self._follower.wake()  # our directory went: look now, the watch is gone
            return
        dest = os.fsdecode(getattr(event, "dest_path", "") or "")
        if src in names or dest in names:
            if dest and src in names:
                self._follower.note_move(src, dest)
            self._follower.wake()


class LogFollower:
    """One file, one thread. Start with start(), stop with close()."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        consumer: LineConsumer,
        *,
        backlog_bytes: int = 64 << 20,
        max_line_bytes: int = 64 << 10,
        poll_interval: float = 0.5,
        safety_interval: float = 5.0,
        use_inotify: bool = True,
        name: str = "log",
        context_lines: int = 0,
    ) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self._consumer = consumer
        self._backlog_bytes = byte_count(backlog_bytes)
        self._max_line = max(256, int(max_line_bytes))
        self._poll_interval = poll_interval
        self._safety_interval = safety_interval
        self._use_inotify = use_inotify
        self._name = name
        self._context_lines = max(0, context_lines)

        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer: Any = None
        self._watched_dir: tuple[int, int] | None = None  # identity of the watched directory

        self._status_lock = threading.Lock()
        self._present = False
        self._error = ""
        self._logged = ""  # the last problem logged, "" if none (only the thread touches it)
        self._rotations = 0
        self._truncated = 0
        self._checked = False
        self._looks = 0

        # Reader state: only the follower's thread touches these.
        self._file: Any = None  # the open file (io.FileIO)
        self._ident: tuple[int, int] | None = None
        self._offset = 0
        self._lines = LineBuffer(self._max_line)  # bytes read -> complete lines, bounded
        self._fingerprint = b""
        self._buffer = bytearray(READ_SIZE)
        self._started_once = False  # False until the first open: that one recovers state
        # The name the followed file currently has; rotation moves it away from self.path.
        self._current_name = self.path
        self.watched_names: frozenset[str] = frozenset({self.path})

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> LogFollower:
        self._thread = threading.Thread(target=self._run, name=f"follow-{self._name}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._unwatch()
        self._close_file()

    def wake(self) -> None:
        self._wake.set()

    def note_move(self, src: str, dest: str) -> None:
        """A rename seen by inotify: if it moved the file we read, watch its new name too."""
        ours = src == self.path and self._file is not None
        if ours or (src == self._current_name and src != self.path):
            self._current_name = dest
        self.watched_names = frozenset({self.path, self._current_name})

    def status(self) -> FollowStatus:
        with self._status_lock:
            # Before the thread's first look (a scrape right after start), look ourselves.
            present = self._present if self._checked else os.path.exists(self.path)
            return FollowStatus(
                present=present,
                following=self._file is not None,
                error=self._error,
                rotations=self._rotations,
                truncated_lines=self._truncated,
                inotify=self._observer is not None,
                offset=self._offset,
                checked=self._checked,
                looks=self._looks,
            )

    # --- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if not self._stop.is_set():  # only a bug of ours gets here; say so in the metrics
                self._set_error("follower thread stopped")

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._use_inotify and self._observer is None:
                self._watch()
            try:
                self._step()
            except OSError as err:  # an I/O error we did not foresee: report it, retry later
                self._set_error(err.strerror or type(err).__name__)
                self._close_file()
            with self._status_lock:
                self._looks += 1
            interval = self._safety_interval if self._observer is not None else self._poll_interval
            self._wake.wait(interval)
            self._wake.clear()

    def _watch(self) -> None:
        directory = os.path.dirname(self.path)
        observer = Observer()
        try:
            identity = _identity(os.stat(directory))
            observer.schedule(_Wakeup(self), directory, recursive=False, event_filter=_EVENT_FILTER)
            observer.start()
        except OSError as err:
            observer.stop()
            # Missing directory, inotify limits, no inotify: poll, and try again next time.
            log.debug("cannot watch %s (%s); polling", directory, err)
            return
        self._observer = observer
        self._watched_dir = identity

    def _watch_alive(self) -> bool:
        """False once watchdog stopped the watch (directory deleted) or the directory was
        replaced; the inode number alone can't tell, a new directory may reuse it."""
        try:
            same = _identity(os.stat(os.path.dirname(self.path))) == self._watched_dir
        except OSError:
            return False
        return same and all(emitter.is_alive() for emitter in self._observer.emitters)

    def _unwatch(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)

    def _set_error(self, error: str, *, note: str | None = None) -> None:
        with self._status_lock:
            self._error = error
        self._note(error if note is None else note)

    def _note(self, condition: str) -> None:
        """Log a problem once when it appears or changes, and once when it clears: the
        follower retries every look, and the metrics say the rest."""
        if condition == self._logged:
            return
        if condition:
            log.warning("%s: cannot follow %s: %s", self._name, self.path, condition)
        else:
            log.info("%s: following %s again", self._name, self.path)
        self._logged = condition

    def _step(self) -> None:
        """One look at the file: open, detect rotation or truncation, read what is new."""
        missing = False
        try:
            path_stat: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            path_stat, missing = None, True
            if self._file is None:
                # Absent is not an error, and ends one we had. A vanished log directory is
                # not one for the metrics either (the file is just absent), but it is worth
                # one line in the exporter's log.
                gone = not os.path.isdir(os.path.dirname(self.path))
                self._set_error("", note="its directory does not exist" if gone else "")
        except OSError as err:  # e.g. the directory is not searchable
            path_stat = None
            self._set_error(err.strerror or type(err).__name__)
        with self._status_lock:
            self._present = path_stat is not None
            self._checked = True
        if self._observer is not None and not self._watch_alive():
            # The directory went away (or was replaced) and the watch with it: poll until a
            # new watch can be made.
            self._unwatch()

        if self._file is None:
            if path_stat is not None:
                self._open(recover=not self._started_once)
            elif missing:
                self._started_once = True  # a file that appears later is new: read it all
            return

        self._check_truncation()
        self._drain()
        self._set_error("")  # reading works (an error of a stat() before is over)
        if path_stat is None:
            if self._current_gone():
                # Deleted and nothing new yet: let go, or the disk space is never freed.
                self._rotated()
            return
        if _identity(path_stat) != self._ident and (path_stat.st_size > 0 or self._current_gone()):
            # Another file has the name now. Switch once the writer uses it; until then the
            # writer may still be appending to ours (not reopened yet, or never will be).
            self._drain()
            self._rotated()
            self._open(recover=False)

    def _current_gone(self) -> bool:
        """True if our (renamed) file was deleted, so nobody can be writing to it any more."""
        try:
            return os.fstat(self._file.fileno()).st_nlink == 0
        except OSError:
            return True

    def _open(self, *, recover: bool) -> None:
        try:
            # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever
            # (no effect on reads of a regular file).
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        except OSError as err:
            message = err.strerror or type(err).__name__
            if err.errno in (errno.EACCES, errno.EPERM):
                message = "permission denied"
            self._set_error(message)
            return
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            # e.g. log_error=/dev/stderr, or a FIFO: nothing to seek in or follow by offset
            os.close(fd)
            self._set_error("not a regular file")
            return
        self._file = os.fdopen(fd, "rb", buffering=0)
        self._ident = _identity(st)
        self._current_name = self.path
        self.watched_names = frozenset({self.path})
        self._lines.reset()
        self._set_error("")
        self._started_once = True
        if recover:
            self._offset = self._recover(st.st_size)
        else:
            self._offset = 0
        self._fingerprint = self._read_at(max(0, self._offset - FINGERPRINT_BYTES), self._offset)
        self._drain()

    def _close_file(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            handle.close()

    def _rotated(self) -> None:
        self._close_file()
        with self._status_lock:
            self._rotations += 1

    def _read_at(self, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        return os.pread(self._file.fileno(), end - start, start)

    # --- start-up recovery --------------------------------------------------------------

    def _recover(self, size: int) -> int:
        """Hand the consumer the file's last lines, newest block first; return where to go on.

        The text after the last newline is a line still being written: it becomes the pending
        start of the first live line instead of being recovered half.
        """
        end = self._split_partial_tail(size)
        floor = max(0, end - self._backlog_bytes)
        carry = b""  # the end of a line that starts in the block read next
        while end > floor and not self._stop.is_set():
            start = max(floor, end - BACKLOG_BLOCK)
            block = self._read_at(start, end) + carry
            if start > 0:
                cut = block.find(b"\n")
                if cut < 0:  # the whole block is inside one line
                    carry = block if len(block) <= self._max_line else b"\n"
                    end = start
                    continue
                carry = block[: cut + 1] if cut < self._max_line else b"\n"
                block = block[cut + 1 :]
                block = self._lines_before(start + cut + 1) + block
            if block and self._consumer.recover(block):
                break
            end = start
        return size

    def _lines_before(self, offset: int) -> bytes:
        """Up to `context_lines` whole lines ending at `offset`: what a consumer may need to
        judge the first line of a block (the error log's recovery-run rule)."""
        if not self._context_lines or offset <= 0:
            return b""
        window = self._read_at(max(0, offset - CONTEXT_BYTES), offset)
        lines = window.split(b"\n")[:-1]  # the window ends with a newline
        if offset > CONTEXT_BYTES:
            lines = lines[1:]  # the first piece may be a line's tail
        return b"".join(line + b"\n" for line in lines[-self._context_lines :])

    def _split_partial_tail(self, size: int) -> int:
        """Keep the unfinished last line as pending; return where the complete lines end."""
        probe_start = max(0, size - self._max_line)
        tail = self._read_at(probe_start, size)
        nl = tail.rfind(b"\n")
        if nl >= 0:
            self._lines.reset(tail[nl + 1 :])
            return probe_start + nl + 1
        if probe_start == 0:
            self._lines.reset(tail)
            return 0
        # An unfinished line already longer than we keep: skip it, recover what precedes it.
        self._lines.reset(skipping=True)
        pos, floor = probe_start, max(0, size - self._backlog_bytes)
        while pos > floor:
            start = max(floor, pos - BACKLOG_BLOCK)
            nl = self._read_at(start, pos).rfind(b"\n")
            if nl >= 0:
                return start + nl + 1
            pos = start
        return floor

    # --- live reading -------------------------------------------------------------------

    def _check_truncation(self) -> None:
        st = os.fstat(self._file.fileno())
        truncated = st.st_size < self._offset
        if not truncated and self._fingerprint:
            start = self._offset - len(self._fingerprint)
            truncated = self._read_at(start, self._offset) != self._fingerprint
        if not truncated:
            return
        log.debug("%s truncated at %d (size now %d)", self.path, self._offset, st.st_size)
        self._feed_missed_from_copy()
        self._lines.reset()
        self._offset = 0
        self._fingerprint = b""
        with self._status_lock:
            self._rotations += 1

    def _feed_missed_from_copy(self) -> None:
        """After copytruncate: hand over the bytes past our offset from the copy that has them.

        logrotate copies the file, then truncates it; whatever was appended between our last
        read and the copy is only in the copy. A sibling named like a rotation of ours
        (same directory, our name plus a suffix, changed in the last minute) whose bytes
        before our offset equal the ones we read is that copy.
        """
        if not self._fingerprint:
            return
        directory, base = os.path.split(self.path)
        start = self._offset - len(self._fingerprint)
        now = time.time()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return
        for entry in entries:
            if not entry.name.startswith(base) or entry.name == base:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
                if not entry.is_file(follow_symlinks=False) or now - st.st_mtime > 60:
                    continue
                if st.st_size <= self._offset:
                    continue
                with open(entry.path, "rb", buffering=0) as copy:
                    if os.pread(copy.fileno(), len(self._fingerprint), start) != self._fingerprint:
                        continue
                    position = self._offset
                    while position < st.st_size and not self._stop.is_set():
                        size = min(READ_SIZE, st.st_size - position)
                        chunk = os.pread(copy.fileno(), size, position)
                        if not chunk:
                            break
                        position += len(chunk)
                        self._feed(chunk)
                    return
            except OSError:
                continue

    def _drain(self) -> None:
        """Read everything new, a chunk at a time so memory stays bounded."""
        fd = self._file.fileno()
        view = memoryview(self._buffer)
        while not self._stop.is_set():
            # Into one reused buffer, then copied at its real size: os.pread(fd, 1 MiB) would
            # allocate 1 MiB per call and shrink it, and with a writer flushing every line
            # (many small reads) that churn made RSS creep (37 -> 70 MiB over 1 GB).
            size = os.preadv(fd, [view], self._offset)
            if not size:
                break
            chunk = bytes(view[:size])
            self._offset += len(chunk)
            recent = self._fingerprint + chunk[-FINGERPRINT_BYTES:]
            self._fingerprint = recent[-FINGERPRINT_BYTES:]
            self._feed(chunk)

    def _feed(self, chunk: bytes) -> None:
        """Hand the consumer the lines `chunk` completes (linebuffer.py: partial lines wait,
        over-long ones are cut, memory stays bounded)."""
        pushed = self._lines.push(chunk)
        if pushed.cut:
            with self._status_lock:
                self._truncated += pushed.cut
        for block in pushed.blocks:
            self._consumer.feed(block)


def resolve_log_path(path: str, datadir: str) -> Path:
    """mysqld's log_error is relative to its datadir when not absolute."""
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = Path(datadir or ".") / candidate
    return Path(os.path.normpath(candidate))
