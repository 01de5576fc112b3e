"""A small real HTTP server on 127.0.0.1 that serves chosen pages: the exporters the advisor
reads in its tests (a page per path; slow, garbage, 401, TLS as asked)."""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Page:
    body: bytes
    status: int = 200
    delay: float = 0.0  # seconds before answering (a hung exporter)
    credentials: tuple[str, str] | None = None  # basic auth the page requires
    drip: float = 0.0  # seconds between 100-byte pieces of the body (a trickling exporter)


class PageServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping must not hold up shutdown

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.pages: dict[str, Page] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) seen
        self.authorizations: list[tuple[str, str | None]] = []  # (path, Authorization header)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join(5)


class Handler(BaseHTTPRequestHandler):
    server: PageServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _refuse(self) -> None:
        """Any method but GET: recorded (the advisor must never send one) and refused."""
        self.server.requests.append((self.command, self.path))
        self.send_error(405)

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815 - http.server's names

    def do_GET(self) -> None:
        self.server.requests.append(("GET", self.path))
        self.server.authorizations.append((self.path, self.headers.get("Authorization")))
        page = self.server.pages.get(self.path)
        if page is None:
            self.send_error(404)
            return
        if page.delay:
            time.sleep(page.delay)
        if page.credentials is not None:
            token = base64.b64encode(":".join(page.credentials).encode()).decode()
            if self.headers.get("Authorization") != f"Basic {token}":
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="galera"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(page.status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(page.body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if not page.drip:
                self.wfile.write(page.body)  # may fail: the advisor gave up on a slow page
                return
            for start in range(0, len(page.body), 100):
                self.wfile.write(page.body[start : start + 100])
                self.wfile.flush()
                time.sleep(page.drip)


@contextmanager
def page_server(tls: ssl.SSLContext | None = None) -> Iterator[PageServer]:
    server = PageServer(tls)
    try:
        yield server
    finally:
        server.close()


def exposition(samples: Mapping[tuple[str, tuple[tuple[str, str], ...]], float]) -> bytes:
    """A text exposition of samples keyed (name, sorted labels), as the exporter writes them;
    `up` is Prometheus' own series, not the exporter's, and is left out."""

    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    lines = []
    for (name, labels), value in samples.items():
        if name == "up":
            continue
        text = ",".join(f'{k}="{escape(v)}"' for k, v in labels)
        lines.append(f"{name}{{{text}}} {value!r}" if labels else f"{name} {value!r}")
    return ("\n".join(lines) + "\n").encode()


@dataclass
class Run:
    status: int
    out: str
    err: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.out)


def run_advisor(args: Sequence[str], timeout: float = 60.0) -> Run:
    """galera-advisor as a separate process, as an operator runs it."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "galera_exporter.advisor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr, time.monotonic() - started)
