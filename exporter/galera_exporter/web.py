"""HTTP: the landing page, the metrics page and a health endpoint, as a WSGI app."""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client.exposition import ThreadingWSGIServer, choose_encoder

from galera_exporter import __version__
from galera_exporter.exporter import Exporter, ScrapeRegistry

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Answer this much before Prometheus gives up, so a slow mysqld still yields the file metrics.
SCRAPE_TIMEOUT_MARGIN_SECONDS = 0.5


def scrape_deadline(header: str | None, default_timeout: float, now: float) -> float:
    """Deadline for one scrape: the configured timeout, shortened by Prometheus' own header."""
    timeout = default_timeout
    if header:
        try:
            offered = float(header) - SCRAPE_TIMEOUT_MARGIN_SECONDS
        except ValueError:
            offered = timeout
        if offered == offered:  # not NaN
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


class MetricsApp:
    """The WSGI application. Holds no scrape state: every request builds fresh metrics."""

    def __init__(self, exporter: Exporter, telemetry_path: str, timeout: float) -> None:
        self.exporter = exporter
        self.telemetry_path = telemetry_path
        self.timeout = timeout

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        if path == self.telemetry_path and method in ("GET", "HEAD"):
            return self._metrics(environ, start_response)
        if path in ("/-/healthy", "/health") and method in ("GET", "HEAD"):
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"OK\n"]
        if path == "/" and method in ("GET", "HEAD"):
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [landing_page(self.telemetry_path)]
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"Not Found\n"]

    def _metrics(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        deadline = scrape_deadline(
            environ.get("HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS"), self.timeout, time.monotonic()
        )
        encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        body = encoder(ScrapeRegistry(self.exporter, deadline))  # type: ignore[arg-type]
        start_response("200 OK", [("Content-Type", content_type)])
        return [body]


class QuietHandler(WSGIRequestHandler):
    """wsgiref logs every request to stderr; an exporter scraped every 15 s should not."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("http: " + format, *args)


def split_listen_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - an exporter listens on all by default
    return host, int(port)


def make_http_server(app: WSGIApp, listen_address: str) -> ThreadingWSGIServer:
    host, port = split_listen_address(listen_address)
    server_class = ThreadingWSGIServer
    if ":" in host:
        import socket

        class V6Server(ThreadingWSGIServer):
            address_family = socket.AF_INET6

        server_class = V6Server
    return make_server(host, port, app, server_class, handler_class=QuietHandler)  # type: ignore[return-value]
