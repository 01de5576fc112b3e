"""Loopback ports picked at run time: one the next listener can bind, one nothing listens on."""

from __future__ import annotations

from galera_lab.procs import free_port

__all__ = ["closed_port", "free_port"]


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on: bound, then released (a connection to it is refused)."""
    return free_port(host)
