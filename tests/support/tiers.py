"""Test tiers by fixture: a fixture that starts a real MariaDB Galera node or lab says so once,
and every test that uses it (directly or through another fixture) is marked `cluster` and `slow`.

Marking whole modules hid their fast tests from `-m "not cluster and not slow"`; marking by
fixture follows what a test really needs, and a new test in such a module is tiered right without
anyone remembering a mark. tests/conftest.py applies it at collection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import pytest

F = TypeVar("F", bound=Callable[..., object])

_TIERS = "_galera_test_tiers"

# What a real node or lab costs: a bootstrap (~5-15 s), an SST per joiner (~13 s), a scenario.
REAL_GALERA = ("cluster", "slow")


def starts_real_galera(fixture: F) -> F:
    """Decorate (below @pytest.fixture) a fixture that starts real mariadbd/Galera processes."""
    setattr(fixture, _TIERS, REAL_GALERA)
    return fixture


def slow_fixture(fixture: F) -> F:
    """Decorate (below @pytest.fixture) a fixture that takes more than a few seconds to set up."""
    setattr(fixture, _TIERS, ("slow",))
    return fixture


def fixture_tiers(item: pytest.Item) -> set[str]:
    """The tier marks the fixtures `item` uses call for (its whole fixture closure)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return set()
    tiers: set[str] = set()
    for name in getattr(item, "fixturenames", ()):
        definitions: Iterable[object] = info.name2fixturedefs.get(name, ())
        for definition in definitions:
            tiers.update(getattr(getattr(definition, "func", None), _TIERS, ()))
    return tiers
