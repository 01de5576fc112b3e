"""The HTTP server: bounded requests and connections, idle and slow clients dropped first.

Why not a library: waitress (the obvious pure-Python choice) has no TLS, which the web config
needs; cheroot does the TLS handshake in its accept thread, so one silent client stalls every
other, and brings three dependencies. What we need on top of the standard library is small:

- a request is read whole (head and body) before the WSGI app sees it, under byte limits and
  one deadline for the TLS handshake plus the head (not a timeout per read, which a client
  sending a byte every few seconds never hits);
- at most MAX_CONNECTIONS connections have a thread; when a new one arrives and all are
  taken, the oldest one still sending its request (idle or slow) is dropped to make room.
  A scraper sends its request as soon as it connects, so it is always the newest reader and
  the last to be dropped; only when every slot is running a request is a connection refused.
"""

from __future__ import annotations

import contextlib
import io
import logging
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer
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
# Threads that read or run requests. The systemd unit allows 256 tasks (TasksMax); the log
# followers and the main thread need a few. Each thread costs ~100 KiB of RSS.
MAX_CONNECTIONS = 64
# Dropped connections whose thread has not yet noticed: they end within a few microseconds,
# this only bounds a burst.
MAX_THREADS = MAX_CONNECTIONS + 32
# Warnings about refused or dropped connections: at most one per this many seconds.
LOG_INTERVAL_SECONDS = 10.0
RECV_BYTES = 4096


class RequestError(Exception):
    """The request breaks a limit: answer `status` and close."""

    def __init__(self, status: str, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.kind = kind


class ClientGoneError(Exception):
    """The client closed, reset, or was dropped to make room."""


@dataclass(eq=False)  # compared and hashed by identity: one per accepted socket
class _Connection:
    sock: socket.socket
    client: str
    started: float
    reading: bool = True
    dropped: bool = False


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
            f"Open HTTP connections (at most {MAX_CONNECTIONS})",
            value=self.open_connections,
        )
        return [rejected, connections]


def _head_end(buf: bytearray) -> int:
    """Index just past the blank line ending the head, or -1."""
    ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := buf.find(sep)) >= 0]
    return min(ends) if ends else -1


def _timeout() -> RequestError:
    return RequestError("408 Request Timeout", "request not received in time", "timeout")


def _recv(sock: socket.socket, deadline: float) -> bytes:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _timeout()
    sock.settimeout(remaining)
    try:
        chunk = sock.recv(RECV_BYTES)
    except TimeoutError:
        raise RequestError(
            "408 Request Timeout", "request not received in time", "timeout"
        ) from None
    except (OSError, ssl.SSLError) as err:
        raise ClientGoneError from err
    if not chunk:
        raise ClientGoneError
    return chunk


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


def read_request(sock: socket.socket, deadline: float) -> bytes:
    """The request line, headers and body, each bounded, all received by `deadline`."""
    buf = bytearray()
    while True:
        end = _head_end(buf)
        line_end = buf.find(b"\n")
        if (len(buf) if line_end < 0 else line_end) > MAX_REQUEST_LINE_BYTES:
            raise RequestError("414 URI Too Long", "request line too long", "too_large")
        if (len(buf) if end < 0 else end) > MAX_HEAD_BYTES:
            raise _head_too_large()
        if end >= 0:
            break
        buf += _recv(sock, deadline)
    length = _content_length(bytes(buf[:end]))
    while len(buf) < end + length:
        buf += _recv(sock, deadline)
    return bytes(buf[: end + length])


def _handshake(tls: ssl.SSLSocket, deadline: float) -> None:
    """A TLS handshake that must finish by `deadline`, however slowly the client dribbles it."""
    tls.setblocking(False)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ClientGoneError("TLS handshake not finished in time")
        try:
            tls.do_handshake()
            return
        except ssl.SSLWantReadError:
            select.select([tls], [], [], remaining)
        except ssl.SSLWantWriteError:
            select.select([], [tls], [], remaining)
        except (ssl.SSLError, OSError) as err:
            raise ClientGoneError(f"TLS handshake failed: {err}") from err


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


