"""`cfg-cm-cluster` for lab nodes: the recovery guide's own commands, on MariaDB's real mechanisms.

  --bootstrap-node           start with --wsrep-new-cluster (after galera_recovery's position
                             recovery), refusing with the guide's warning box if
                             safe_to_bootstrap is 0
  --safe-to-bootstrap        print safe_to_bootstrap from grastate.dat
  --force-safe-to-bootstrap  write safe_to_bootstrap: 1 into grastate.dat
  --show-cluster-status      the wsrep table the guide prints
  --restart-node             stop if running, then start like Debian's galera_recovery

The node is chosen with --node N (or GALERA_LAB_NODE), the lab with --lab-dir (or
GALERA_LAB_DIR). Exit status 0 on success, 1 on refusal or failure.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pymysql

from galera_lab.cluster import Cluster, ClusterError, default_base_dir
from galera_lab.node import Node, NodeError
from galera_lab.wait import WaitTimeoutError

# Verbatim from the guide (its "boostrapping" typo included: operators grep for this text).
NOT_SAFE_WARNING = """\
*********************************************************************
* Warning: It is not safe to bootstrap this node. Please bootstrap  *
* the node that was last removed from the cluster. To force         *
* boostrapping this node, use the command --force-safe-to-bootstrap *
* before bootstrapping this node.                                   *
*********************************************************************"""

# The rows of the guide's --show-cluster-status table, in its order.
STATUS_VARIABLES = (
    "wsrep_cluster_conf_id",
    "wsrep_cluster_size",
    "wsrep_cluster_state_uuid",
    "wsrep_cluster_status",
    "wsrep_connected",
    "wsrep_gcomm_uuid",
    "wsrep_last_committed",
    "wsrep_local_state_uuid",
    "wsrep_ready",
)


class RefusedError(Exception):
    """The command must not go ahead (the message is for the operator)."""


def format_table(header: tuple[str, str], rows: list[tuple[str, str]]) -> str:
    """The mysql client's table layout, as pasted in the guide."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in (0, 1)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def row(cells: tuple[str, str]) -> str:
        return "|" + "|".join(f" {c:<{w}} " for c, w in zip(cells, widths, strict=True)) + "|"

    return "\n".join([line, row(header), line, *(row(r) for r in rows), line])


def show_cluster_status(node: Node) -> str:
    status = node.wsrep_status(timeout=5.0)
    rows = [(name, status.get(name, "")) for name in STATUS_VARIABLES]
    return format_table(("Variable_name", "Value"), rows)


def safe_to_bootstrap(node: Node) -> str:
    value = node.grastate_fields().get("safe_to_bootstrap")
    if value is None:
        raise RefusedError(f"{node.grastate} is missing or has no safe_to_bootstrap")
    return value


def force_safe_to_bootstrap(node: Node) -> None:
    node.set_safe_to_bootstrap(1)


def _start_position(node: Node) -> str | None:
    """galera_recovery: with seqno -1 in grastate.dat, ask InnoDB (mariadbd --wsrep-recover)."""
    if node.grastate_fields().get("seqno", "-1") == "-1":
        return node.recover_position()
    return None


def _stop_keeping_forced_safe(node: Node) -> None:
    """Stop a running node; a safe_to_bootstrap: 1 the operator forced survives the stop.

    A running node's grastate.dat is rewritten on shutdown (safe_to_bootstrap back to 0 unless
    it was alone in a Primary component), which would silently undo --force-safe-to-bootstrap.
    """
    forced = node.grastate_fields().get("safe_to_bootstrap") == "1"
    node.thaw()
    node.stop()
    if forced and node.grastate_fields().get("safe_to_bootstrap") != "1":
        print(
            f"{node.name}: the shutdown wrote safe_to_bootstrap: 0; keeping the forced 1",
            flush=True,
        )
        node.set_safe_to_bootstrap(1)


