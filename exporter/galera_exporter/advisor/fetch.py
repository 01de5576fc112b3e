"""Fetch and parse every node's /metrics in parallel, within one deadline; failures are facts."""

from __future__ import annotations

import base64
import http.client
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

from galera_exporter.decision import Samples

# An exporter's page is ~30 KB (300 series); a bound keeps a hostile or broken endpoint from
# filling memory. 4 MiB is two orders of magnitude above anything the exporter writes.
MAX_BODY_BYTES = 4 << 20
CHUNK_BYTES = 64 << 10
# The classic text format: prometheus_client's text parser reads it, not OpenMetrics.
ACCEPT = "text/plain;version=0.0.4;q=1.0, */*;q=0.1"


@dataclass(frozen=True)
class Target:
    name: str
    url: str


@dataclass(frozen=True)
class Client:
    """How to talk to the exporters (their --web.config.file): TLS trust and basic auth."""

    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    username: str = ""
    password: str = ""  # read from a file; never printed

    def __repr__(self) -> str:
        return f"Client(ca_file={self.ca_file!r}, username={self.username!r}, password=<hidden>)"

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file or None)
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file or None)
        return context


@dataclass(frozen=True)
class Scrape:
    target: Target
    samples: Samples | None  # None: not observed, see error
    error: str | None
    seconds: float


class FetchError(Exception):
    """Why one node's page could not be read; the message is shown to the operator."""


def fetch_all(targets: Sequence[Target], client: Client, timeout: float) -> list[Scrape]:
    """Every target's samples, fetched in parallel; returns by now + timeout whatever happens.

    Worker threads are daemons: one stuck in a read past the deadline is abandoned (its node is
    reported as timed out), it never delays the answer or the exit.
    """
    started = time.monotonic()
    deadline = started + timeout
    context = client.ssl_context() if any(t.url.startswith("https:") for t in targets) else None
    results: dict[int, Scrape] = {}

    def work(index: int, target: Target) -> None:
        results[index] = scrape(target, client, context, deadline)

    threads = [
        threading.Thread(target=work, args=(i, t), name=f"fetch-{t.name}", daemon=True)
        for i, t in enumerate(targets)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [
        results.get(i) or Scrape(t, None, f"no complete answer within {timeout:g} s", timeout)
        for i, t in enumerate(targets)
    ]


def scrape(
    target: Target, client: Client, context: ssl.SSLContext | None, deadline: float
) -> Scrape:
    started = time.monotonic()
    try:
        samples = parse(get(target.url, client, context, deadline))
    except FetchError as err:
        return Scrape(target, None, str(err), time.monotonic() - started)
    return Scrape(target, samples, None, time.monotonic() - started)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError("timed out")
    return left


def get(url: str, client: Client, context: ssl.SSLContext | None, deadline: float) -> bytes:
    """GET url with http.client: no proxy from the environment, no redirects (a redirect would
    carry the Authorization header elsewhere), the body bounded by MAX_BODY_BYTES."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, port, timeout=_remaining(deadline), context=context
        )
    else:
        connection = http.client.HTTPConnection(host, port, timeout=_remaining(deadline))
    try:
        headers = {"Accept": ACCEPT, "User-Agent": "galera-advisor"}
        if client.username:
            token = base64.b64encode(f"{client.username}:{client.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            hint = " (basic auth missing or refused)" if response.status == 401 else ""
            raise FetchError(f"HTTP {response.status} {response.reason}{hint}")
        return _read_body(connection, response, deadline)
    except TimeoutError as err:
        raise FetchError("timed out") from err
    except ssl.SSLError as err:
        raise FetchError(f"TLS: {err.reason or err}") from err
    except OSError as err:
        raise FetchError(err.strerror or type(err).__name__) from err
    except http.client.HTTPException as err:
        raise FetchError(f"bad HTTP response ({type(err).__name__})") from err
    finally:
        connection.close()


def _read_body(
    connection: http.client.HTTPConnection, response: http.client.HTTPResponse, deadline: float
) -> bytes:
    """The body, read before the deadline (a server that drips bytes is cut off) and bounded."""
    body = bytearray()
    while True:
        if connection.sock is not None:
            connection.sock.settimeout(_remaining(deadline))
        chunk = response.read(CHUNK_BYTES)
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise FetchError(f"response larger than {MAX_BODY_BYTES} bytes")


def parse(body: bytes) -> Samples:
    """Samples keyed as decision.facts_from_samples reads them; not a galera-exporter page is
    an error, so an exporter of something else is never read as 'all metrics absent'."""
    try:
        text = body.decode("utf-8")
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
    # The text parser reports malformed input as ValueError, but a few malformed lines reach
    # indexing and lookups first; all mean "not an exposition".
    except (ValueError, IndexError, KeyError, TypeError) as err:
        raise FetchError(f"not a Prometheus text exposition ({type(err).__name__})") from err
    if ("galera_up", ()) not in samples:
        raise FetchError("not a galera-exporter page (no galera_up)")
    return samples
