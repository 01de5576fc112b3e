"""Metric expectations for the lab tests: wait until an exporter shows given values."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from galera_lab.lab import Lab
from galera_lab.stack import Metrics
from galera_lab.wait import wait_for

# name -> phase -> seconds, published at session end (tests/support/summary.py)
TIMINGS: dict[str, dict[str, float]] = {}


@dataclass
class Before:
    """What was true before the fault: the rows and state uuid recovery must keep."""

    note: str
    state_uuid: str
    timings: dict[str, float] = field(default_factory=dict)
    _last: float = field(default_factory=time.monotonic)

    def lap(self, phase: str) -> None:
        now = time.monotonic()
        self.timings[phase] = now - self._last
        self._last = now


# ------------------------------------------------------------------ metric expectations
SELECTOR = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(\{(?P<labels>.*)\})?$")
LABEL = re.compile(r'(\w+)="([^"]*)"')
Expectation = float | None | Callable[[float | None], bool]


def _select(metrics: Metrics, selector: str) -> float | None:
    match = SELECTOR.match(selector)
    assert match, selector
    labels = dict(LABEL.findall(match.group("labels") or ""))
    return metrics.get(match.group("name"), **labels)


def mismatches(metrics: Metrics, expected: Mapping[str, Expectation]) -> list[str]:
    problems = []
    for selector, want in expected.items():
        got = _select(metrics, selector)
        ok = want(got) if callable(want) else got == want
        if not ok:
            problems.append(f"{selector}={got} (want {getattr(want, '__doc__', None) or want})")
    return problems


def expect(
    lab: Lab, node: int, expected: Mapping[str, Expectation], timeout: float = 30.0
) -> Metrics:
    """Scrape node's exporter until every selector has its expected value; return the scrape.

    Polled because the exporter reports live state: a survivor turns non-Primary ~5 s after
    its peers die, and grastate.dat is rewritten a moment after a stop.
    """
    target = lab.node(node)
    last: list[str] = []

    def probe() -> Metrics | None:
        nonlocal last
        metrics = lab.stack.scrape(target)
        last = mismatches(metrics, expected)
        return None if last else metrics

    try:
        return wait_for(
            f"{target.name} exporter shows {len(expected)} expected values",
            probe,
            timeout,
            interval=0.25,
        )
    except AssertionError as err:
        raise AssertionError(f"{target.name}: {'; '.join(last)}") from err


def at_least(bound: float) -> Callable[[float | None], bool]:
    def check(value: float | None) -> bool:
        return value is not None and value >= bound

    check.__doc__ = f">= {bound}"
    return check


HEALTHY = {
    "galera_up": 1,
    'galera_cluster_status{status="Primary"}': 1,
    'galera_local_state{state="Synced"}': 1,
    "galera_ready": 1,
}
