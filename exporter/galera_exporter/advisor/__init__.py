"""galera-advisor: every node's exporter read at once, the decision model's scenario and the
one next step, without Prometheus. Read-only: it only sends GET requests to exporters."""
