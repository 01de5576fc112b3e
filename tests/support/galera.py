"""One real single-node Galera cluster for a test module, bootstrapped and killed afterwards."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from galera_lab.node import Node, NodeSpec


@contextmanager
def bootstrapped_node(
    name: str,
    address: str,
    base_dir: Path,
    *,
    cluster_name: str = "galera_lab",
    timeout: float = 90.0,
) -> Iterator[Node]:
    """A node bootstrapped as its own Primary component on `address`; killed (-9) on exit.

    The fixture using it is the one to mark @starts_real_galera (tests/support/tiers.py).
    """
    node = Node(NodeSpec(name, address, base_dir, (f"{address}:4567",), cluster_name))
    started = time.monotonic()
    node.start(bootstrap=True)
    try:
        node.wait_synced(timeout)
        print(f"[node] {name} on {address} bootstrapped in {time.monotonic() - started:.1f}s")
        yield node
    finally:
        node.kill()
