"""Which tests share a pytest-xdist worker (`make test`: `-n $(TEST_WORKERS) --dist loadgroup`).

A session-scoped fixture defined in a folder's conftest (the 3-node lab of tests/lab, the e2e
lab, the hardening node) is one resource on one loopback address block: every test that uses
it runs on the same worker, or a second worker would start a second lab on the same addresses.
Everything else stays with its module, so module-scoped labs and nodes start once too; the
modules themselves spread over the workers.
"""

from __future__ import annotations

import pytest


def worker_group(item: pytest.Item) -> str:
    """The xdist group of `item`: the folder of a shared session fixture it uses, else its
    module's path."""
    info = getattr(item, "_fixtureinfo", None)
    folders: set[str] = set()
    if info is not None:
        for name in getattr(item, "fixturenames", ()):
            for definition in info.name2fixturedefs.get(name, ()):
                # baseid "" is a plugin's or the root conftest's fixture (tmp_path_factory...);
                # "tests" is tests/conftest.py, which holds no shared resource.
                if definition.scope == "session" and definition.baseid not in ("", "tests"):
                    folders.add(definition.baseid)
    if len(folders) > 1:
        raise pytest.UsageError(
            f"{item.nodeid} uses session resources of {sorted(folders)}: one worker cannot "
            "hold both groups; give the test one shared resource"
        )
    return folders.pop() if folders else item.nodeid.split("::", 1)[0]


# Rough cost of one test by tier, for ordering only: a scenario on a real cluster takes about a
# minute, a slow test seconds, the rest milliseconds.
_COST_SECONDS = {"cluster": 60.0, "slow": 5.0}


def heaviest_groups_first(items: list[pytest.Item]) -> None:
    """Reorder `items` in place: whole groups, the costliest first, each group's tests in their
    own order (module tests numbered test_1_, test_2_... run in sequence). xdist hands groups
    to workers in this order, so the long real-cluster groups start at once instead of
    trailing after the fast ones (longest-processing-time-first scheduling)."""
    cost: dict[str, float] = {}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        group = worker_group(item)
        first.setdefault(group, index)
        tiers = [t for t in _COST_SECONDS if item.get_closest_marker(t) is not None]
        cost[group] = cost.get(group, 0.0) + max((_COST_SECONDS[t] for t in tiers), default=0.01)
    items.sort(key=lambda item: (-cost[worker_group(item)], first[worker_group(item)]))
