"""The HTTP side under hostile load: RSS, /metrics latency and CPU of one exporter process.

    python bench/http_bench.py                    # 200 scrapes per phase
    python bench/http_bench.py --scrapes 500 --clients 500

Starts galera-exporter on a free 127.0.0.1 port with no mysqld behind it (galera_up 0: the
scrape itself is then a few milliseconds, so what is measured is the HTTP server), then prints
exporter RSS and /metrics p50/p99 latency (a new connection per scrape):

1. at rest;
2. under a header flood: 20 clients each sending 100 x 64 KiB header lines, reconnecting;
3. with --clients slow and idle clients holding sockets (half send nothing, half a header
   byte a second), reconnecting whenever they are dropped;
4. with basic auth (bcrypt cost 10): 20 clients sending ever-new wrong passwords for
   scrapes/10 half-seconds, the exporter's CPU use, and the latency of scrapes (two a second)
   with the right password.

Loopback only; every load loop is bounded and stops by itself. Figures only; nothing asserted.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import os
import selectors
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import bcrypt

from _common import cpu_seconds, start_exporter, status_kib, stop_process

PASSWORD = "bench-Secret-1"  # noqa: S105 - a throwaway credential for this process only


def auth_header(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@contextlib.contextmanager
def exporter(workdir: Path, *args: str) -> Iterator[tuple[int, int]]:
    """(pid, port) of an exporter with no mysqld; stopped by its pid."""
    env = {**os.environ, "GALERA_EXPORTER_MYSQL_SOCKET": str(workdir / "none.sock")}
    with open(workdir / "exporter.log", "ab") as log:
        proc, port = start_exporter(
            f"--galera.datadir={workdir}", "--mysql.timeout=0.5", *args, env=env, log=log
        )
    try:
        yield proc.pid, port
    finally:
        stop_process(proc)


def scrape_latencies(
    port: int, count: int, headers: dict[str, str] | None = None
) -> tuple[list[float], int]:
    times, failures = [], 0
    for _ in range(count):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        started = time.perf_counter()
        try:
            conn.request("GET", "/metrics", headers=headers or {})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures += 1
        except (OSError, http.client.HTTPException):
            failures += 1
        finally:
            conn.close()
        times.append(time.perf_counter() - started)
    return times, failures


def report(name: str, pid: int, times: list[float], failures: int, extra: str = "") -> None:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{name:<34} RSS {status_kib(pid, 'VmRSS') / 1024:6.1f} MiB (peak "
        f"{status_kib(pid, 'VmHWM') / 1024:5.1f})  /metrics p50 "
        f"{statistics.median(times) * 1000:6.1f} ms  p99 {p99 * 1000:7.1f} ms  "
        f"failed {failures}/{len(times)}  threads {status_kib(pid, 'Threads')}{extra}"
    )


def under_load(load: Callable[[threading.Event], None], workers: int) -> Callable[[], None]:
    """Start `workers` threads running `load` until the returned function is called."""
    stop = threading.Event()
    threads = [threading.Thread(target=load, args=(stop,), daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()

    def finish() -> None:
        stop.set()
        for thread in threads:
            thread.join(20)

    return finish


def header_flood(port: int) -> Callable[[threading.Event], None]:
    line = b"X-Flood: " + b"f" * 65_000 + b"\r\n"

    def flood(stop: threading.Event) -> None:
        for _ in range(500):  # bounded reconnects
            if stop.is_set():
                return
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
            ):
                sock.sendall(b"GET /metrics HTTP/1.1\r\n")
                for _ in range(100):
                    sock.sendall(line)

    return flood


def hold_crowd(port: int, clients: int, stop: threading.Event) -> None:
    """`clients` sockets: half idle, half dripping a header byte a second; reopened when
    dropped, at most 20 x `clients` times."""
    selector = selectors.DefaultSelector()
    reopen_left = 20 * clients

    def open_one(slow: bool) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.setblocking(False)
        if slow:
            sock.send(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
        selector.register(sock, selectors.EVENT_READ, slow)

    for i in range(clients):
        open_one(slow=i % 2 == 1)
    last_drip = time.monotonic()
    while not stop.is_set():
        for key, _ in selector.select(0.2):
            selector.unregister(key.fileobj)
            key.fileobj.close()  # type: ignore[union-attr]
            if reopen_left > 0:
                reopen_left -= 1
                with contextlib.suppress(OSError):
                    open_one(bool(key.data))
        if time.monotonic() - last_drip >= 1:
            last_drip = time.monotonic()
            for key in list(selector.get_map().values()):
                if key.data:
                    with contextlib.suppress(OSError):
                        key.fileobj.send(b"a")  # type: ignore[union-attr]
    for key in list(selector.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    selector.close()


def password_flood(port: int) -> Callable[[threading.Event], None]:
    def flood(stop: threading.Event) -> None:
        for i in range(5000):  # bounded
            if stop.is_set():
                return
            headers = auth_header("prometheus", f"guess-{threading.get_ident()}-{i}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/metrics", headers=headers)
                conn.getresponse().read()
                conn.close()

    return flood


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=200, help="scrapes per phase")
    parser.add_argument("--clients", type=int, default=500, help="slow and idle clients held")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="http-bench-"))
    print(f"{os.cpu_count()} cores; {args.scrapes} scrapes per phase, new connection each")
    with exporter(workdir) as (pid, port):
        scrape_latencies(port, 20)  # warm up
        report("at rest", pid, *scrape_latencies(port, args.scrapes))
        finish = under_load(header_flood(port), 20)
        try:
            report("header flood (20 x 6.4 MB)", pid, *scrape_latencies(port, args.scrapes))
        finally:
            finish()
        stop = threading.Event()
        crowd = threading.Thread(target=hold_crowd, args=(port, args.clients, stop), daemon=True)
        crowd.start()
        time.sleep(2)  # let the crowd connect and the drops begin before measuring
        try:
            label = f"{args.clients} slow/idle clients held"
            report(label, pid, *scrape_latencies(port, args.scrapes))
        finally:
            stop.set()
            crowd.join(30)
    web = workdir / "web.yml"
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
    web.write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    with exporter(workdir, f"--web.config.file={web}") as (pid, port):
        good = auth_header("prometheus", PASSWORD)
        scrape_latencies(port, 5, good)
        cpu, started = cpu_seconds(pid), time.monotonic()
        finish = under_load(password_flood(port), 20)
        times, failures = [], 0
        try:
            # Scrapes at Prometheus' pace, compressed (a scrape without mysqld costs ~45 ms of
            # CPU itself, which back-to-back scrapes would add to the figure).
            for _ in range(args.scrapes // 10):
                more, failed = scrape_latencies(port, 1, good)
                times += more
                failures += failed
                time.sleep(0.5)
        finally:
            finish()
        wall = time.monotonic() - started
        used = cpu_seconds(pid) - cpu
        extra = f"  CPU {used:.1f}s in {wall:.1f}s = {used / wall:.2f} cores"
        report("20 clients, wrong passwords", pid, times, failures, extra)
    print(f"exporter log: {workdir / 'exporter.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
