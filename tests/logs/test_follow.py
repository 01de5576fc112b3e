"""The follower against real files: rotation, truncation, deletion, partial and long lines.

Most tests run twice: woken by inotify, and by polling (the fallback). The races of
copytruncate are made deterministic with a follower that only looks when woken by the test.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from galera_exporter.follow import LogFollower, resolve_log_path
from tests.logs.helpers import Recorder, append
from tests.support.wait import wait_for

MODES = ["inotify", "polling"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def follower(path: Path, consumer: Recorder, mode: str, **kwargs: object) -> LogFollower:
    return LogFollower(
        path,
        consumer,
        use_inotify=mode == "inotify",
        poll_interval=0.05,
        **kwargs,  # type: ignore[arg-type]
    ).start()


@pytest.fixture
def stopper() -> Iterator[list[LogFollower]]:
    started: list[LogFollower] = []
    yield started
    for item in started:
        item.close()


def numbered(prefix: str, start: int, stop: int) -> list[str]:
    return [f"{prefix} line {i}\n" for i in range(start, stop)]


def expect_lines(rec: Recorder, expected: list[str], what: str) -> None:
    want = [line.rstrip("\n").encode() for line in expected]
    wait_for(what, lambda: len(rec.lines()) >= len(want))
    assert rec.lines() == want


# --- start-up -------------------------------------------------------------------------------


def test_starts_at_the_end_and_recovers_backwards_within_the_bound(
    tmp_path: Path, mode: str, stopper: list[LogFollower]
) -> None:
    log = tmp_path / "app.log"
    old = numbered("old", 0, 20000)  # ~300 kB
    append(log, *old)
    rec = Recorder()
    f = follower(log, rec, mode, backlog_bytes=10_000)
    stopper.append(f)
    wait_for("the follower to reach the end", lambda: f.status().offset == log.stat().st_size)
    recovered = rec.recovered_lines()
    assert 0 < sum(len(x) + 1 for x in recovered) <= 10_000
    # complete lines only, and exactly the file's last ones
    assert recovered == [x.rstrip("\n").encode() for x in old[-len(recovered) :]]
    assert rec.fed == []  # nothing from before start-up counts as new
    append(log, "new line\n")
    expect_lines(rec, ["new line\n"], "the appended line")


def test_recovery_stops_once_the_consumer_is_satisfied(
    tmp_path: Path, stopper: list[LogFollower]
) -> None:
    log = tmp_path / "app.log"
    append(log, *numbered("old", 0, 100_000), "MARKER\n", *numbered("after", 0, 10))
    rec = Recorder(satisfied_by=b"MARKER")
    stopper.append(follower(log, rec, "inotify", backlog_bytes=1 << 30))
    wait_for("the marker to be recovered", lambda: any(b"MARKER" in b for b in rec.recovered))
    # 100k lines before the marker were never read: one 64 KiB block was enough
    assert sum(map(len, rec.recovered)) <= 64 * 1024


def test_an_unfinished_last_line_is_not_recovered_half(
    tmp_path: Path, stopper: list[LogFollower]
) -> None:
    log = tmp_path / "app.log"
    append(log, "one\n", "two\n", "thr")
    rec = Recorder()
    stopper.append(follower(log, rec, "inotify"))
    wait_for("the complete lines", lambda: rec.recovered_lines() == [b"one", b"two"])
    append(log, "ee\n")
    expect_lines(rec, ["three\n"], "the finished line")


def test_a_file_that_does_not_exist_yet(
    tmp_path: Path, mode: str, stopper: list[LogFollower]
) -> None:
    log = tmp_path / "not-yet" / "app.log"  # not even its directory
    rec = Recorder()
    f = follower(log, rec, mode, safety_interval=0.1)
    stopper.append(f)
    wait_for("the follower's first look", lambda: f.status().checked)
    assert not f.status().present
    log.parent.mkdir()
    append(log, "first\n", "second\n")
    # a file that appears after start-up is new: every line of it counts
    expect_lines(rec, ["first\n", "second\n"], "the lines of the new file")
    assert f.status().present


# --- lines ---------------------------------------------------------------------------------


def test_partial_lines_wait_for_their_newline(
    tmp_path: Path, mode: str, stopper: list[LogFollower]
) -> None:
    log = tmp_path / "app.log"
    log.touch()
    rec = Recorder()
    f = follower(log, rec, mode)
    stopper.append(f)
    wait_for("the follower to open the file", lambda: f.status().following)
    append(log, "SMTP Service sta")
    wait_for("the half line to be read", lambda: f.status().offset == log.stat().st_size)
    assert rec.fed == []  # read, but not handed over
    append(log, "rted plain:10025\n", "next")
    expect_lines(rec, ["SMTP Service started plain:10025\n"], "the completed line")


def test_long_lines_are_cut_and_memory_stays_bounded(
    tmp_path: Path, mode: str, stopper: list[LogFollower]
) -> None:
    log = tmp_path / "app.log"
    log.touch()
    rec = Recorder()
    f = follower(log, rec, mode, max_line_bytes=4096)
    stopper.append(f)
    wait_for("the follower to open the file", lambda: f.status().following)
    chunk = b"x" * 100_000
    for _ in range(30):  # 3 MB of one line, written in pieces like a slow writer
        append(log, chunk)
    append(log, b"\nafter\n")
    wait_for("the line after the long one", lambda: b"after" in rec.lines())
    lines = rec.lines()
    assert lines == [b"x" * 4096, b"after"]
    assert f.status().truncated_lines == 1


def test_bytes_that_are_not_utf8_pass_through(
    tmp_path: Path, mode: str, stopper: list[LogFollower]
) -> None:
    log = tmp_path / "app.log"
    log.touch()
    rec = Recorder()
    f = follower(log, rec, mode)
    stopper.append(f)
    wait_for("the follower to open the file", lambda: f.status().following)
    raw = b"caf\xe9 \xff\xfe\x00 \xc3(\n"
    append(log, raw)
    wait_for("the raw line", lambda: rec.lines() == [raw[:-1]])


# --- rotation ---------------------------------------------------------------------------------


def test_rename_and_create(tmp_path: Path, mode: str, stopper: list[LogFollower]) -> None:
    log = tmp_path / "app.log"
    log.touch()
    rec = Recorder()
    f = follower(log, rec, mode)
    stopper.append(f)
    wait_for("the follower to open the file", lambda: f.status().following)
    append(log, *numbered("before", 0, 50))
    log.rename(tmp_path / "app.log.1")
    append(log, *numbered("after", 0, 50))
    expect_lines(rec, numbered("before", 0, 50) + numbered("after", 0, 50), "lines of both files")
    wait_for("the rotation to be counted", lambda: f.status().rotations == 1)


def test_a_writer_that_has_not_reopened_is_still_followed(
    tmp_path: Path, mode: str, stopper: list[LogFollower]
) -> None:
    # logrotate `create` renames and creates an empty file; a Java app without a reopen
    # signal goes on writing to the renamed file. Its lines must not be lost.
    log = tmp_path / "app.log"
    rec = Recorder()
    with log.open("ab", buffering=0) as writer:
        f = follower(log, rec, mode)
        stopper.append(f)
        wait_for("the follower to open the file", lambda: f.status().following)
        writer.write(b"one\n")
        log.rename(tmp_path / "app.log.1")
        log.touch()  # the new, empty file nobody writes to yet
        writer.write(b"two\n")
        expect_lines(rec, ["one\n", "two\n"], "lines written to the renamed file")
        writer.write(b"three\n")
        expect_lines(rec, ["one\n", "two\n", "three\n"], "a later line to the renamed file")
    # the app reopens at last and writes to the new file: the follower moves over
    append(log, "four\n")
    expect_lines(rec, ["one\n", "two\n", "three\n", "four\n"], "the line in the new file")


def test_copytruncate_takes_the_unread_tail_from_the_copy(
    tmp_path: Path, stopper: list[LogFollower]
) -> None:
    log = tmp_path / "app.log"
    log.touch()
    rec = Recorder()
    # Looks only when the test wakes it, so the race is made to happen every time.
    f = LogFollower(log, rec, use_inotify=False, poll_interval=3600).start()
    stopper.append(f)
    f.wake()
    wait_for("the follower to open the file", lambda: f.status().following)
    append(log, "read before\n")
    f.wake()
    expect_lines(rec, ["read before\n"], "the first line")
    append(log, "written before the copy, never read from app.log\n")
    shutil.copyfile(log, tmp_path / "app.log.1")  # logrotate copytruncate: copy ...
    os.truncate(log, 0)  # ... then truncate
    append(log, "after truncate\n")
    f.wake()
    expect_lines(
        rec,
        ["read before\n", "written before the copy, never read from app.log\n", "after truncate\n"],
        "the line only the copy has, then the new ones",
    )
    assert f.status().rotations == 1


def test_truncated_and_rewritten_past_our_offset(
    tmp_path: Path, stopper: list[LogFollower]
) -> None:
    log = tmp_path / "app.log"
    log.touch()
    rec = Recorder()
    f = LogFollower(log, rec, use_inotify=False, poll_interval=3600).start()
    stopper.append(f)
    f.wake()
    wait_for("the follower to open the file", lambda: f.status().following)
    append(log, "short\n")
    f.wake()
    expect_lines(rec, ["short\n"], "the first line")
    # truncated and refilled beyond our offset before we look: the size alone can't tell
    log.write_bytes(b"a much longer first line of the new content\nsecond\n")
    f.wake()
    expect_lines(
        rec,
        ["short\n", "a much longer first line of the new content\n", "second\n"],
        "the rewritten file from its start",
    )


def test_truncation_in_place(tmp_path: Path, mode: str, stopper: list[LogFollower]) -> None:
    log = tmp_path / "app.log"
    log.touch()
    rec = Recorder()
    f = follower(log, rec, mode)
    stopper.append(f)
    wait_for("the follower to open the file", lambda: f.status().following)
    append(log, *numbered("first", 0, 100))
    expect_lines(rec, numbered("first", 0, 100), "the first lines")
    os.truncate(log, 0)
    wait_for("the truncation to be noticed", lambda: f.status().rotations == 1)
    append(log, "x\n")
    expect_lines(rec, [*numbered("first", 0, 100), "x\n"], "the line after truncation")


def _fd_targets() -> list[str]:
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return out


def test_deleted_then_recreated(tmp_path: Path, mode: str, stopper: list[LogFollower]) -> None:
    log = tmp_path / "app.log"
    log.touch()
    rec = Recorder()
    f = follower(log, rec, mode, safety_interval=0.1)
    stopper.append(f)
    wait_for("the follower to open the file", lambda: f.status().following)
    append(log, "one\n")
    expect_lines(rec, ["one\n"], "the first line")
    log.unlink()
    wait_for("the deletion to be seen", lambda: not f.status().present)
    # the deleted file is let go, so its space can be freed
    wait_for(
        "the fd to close",
        lambda: not any("app.log" in t and "(deleted)" in t for t in _fd_targets()),
    )
    append(log, "two\n")
    expect_lines(rec, ["one\n", "two\n"], "the line of the re-created file")


def test_read_only(tmp_path: Path, stopper: list[LogFollower]) -> None:
    log = tmp_path / "app.log"
    append(log, "a\n")
    before = log.stat()
    f = follower(log, Recorder(), "inotify")
    stopper.append(f)
    wait_for("the follower to open the file", lambda: f.status().following)
    assert any(t == str(log) for t in _fd_targets())
    with open(f"/proc/self/fdinfo/{_fd_of(log)}") as info:
        flags = int(next(x for x in info if x.startswith("flags:")).split()[1], 8)
    assert flags & os.O_ACCMODE == os.O_RDONLY
    after = log.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def _fd_of(path: Path) -> str:
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                return fd
        except OSError:
            continue
    raise AssertionError(f"{path} is not open")


def test_close_stops_the_thread(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.touch()
    f = follower(log, Recorder(), "inotify")
    wait_for("the follower to open the file", lambda: f.status().following)
    f.close()
    assert f._thread is not None and not f._thread.is_alive()
    assert not any(t == str(log) for t in _fd_targets())


# --- permission denied -------------------------------------------------------------------------
# Root reads any file through CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH, so the follower runs in a
# child that keeps uid 0 but has those two capabilities dropped (setpriv): mode 000 then
# really denies it, as it denies an exporter running as its own user.

CHILD = textwrap.dedent(
    """
    import json, logging, sys, time
    from galera_exporter.follow import LogFollower
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    class Rec:
        def __init__(self): self.lines, self.recovered = [], []
        def recover(self, block): self.recovered += block.splitlines(); return False
        def feed(self, block): self.lines += block.splitlines()
    rec = Rec()
    f = LogFollower(sys.argv[1], rec, poll_interval=0.05, safety_interval=0.2).start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        s = f.status()
        print(json.dumps({"error": s.error, "present": s.present,
                          "recovered": [x.decode() for x in rec.recovered],
                          "lines": [x.decode() for x in rec.lines]}), flush=True)
        if rec.lines:
            break
        time.sleep(0.05)
    f.close()
    """
)


def test_permission_denied_then_granted(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    log.chmod(0o000)
    prefix = []
    if os.geteuid() == 0:
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join(sys.path[1:])}
    try:
        child = subprocess.Popen(
            [*prefix, sys.executable, "-c", CHILD, str(log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        seen: list[dict[str, object]] = [{}]

        def read_child() -> None:
            assert child.stdout is not None
            for line in child.stdout:
                seen.append(json.loads(line))

        reader = threading.Thread(target=read_child, daemon=True)
        reader.start()
        try:
            wait_for(
                "the follower (as nobody) to report permission denied",
                lambda: seen[-1].get("error") == "permission denied",
            )
            assert seen[-1]["present"] is True
            append(log, "before\n")
            log.chmod(0o644)
            # what was there before it could be read is the start-up backlog, not new lines
            wait_for("the follower to read the file", lambda: bool(seen[-1].get("recovered")))
            assert seen[-1]["recovered"] == ["before"]
            assert seen[-1]["error"] == ""
            append(log, "after\n")
            wait_for("the follower to get the new line", lambda: bool(seen[-1].get("lines")))
            assert seen[-1]["lines"] == ["after"]
        finally:
            child.wait(timeout=30)
            reader.join(timeout=5)
            assert child.stdout is not None and child.stderr is not None
            child.stdout.close()
            stderr = child.stderr.read()
            child.stderr.close()
    finally:
        log.chmod(0o644)
    # Logged once when it appeared and once when it cleared, not on each of the many looks.
    print(f"child's log after {len(seen)} looks:\n{stderr}")
    assert stderr.count(f"WARNING log: cannot follow {log}: permission denied") == 1, stderr
    assert stderr.count(f"INFO log: following {log} again") == 1, stderr
    assert stderr.count("\n") == 2, stderr


def test_resolve_log_path() -> None:
    assert str(resolve_log_path("./node1.err", "/var/lib/mysql/")) == "/var/lib/mysql/node1.err"
    assert str(resolve_log_path("/var/log/mysql/error.log", "/x")) == "/var/log/mysql/error.log"
    assert str(resolve_log_path("error.log", "/srv/data")) == "/srv/data/error.log"


def test_directory_replaced_under_the_watch(tmp_path: Path, stopper: list[LogFollower]) -> None:
    logdir = tmp_path / "log"
    logdir.mkdir()
    log = logdir / "app.log"
    log.touch()
    rec = Recorder()
    f = follower(log, rec, "inotify", safety_interval=0.2)
    stopper.append(f)
    wait_for("the follower to watch the log", lambda: f.status().following and f.status().inotify)
    shutil.rmtree(logdir)
    logdir.mkdir()  # a new directory of the same name: the old watch is dead
    append(log, "in the new directory\n")
    expect_lines(rec, ["in the new directory\n"], "the line in the re-created directory")
    wait_for("inotify to watch the new directory", lambda: f.status().inotify)
    f._safety_interval = 3600.0  # from now on only an inotify event can wake it in time
    looks = f.status().looks
    # the wait after the next finished look uses the long interval
    wait_for("the follower to wait the long interval", lambda: f.status().looks > looks)
    append(log, "second\n")
    wait_for("the next line, woken by the new watch", lambda: len(rec.lines()) == 2, timeout=5)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_not_a_regular_file(tmp_path: Path, kind: str, stopper: list[LogFollower]) -> None:
    # e.g. log_error=/dev/stderr: reported, and opening a FIFO must not hang the follower
    path = tmp_path / "fifo"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path = Path("/dev/null")
    f = follower(path, Recorder(), "inotify")
    stopper.append(f)
    wait_for("the follower to refuse it", lambda: f.status().error == "not a regular file")
    assert not f.status().following


def test_problems_are_logged_once_each(
    tmp_path: Path, stopper: list[LogFollower], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="galera_exporter.follow")
    logdir = tmp_path / "log"
    logdir.mkdir()
    path = logdir / "app.log"
    os.mkfifo(path)
    f = LogFollower(path, Recorder(), use_inotify=False, poll_interval=0.01, name="app").start()
    stopper.append(f)
    wait_for("the follower to refuse a FIFO", lambda: f.status().error == "not a regular file")
    looks = f.status().looks
    wait_for("twenty more looks at the FIFO", lambda: f.status().looks > looks + 20)
    path.unlink()
    path.write_text("now a file\n")
    wait_for("the follower to open the regular file", lambda: f.status().following)
    shutil.rmtree(logdir)
    wait_for("the follower to let go of the deleted file", lambda: not f.status().following)
    looks = f.status().looks
    wait_for("twenty more looks at the missing directory", lambda: f.status().looks > looks + 20)
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    print(messages)
    assert messages == [
        ("WARNING", f"app: cannot follow {path}: not a regular file"),
        ("INFO", f"app: following {path} again"),
        ("WARNING", f"app: cannot follow {path}: its directory does not exist"),
    ]
    assert f.status().error == ""  # absent, not an error, for the metrics
