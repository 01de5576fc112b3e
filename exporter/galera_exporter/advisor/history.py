"""The one fact the advisor cannot see on the nodes: a split brain in the last 24 hours.

The recording rules remember it (cluster:galera_split_brain_24h:max reads ALERTS) and then name
no node for a bootstrap, because the two sides share a UUID but not their data: a healed split
brain leaves nothing on the nodes that says so. When given a Prometheus that evaluates the
rules, the advisor asks it; when it cannot (none given, down, slow, not evaluating the rules
for this cluster), the answer is "unknown", never "no".
"""

from __future__ import annotations

import functools
import json
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from galera_exporter.advisor.fetch import (
    Client,
    FetchError,
    Scrape,
    Target,
    get,
    late,
    parallel,
    scrape_jobs,
)

# One round trip: per cluster the rules evaluate now, 1 if GaleraSplitBrain fired in the last
# 24 h, else 0. A cluster absent from the answer is not known to that Prometheus' rules (no
# rules loaded, another `cluster` label), which is "unknown", not "no split brain".
QUERY = (
    "max by (cluster) (cluster:galera_split_brain_24h:max)"
    " or max by (cluster) (0 * cluster:galera_scenario:info)"
)
QUERY_PATH = "/api/v1/query?" + urlencode({"query": QUERY})
# The answer is one sample per cluster; anything near this bound is not that answer.
MAX_CLUSTERS = 10_000


@dataclass(frozen=True)
class History:
    """What a Prometheus said about every cluster its rules evaluate (None: it could not say)."""

    url: str
    split_brain_24h: dict[str, bool] | None
    error: str | None  # why split_brain_24h is None
    seconds: float = 0.0

    def lookup(self, cluster: str) -> tuple[bool | None, str | None]:
        """(split brain in the last 24 h for `cluster`, or None with the reason it is unknown)."""
        if self.split_brain_24h is None:
            return None, f"Prometheus at {self.url}: {self.error}"
        if not cluster:
            return None, "the cluster's name is unknown (no node reports it): give --cluster"
        if cluster not in self.split_brain_24h:
            known = ", ".join(sorted(self.split_brain_24h)) or "none"
            return None, (
                f"Prometheus at {self.url} does not evaluate galera-exporter's rules for a"
                f" cluster labelled {cluster!r} (clusters it knows: {known}; --cluster sets the"
                " label to look for)"
            )
        return self.split_brain_24h[cluster], None


def query_url(url: str) -> str:
    """The instant-query URL under a Prometheus base URL (a --web.route-prefix path is kept)."""
    return url.rstrip("/") + QUERY_PATH


def parse_answer(body: bytes) -> dict[str, bool]:
    """cluster -> split brain in the last 24 h, from a /api/v1/query answer to QUERY."""
    try:
        doc = json.loads(body)
        if doc.get("status") != "success" or doc["data"]["resultType"] != "vector":
            raise FetchError(f"query failed: {doc.get('error') or doc.get('status')}")
        result = doc["data"]["result"]
        if not isinstance(result, list) or len(result) > MAX_CLUSTERS:
            raise FetchError("not an answer to the advisor's query")
        return {
            str(sample["metric"].get("cluster", "")): float(sample["value"][1]) > 0
            for sample in result
        }
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        raise FetchError(f"not a Prometheus query answer ({type(err).__name__})") from err


def ask(url: str, client: Client, deadline: float) -> History:
    """Ask the Prometheus at `url`; failures are an unknown history, never an exception."""
    started = time.monotonic()
    # Only the CA: the exporters' basic-auth password is never sent to another server.
    prometheus_client = Client(ca_file=client.ca_file)
    context: ssl.SSLContext | None = None
    try:
        if urlsplit(url).scheme == "https":
            context = prometheus_client.ssl_context()
        clusters = parse_answer(get(query_url(url), prometheus_client, context, deadline))
    except FetchError as err:
        return History(url, None, str(err), time.monotonic() - started)
    except (OSError, ValueError) as err:  # the CA file, read for https only
        return History(url, None, f"TLS: {err}", time.monotonic() - started)
    return History(url, clusters, None, time.monotonic() - started)


def gather(
    targets: Sequence[Target], client: Client, timeout: float, prometheus_url: str
) -> tuple[list[Scrape], History | None]:
    """Every node's page and (if a URL is given) the Prometheus history, all in parallel and
    all within `timeout`: a Prometheus that hangs costs no more than a node that hangs."""
    deadline = time.monotonic() + timeout
    jobs: list[Callable[[], Scrape | History]] = list(scrape_jobs(targets, client, deadline))
    if prometheus_url:
        jobs.append(functools.partial(ask, prometheus_url, client, deadline))
    done = parallel(jobs, deadline)
    scrapes = [
        s if isinstance(s, Scrape) else late(t, timeout)
        for s, t in zip(done[: len(targets)], targets, strict=True)
    ]
    if not prometheus_url:
        return scrapes, None
    answer = done[-1]
    if not isinstance(answer, History):
        answer = History(prometheus_url, None, f"no complete answer within {timeout:g} s", timeout)
    return scrapes, answer
