"""The HTTP server: bounded requests and connections, idle and slow clients dropped first.

One thread (the one calling serve_forever) accepts connections and reads requests with a
selector; only a complete request goes to one of WORKERS threads, which runs the WSGI app and
writes the answer. So an idle or slow client costs a socket and its buffer, never a thread:

- a request is read whole (head and body) under byte limits and one deadline for the TLS
  handshake plus the head (not a timeout per read, which a client sending a byte every few
  seconds never hits), then answered 408/411/413/414/431/400 and closed when it breaks one;
- at most MAX_CONNECTIONS connections are being read; a new one beyond that makes room by
  closing the oldest (a scraper sends its request as soon as it connects, so it is the newest
  and the last to go); when WORKERS are busy and MAX_QUEUED complete requests wait, a new
  complete request is answered 503.

Why not a library: waitress (the obvious pure-Python choice, and built the same way) has no
TLS, which the web config needs; cheroot does the TLS handshake in its accept thread, so one
silent client stalls every other, and brings three dependencies.
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import selectors
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

log = logging.getLogger(__name__)

# Prometheus sends ~300 bytes of headers; Go's servers allow 1 MiB, nginx 8 KiB per line.
MAX_REQUEST_LINE_BYTES = 8 * 1024
MAX_HEAD_BYTES = 32 * 1024  # request line and headers together
MAX_HEADERS = 64
# No endpoint reads a body; POST /-/reload may carry a small one.
MAX_BODY_BYTES = 16 * 1024
# The TLS handshake and the whole request must arrive within this (Go's ReadHeaderTimeout).
HEADER_TIMEOUT_SECONDS = 10.0
# Writing the response: /metrics is ~30 KB, which fits the socket buffers of any live client.
WRITE_TIMEOUT_SECONDS = 30.0
# Connections being read. Each holds at most MAX_HEAD_BYTES + MAX_BODY_BYTES (12 MiB in all, in
# the worst case) and a descriptor; the systemd unit's LimitNOFILE default (1024) is far above.
MAX_CONNECTIONS = 256
# Threads that run complete requests (a scrape is a few milliseconds of CPU), and complete
# requests that may wait for one before new ones are answered 503.
WORKERS = 8
MAX_QUEUED = 64
# All the threads of the server: the selector thread and the workers.
MAX_THREADS = WORKERS + 1
# After an error answer, what the client still sends is read and discarded for this long (at
# most LINGER_BYTES): closing with unread data sends a reset, which can destroy the answer
# before the client reads it.
LINGER_SECONDS = 1.0
LINGER_BYTES = 256 * 1024
# Warnings about refused or dropped connections: at most one per this many seconds.
LOG_INTERVAL_SECONDS = 10.0
RECV_BYTES = 16 * 1024


class RequestError(Exception):
    """The request breaks a limit: answer `status` and close."""

    def __init__(self, status: str, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.kind = kind


class HttpStats:
    """Counts of what the server refused, exported with the scrape."""

    # auth_busy: answered 503 because the bcrypt check could not run (counted by the app).
    KINDS = ("connection_limit", "dropped_idle", "timeout", "too_large", "bad_request", "auth_busy")

    def __init__(self) -> None:
        self._counts = dict.fromkeys(self.KINDS, 0)
        self._lock = threading.Lock()
        self.open_connections = 0

    def add(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def count(self, kind: str) -> int:
        with self._lock:
            return self._counts[kind]

    def metrics(self) -> list[Metric]:
        rejected = CounterMetricFamily(
            "galera_exporter_http_rejected",
            "Connections or requests the HTTP server refused or dropped, by reason",
            labels=["reason"],
        )
        with self._lock:
            for kind, count in self._counts.items():
                rejected.add_metric([kind], count)
        connections = GaugeMetricFamily(
            "galera_exporter_http_connections",
            f"HTTP connections being read (at most {MAX_CONNECTIONS}) or answered",
            value=self.open_connections,
        )
        return [rejected, connections]


def _head_end(buf: bytearray) -> int:
    """Index just past the blank line ending the head, or -1."""
    ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := buf.find(sep)) >= 0]
    return min(ends) if ends else -1


def _content_length(head: bytes) -> int:
    lines = head.split(b"\n")
    if len(lines) - 2 > MAX_HEADERS:  # minus the request line and the blank line
        raise RequestError(
            "431 Request Header Fields Too Large", f"more than {MAX_HEADERS} headers", "too_large"
        )
    length = 0
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        name = name.strip().lower()
        if name == b"transfer-encoding":
            raise RequestError(
                "411 Length Required", "chunked bodies are not accepted", "bad_request"
            )
        if name == b"content-length":
            text = value.strip()
            if not text.isdigit() or len(text) > 12:
                raise RequestError("400 Bad Request", "invalid Content-Length", "bad_request")
            length = int(text)
    if length > MAX_BODY_BYTES:
        raise RequestError(
            "413 Content Too Large", f"body larger than {MAX_BODY_BYTES} bytes", "too_large"
        )
    return length


def _head_too_large() -> RequestError:
    return RequestError(
        "431 Request Header Fields Too Large",
        f"headers larger than {MAX_HEAD_BYTES} bytes",
        "too_large",
    )


def request_length(buf: bytearray) -> int | None:
    """Length of the complete request (line, headers, body) at the start of `buf`; None while
    incomplete; RequestError as soon as a limit is broken, however little has arrived."""
    end = _head_end(buf)
    line_end = buf.find(b"\n")
    if (len(buf) if line_end < 0 else line_end) > MAX_REQUEST_LINE_BYTES:
        raise RequestError("414 URI Too Long", "request line too long", "too_large")
    if (len(buf) if end < 0 else end) > MAX_HEAD_BYTES:
        raise _head_too_large()
    if end < 0:
        return None
    total = end + _content_length(bytes(buf[:end]))
    return total if len(buf) >= total else None


@dataclass(eq=False)  # hashed by identity: one per accepted socket
class _Reading:
    """A connection whose request is still arriving (or, lingering, whose answer was sent)."""

    sock: socket.socket  # non-blocking; an SSLSocket under TLS
    client: tuple[Any, ...]
    deadline: float
    buf: bytearray = field(default_factory=bytearray)
    handshaking: bool = False
    lingering: bool = False
    discarded: int = 0


class _Writer(io.RawIOBase):
    """Response output: sendall, so wsgiref never sees a partial write."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._sock.sendall(data)
        return len(data)


