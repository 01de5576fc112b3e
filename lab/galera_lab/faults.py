"""Fault injection on one lab node: graceful stop, kill -9, start, isolation, freeze, wipe.

Each function does the fault with the mechanism a real failure uses (SIGTERM, SIGKILL, gcomm
isolation, SIGSTOP) and returns once the node's own side is done; waiting for the rest of the
cluster to notice is the caller's business (see scenarios.py).
"""

from __future__ import annotations

import shutil

import pymysql

from galera_lab.node import Node


def stop(node: Node) -> None:
    """Graceful shutdown: Galera writes the real seqno to grastate.dat and deletes gvwstate.dat."""
    node.thaw()  # a stopped (SIGSTOP) process would never act on SIGTERM
    node.stop()


def kill(node: Node) -> None:
    """kill -9 (a crash or power cut): grastate keeps seqno -1, gvwstate.dat stays."""
    node.kill()


def start(node: Node) -> int | None:
    """Start like Debian's unit does (galera_recovery first); None if it was running already."""
    if node.is_running():
        return None
    return node.start_after_crash()


def restart(node: Node) -> int | None:
    stop(node)
    return start(node)


def set_provider_option(node: Node, option: str) -> None:
    node.query(f"SET GLOBAL wsrep_provider_options='{option}'")


def isolate(node: Node) -> None:
    """Cut the node's group communication (verified: not listed in provider options, but works)."""
    set_provider_option(node, "gmcast.isolate=1")


def heal(node: Node) -> None:
    """Undo isolate(); a no-op on a node that is not running or not answering."""
    if not node.is_running():
        return
    try:
        set_provider_option(node, "gmcast.isolate=0")
    except (pymysql.err.MySQLError, OSError):
        # A joiner during SST refuses SQL; it is not isolated either.
        return


def force_primary(node: Node) -> None:
    """pc.bootstrap=YES: make this node's component Primary (the split-brain trigger)."""
    set_provider_option(node, "pc.bootstrap=YES")


def freeze(node: Node) -> None:
    """SIGSTOP: the process stays but answers nothing (a hung server)."""
    node.freeze()


def thaw(node: Node) -> None:
    node.thaw()


def wipe(node: Node) -> None:
    """Stop the node and replace its datadir with an empty one: its next start is a full SST.

    Deleting grastate.dat alone is not enough: InnoDB still holds the wsrep position, so
    galera_recovery would find it and the node would rejoin by IST with its own divergent rows.
    This is how the minority side of a split brain gives up the writes only it has.
    """
    if node.is_running():
        stop(node)
    shutil.rmtree(node.datadir, ignore_errors=True)
    node.init_datadir()
