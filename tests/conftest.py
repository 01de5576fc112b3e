"""Shared pytest options (--update-golden regenerates golden expositions: review the diff) and
the test tiers: a test using a fixture marked by tests.support.tiers gets its marks, so
`make check` (-m "not cluster and not slow") runs every fast test and nothing slow."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import summary
from tests.support.tiers import fixture_tiers
from tests.support.workers import heaviest_groups_first, worker_group


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden .prom files from the current code instead of comparing",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.hookimpl(tryfirst=True)  # before -m deselects by the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for tier in sorted(fixture_tiers(item)):
            item.add_marker(tier)
        item.add_marker(pytest.mark.xdist_group(worker_group(item)))
    heaviest_groups_first(items)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: absent when run without it
def pytest_testnodedown(node: Any, error: object) -> None:
    summary.received(getattr(node, "workeroutput", {}).get("summaries", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    summary.write(terminalreporter)
