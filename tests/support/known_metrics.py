"""The metric names a dashboard may use: what the exporter really emits, the recording rules in
rules/, and Prometheus' own ALERTS and up.

The wsrep/grastate names come from the golden expositions (tests/fixtures/states/*/expected.prom).
The log sources have no golden file, so they are run for real: each follows a log written here
(a ready line, a `Recovered position` line) and its exposition is read like Prometheus would.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry

from galera_exporter.collectors.backend_log import BackendLogCollector
from galera_exporter.collectors.base import Scrape
from galera_exporter.collectors.errorlog import ErrorLogCollector
from galera_exporter.collectors.grastate import GrastateCollector
from galera_exporter.exporter import Exporter, ScrapeRegistry
from tests.support import yamlfile

REPO = Path(__file__).resolve().parents[2]
GOLDEN = sorted((REPO / "tests" / "fixtures" / "states").glob("*/expected.prom")) + sorted(
    (REPO / "tests" / "fixtures" / "statusfile" / "expected").glob("*.prom")
)
RULE_FILES = sorted((REPO / "rules").glob("*.yml"))
PROMETHEUS_OWN = frozenset({"ALERTS", "ALERTS_FOR_STATE", "up"})

BACKEND_LOG = (
    b"2026-11-27 08:58:20,001 INFO  SMTP Service handler hello name is gw1\n"
    b"2026-11-27 08:58:23,125 INFO  SMTP Service started plain:10025//127.0.0.1\n"
)
# A real error log with whole --wsrep-recover runs: a position counts only after its run's
# own start-up lines (docs/logs.md), so the one-line extracts would give none.
ERROR_LOG_FIXTURE = REPO / "tests" / "fixtures" / "errorlog" / "capture-node61-error.log"


def sample_names(exposition: str) -> set[str]:
    return {s.name for fam in text_string_to_metric_families(exposition) for s in fam.samples}


def golden_names() -> set[str]:
    names: set[str] = set()
    for path in GOLDEN:
        names |= sample_names(path.read_text())
    return names


class _Once(Collector):
    def __init__(self, source: BackendLogCollector | ErrorLogCollector) -> None:
        self.source = source

    def collect(self):  # type: ignore[no-untyped-def]  # prometheus_client's own signature
        return list(self.source.collect(Scrape(deadline=time.monotonic() + 5)))


def _exposition(
    source: BackendLogCollector | ErrorLogCollector, wanted: str, timeout: float
) -> str:
    """Scrape `source` until `wanted` appears (its follower reads the log in a thread)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Once(source))
    started = time.monotonic()
    while True:
        text = generate_latest(registry).decode()
        if wanted in sample_names(text):
            print(
                f"[wait] {source.name} source reporting {wanted}: {time.monotonic() - started:.2f}s"
            )
            return text
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{source.name} source: no {wanted} after {timeout}s:\n{text}")
        time.sleep(0.05)


def log_source_names(timeout: float = 10.0) -> set[str]:
    """Run the back-end log and error log sources over small logs; the names they emit."""
    with tempfile.TemporaryDirectory() as tmp:
        backend_path = Path(tmp) / "backend.log"
        backend_path.write_bytes(BACKEND_LOG)
        error_path = Path(tmp) / "error.log"
        error_path.write_bytes(ERROR_LOG_FIXTURE.read_bytes())
        backend = BackendLogCollector(
            str(backend_path),
            ["SMTP Service started"],
            ["SMTP Service handler hello name is"],
            use_inotify=False,
        )
        errorlog = ErrorLogCollector(str(error_path), default_datadir=tmp, use_inotify=False)
        try:
            names = sample_names(
                _exposition(backend, "galera_backend_ready_timestamp_seconds", timeout)
            )
            names |= sample_names(_exposition(errorlog, "galera_recovered_seqno", timeout))
        finally:
            backend.close()
            errorlog.close()
    return names


def sst_activity_names() -> set[str]:
    """The names the grastate collector adds only mid-SST (no golden state was captured then):
    run for real over a datadir holding the joiner's sst_in_progress marker."""
    with tempfile.TemporaryDirectory() as tmp:
        datadir = Path(tmp)
        (datadir / "sst_in_progress").write_text("")
        (datadir / ".sst").mkdir()
        (datadir / ".sst" / "ibdata1").write_bytes(b"x" * 4096)
        exporter = Exporter([GrastateCollector(tmp, tiebreak_key=1)])
        registry = ScrapeRegistry(exporter, time.monotonic() + 5)
        return sample_names(generate_latest(registry).decode())


def recording_rule_names() -> set[str]:
    names = set()
    for path in RULE_FILES:
        for group in (yamlfile.safe_load(path.read_text()) or {}).get("groups", []):
            for rule in group.get("rules", []):
                if "record" in rule:
                    names.add(str(rule["record"]))
    return names
