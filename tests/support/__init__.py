"""Helpers every test folder uses, written once: ports (ports.py) and deadline waits (wait.py).

Both wrap the lab's own implementations (galera_lab.procs.free_port, galera_lab.wait.wait_for),
so the lab, the benches and the tests pick ports and wait on conditions the same way.
"""
