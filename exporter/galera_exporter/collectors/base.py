"""The interface every metric source implements, and the per-scrape context it receives."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client.metrics_core import Metric


@dataclass
class Scrape:
    """One scrape: its deadline (monotonic seconds) and facts sources share within it."""

    deadline: float
    # Sources may leave facts here for later sources of the same scrape (e.g. the wsrep
    # source records the server's log_error path so the error-log source can use it).
    facts: dict[str, object] = field(default_factory=dict)

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


class SourceError(Exception):
    """A source could not read its input; the scrape goes on and reports success 0."""


class Source(Protocol):
    """One input (the server's status, a state file, a log) turned into metric families."""

    name: str

    def collect(self, scrape: Scrape) -> Iterable[Metric]:
        """Yield fresh families. Raise SourceError after yielding what is known, if anything."""
        ...

    def close(self) -> None:
        """Release threads, watches and connections."""
        ...
