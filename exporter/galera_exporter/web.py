"""HTTP: landing page, metrics, health and reload, with optional TLS and basic auth."""

from __future__ import annotations

import html
import logging
import math
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric

from galera_exporter import __version__, serving
from galera_exporter.auth import Verdict
from galera_exporter.exporter import Exporter
from galera_exporter.httpserver import BoundedHTTPServer, HttpStats, RequestHandlerMixin
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
HEALTH_PATHS = ("/-/healthy", "/health")
TEXT = ("Content-Type", "text/plain; charset=utf-8")
# What a browser sends cross-site without a CORS preflight: an HTML form can POST these.
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
# Sec-Fetch-Site values of a request the exporter's own origin (or a person typing) made.
SAME_SITE_FETCH = ("same-origin", "none")


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


@dataclass(frozen=True)
class AppSettings:
    """What a reload may change; a request reads it once, so it sees the old or the new set."""

    telemetry_path: str = "/metrics"
    timeout: float = 10.0
    web: WebSettings = field(default_factory=WebSettings)
    # Prometheus' --web.enable-lifecycle: POST /-/reload is refused (403) without it.
    enable_lifecycle: bool = False
    # The clustercheck-style endpoint for load balancers; empty: off.
    serving_path: str = ""
    serving_cache_seconds: float = 2.0
    serving_require_auth: bool = False


def cross_site_reason(environ: dict[str, Any]) -> str | None:
    """Why a state-changing request looks like it came from another site's page, or None.

    A page on another site can make the browser POST here (a form, or fetch in no-cors mode),
    but only with a form content type and never with headers of its own; browsers label such
    requests with Sec-Fetch-Site and Origin. So: refuse a cross-site Sec-Fetch-Site, an Origin
    that is not this host, and any form content type. curl -X POST and Prometheus-style
    tooling send none of these and are let through.
    """
    fetch_site = environ.get("HTTP_SEC_FETCH_SITE", "").strip().lower()
    if fetch_site and fetch_site not in SAME_SITE_FETCH:
        return f"Sec-Fetch-Site: {fetch_site}"
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None:
        host = environ.get("HTTP_HOST", "").strip().lower()
        if origin.strip().lower() == "null" or urlsplit(origin.strip()).netloc.lower() != host:
            return "Origin does not match Host"
    content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type in FORM_CONTENT_TYPES:
        return f"form content type {content_type}"
    return None