def bootstrap_node(node: Node, wait: bool = True, timeout: float = 90.0) -> None:
    """Start a new cluster from this node, as `galera_new_cluster` does, if it is safe."""
    if node.is_running():
        try:
            status = node.wsrep_status(timeout=5.0)
        except (pymysql.err.MySQLError, OSError):
            status = {}
        if status.get("wsrep_cluster_status") == "Primary":
            # Stopping a member of a live cluster to bootstrap it would start a second cluster.
            raise RefusedError(
                f"{node.name} is running in a Primary component of size "
                f"{status.get('wsrep_cluster_size')}: there is nothing to bootstrap"
            )
        if node.grastate_fields().get("safe_to_bootstrap") != "1":
            raise RefusedError(NOT_SAFE_WARNING)  # before stopping it: a refusal changes nothing
        print(
            f"{node.name} is running but not Primary; stopping it before bootstrapping", flush=True
        )
        _stop_keeping_forced_safe(node)
    if not node.grastate.exists():
        raise RefusedError(f"{node.grastate} does not exist: this node has no Galera state")
    if safe_to_bootstrap(node) != "1":
        raise RefusedError(NOT_SAFE_WARNING)
    position = _start_position(node)
    node.start(bootstrap=True, start_position=position)
    if wait:
        node.wait_synced(timeout)


def restart_node(node: Node, wait: bool = True, timeout: float = 180.0) -> None:
    """`systemctl restart mariadb` on Debian: stop, galera_recovery, start; wait for Synced."""
    if node.is_running():
        node.thaw()
        node.stop()
    node.start(start_position=_start_position(node))
    if wait:
        node.wait_synced(timeout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cfg-cm-cluster",
        description="The recovery guide's cluster commands, addressed to one lab node.",
    )
    parser.add_argument(
        "--node",
        default=os.environ.get("GALERA_LAB_NODE", ""),
        help="lab node: number (1-based), name or address (default: $GALERA_LAB_NODE)",
    )
    parser.add_argument(
        "--lab-dir",
        default=None,
        help="lab base directory (default: $GALERA_LAB_DIR or the repo's .lab)",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="return once mariadbd is launched instead of waiting for Synced",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds to wait for Synced (default 90 bootstrap, 180 restart)",
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--bootstrap-node", action="store_true")
    group.add_argument("--safe-to-bootstrap", action="store_true")
    group.add_argument("--force-safe-to-bootstrap", action="store_true")
    group.add_argument("--show-cluster-status", action="store_true")
    group.add_argument("--restart-node", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.node:
        print("cfg-cm-cluster: say which lab node: --node N or GALERA_LAB_NODE=N", file=sys.stderr)
        return 2
    base = Path(args.lab_dir) if args.lab_dir else default_base_dir()
    try:
        node = Cluster.load(base).node(args.node)
        if args.show_cluster_status:
            print(show_cluster_status(node))
        elif args.safe_to_bootstrap:
            print(f"safe_to_bootstrap: {safe_to_bootstrap(node)}")
        elif args.force_safe_to_bootstrap:
            force_safe_to_bootstrap(node)
            print(f"safe_to_bootstrap: 1 written to {node.grastate}")
        elif args.bootstrap_node:
            bootstrap_node(node, wait=not args.no_wait, timeout=args.timeout or 90.0)
            print(f"{node.name} bootstrapped: a new Primary component of size 1")
        elif args.restart_node:
            restart_node(node, wait=not args.no_wait, timeout=args.timeout or 180.0)
            print(f"{node.name} restarted")
    except RefusedError as err:
        print(err, file=sys.stderr)
        return 1
    except pymysql.err.MySQLError as err:
        code, message = (*err.args, "", "")[:2]
        print(f"ERROR {code}: {message}", file=sys.stderr)
        return 1
    except (ClusterError, NodeError, WaitTimeoutError, OSError) as err:
        print(f"cfg-cm-cluster: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
