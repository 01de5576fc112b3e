"""Prometheus exporter for one MariaDB Galera node: wsrep status, grastate.dat, logs."""

__version__ = "0.1.0"