class MetricsApp:
    """The WSGI application. Holds no scrape state: every request builds fresh metrics.

    Settings that a reload changes are one AppSettings object that `update` swaps.
    """

    def __init__(
        self,
        exporter: Exporter,
        telemetry_path: str,
        timeout: float,
        web: WebSettings | None = None,
        reload: Reload | None = None,
        *,
        enable_lifecycle: bool = False,
    ) -> None:
        self.exporter = exporter
        self.settings = AppSettings(telemetry_path, timeout, web or WebSettings(), enable_lifecycle)
        self._reload = reload
        self.reload_status = ReloadStatus()
        self.http_stats: HttpStats | None = None

    @property
    def telemetry_path(self) -> str:
        return self.settings.telemetry_path

    @property
    def timeout(self) -> float:
        return self.settings.timeout

    @property
    def web(self) -> WebSettings:
        return self.settings.web

    def update(self, settings: AppSettings) -> None:
        self.settings = settings

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        settings = self.settings
        method = environ.get("REQUEST_METHOD", "GET")
        status, headers, body = self._route(environ, method, settings)
        start_response(status, [*headers, *settings.web.headers])
        return [b"" if method == "HEAD" else body]

    def _own_metrics(self) -> Iterator[Metric]:
        yield from self.reload_status.metrics()
        if self.http_stats is not None:
            yield from self.http_stats.metrics()

    def _route(  # noqa: PLR0911 - one return per route reads better than a table here
        self, environ: dict[str, Any], method: str, settings: AppSettings
    ) -> Response:
        path = environ.get("PATH_INFO") or "/"
        readable = method in ("GET", "HEAD")
        if path in HEALTH_PATHS and readable:
            # Open even with basic auth: it says nothing but OK, and container health checks
            # and load balancers should not need a password.
            return "200 OK", [TEXT], b"OK\n"
        serving_route = bool(settings.serving_path) and path == settings.serving_path
        if serving_route and readable and not settings.serving_require_auth:
            # Open by default, as clustercheck is: a load balancer's health check rarely
            # carries a password, the answer is one bit a client of mysqld sees anyway, and
            # a flood costs at most one status read per cache TTL (serving.py).
            return self._serving_response(settings)
        web = settings.web
        if web.auth is not None:
            verdict = web.auth.check_header(environ.get("HTTP_AUTHORIZATION"))
            if verdict is Verdict.BUSY:
                log.debug("too many password checks under way: answered 503")
                if self.http_stats is not None:
                    self.http_stats.add("auth_busy")
                retry = ("Retry-After", "1")
                return "503 Service Unavailable", [TEXT, retry], b"Too many logins, retry\n"
            if verdict is not Verdict.OK:
                challenge = ("WWW-Authenticate", 'Basic realm="galera-exporter", charset="UTF-8"')
                return "401 Unauthorized", [TEXT, challenge], b"Unauthorized\n"
        if path == settings.telemetry_path and readable:
            deadline = scrape_deadline(
                environ.get("HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS"),
                settings.timeout,
                time.monotonic(),
            )
            encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
            registry = _ScrapeRegistry(self.exporter, deadline, self._own_metrics)
            return "200 OK", [("Content-Type", content_type)], encoder(registry)
        if serving_route and readable:
            return self._serving_response(settings)
        if path == "/-/reload":
            return self._reload_response(environ, method, settings)
        if path == "/" and readable:
            return "200 OK", [HTML], landing_page(settings.telemetry_path)
        return "404 Not Found", [TEXT], b"Not Found\n"

    def _serving_response(self, settings: AppSettings) -> Response:
        reason = self.exporter.serving_reason(settings.serving_cache_seconds, settings.timeout)
        headers = [TEXT, ("Cache-Control", "no-store")]
        if reason is None:
            body = b"Serving state unknown: the wsrep collector is disabled.\n"
            return "503 Service Unavailable", headers, body
        body = f"{serving.MESSAGES[reason]}\n".encode()
        if reason == "serving":
            return "200 OK", headers, body
        return "503 Service Unavailable", headers, body

    def _reload_response(
        self, environ: dict[str, Any], method: str, settings: AppSettings
    ) -> Response:
        if method not in ("POST", "PUT"):
            return "405 Method Not Allowed", [TEXT, ("Allow", "POST, PUT")], b"Use POST\n"
        if not settings.enable_lifecycle or self._reload is None:
            # 403 as Prometheus answers: the endpoint exists but is turned off, and the body
            # says how to turn it on (a 404 would send the operator looking for a typo).
            body = b"Lifecycle API is not enabled (--web.enable-lifecycle); or send SIGHUP\n"
            return "403 Forbidden", [TEXT], body
        reason = cross_site_reason(environ)
        if reason is not None:
            log.warning("refused POST /-/reload that looks cross-site (%s)", reason)
            return "403 Forbidden", [TEXT], f"Refused: cross-site request ({reason})\n".encode()
        problems = self._reload()
        if problems:
            body = "".join(f"{p}\n" for p in problems).encode()
            return "500 Internal Server Error", [TEXT], b"reload failed:\n" + body
        return "200 OK", [TEXT], b"reloaded\n"


class QuietHandler(RequestHandlerMixin, WSGIRequestHandler):
    """wsgiref's handler, reading the request the server already received whole.

    wsgiref logs every request to stderr; an exporter scraped every 15 s should not.
    """

    def log_message(self, format: str, *args: Any) -> None:
        # The request line only: headers (Authorization) are never logged.
        log.debug("http: " + format, *args)

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        if self.headers.get("Content-Type") is None:
            # wsgiref fills in text/plain, a form type: the reload check must see "none sent".
            environ["CONTENT_TYPE"] = ""
        return environ


# The name other modules use; the bounds live in httpserver.
ExporterHTTPServer = BoundedHTTPServer


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
