"""A real MariaDB Galera cluster on loopback for tests, demos and runbook rehearsal."""
