"""Debian's logrotate, in `create` and `copytruncate` modes, against live followers.

A writer appends numbered lines, start markers and ready lines while logrotate rotates the
file again and again. Afterwards every line still on disk (the rotated files, then the live
one) must have reached the follower exactly once and in order, and the back-end source must
have seen every readiness transition. copytruncate can itself lose the lines written between
its copy and its truncate; those are on no disk, so they are reported, not expected.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from galera_exporter.collectors.backend_log import BackendLogCollector
from galera_exporter.follow import LogFollower
from tests.logs.helpers import Recorder, registry_for, sample
from tests.support.wait import wait_for

LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"
READY = "SMTP Service started plain:10025//127.0.0.1"
RESET = "SMTP Service handler hello name is: gateway1"
CYCLE = 20  # lines per start: a reset, noise, a ready line


def line(i: int) -> bytes:
    """Line i of the writer: every CYCLE lines a restart, ready a few lines later."""
    stamp = f"2026-11-27 10:{(i // 60) % 60:02d}:{i % 60:02d},{i % 1000:03d}"
    if i % CYCLE == 0:
        text = f"{stamp} INFO  [org.apache.james.smtpserver.SMTPServer] {RESET} #{i}"
    elif i % CYCLE == 5:
        text = f"{stamp} INFO  [org.apache.james.smtpserver.SMTPServer] {READY} #{i}"
    elif i % 7 == 3:
        text = f"{stamp} ERROR [mitm.application.djigzo.Mailer] delivery failed #{i}"
    else:
        text = f"{stamp} INFO  [mitm.application.djigzo.Mailer] message delivered #{i}"
    return text.encode() + b"\n"


class Writer(threading.Thread):
    """An application writing its log; in `create` mode it reopens when postrotate says so."""

    def __init__(self, path: Path, reopen_flag: Path | None) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.reopen_flag = reopen_flag
        self.written = 0
        self.reopens = 0
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=60)

    def run(self) -> None:
        handle = self.path.open("ab", buffering=0)
        try:
            i = 0
            while not self._halt.is_set():
                if self.reopen_flag is not None and self.reopen_flag.exists():
                    self.reopen_flag.unlink()
                    handle.close()
                    handle = self.path.open("ab", buffering=0)
                    self.reopens += 1
                handle.write(line(i))
                i += 1
                self.written = i
                self._halt.wait(0.0005)  # pacing of the scenario, not a wait for a result
        finally:
            handle.close()


def logrotate_config(tmp_path: Path, log: Path, mode: str, flag: Path) -> Path:
    body = [f"{log} {{", "    rotate 1000", "    missingok", "    nocompress"]
    if mode == "create":
        # as for a daemon that reopens its log on a signal: the signal is this flag file
        body += [
            "    create 0644 root root",
            "    postrotate",
            f"        touch {flag}",
            "    endscript",
        ]
    else:
        body += ["    copytruncate"]
    conf = tmp_path / "logrotate.conf"
    conf.write_text("\n".join([*body, "}", ""]))
    conf.chmod(0o644)
    return conf


def on_disk(log: Path) -> list[bytes]:
    rotated = sorted(log.parent.glob(log.name + ".*"), key=lambda p: -int(p.suffix[1:]))
    return [x for p in [*rotated, log] for x in p.read_bytes().splitlines()]


def transitions(lines: list[bytes]) -> tuple[int, bool]:
    ready, count = False, 0
    for text in lines:
        if RESET.encode() in text:
            count += ready
            ready = False
        elif READY.encode() in text and not ready:
            ready, count = True, count + 1
    return count, ready


def _errors(lines: list[bytes]) -> int:
    return sum(b" ERROR " in x for x in lines)


@pytest.mark.slow  # ~3-7 s each: 12 real logrotate runs
@pytest.mark.parametrize("inotify", [True, False], ids=["inotify", "polling"])
@pytest.mark.parametrize("mode", ["create", "copytruncate"])
def test_logrotate_loses_nothing(tmp_path: Path, mode: str, inotify: bool) -> None:
    logdir = tmp_path / "log"
    logdir.mkdir(mode=0o755)
    log = logdir / "djigzo.log"
    log.write_bytes(b"2026-11-27 09:00:00,000 INFO  [x] from before the exporter started\n")
    flag = tmp_path / "reopen"
    conf = logrotate_config(tmp_path, log, mode, flag)
    state = tmp_path / "logrotate.state"

    recorder = Recorder()
    follower = LogFollower(log, recorder, use_inotify=inotify, poll_interval=0.05).start()
    source = BackendLogCollector(
        str(log), [r"SMTP Service started"], [r"SMTP Service handler hello name is"],
        use_inotify=inotify,
    )  # fmt: skip
    registry = registry_for(source)
    try:
        wait_for(
            "both followers to open the log",
            lambda: follower.status().following and source.follower.status().following,
        )
        writer = Writer(log, reopen_flag=flag if mode == "create" else None)
        writer.start()
        rotations = 12

        def lines_later(count: int) -> None:
            mark = writer.written
            wait_for(f"the writer to add {count} lines", lambda: writer.written >= mark + count)

        for k in range(1, rotations + 1):
            # Rotations are hours apart in life; here each waits until the last one was
            # seen (a polling follower can't see two rotations within one poll interval).
            wait_for(f"both followers to see rotation {k - 1}",
                     lambda k=k: min(follower.status().rotations,  # type: ignore[misc]
                                     source.follower.status().rotations) == k - 1)  # fmt: skip
            lines_later(250)
            done = subprocess.run(
                [LOGROTATE, "--force", "--state", str(state), str(conf)],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
        wait_for(
            "both followers to see the last rotation",
            lambda: (
                min(follower.status().rotations, source.follower.status().rotations) == rotations
            ),
        )
        lines_later(250)
        writer.stop()
        assert not writer.is_alive()

        expected = on_disk(log)[1:]  # the line from before start-up is not new
        lost_by_logrotate = writer.written - len(expected)
        print(f"{mode}: {writer.written} lines, {rotations} rotations, {writer.reopens} reopens, "
              f"{lost_by_logrotate} lines lost by logrotate itself")  # fmt: skip
        wait_for("every line on disk to arrive", lambda: set(expected) <= set(recorder.lines()))
        got = recorder.lines()
        # In order and each once: the numbers the writer put at the end only ever increase.
        numbers = [int(x.rsplit(b"#", 1)[1]) for x in got]
        assert numbers == sorted(set(numbers))
        assert all(x == line(n).rstrip(b"\n") for x, n in zip(got, numbers, strict=True))
        if mode == "create":
            assert lost_by_logrotate == 0
            assert got == expected
        else:
            # Lines written between logrotate's copy and its truncate are on no disk; the
            # follower may still have read some of them from the live file in time.
            print(f"copytruncate: the follower saved {len(got) - len(expected)} of them")

        # The back-end source has its own follower: with copytruncate it may have saved other
        # lost lines than the recorder did, so it is held to the bounds: everything on disk,
        # nothing that was not written; a subsequence never has more transitions.
        disk = on_disk(log)[1:]
        written = [line(i).rstrip(b"\n") for i in range(writer.written)]
        wait_for("the back-end source to read to the end",
                 lambda: source.follower.status().offset == log.stat().st_size)  # fmt: skip
        seen_lines = sample(registry, "galera_backend_log_lines_total") or 0
        seen_transitions = sample(registry, "galera_backend_ready_transitions_total") or 0
        seen_errors = sample(registry, "galera_backend_log_errors_total") or 0
        print(f"source: {seen_lines:.0f} lines, {seen_transitions:.0f} transitions, "
              f"{seen_errors:.0f} errors")  # fmt: skip
        assert len(disk) <= seen_lines <= len(written)
        assert transitions(disk)[0] <= seen_transitions <= transitions(written)[0]
        assert _errors(disk) <= seen_errors <= _errors(written)
        if mode == "create":
            assert (seen_lines, seen_transitions) == (len(written), transitions(written)[0])
        assert sample(registry, "galera_backend_ready") == (1.0 if transitions(disk)[1] else 0.0)
        assert sample(registry, "galera_backend_log_rotations_total") == rotations
    finally:
        follower.close()
        source.close()
