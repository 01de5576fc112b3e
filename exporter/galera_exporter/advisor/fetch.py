"""Fetch and parse every node's /metrics in parallel, within one deadline; failures are facts."""

from __future__ import annotations

import base64
import functools
import http.client
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

from galera_exporter.decision import Samples

# An exporter's page is ~30 KB (300 series); a bound keeps a hostile or broken endpoint from
# filling memory. 4 MiB is two orders of magnitude above anything the exporter writes.
MAX_BODY_BYTES = 4 << 20
CHUNK_BYTES = 64 << 10
# The classic text format: prometheus_client's text parser reads it, not OpenMetrics.
ACCEPT = "text/plain;version=0.0.4;q=1.0, */*;q=0.1"
T = TypeVar("T")


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


def parallel(jobs: Sequence[Callable[[], T]], deadline: float) -> list[T | None]:
    """Run every job in its own thread; each result, or None for a job not done by deadline.

    Worker threads are daemons: one stuck in a read past the deadline is abandoned, it never
    delays the answer or the exit.
    """
    results: dict[int, T] = {}

    def work(index: int, job: Callable[[], T]) -> None:
        results[index] = job()

    threads = [
        threading.Thread(target=work, args=(i, job), name=f"advisor-{i}", daemon=True)
        for i, job in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [results.get(i) for i in range(len(jobs))]


def scrape_jobs(
    targets: Sequence[Target], client: Client, deadline: float
) -> list[Callable[[], Scrape]]:
    context = client.ssl_context() if any(t.url.startswith("https:") for t in targets) else None
    return [functools.partial(scrape, t, client, context, deadline) for t in targets]


def late(target: Target, timeout: float) -> Scrape:
    return Scrape(target, None, f"no complete answer within {timeout:g} s", timeout)


def fetch_all(targets: Sequence[Target], client: Client, timeout: float) -> list[Scrape]:
    """Every target's samples, fetched in parallel; returns by now + timeout whatever happens
    (a node not answered by then is reported as timed out)."""
    deadline = time.monotonic() + timeout
    done = parallel(scrape_jobs(targets, client, deadline), deadline)
    return [s or late(t, timeout) for s, t in zip(done, targets, strict=True)]


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
