"""An N-node (default 3) MariaDB Galera cluster on consecutive loopback addresses.

Every node is a galera_lab.node.Node under one base directory; the layout is saved in
`<base>/cluster.json` so a later `galera-lab` invocation (another process) finds the same nodes.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql

from galera_lab.node import Node, NodeError, NodeSpec
from galera_lab.wait import wait_for

DEFAULT_BASE_ADDRESS = "127.0.0.11"
DATABASE = "labdb"
MARKERS = f"{DATABASE}.markers"
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def default_base_dir() -> Path:
    """$GALERA_LAB_DIR, else .lab/ in the repository checkout (git-ignored), else /var/tmp."""
    env = os.environ.get("GALERA_LAB_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").exists():
        return repo / ".lab"
    return Path("/var/tmp/galera-lab")  # noqa: S108 - a fixed, root-owned lab location


def sst_port(address: str) -> int:
    """A per-address SST port (14400 + last octet) instead of everyone's 4444.

    Other sessions' nodes listen for SST on 0.0.0.0:4444 (mariabackup's socat ignores the
    receive address unless told to bind), which blocks 127.0.0.x:4444 for us during their SSTs.
    """
    return 14400 + int(address.rsplit(".", 1)[1])


@dataclass(frozen=True)
class ClusterSpec:
    """How many nodes, from which loopback address upwards, and where their files live."""

    base_dir: Path
    size: int = 3
    base_address: str = DEFAULT_BASE_ADDRESS
    cluster_name: str = "galera_lab"

    def addresses(self) -> list[str]:
        first = ipaddress.IPv4Address(self.base_address)
        addresses = [str(first + i) for i in range(self.size)]
        for address in addresses:
            # Working agreement: the lab never listens outside the loopback network.
            if not ipaddress.IPv4Address(address).is_loopback:
                raise ValueError(f"{address} is not in 127.0.0.0/8")
        return addresses

    def to_json(self) -> dict[str, object]:
        return {
            "base_dir": str(self.base_dir),
            "size": self.size,
            "base_address": self.base_address,
            "cluster_name": self.cluster_name,
        }


class ClusterError(RuntimeError):
    pass


@dataclass(frozen=True)
class NodeView:
    """What one node shows right now: None status if mysqld does not answer."""

    node: Node
    running: bool
    status: dict[str, str] | None

    @property
    def primary(self) -> bool:
        return self.status is not None and self.status.get("wsrep_cluster_status") == "Primary"

    @property
    def synced(self) -> bool:
        return (
            self.primary
            and self.status is not None
            and self.status.get("wsrep_local_state_comment") == "Synced"
            and self.status.get("wsrep_ready") == "ON"
        )

    def get(self, key: str, default: str = "") -> str:
        return (self.status or {}).get(key, default)


class Cluster:
    """The nodes of one lab cluster; node numbers are 1-based like the guide's node names."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        addresses = spec.addresses()
        peers = tuple(f"{a}:4567" for a in addresses)
        self.nodes = [
            Node(
                NodeSpec(
                    f"node{i + 1}",
                    a,
                    spec.base_dir,
                    peers,
                    cluster_name=spec.cluster_name,
                    sst_port=sst_port(a),
                )
            )
            for i, a in enumerate(addresses)
        ]

    # ------------------------------------------------------------ persistence
    @property
    def state_file(self) -> Path:
        return self.spec.base_dir / "cluster.json"

    def save(self) -> None:
        self.spec.base_dir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(self.spec.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, base_dir: Path) -> Cluster:
        """The cluster an earlier `up` saved under base_dir."""
        path = base_dir / "cluster.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ClusterError(f"no lab under {base_dir} (run `galera-lab up` first)") from None
        return cls(
            ClusterSpec(
                base_dir=Path(data["base_dir"]),
                size=int(data["size"]),
                base_address=str(data["base_address"]),
                cluster_name=str(data.get("cluster_name", "galera_lab")),
            )
        )

    # ---------------------------------------------------------------- access
    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def node(self, ref: str | int) -> Node:
        """A node by number (1-based), by name ('node2') or by address."""
        text = str(ref).strip()
        for i, node in enumerate(self.nodes, start=1):
            if text in (str(i), node.name, node.spec.address):
                return node
        raise ClusterError(f"no node {ref!r}; nodes are 1..{len(self.nodes)}")

    def number(self, node: Node) -> int:
        return self.nodes.index(node) + 1

    def view(self, node: Node) -> NodeView:
        running = node.is_running()
        status: dict[str, str] | None = None
        if running:
            try:
                status = node.wsrep_status(timeout=2.0)
            except (pymysql.err.MySQLError, OSError):
                status = None
        return NodeView(node, running, status)

    def views(self) -> list[NodeView]:
        return [self.view(node) for node in self.nodes]

    def primary_node(self) -> Node | None:
        """A Synced node of the largest Primary component, if any."""
        views = [v for v in self.views() if v.synced]
        if not views:
            return None
        return max(views, key=lambda v: int(v.get("wsrep_cluster_size", "0") or 0)).node

    def is_fresh(self) -> bool:
        return not any((node.datadir / "mysql").is_dir() for node in self.nodes)

    # ----------------------------------------------------------------- health
    def healthy_problem(self) -> str | None:
        """None if every node is Synced in one Primary component of full size, else why not."""
        views = self.views()
        size = str(len(self.nodes))
        for v in views:
            if not v.running:
                return f"{v.node.name} not running"
            if not v.synced:
                return (
                    f"{v.node.name} {v.get('wsrep_cluster_status', 'no answer')} "
                    f"{v.get('wsrep_local_state_comment')}"
                )
            if v.get("wsrep_cluster_size") != size:
                return f"{v.node.name} sees size {v.get('wsrep_cluster_size')}"
        uuids = {v.get("wsrep_cluster_state_uuid") for v in views}
        components = {v.get("wsrep_incoming_addresses") for v in views}
        if len(uuids) != 1 or len(components) != 1:
            return f"nodes disagree: uuids {uuids}, components {components}"
        return None

    def is_healthy(self) -> bool:
        return self.healthy_problem() is None

    def wait_healthy(self, timeout: float = 120.0) -> None:
        wait_for(
            f"all {len(self.nodes)} nodes Synced in one Primary component",
            self.is_healthy,
            timeout,
            interval=0.3,
            progress=lambda _elapsed: self.healthy_problem(),
            progress_every=5.0,
        )

    def state_uuid(self) -> str:
        """The cluster state uuid all nodes agree on (raises if they do not)."""
        uuids = {v.get("wsrep_cluster_state_uuid") for v in self.views()}
        if len(uuids) != 1:
            raise ClusterError(f"nodes disagree on the state uuid: {uuids}")
        return uuids.pop()

    # -------------------------------------------------------------- start-up
    def create(self) -> None:
        """New datadirs; bootstrap node 1, then join the others one by one (SST ~13 s each)."""
        started = time.monotonic()
        for node in self.nodes:
            node.init_datadir()
        first = self.nodes[0]
        print(f"[lab] bootstrapping {first.name} ({first.spec.address})", flush=True)
        first.start(bootstrap=True)
        first.wait_synced(60)
        for node in self.nodes[1:]:
            self.join(node)
        self.wait_healthy(60)
        print(
            f"[lab] {len(self.nodes)} nodes Synced in {time.monotonic() - started:.1f}s", flush=True
        )

    def join(self, node: Node, timeout: float = 180.0) -> None:
        """Start one node (galera_recovery style) and wait for Synced, printing SST progress."""
        known = node.grastate_fields().get("uuid", ZERO_UUID) != ZERO_UUID
        how = "rejoins by IST if the donor still has its gap" if known else "full SST (~13 s)"
        print(f"[lab] starting {node.name} ({node.spec.address}): {how}", flush=True)
        if not node.is_running():
            node.start_after_crash()
        self.wait_node_synced(node, timeout)

    def wait_node_synced(self, node: Node, timeout: float) -> None:
        pid = node.pid

        def probe() -> bool:
            if pid is not None and not node.is_running():
                raise NodeError(
                    f"{node.name} exited while starting; error log tail:\n"
                    + node.error_log.read_text(errors="replace")[-3000:]
                )
            return node.synced()

        wait_for(
            f"{node.name} Synced",
            probe,
            timeout,
            interval=0.25,
            fatal=(NodeError,),
            progress=lambda elapsed: self._join_progress(node, elapsed),
            progress_every=3.0,
        )

    def _join_progress(self, node: Node, elapsed: float) -> str:
        others = []
        for other in self.nodes:
            if other is node or not other.is_running():
                continue
            state = self.view(other).get("wsrep_local_state_comment", "?")
            others.append(f"{other.name} {state}")
        try:
            mine = node.wsrep_status(timeout=1.0).get("wsrep_local_state_comment", "?")
        except (pymysql.err.MySQLError, OSError):
            mine = "receiving state transfer (SQL refused)"
        return f"{node.name} {elapsed:4.0f}s: {mine}; " + ", ".join(others)

    # ------------------------------------------------------------------ data
    def ensure_schema(self) -> None:
        node = self.primary_node()
        if node is None:
            raise ClusterError("no Synced Primary node to create the lab schema on")
        node.query(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        node.query(
            f"CREATE TABLE IF NOT EXISTS {MARKERS} (id INT AUTO_INCREMENT PRIMARY KEY, "
            "note VARCHAR(200) NOT NULL, node VARCHAR(32) NOT NULL, "
            "created TIMESTAMP DEFAULT CURRENT_TIMESTAMP)"
        )

    def write_marker(self, note: str, node: Node | None = None) -> None:
        """Insert one row (on a Primary node unless told which); the row proves data survived."""
        target = node or self.primary_node()
        if target is None:
            raise ClusterError("no Primary node to write on")
        target.query(
            "INSERT INTO labdb.markers (note, node) VALUES (%s, %s)", 5.0, (note, target.name)
        )

    def markers(self, node: Node) -> set[str]:
        return {str(row[0]) for row in node.query("SELECT note FROM labdb.markers")}

    def missing_marker(self, note: str) -> list[str]:
        """Names of running nodes that do not have the row (wsrep_sync_wait makes reads causal)."""
        missing = []
        for node in self.nodes:
            conn = node.connect()
            try:
                with conn.cursor() as cursor:
                    cursor.execute("SET SESSION wsrep_sync_wait = 1")
                    cursor.execute("SELECT 1 FROM labdb.markers WHERE note = %s", (note,))
                    if not cursor.fetchall():
                        missing.append(node.name)
            finally:
                conn.close()
        return missing

    # -------------------------------------------------------------- shutdown
    def stop_all(self) -> None:
        """Graceful stop in reverse order, so node 1 leaves last and is safe to bootstrap."""
        for node in reversed(self.nodes):
            if node.is_running():
                node.thaw()  # a frozen mysqld cannot act on SIGTERM
                node.stop()
