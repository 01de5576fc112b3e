"""Golden expositions: each real captured state through the real collectors, compared whole.

Regenerate with `pytest tests/unit/test_golden.py --update-golden` and review the diff.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from prometheus_client.exposition import generate_latest

from galera_exporter.collectors.grastate import GrastateCollector
from galera_exporter.collectors.wsrep import WsrepCollector
from galera_exporter.exporter import Exporter, ScrapeRegistry
from tests.unit.fixtures import GOLDEN_KEY, CapturedReader, datadir_copy, state_dirs

VOLATILE = ("galera_exporter_collector_duration_seconds{",)


def exposition(state_dir: Path, tmp_path: Path) -> str:
    datadir = datadir_copy(state_dir, tmp_path / "datadir")
    exporter = Exporter(
        [
            WsrepCollector(CapturedReader(state_dir)),
            GrastateCollector(str(datadir), tiebreak_key=GOLDEN_KEY),
        ]
    )
    text = generate_latest(ScrapeRegistry(exporter, time.monotonic() + 5)).decode()
    return "".join(line + "\n" for line in text.splitlines() if not line.startswith(VOLATILE))


@pytest.mark.parametrize("state_dir", state_dirs(), ids=lambda p: p.name)
def test_golden_exposition(state_dir: Path, tmp_path: Path, update_golden: bool) -> None:
    actual = exposition(state_dir, tmp_path)
    golden = state_dir / "expected.prom"
    if update_golden:
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"no golden file; run with --update-golden and review {golden}"
    assert actual == golden.read_text(encoding="utf-8")


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (Debian prometheus) not installed"
)
@pytest.mark.parametrize("state_dir", state_dirs(), ids=lambda p: p.name)
def test_golden_passes_promtool_lint(state_dir: Path) -> None:
    result = subprocess.run(
        ["promtool", "check", "metrics"],
        input=(state_dir / "expected.prom").read_bytes(),
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
