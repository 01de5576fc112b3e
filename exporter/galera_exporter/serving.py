"""Whether this node should get traffic, decided as Percona's clustercheck decides it.

clustercheck (PXC 5.7/8.0) answers 200 when wsrep_cluster_status is Primary and
wsrep_local_state is 4 (Synced), or 2 (Donor/Desynced) with AVAILABLE_WHEN_DONOR=1, and then,
only with AVAILABLE_WHEN_READONLY=0, not read_only; everything else, an unreachable server
included, is 503. Its defaults: donor not available, read-only available. We add the two
checks MariaDB's proxies make too: wsrep_ready ON (otherwise every query fails with "WSREP has
not yet prepared node for application use") and wsrep_reject_queries NONE.

The endpoint must not turn a flood of load-balancer polls into database queries, so the
answer comes from the last status read (a scrape's or its own) when it is younger than a TTL,
and when it is older, one request reads for all the requests waiting (single flight).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from galera_exporter import parse
from galera_exporter.db import DatabaseError, ServerState

# Why a node does or does not serve; galera_node_serving_reason has one series per reason.
# "serving" is the only reason with which the node serves.
REASONS = (
    "serving",
    "down",
    "non_primary",
    "not_synced",
    "donor",
    "not_ready",
    "rejecting_queries",
    "read_only",
)
SYNCED, DONOR_DESYNCED = 4, 2  # wsrep_local_state numbers (galera's enum, as clustercheck)

MESSAGES = {
    "serving": "Galera node is synced.",
    "down": "Galera node is not answering (mysqld down or unreachable).",
    "non_primary": "Galera node is not synced or non-PRIM (not in the Primary component).",
    "not_synced": "Galera node is not synced or non-PRIM (joining, joined or initialized).",
    "donor": "Galera node is a donor or desynced (not available when donor).",
    "not_ready": "Galera node is not ready (wsrep_ready OFF).",
    "rejecting_queries": "Galera node rejects queries (wsrep_reject_queries).",
    "read_only": "Galera node is read-only.",
}


@dataclass(frozen=True)
class Policy:
    available_when_donor: bool = False
    available_when_readonly: bool = True


def decide(state: ServerState | None, policy: Policy) -> str:  # noqa: PLR0911 - clustercheck order
    """The reason (one of REASONS) for one status read; None means the server did not answer."""
    if state is None:
        return "down"
    status, variables = state.status, state.variables
    if parse.cluster_status(status.get("wsrep_cluster_status", "")) != "Primary":
        return "non_primary"
    local = parse.parse_number(status.get("wsrep_local_state", ""))
    if local == DONOR_DESYNCED:
        if not policy.available_when_donor:
            return "donor"
    elif local != SYNCED:
        return "not_synced"
    if parse.parse_bool(status.get("wsrep_ready", "")) != 1:
        return "not_ready"
    # Absent on servers before MariaDB 10.3.6, where no such switch exists: nothing rejected.
    if variables.get("wsrep_reject_queries", "NONE").strip().upper() not in ("NONE", ""):
        return "rejecting_queries"
    if (
        not policy.available_when_readonly
        and parse.parse_bool(variables.get("read_only", "OFF")) == 1
    ):
        return "read_only"
    return "serving"


@dataclass(frozen=True)
class Observation:
    state: ServerState | None  # None: the server did not answer
    at: float  # monotonic time of the read


class ServingProbe:
    """The last status read, shared by the scrapes and the serving endpoint.

    Scrapes record what they read. The endpoint takes the recorded read when it is younger
    than the TTL; otherwise the first request reads (through the scrape's own connection,
    `read`) and every request arriving meanwhile waits for that read instead of making its own.
    """

    def __init__(
        self,
        read: Callable[[float], ServerState],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._clock = clock
        self._lock = threading.Lock()
        self._last: Observation | None = None
        self._flight: threading.Event | None = None
        self.reads = 0  # reads the endpoint made itself (tests and the flood check count them)

    def record(self, state: ServerState | None) -> None:
        """What a scrape read (None: the server did not answer)."""
        with self._lock:
            self._last = Observation(state, self._clock())

    def observe(self, ttl: float, timeout: float) -> Observation | None:
        """A read at most `ttl` old if one can be had within about `timeout`; else the last."""
        with self._lock:
            last = self._last
            if last is not None and self._clock() - last.at <= ttl:
                return last
            flight = self._flight
            leader = flight is None
            if flight is None:
                flight = self._flight = threading.Event()
        if not leader:
            # The leader's read is bounded by the same timeout; a little more for the hand-over.
            flight.wait(timeout + 0.5)
            with self._lock:
                return self._last
        try:
            self.reads += 1
            try:
                state: ServerState | None = self._read(timeout)
            except DatabaseError as err:
                if err.kind == "busy":
                    # A scrape holds the connection past our deadline: it will record what
                    # it reads; until then the last read is the best answer there is.
                    with self._lock:
                        return self._last
                state = None
            with self._lock:
                self._last = Observation(state, self._clock())
                return self._last
        finally:
            with self._lock:
                self._flight = None
            flight.set()