class BoundedHTTPServer(ThreadingWSGIServer):
    """A threading WSGI server with the bounds above and a TLS context a reload can swap."""

    ssl_context: ssl.SSLContext | None = None
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops SYNs when many clients connect at once, and a
    # dropped SYN costs the client a 1 s (then 3 s) retransmission. With 500 clients
    # reconnecting as fast as they are dropped, 128 still overflowed and delayed scrapes by 1 s.
    request_queue_size = 1024
    max_connections = MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.stats = HttpStats()
        self._connections: set[_Connection] = set()
        self._live_threads = 0
        self._lock = threading.Lock()
        self._warn_drop = _RateLimitedWarning()
        self._warn_refuse = _RateLimitedWarning()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with contextlib.suppress(OSError):
            # As Go's net/http: the TLS flights and the response go out as they are written,
            # not after the client's delayed ACK (this took a TLS handshake from 10 to 35 ms).
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Connection(request, client_address[0], time.monotonic())
        with self._lock:
            if len(self._connections) >= self.max_connections:
                victim = min(
                    (c for c in self._connections if c.reading),
                    key=lambda c: c.started,
                    default=None,
                )
                if victim is not None:
                    self._drop(victim)
            admit = (
                len(self._connections) < self.max_connections and self._live_threads < MAX_THREADS
            )
            if admit:
                self._connections.add(conn)
                self._live_threads += 1
                self.stats.open_connections = len(self._connections)
        if not admit:
            self._refuse(request, conn.client)
            return
        thread = threading.Thread(
            target=self.process_request_thread, args=(conn, client_address), daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # "can't start new thread": the task limit of the unit
            self._forget(conn)
            self._refuse(request, conn.client)

    def _drop(self, victim: _Connection) -> None:
        """Make room: end a connection that has not finished sending its request (lock held)."""
        victim.dropped = True
        self._connections.discard(victim)
        self.stats.add("dropped_idle")
        with contextlib.suppress(OSError):
            # The base method: SSLSocket's own would also tear down its TLS state under the
            # thread still reading from it.
            socket.socket.shutdown(victim.sock, socket.SHUT_RDWR)
        self._warn_drop(
            "%d connections open: dropped the oldest one still sending its request (from %s, "
            "%.1fs old)",
            self.max_connections,
            victim.client,
            time.monotonic() - victim.started,
        )

    def _refuse(self, request: socket.socket, client: str) -> None:
        self.stats.add("connection_limit")
        self._warn_refuse(
            "%d connections are all running requests: refused a connection from %s",
            self.max_connections,
            client,
        )
        if self.ssl_context is None:
            with contextlib.suppress(OSError):
                request.setblocking(False)
                request.send(_error_bytes("503 Service Unavailable", "too many connections"))
        self.shutdown_request(request)

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            self._connections.discard(conn)
            self._live_threads -= 1
            self.stats.open_connections = len(self._connections)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        conn: _Connection = request
        try:
            self.finish_request(conn, client_address)
        except Exception:  # noqa: BLE001 - as socketserver's own thread: log it, serve on
            self.handle_error(conn.sock, client_address)
        finally:
            with contextlib.suppress(OSError):
                conn.sock.close()
            self._forget(conn)

    def finish_request(self, request: Any, client_address: Any) -> None:
        conn: _Connection = request
        deadline = time.monotonic() + HEADER_TIMEOUT_SECONDS
        try:
            context = self.ssl_context
            if context is not None:
                with self._lock:  # so that _drop shuts down the socket in use, never a stale one
                    if conn.dropped:
                        return
                    tls = context.wrap_socket(
                        conn.sock, server_side=True, do_handshake_on_connect=False
                    )
                    conn.sock = tls
                _handshake(tls, deadline)
            data = read_request(conn.sock, deadline)
        except (ClientGoneError, ssl.SSLError, OSError) as err:
            log.debug("connection from %s ended: %s", conn.client, err or "closed")
            return
        except RequestError as err:
            self.stats.add(err.kind)
            log.debug("refused a request from %s: %s %s", conn.client, err.status, err.reason)
            _answer_and_close(conn.sock, err.status, err.reason)
            return
        with self._lock:
            if conn.dropped:
                return
            conn.reading = False
        conn.sock.settimeout(WRITE_TIMEOUT_SECONDS)
        self.RequestHandlerClass((conn.sock, data), client_address, self)  # type: ignore[arg-type]
        with contextlib.suppress(OSError):  # the client may have gone first
            # TCP-level, also under TLS: no close_notify exchange, which (SSLSocket.unwrap)
            # waits for the client's reply and would let a client hold the thread.
            socket.socket.shutdown(conn.sock, socket.SHUT_WR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address[0], exc_info=True)


def _error_bytes(status: str, reason: str) -> bytes:
    body = f"{reason}\n".encode()
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def _answer_and_close(sock: socket.socket, status: str, reason: str) -> None:
    """Answer, then read (and discard) a little of what the client still sends: closing with
    unread data sends a reset, which can destroy the answer before the client reads it."""
    with contextlib.suppress(OSError, ssl.SSLError):
        sock.settimeout(2.0)
        sock.sendall(_error_bytes(status, reason))
        socket.socket.shutdown(sock, socket.SHUT_WR)
        deadline = time.monotonic() + 1.0
        drained = 0
        while drained < 256 * 1024 and time.monotonic() < deadline:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            chunk = sock.recv(65536)
            if not chunk:
                break
            drained += len(chunk)


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
