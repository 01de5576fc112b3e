"""HTTP: landing page, metrics, health and reload, with optional TLS and basic auth."""

from __future__ import annotations

import contextlib
import html
import logging
import math
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer, choose_encoder
from prometheus_client.metrics_core import Metric

from galera_exporter import __version__
from galera_exporter.exporter import Exporter
from galera_exporter.webconfig import WebSettings

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
# Returns the problems of a failed reload (empty list: reloaded).
Reload = Callable[[], Sequence[str]]
Response = tuple[str, list[tuple[str, str]], bytes]
HTML = ("Content-Type", "text/html; charset=utf-8")

# Answer this much before Prometheus gives up, so a slow mysqld still yields the file metrics.
SCRAPE_TIMEOUT_MARGIN_SECONDS = 0.5
# A client that opens a connection and sends nothing must not hold a thread for long.
CONNECTION_TIMEOUT_SECONDS = 30.0
HEALTH_PATHS = ("/-/healthy", "/health")
TEXT = ("Content-Type", "text/plain; charset=utf-8")


def scrape_deadline(header: str | None, default_timeout: float, now: float) -> float:
    """Deadline for one scrape: the configured timeout, shortened by Prometheus' own header."""
    timeout = default_timeout
    if header:
        try:
            offered = float(header) - SCRAPE_TIMEOUT_MARGIN_SECONDS
        except ValueError:
            offered = timeout
        if not math.isnan(offered):
            timeout = min(timeout, max(offered, 0.1))
    return now + timeout


def landing_page(telemetry_path: str) -> bytes:
    path = html.escape(telemetry_path)
    return (
        "<!DOCTYPE html><html><head><title>Galera Exporter</title></head><body>"
        f"<h1>Galera Exporter {html.escape(__version__)}</h1>"
        f'<p><a href="{path}">Metrics</a></p>'
        '<p><a href="/-/healthy">Health</a></p>'
        "</body></html>"
    ).encode()


class ReloadStatus:
    """Outcome of the last configuration reload, exported like Prometheus' own."""

    def __init__(self) -> None:
        self.successful = 1.0
        self.timestamp = time.time()

    def record(self, ok: bool) -> None:
        self.successful = 1.0 if ok else 0.0
        if ok:
            self.timestamp = time.time()

    def metrics(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "galera_exporter_config_last_reload_successful",
            "1 if the last configuration reload (SIGHUP or POST /-/reload) succeeded",
            value=self.successful,
        )
        yield GaugeMetricFamily(
            "galera_exporter_config_last_reload_success_timestamp_seconds",
            "Time of the last successful configuration load",
            value=self.timestamp,
        )


class _ScrapeRegistry:
    """What prometheus_client's encoders want: an object whose collect() yields families."""

    def __init__(
        self, exporter: Exporter, deadline: float, extra: Callable[[], Iterator[Metric]]
    ) -> None:
        self._exporter = exporter
        self._deadline = deadline
        self._extra = extra

    def collect(self) -> Iterator[Metric]:
        yield from self._exporter.scrape(self._deadline)
        yield from self._extra()


