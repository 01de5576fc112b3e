"""The real exporter process against a real Galera node: running, stopped, killed."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from galera_lab.node import Node
from galera_lab.wait import wait_for
from tests.integration.exporter_process import ExporterProcess, value
from tests.support.galera import bootstrapped_node
from tests.support.tiers import starts_real_galera

# GALERA_TEST_INTEGRATION_ADDRESS lets a parallel checkout on this machine use another address.
ADDRESS = os.environ.get("GALERA_TEST_INTEGRATION_ADDRESS", "127.0.0.21")


@pytest.fixture(scope="module")
@starts_real_galera
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with bootstrapped_node("node1", ADDRESS, tmp_path_factory.mktemp("galera-node")) as node:
        yield node


@pytest.fixture(scope="module")
def option_file(node: Node, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A least-privilege account: no grants at all, as the README recommends."""
    password = secrets.token_hex(12)
    node.query("DROP USER IF EXISTS 'exporter'@'localhost'")
    node.query(f"CREATE USER 'exporter'@'localhost' IDENTIFIED BY '{password}'")
    path = tmp_path_factory.mktemp("cnf") / "exporter.cnf"
    path.write_text(f'[client]\nuser = exporter\npassword = "{password}"\nsocket = {node.socket}\n')
    path.chmod(0o600)
    return path


def test_running_stopped_killed(node: Node, option_file: Path, tmp_path: Path) -> None:
    exporter = ExporterProcess(
        [f"--mysql.defaults-file={option_file}", f"--galera.datadir={node.datadir}"],
        tmp_path / "exporter.log",
    )
    try:
        node.query("CREATE DATABASE IF NOT EXISTS t")
        node.query("CREATE TABLE IF NOT EXISTS t.x (id INT PRIMARY KEY AUTO_INCREMENT)")
        node.query("INSERT INTO t.x VALUES ()")

        # Running: the exporter says what the node says.
        status = node.wsrep_status()
        samples = exporter.scrape()
        assert value(samples, "galera_up") == 1
        assert value(samples, "galera_cluster_size") == float(status["wsrep_cluster_size"])
        assert value(samples, "galera_cluster_status", status="Primary") == 1
        assert value(samples, "galera_local_state", state="Synced") == 1
        assert value(samples, "galera_ready") == 1
        assert value(samples, "galera_cluster_conf_id") == float(status["wsrep_cluster_conf_id"])
        last = value(samples, "galera_last_committed")
        assert last is not None and last >= float(status["wsrep_last_committed"])
        info = [k for k in samples if k[0] == "galera_status_info"]
        assert len(info) == 1
        labels = dict(info[0][1])
        assert labels["cluster_state_uuid"] == status["wsrep_cluster_state_uuid"]
        assert labels["node_name"] == "node1"
        assert labels["cluster_name"] == "galera_lab"
        assert value(samples, "galera_grastate_seqno") == -1
        # Alone in its Primary component, the node writes safe_to_bootstrap 1 while running.
        assert value(samples, "galera_grastate_safe_to_bootstrap") == 1
        assert value(samples, "galera_gvwstate_present") == 1

        # Graceful stop: mysqld down, the real seqno and safe_to_bootstrap 1 in grastate.dat.
        node.stop()
        fields = node.grastate_fields()
        # The very first scrape after the stop: the kept connection is dead, the exporter
        # reconnects once in the same scrape and finds nothing listening - "refused", never
        # a one-scrape "other" that the rules would read as unobservable.
        samples = exporter.scrape()
        assert value(samples, "galera_up") == 0
        assert value(samples, "galera_mysql_error", kind="refused") == 1
        assert value(samples, "galera_cluster_size") is None  # nothing stale
        assert value(samples, "galera_grastate_seqno") == float(fields["seqno"]) >= 1
        assert value(samples, "galera_grastate_safe_to_bootstrap") == 1
        assert value(samples, "galera_gvwstate_present") == 0
        assert value(samples, "galera_grastate_info", uuid=fields["uuid"], version="2.1") == 1

        # Restart (bootstrap: it is the only node), then kill -9.
        node.start(bootstrap=True)
        node.wait_synced(60)
        assert value(exporter.scrape(), "galera_up") == 1
        # A restart between two scrapes: the first scrape after it already sees the new
        # mysqld through a fresh connection (no one-scrape blip of galera_up 0).
        node.stop()
        node.start(bootstrap=True)
        node.wait_synced(60)
        assert value(exporter.scrape(), "galera_up") == 1
        node.kill()
        samples = wait_for(
            "exporter reports galera_up 0 after kill -9",
            exporter.scraped_when(lambda s: value(s, "galera_up") == 0),
            20,
        )
        fields = node.grastate_fields()
        assert fields["seqno"] == "-1"
        assert value(samples, "galera_grastate_seqno") == -1
        assert value(samples, "galera_grastate_safe_to_bootstrap") == float(
            fields["safe_to_bootstrap"]
        )
        assert value(samples, "galera_gvwstate_present") == 1  # survives kill -9
        log = (tmp_path / "exporter.log").read_text()
        assert option_file.read_text().split('"')[1] not in log  # the password never leaks
    finally:
        exporter.stop()
