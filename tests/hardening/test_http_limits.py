"""The HTTP server's bounds against a real exporter process over real sockets: oversized and
slow requests, header floods, and hundreds of idle or slow connections."""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from galera_exporter import httpserver
from galera_lab.wait import wait_for
from tests.hardening.harness import Exporter, metric, offline_exporter
from tests.support.tls import encrypt_key, self_signed

pytestmark = [pytest.mark.timeout(240)]


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[Exporter]:
    proc = offline_exporter(tmp_path)
    try:
        yield proc
    finally:
        proc.stop()


def raw_exchange(exporter: Exporter, data: bytes, timeout: float = 15.0) -> bytes:
    """Send `data` on a fresh connection and read until the server closes it."""
    with socket.create_connection((exporter.host, exporter.port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # the server may answer and close before we finish
            sock.sendall(data)
        received = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                received += chunk
        return received


def status_line(response: bytes) -> str:
    return response.split(b"\r\n", 1)[0].decode(errors="replace")


def assert_scrape_fast(exporter: Exporter, limit: float = 1.0) -> float:
    response = exporter.get("/metrics", timeout=limit + 4)
    assert response.status == 200
    assert metric(response.samples(), "galera_up") == 0
    assert response.seconds <= limit, f"scrape took {response.seconds:.2f}s > {limit}s"
    return response.seconds


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", "414"),
        (b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 40_000 + b"\r\n\r\n", "431"),
        (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(70)) + b"\r\n", "431"),
        (b"POST /-/reload HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n", "413"),
        (b"POST /-/reload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "411"),
        (b"POST /-/reload HTTP/1.1\r\nContent-Length: -5\r\n\r\n", "400"),
        (b"POST /-/reload HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "403"),  # within bounds
    ],
    ids=["long-line", "big-header", "many-headers", "big-body", "chunked", "bad-length", "ok"],
)
def test_oversized_requests_answered_and_closed(
    exporter: Exporter, request_bytes: bytes, expected: str
) -> None:
    response = raw_exchange(exporter, request_bytes)
    print(f"{request_bytes[:30]!r}... -> {status_line(response)!r}")
    assert status_line(response).split(" ")[1] == expected, response[:300]
    assert_scrape_fast(exporter)


def test_header_flood_keeps_rss_bounded(exporter: Exporter) -> None:
    """20 clients sending 6.4 MB of headers each (the 100 x 64 KiB http.client allows): before
    the bounds this took RSS to 157 MB, past the unit's MemoryMax=128M."""
    clients, header_lines, line = 20, 100, b"X-Flood: " + b"f" * 65_000 + b"\r\n"
    assert_scrape_fast(exporter)
    before = exporter.rss_kib()
    answers: list[bytes] = []
    sent: list[int] = []

    def flood() -> None:
        total = 0
        with socket.create_connection((exporter.host, exporter.port), timeout=15) as sock:
            try:
                sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
                for _ in range(header_lines):
                    sock.sendall(line)
                    total += len(line)
                sock.sendall(b"\r\n")
            except OSError:
                pass  # refused part-way: what we want
            sent.append(total)
            with contextlib.suppress(OSError):
                answers.append(sock.recv(200))

    started = time.monotonic()
    threads = [threading.Thread(target=flood) for _ in range(clients)]
    for thread in threads:
        thread.start()
    peak_seen = before
    while any(t.is_alive() for t in threads) and time.monotonic() - started < 60:
        peak_seen = max(peak_seen, exporter.rss_kib())
        time.sleep(0.02)  # sampling interval of the RSS probe, not a wait for a condition
    for thread in threads:
        thread.join(30)
    peak = max(peak_seen, exporter.status_field("VmHWM"))
    print(
        f"{clients} clients, {sum(sent) / 1e6:.1f} MB of headers sent before refusal in "
        f"{time.monotonic() - started:.1f}s; RSS before {before} KiB, peak {peak} KiB; "
        f"answers {sorted({a[:12] for a in answers})}"
    )
    assert peak - before < 20 * 1024, "RSS grew by more than 20 MiB under the header flood"
    assert all(a.startswith(b"HTTP/1.1 431") for a in answers if a), answers
    assert_scrape_fast(exporter)
    assert exporter.rss_kib() < 80 * 1024


@pytest.mark.slow  # ~10 s: waits out the deadlines it checks
def test_slowloris_is_cut_at_the_header_deadline(exporter: Exporter) -> None:
    """One header byte every 0.5 s used to hold a thread forever (30 s timeout per read)."""
    limit = httpserver.HEADER_TIMEOUT_SECONDS
    with socket.create_connection((exporter.host, exporter.port), timeout=5) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
        started = time.monotonic()
        answer = b""
        for _ in range(int(limit * 2 + 20)):  # bounded: 0.5 s each
            try:
                sock.sendall(b"a")
            except OSError:
                break
            readable, _, _ = select.select([sock], [], [], 0.5)
            if readable:
                with contextlib.suppress(OSError):
                    answer = sock.recv(200)
                break
        elapsed = time.monotonic() - started
    print(f"slow client answered after {elapsed:.1f}s: {answer[:40]!r}")
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert limit - 1 <= elapsed <= limit + 3
    assert_scrape_fast(exporter)


class Crowd:
    """Hundreds of client sockets on one selector: idle ones send nothing, slow ones a header
    byte every second; any the server closes are opened again (up to a bound)."""

    def __init__(self, exporter: Exporter, idle: int, slow: int, max_reconnects: int) -> None:
        self.address = (exporter.host, exporter.port)
        self.selector = selectors.DefaultSelector()
        self.reconnects_left = max_reconnects
        self.reconnects = 0
        self.stop = threading.Event()
        for i in range(idle + slow):
            self._open(slow=i >= idle)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _open(self, slow: bool) -> None:
        sock = socket.create_connection(self.address, timeout=5)
        sock.setblocking(False)
        if slow:
            sock.send(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
        self.selector.register(sock, selectors.EVENT_READ, slow)

    def _run(self) -> None:
        last_drip = time.monotonic()
        while not self.stop.is_set():
            for key, _ in self.selector.select(0.2):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                with contextlib.suppress(OSError):
                    sock.recv(4096)
                self.selector.unregister(sock)
                sock.close()
                if self.reconnects_left > 0 and not self.stop.is_set():
                    self.reconnects_left -= 1
                    self.reconnects += 1
                    with contextlib.suppress(OSError):
                        self._open(slow=bool(key.data))
            if time.monotonic() - last_drip >= 1.0:
                last_drip = time.monotonic()
                for key in list(self.selector.get_map().values()):
                    if key.data:
                        with contextlib.suppress(OSError):
                            key.fileobj.send(b"a")  # type: ignore[union-attr]

    @property
    def open(self) -> int:
        return len(self.selector.get_map())

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self.selector.close()


def test_scrapes_served_while_500_idle_and_slow_clients_hold_sockets(exporter: Exporter) -> None:
    """Before the cap, every connection had a thread: 300 idle sockets under the unit's
    TasksMax=256 made every scrape fail. Now the thread count stays bounded, the oldest idle
    or slow connections make room, and scrapes still answer within a second."""
    assert_scrape_fast(exporter)
    crowd = Crowd(exporter, idle=250, slow=250, max_reconnects=3000)
    try:
        times = []
        max_threads = 0
        for _ in range(20):  # bounded number of tries, each must succeed
            response = exporter.get("/metrics", timeout=5)
            times.append(response.seconds)
            assert response.status == 200
            assert metric(response.samples(), "galera_up") == 0
            max_threads = max(max_threads, exporter.status_field("Threads"))
        response = exporter.get("/metrics")
        samples = response.samples()
        dropped = metric(samples, "galera_exporter_http_rejected_total", reason="dropped_idle")
        print(
            f"500 clients held ({crowd.open} open now, {crowd.reconnects} reconnects): 20 "
            f"scrapes, slowest {max(times) * 1000:.0f} ms, median "
            f"{sorted(times)[10] * 1000:.0f} ms; exporter threads at most {max_threads}; "
            f"dropped idle/slow: {dropped}"
        )
        assert max(times) <= 1.0
        assert max_threads <= httpserver.MAX_THREADS + 10
        assert dropped is not None and dropped >= 500 - httpserver.MAX_CONNECTIONS
        wait_for(
            "the drop logged",
            lambda: "closed the oldest one still sending its request" in exporter.log_text(),
            10,
        )
    finally:
        crowd.close()
    assert_scrape_fast(exporter)

    def open_connections() -> bool:
        samples = exporter.get("/metrics").samples()
        return metric(samples, "galera_exporter_http_connections") == 1  # this scrape only

    wait_for("every closed client forgotten", open_connections, 10)


@pytest.mark.parametrize("case", ["fifo", "bcrypt-cost-20", "passphrase-key"])
def test_check_config_is_prompt_and_located(
    tmp_path: Path, certificate: tuple[Path, Path], case: str
) -> None:
    """Each of these used to hang start-up and --check-config (a FIFO in open(), a dummy hash
    at cost 20 for ~80 s), or ended in a misleading '[Errno 22]' (a passphrase key without a
    terminal; with one, OpenSSL prompted)."""
    cert, key = certificate
    web = tmp_path / "web.yml"
    if case == "fifo":
        fifo = tmp_path / "cert.pem"
        os.mkfifo(fifo)
        web.write_text(f"tls_server_config:\n  cert_file: {fifo}\n  key_file: {key}\n")
        expected = f"{web}: tls_server_config.cert_file: cannot read {fifo}: not a regular file"
    elif case == "bcrypt-cost-20":
        hashed = "$2b$20$" + "J9Mn3bqfd0OzQh2LeZ9mGe1vPfA3BNRj0ZGtXpF7wSdh6X2CuZ6Hi"
        web.write_text(f"basic_auth_users:\n  alice: '{hashed}'\n")
        expected = f"{web}: basic_auth_users.alice: bcrypt cost 20 out of range 4..19"
    else:
        encrypted = encrypt_key(key, tmp_path / "encrypted.key", "a-passphrase")
        web.write_text(f"tls_server_config:\n  cert_file: {cert}\n  key_file: {encrypted}\n")
        expected = f"{web}: tls_server_config.key_file: {encrypted} is protected by a passphrase"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "galera_exporter", f"--web.config.file={web}", "--check-config"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    print(f"{case}: --check-config in {elapsed:.1f}s: {result.stderr.strip()}")
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Errno" not in result.stderr
    assert elapsed < 10


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.mark.slow  # ~10 s: waits out the deadlines it checks
def test_tls_handshakes_are_bounded_too(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    """Under TLS the handshake runs in the connection's thread within the same deadline: 200
    clients that connect and never say hello neither block scrapes nor hold threads, and one
    alone is cut after HEADER_TIMEOUT_SECONDS (it used to be 30 s per read)."""
    cert, key = certificate
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n")
    exporter = offline_exporter(tmp_path, f"--web.config.file={web}", tls_ca=cert)
    try:
        silent = [socket.create_connection((exporter.host, exporter.port)) for _ in range(200)]
        try:
            times = []
            for _ in range(10):  # bounded number of tries, each must succeed
                response = exporter.get("/metrics", timeout=5)
                assert response.status == 200
                times.append(response.seconds)
            threads = exporter.status_field("Threads")
        finally:
            for sock in silent:
                sock.close()
        print(f"200 silent TLS clients: 10 scrapes, slowest {max(times) * 1000:.0f} ms, "
              f"{threads} threads")  # fmt: skip
        assert max(times) <= 1.0
        assert threads <= httpserver.MAX_THREADS + 10
        with socket.create_connection((exporter.host, exporter.port), timeout=30) as sock:
            sock.sendall(b"\x16\x03\x01")  # the first bytes of a ClientHello, then nothing
            started = time.monotonic()
            with contextlib.suppress(OSError):
                while sock.recv(4096):
                    pass
            elapsed = time.monotonic() - started
        print(f"a stalled TLS handshake was closed after {elapsed:.1f}s")
        limit = httpserver.HEADER_TIMEOUT_SECONDS
        assert limit - 1 <= elapsed <= limit + 3
    finally:
        exporter.stop()


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux script not installed")
def test_passphrase_key_never_prompts_on_a_terminal(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    """With a controlling terminal (script(1) gives it one), OpenSSL used to print 'Enter PEM
    pass phrase:' and wait for a person; start-up must fail at once instead."""
    cert, key = certificate
    encrypted = encrypt_key(key, tmp_path / "encrypted.key", "a-passphrase")
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {cert}\n  key_file: {encrypted}\n")
    command = f"{sys.executable} -m galera_exporter --web.config.file={web} --check-config"
    result = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    print(f"on a terminal: rc {result.returncode}: {result.stdout.strip()}")
    assert "pass phrase" not in result.stdout
    assert "is protected by a passphrase" in result.stdout
    assert result.returncode == 2
