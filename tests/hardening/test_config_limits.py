"""The largest accepted --mysql.timeout still gives answered scrapes (1e10 s used to pass the
config check and then fail every scrape without Prometheus' timeout header with a 500)."""

from __future__ import annotations

from pathlib import Path

import pytest

from galera_exporter.config import MAX_TIMEOUT_SECONDS
from tests.hardening.harness import Exporter, metric

pytestmark = pytest.mark.timeout(120)


def test_largest_timeout_scrapes_without_the_header(tmp_path: Path) -> None:
    cnf = tmp_path / "my.cnf"
    cnf.write_text(f"[client]\nuser = nobody\nsocket = {tmp_path / 'absent.sock'}\n")
    cnf.chmod(0o600)
    exporter = Exporter(
        [
            f"--mysql.defaults-file={cnf}",
            f"--galera.datadir={tmp_path}",
            f"--mysql.timeout={MAX_TIMEOUT_SECONDS:g}",
        ],
        tmp_path / "exporter.log",
    )
    try:
        response = exporter.scrape()  # no X-Prometheus-Scrape-Timeout-Seconds; asserts 200
        print(f"scrape without the header: {response.status} in {response.seconds * 1000:.0f} ms")
        assert metric(response.samples(), "galera_up") == 0
    finally:
        exporter.stop()
    assert "Traceback" not in exporter.log_text()
