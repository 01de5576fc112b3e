"""Shared pytest options (--update-golden regenerates golden expositions: review the diff) and
the test tiers: a test using a fixture marked by tests.support.tiers gets its marks, so
`make check` (-m "not cluster and not slow") runs every fast test and nothing slow."""

from __future__ import annotations

import pytest

from tests.support.tiers import fixture_tiers


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