class MetricsApp:
    """The WSGI application. Holds no scrape state: every request builds fresh metrics.

    Settings that a reload changes (path, timeout, web settings) are read once per request
    from attributes that `update` swaps, so a request sees either the old or the new set.
    """

    def __init__(
        self,
        exporter: Exporter,
        telemetry_path: str,
        timeout: float,
        web: WebSettings | None = None,
        reload: Reload | None = None,
    ) -> None:
        self.exporter = exporter
        self._settings = (telemetry_path, timeout, web or WebSettings())
        self._reload = reload
        self.reload_status = ReloadStatus()

    @property
    def telemetry_path(self) -> str:
        return self._settings[0]

    @property
    def timeout(self) -> float:
        return self._settings[1]

    @property
    def web(self) -> WebSettings:
        return self._settings[2]

    def update(self, telemetry_path: str, timeout: float, web: WebSettings) -> None:
        self._settings = (telemetry_path, timeout, web)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        web = self.web
        method = environ.get("REQUEST_METHOD", "GET")
        status, headers, body = self._route(environ, method)
        start_response(status, [*headers, *web.headers])
        return [b"" if method == "HEAD" else body]

    def _route(self, environ: dict[str, Any], method: str) -> Response:
        telemetry_path, timeout, web = self._settings
        path = environ.get("PATH_INFO") or "/"
        readable = method in ("GET", "HEAD")
        if path in HEALTH_PATHS and readable:
            # Open even with basic auth: it says nothing but OK, and container health checks
            # and load balancers should not need a password.
            return "200 OK", [TEXT], b"OK\n"
        authorization = environ.get("HTTP_AUTHORIZATION")
        if web.auth is not None and web.auth.check_header(authorization) is None:
            challenge = ("WWW-Authenticate", 'Basic realm="galera-exporter", charset="UTF-8"')
            return "401 Unauthorized", [TEXT, challenge], b"Unauthorized\n"
        if path == telemetry_path and readable:
            deadline = scrape_deadline(
                environ.get("HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS"), timeout, time.monotonic()
            )
            encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
            registry = _ScrapeRegistry(self.exporter, deadline, self.reload_status.metrics)
            return "200 OK", [("Content-Type", content_type)], encoder(registry)
        if path == "/-/reload":
            return self._reload_response(method)
        if path == "/" and readable:
            return "200 OK", [HTML], landing_page(telemetry_path)
        return "404 Not Found", [TEXT], b"Not Found\n"

    def _reload_response(self, method: str) -> Response:
        if method not in ("POST", "PUT"):
            return "405 Method Not Allowed", [TEXT, ("Allow", "POST, PUT")], b"Use POST\n"
        if self._reload is None:
            return "404 Not Found", [TEXT], b"Reload is not available\n"
        problems = self._reload()
        if problems:
            body = "".join(f"{p}\n" for p in problems).encode()
            return "500 Internal Server Error", [TEXT], b"reload failed:\n" + body
        return "200 OK", [TEXT], b"reloaded\n"


class QuietHandler(WSGIRequestHandler):
    """wsgiref logs every request to stderr; an exporter scraped every 15 s should not."""

    timeout = CONNECTION_TIMEOUT_SECONDS

    def log_message(self, format: str, *args: Any) -> None:
        # The request line only: headers (Authorization) are never logged.
        log.debug("http: " + format, *args)


class ExporterHTTPServer(ThreadingWSGIServer):
    """A threading WSGI server whose TLS context can be swapped by a reload.

    The TLS handshake happens in the request's own thread (not in accept()), so a slow or
    silent client cannot stall other scrapes.
    """

    ssl_context: ssl.SSLContext | None = None
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops SYNs when many scrapers connect at once, and
    # a dropped SYN costs the client a 1 s (then 3 s) retransmission.
    request_queue_size = 128

    def finish_request(self, request: Any, client_address: Any) -> None:
        context = self.ssl_context
        if context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(CONNECTION_TIMEOUT_SECONDS)
        try:
            tls = context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as err:
            log.debug("TLS handshake with %s failed: %s", client_address[0], err)
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            with contextlib.suppress(OSError):  # the client may have gone away first
                tls.shutdown(socket.SHUT_RDWR)
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address[0], exc_info=True)


def split_listen_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - an exporter listens on all by default
    return host, int(port)


def make_http_server(
    app: WSGIApp, listen_address: str, ssl_context: ssl.SSLContext | None = None
) -> ExporterHTTPServer:
    host, port = split_listen_address(listen_address)
    server_class: type[ExporterHTTPServer] = ExporterHTTPServer
    if ":" in host:

        class V6Server(ExporterHTTPServer):
            address_family = socket.AF_INET6

        server_class = V6Server
    server = make_server(host, port, app, server_class, handler_class=QuietHandler)
    server.ssl_context = ssl_context
    return server


def serve_in_thread(server: ExporterHTTPServer) -> threading.Thread:
    """For tests and embedding: serve until server.shutdown()."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True
    )
    thread.start()
    return thread
