"""Helpers the test folders share, written once.

- ports.py: `free_port`, `closed_port` (the lab's galera_lab.procs.free_port);
- wait.py: `wait_for(what, probe, timeout=10, interval=0.005)` (the lab's galera_lab.wait);
- tiers.py: `@starts_real_galera`, `@slow_fixture`: the tests using such a fixture are marked;
- galera.py: `bootstrapped_node`, one real single-node cluster;
- tls.py: `openssl`, `self_signed`, `encrypt_key`.
"""
