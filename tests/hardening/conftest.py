"""One real Galera node on 127.0.0.41 for the hardening tests, and a USAGE-only DB account."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from galera_lab.node import Node, NodeSpec
from tests.hardening.harness import DISTINCTIVE_PASSWORD
from tests.support.tiers import starts_real_galera

# GALERA_TEST_HARDENING_ADDRESS lets parallel checkouts on one machine use other addresses.
ADDRESS = os.environ.get("GALERA_TEST_HARDENING_ADDRESS", "127.0.0.41")
DB_USER = "galera_hard"


@pytest.fixture(scope="session")
def hardening_base() -> Iterator[Path]:
    # Not under /tmp/pytest-of-root (0700): the non-root test's user must traverse it.
    base = Path(tempfile.mkdtemp(prefix="galera-hardening-", dir="/var/tmp"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def ensure_running(node: Node) -> None:
    """Bring the node back Synced whatever a previous test did to it (frozen, stopped, killed)."""
    node.thaw()
    if node.synced():
        return
    if node.is_running():
        node.kill()
    started = time.monotonic()
    position = node.recover_position() if node.grastate_fields().get("seqno") == "-1" else None
    node.start(bootstrap=True, start_position=position)
    node.wait_synced(90)
    print(f"[node] {node.name} restarted in {time.monotonic() - started:.1f}s")


@pytest.fixture(scope="session")
@starts_real_galera
def session_node(hardening_base: Path) -> Iterator[Node]:
    node = Node(NodeSpec("hard1", ADDRESS, hardening_base, (f"{ADDRESS}:4567",)))
    started = time.monotonic()
    node.start(bootstrap=True)
    node.wait_synced(90)
    print(f"[node] bootstrapped in {time.monotonic() - started:.1f}s")
    for host in ("localhost", "127.0.0.%"):
        node.query(f"DROP USER IF EXISTS '{DB_USER}'@'{host}'")
        # No GRANT at all: SHOW GLOBAL STATUS/VARIABLES need no privilege on MariaDB.
        node.query(f"CREATE USER '{DB_USER}'@'{host}' IDENTIFIED BY '{DISTINCTIVE_PASSWORD}'")
    try:
        yield node
    finally:
        node.thaw()
        node.kill()


@pytest.fixture
def node(session_node: Node) -> Node:
    ensure_running(session_node)
    return session_node


def write_option_file(path: Path, **client: object) -> Path:
    lines = ["[client]"] + [f"{key} = {value}" for key, value in client.items()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def socket_cnf(node: Node, tmp_path: Path) -> Path:
    return write_option_file(
        tmp_path / "exporter.cnf",
        user=DB_USER,
        password=f'"{DISTINCTIVE_PASSWORD}"',
        socket=node.socket,
    )