class _RateLimitedWarning:
    def __init__(self) -> None:
        self._last = 0.0
        self._suppressed = 0
        self._lock = threading.Lock()

    def __call__(self, message: str, *args: object) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last < LOG_INTERVAL_SECONDS:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
        log.warning(message + " (%d similar messages suppressed)", *args, suppressed)


class BoundedHTTPServer(WSGIServer):
    """A WSGI server with the bounds above and a TLS context a reload can swap."""

    ssl_context: ssl.SSLContext | None = None
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops SYNs when many clients connect at once, and a
    # dropped SYN costs the client a 1 s (then 3 s) retransmission.
    request_queue_size = 1024
    max_connections = MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.stats = HttpStats()
        self._reading: dict[socket.socket, _Reading] = {}  # insertion order: oldest first
        self._selector = selectors.DefaultSelector()
        self._queue: queue.Queue[tuple[socket.socket, Any, bytes] | None] = queue.Queue(MAX_QUEUED)
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._next_expiry = 0.0
        self._warn_drop = _RateLimitedWarning()
        self._warn_refuse = _RateLimitedWarning()
        super().__init__(*args, **kwargs)
        self.socket.setblocking(False)
        self._selector.register(self.socket, selectors.EVENT_READ, None)
        self._workers = [
            threading.Thread(target=self._work, name=f"http-worker-{n}", daemon=True)
            for n in range(WORKERS)
        ]
        for worker in self._workers:
            worker.start()

    # --- the selector thread ---------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stopped.clear()
        try:
            while not self._stop.is_set():
                wait = poll_interval
                if self._reading:
                    wait = min(wait, max(self._next_expiry - time.monotonic(), 0.0))
                for key, _ in self._selector.select(wait):
                    if key.data is None:
                        self._accept()
                    else:
                        self._advance(key.data)
                if time.monotonic() >= self._next_expiry:
                    self._expire()
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        self._stop.set()
        self._stopped.wait()

    def server_close(self) -> None:
        for reading in list(self._reading.values()):
            self._close(reading)
        for _ in self._workers:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)
        self._selector.close()
        super().server_close()

    def _accept(self) -> None:
        for _ in range(128):  # then let the connections already accepted move on
            try:
                sock, client = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:  # e.g. EMFILE: the others still need serving
                log.warning("accept failed: %s", err)
                return
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                # As Go's net/http: the TLS flights and the answer go out as they are written,
                # not after the client's delayed ACK (which took a TLS handshake to 35 ms).
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if len(self._reading) >= self.max_connections:
                self._drop_oldest()
            deadline = time.monotonic() + HEADER_TIMEOUT_SECONDS
            context = self.ssl_context
            try:
                if context is not None:
                    sock = context.wrap_socket(
                        sock, server_side=True, do_handshake_on_connect=False
                    )
            except (ssl.SSLError, OSError) as err:
                log.debug("connection from %s ended: %s", client[0], err)
                sock.close()
                continue
            reading = _Reading(sock, client, deadline, handshaking=context is not None)
            self._reading[sock] = reading
            self._selector.register(sock, selectors.EVENT_READ, reading)
            self._next_expiry = min(self._next_expiry, deadline)
            self._update_open()

    def _drop_oldest(self) -> None:
        oldest = next(iter(self._reading.values()))
        self.stats.add("dropped_idle")
        self._warn_drop(
            "%d connections open: closed the oldest one still sending its request (from %s, "
            "%.1fs left of its deadline)",
            self.max_connections,
            oldest.client[0],
            oldest.deadline - time.monotonic(),
        )
        self._close(oldest)

    def _advance(self, reading: _Reading) -> None:
        """Read what the client sent; hand a complete request to a worker."""
        sock = reading.sock
        try:
            if reading.handshaking:
                sock.do_handshake()  # type: ignore[attr-defined]
                reading.handshaking = False
            while True:
                chunk = sock.recv(RECV_BYTES)
                if not chunk:
                    self._close(reading)
                    return
                if reading.lingering:
                    reading.discarded += len(chunk)
                    if reading.discarded > LINGER_BYTES:
                        self._close(reading)
                        return
                    continue
                reading.buf += chunk
                length = request_length(reading.buf)
                if length is not None:
                    self._dispatch(reading, bytes(reading.buf[:length]))
                    return
        except (ssl.SSLWantReadError, BlockingIOError, InterruptedError):
            self._selector.modify(sock, selectors.EVENT_READ, reading)
        except ssl.SSLWantWriteError:
            self._selector.modify(sock, selectors.EVENT_WRITE, reading)
        except RequestError as err:
            self._answer_error(reading, err)
        except (ssl.SSLError, OSError) as err:
            log.debug("connection from %s ended: %s", reading.client[0], err)
            self._close(reading)

    def _dispatch(self, reading: _Reading, data: bytes) -> None:
        self._forget(reading)
        try:
            self._queue.put_nowait((reading.sock, reading.client, data))
        except queue.Full:
            self.stats.add("connection_limit")
            self._warn_refuse(
                "%d workers busy and %d requests waiting: answered 503 to %s",
                WORKERS,
                MAX_QUEUED,
                reading.client[0],
            )
            with contextlib.suppress(OSError, ssl.SSLError):
                reading.sock.send(_error_bytes("503 Service Unavailable", "too busy, retry"))
            reading.sock.close()
        self._update_open()

    def _answer_error(self, reading: _Reading, err: RequestError) -> None:
        self.stats.add(err.kind)
        log.debug("refused a request from %s: %s %s", reading.client[0], err.status, err.reason)
        try:
            # Non-blocking: an answer this small fits the socket buffer of any live client.
            reading.sock.send(_error_bytes(err.status, err.reason))
            socket.socket.shutdown(reading.sock, socket.SHUT_WR)
        except (ssl.SSLError, OSError):
            self._close(reading)
            return
        reading.lingering = True
        reading.buf = bytearray()
        reading.deadline = time.monotonic() + LINGER_SECONDS
        self._next_expiry = min(self._next_expiry, reading.deadline)

    def _expire(self) -> None:
        now = time.monotonic()
        upcoming = now + HEADER_TIMEOUT_SECONDS
        for reading in list(self._reading.values()):
            if reading.deadline > now:
                upcoming = min(upcoming, reading.deadline)
            elif reading.lingering or reading.handshaking:
                self._close(reading)
            else:
                self._answer_error(
                    reading,
                    RequestError("408 Request Timeout", "request not received in time", "timeout"),
                )
                if reading.lingering:
                    upcoming = min(upcoming, reading.deadline)
        self._next_expiry = upcoming

    def _forget(self, reading: _Reading) -> None:
        if self._reading.pop(reading.sock, None) is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(reading.sock)

    def _close(self, reading: _Reading) -> None:
        self._forget(reading)
        with contextlib.suppress(OSError):
            reading.sock.close()
        self._update_open()

    def _update_open(self) -> None:
        # Also called by workers: len() of the selector thread's dict is atomic in CPython, and
        # a gauge a moment stale is fine.
        self.stats.open_connections = len(self._reading) + self._busy + self._queue.qsize()

    # --- the workers ---------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            sock, client, data = item
            with self._busy_lock:
                self._busy += 1
            try:
                sock.settimeout(WRITE_TIMEOUT_SECONDS)
                self.RequestHandlerClass((sock, data), client, self)  # type: ignore[arg-type]
                with contextlib.suppress(OSError):  # the client may have gone first
                    # TCP-level, also under TLS: no close_notify exchange, which waits for the
                    # client's reply (SSLSocket.unwrap) and would let a client hold a worker.
                    socket.socket.shutdown(sock, socket.SHUT_WR)
            except Exception:  # noqa: BLE001 - as socketserver's own thread: log it, serve on
                self.handle_error(sock, client)
            finally:
                with contextlib.suppress(OSError):
                    sock.close()
                with self._busy_lock:
                    self._busy -= 1
                self._update_open()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address[0], exc_info=True)


def _error_bytes(status: str, reason: str) -> bytes:
    body = f"{reason}\n".encode()
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


class RequestHandlerMixin:
    """For a wsgiref handler class: read the already received request from memory."""

    request: Any
    connection: socket.socket
    rfile: Any
    wfile: Any

    def setup(self) -> None:
        sock, data = self.request
        self.connection = sock
        self.rfile = io.BytesIO(data)
        self.wfile = _Writer(sock)

    def finish(self) -> None:
        self.rfile.close()
