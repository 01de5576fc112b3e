"""cfg-cm-cluster prints what the recovery guide shows, character for character (no cluster)."""

from __future__ import annotations

from pathlib import Path

import pytest

from galera_lab import cfgcm

# Pasted from the guide ("Starting other nodes" > "Check node status").
GUIDE_TABLE = """\
+--------------------------+--------------------------------------+
| Variable_name            | Value                                |
+--------------------------+--------------------------------------+
| wsrep_cluster_conf_id    | 2                                    |
| wsrep_cluster_size       | 2                                    |
| wsrep_cluster_state_uuid | 8348d5ea-5664-11e7-8628-262d8bf5ad3d |
| wsrep_cluster_status     | Primary                              |
| wsrep_connected          | ON                                   |
| wsrep_gcomm_uuid         | ea4e26e9-5678-11e7-bc53-3e334c415aa8 |
| wsrep_last_committed     | 4                                    |
| wsrep_local_state_uuid   | 8348d5ea-5664-11e7-8628-262d8bf5ad3d |
| wsrep_ready              | ON                                   |
+--------------------------+--------------------------------------+"""

# shared/ lies beside the checkout, for developers and CI alike.
GUIDE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "cluster-recovery-guide.txt"


def test_show_cluster_status_layout_is_the_guides() -> None:
    rows = [
        (line.split("|")[1].strip(), line.split("|")[2].strip())
        for line in GUIDE_TABLE.splitlines()[3:-1]
    ]
    assert [name for name, _ in rows] == list(cfgcm.STATUS_VARIABLES)
    assert cfgcm.format_table(("Variable_name", "Value"), rows) == GUIDE_TABLE


@pytest.mark.skipif(not GUIDE.exists(), reason="the guide is a shared reference, not in the repo")
def test_warning_box_is_verbatim_from_the_guide() -> None:
    assert cfgcm.NOT_SAFE_WARNING in GUIDE.read_text()


def test_cfg_cm_cluster_needs_a_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GALERA_LAB_NODE", raising=False)
    assert cfgcm.main(["--show-cluster-status"]) == 2
