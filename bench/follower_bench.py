"""Benchmark of the back-end log follower: throughput, latency to /metrics, idle CPU, RSS.

    python bench/follower_bench.py                 # quick: 256 MiB appended
    python bench/follower_bench.py --size-mib 1024 # the 1 GB run

A separate writer process appends log4j-style lines (as the back-end would) while this
process runs a BackendLogCollector, the way the exporter does, and reads it through full
scrapes. Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from prometheus_client.exposition import generate_latest

from galera_exporter.collectors.backend_log import BackendLogCollector
from galera_exporter.exporter import Exporter, ScrapeRegistry

READY = "SMTP Service started plain:10025//127.0.0.1"
RESET = "SMTP Service handler hello name is: gateway1"

# Runs in its own process: appends `size` bytes of lines in writes of `chunk` bytes (0: one
# write per line, as a logger flushing every line does), then exits.
WRITER = r"""
import sys
path, size, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lines = []
for i in range(700):
    level = "ERROR" if i % 50 == 0 else "INFO "
    lines.append(f"2026-11-27 10:{i % 60:02d}:{i % 60:02d},{i % 1000:03d} {level} "
                 f"[mitm.application.djigzo.james.mailets.Mailer] message {i} delivered to "
                 f"relay 127.0.0.1:10026 in {i % 97} ms\n")
block = "".join(lines).encode()
step = len(block)
with open(path, "ab", buffering=0) as out:
    written = 0
    while written < size:
        view = block if size - written >= step else block[: size - written]
        if chunk:
            for start in range(0, len(view), chunk):
                out.write(view[start:start + chunk])
        else:
            for line in view.splitlines(keepends=True):
                out.write(line)
        written += len(view)
print(written, block.count(b"\n") * (written // step) + view.count(b"\n"), flush=True)
"""


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def scrape(exporter: Exporter) -> dict[str, float]:
    text = generate_latest(ScrapeRegistry(exporter, time.monotonic() + 5)).decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("galera_backend_") and "{" not in line:
            name, value = line.split(" ")
            values[name] = float(value)
    return values


def throughput_and_rss(log: Path, exporter: Exporter, size: int, chunk: int) -> None:
    base = scrape(exporter)["galera_backend_log_lines_total"]
    samples: list[int] = [rss_bytes()]
    done = threading.Event()

    def watch_rss() -> None:
        while not done.wait(0.25):
            samples.append(rss_bytes())

    watcher = threading.Thread(target=watch_rss, daemon=True)
    watcher.start()
    cpu0, t0 = cpu_seconds(), time.monotonic()
    writer = subprocess.run(
        [sys.executable, "-c", WRITER, str(log), str(size), str(chunk)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    written, lines = (int(x) for x in writer.stdout.split())
    t_written = time.monotonic() - t0
    while scrape(exporter)["galera_backend_log_lines_total"] - base < lines:
        time.sleep(0.01)
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds() - cpu0
    done.set()
    watcher.join()
    samples.append(rss_bytes())
    mib = 1024 * 1024
    print(
        f"appended      {written / mib:,.0f} MiB, {lines:,} lines (writer took {t_written:.1f} s)"
    )
    print(f"throughput    {lines / elapsed:,.0f} lines/s, {written / mib / elapsed:,.0f} MiB/s "
          f"sustained through the follower ({elapsed:.1f} s)")  # fmt: skip
    print(f"follower CPU  {cpu:.1f} s ({cpu / elapsed:.0%} of one core while busy)")
    print(f"RSS           start {samples[0] / mib:.1f} MiB, max {max(samples) / mib:.1f} MiB, "
          f"end {samples[-1] / mib:.1f} MiB over {len(samples)} samples")  # fmt: skip


def latency(log: Path, exporter: Exporter, rounds: int) -> None:
    took = []
    with log.open("ab", buffering=0) as out:
        for i in range(rounds):
            want = 1.0 if i % 2 == 0 else 0.0
            text = READY if want else RESET
            start = time.monotonic()
            out.write(f"2026-11-27 11:00:00,000 INFO  [S] {text}\n".encode())
            while scrape(exporter)["galera_backend_ready"] != want:
                time.sleep(0.0005)
            took.append(time.monotonic() - start)
    took.sort()
    ms = [x * 1000 for x in took]
    print(f"latency       line written -> visible in a /metrics scrape, {rounds} flips: "
          f"p50 {statistics.median(ms):.1f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.1f} ms, "
          f"max {ms[-1]:.1f} ms")  # fmt: skip


def idle_cpu(seconds: float) -> None:
    cpu0, t0 = cpu_seconds(), time.monotonic()
    time.sleep(seconds)  # the measurement window itself
    used = cpu_seconds() - cpu0
    tick = 1 / os.sysconf("SC_CLK_TCK")  # os.times() counts in clock ticks
    print(f"idle CPU      {used * 1000:.0f} ms of CPU in {time.monotonic() - t0:.1f} s idle "
          f"({used / seconds:.2%} of one core; resolution {tick * 1000:.0f} ms)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256, help="MiB to append (1024 = 1 GB)")
    parser.add_argument("--latency-rounds", type=int, default=200)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--polling", action="store_true", help="use the polling fallback")
    parser.add_argument(
        "--write-size", type=int, default=65536, help="bytes per write() of the writer; 0: per line"
    )
    parser.add_argument("--dir", default=None, help="where to write the log (default: a temp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="follower-bench-") as tmp:
        log = Path(tmp) / "djigzo.log"
        log.write_text(f"2026-11-27 09:00:00,000 INFO  [S] {RESET}\n")
        source = BackendLogCollector(
            str(log), [r"SMTP Service started"], [r"SMTP Service handler hello name is"],
            use_inotify=not args.polling,
        )  # fmt: skip
        exporter = Exporter([source])
        try:
            while not source.follower.status().following:
                time.sleep(0.01)
            mode = "inotify" if source.follower.status().inotify else "polling"
            print(f"follower      {mode}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
            idle_cpu(args.idle_seconds)
            latency(log, exporter, args.latency_rounds)
            throughput_and_rss(log, exporter, args.size_mib * 1024 * 1024, args.write_size)
            idle_cpu(args.idle_seconds)
        finally:
            exporter.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
