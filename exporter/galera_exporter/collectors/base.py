"""The interface every collector implements, and the per-scrape context it receives."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from prometheus_client.metrics_core import Metric


@dataclass(frozen=True)
class ServerSettings:
    """The server variables later collectors of a scrape need to find their files.

    Producer: the wsrep collector, when SHOW GLOBAL VARIABLES answered.
    Consumers: the errorlog collector (log_error, datadir) and the status_file collector
    (wsrep_status_file, datadir).
    """

    log_error: str  # as the server reports it: may be relative to datadir, or empty (stderr)
    datadir: str
    # None: the server has no such variable (not MariaDB, or too old); "" means it is unset.
    wsrep_status_file: str | None = None


@dataclass
class Scrape:
    """One scrape: its deadline (monotonic seconds) and what collectors hand on within it.

    Each optional field is set by one collector and read by later ones; the collector table
    (collectors/__init__.py) declares both sides and checks the producer comes first.
    """

    deadline: float
    # Set by "wsrep"; None while mysqld does not answer or that collector is disabled.
    server: ServerSettings | None = None

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


class CollectorError(Exception):
    """A collector could not read its input; the scrape goes on and reports success 0."""


class Collector(Protocol):
    """One input (the server's status, a state file, a log) turned into metric families."""

    name: str

    def collect(self, scrape: Scrape) -> Iterable[Metric]:
        """Yield fresh families. Raise CollectorError after yielding what is known, if anything."""
        ...

    def close(self) -> None:
        """Release threads, watches and connections."""
        ...
