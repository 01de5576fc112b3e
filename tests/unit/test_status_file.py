"""The status_file and gra_log sources over real captured files, and over broken ones.

Goldens: tests/fixtures/statusfile/expected/<state>.prom, one per captured JSON file.
Regenerate with `pytest tests/unit/test_status_file.py --update-golden` and review the diff.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from prometheus_client.exposition import generate_latest

from galera_exporter import status_json
from galera_exporter.collectors import gra_log, statefile
from galera_exporter.collectors.base import Collector, Scrape, ServerSettings
from galera_exporter.collectors.gra_log import GraLogCollector
from galera_exporter.collectors.status_file import (
    MAX_STATUS_FILE_BYTES,
    StatusFileCollector,
    resolve_status_path,
)
from galera_exporter.exporter import Exporter, ScrapeRegistry

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "statusfile"
EXPECTED = FIXTURES / "expected"
# Real captures, plus one synthetic file: joiner_ist.json with the progress a writer that
# reports it would give (MariaDB 10.11.19 never did), so the progress metrics have a golden.
SAMPLES = [*sorted(p.stem for p in FIXTURES.glob("*.json")), "synthetic/ist_progress"]
FIXED_MTIME = 1_795_000_000.0
VOLATILE = ("galera_exporter_collector_duration_seconds{",)


def scrape_text(sources: Sequence[Collector]) -> str:
    exporter = Exporter(sources)
    text = generate_latest(ScrapeRegistry(exporter, time.monotonic() + 5)).decode()
    return "".join(line + "\n" for line in text.splitlines() if not line.startswith(VOLATILE))


def samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def datadir_with(tmp_path: Path, sample: str | None, gra: int = 0) -> Path:
    datadir = tmp_path / "data"
    datadir.mkdir()
    if sample:
        target = datadir / "wsrep_status.json"
        shutil.copy(FIXTURES / f"{sample}.json", target)
        os.utime(target, (FIXED_MTIME, FIXED_MTIME))
    for i in range(gra):
        path = datadir / f"GRA_2_{5021 + i}_v2.log"
        path.write_bytes(b"\xfebin")
        os.utime(path, (FIXED_MTIME + i, FIXED_MTIME + i))
    return datadir


@pytest.mark.parametrize("sample", SAMPLES)
def test_golden_exposition(sample: str, tmp_path: Path, update_golden: bool) -> None:
    datadir = datadir_with(tmp_path, sample, gra=1 if sample == "apply_failed" else 0)
    actual = scrape_text([StatusFileCollector(datadir=str(datadir)), GraLogCollector(str(datadir))])
    golden = EXPECTED / f"{sample.replace('/', '_')}.prom"
    if update_golden:
        golden.write_text(actual, encoding="utf-8")
    assert actual == golden.read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_goldens_pass_promtool() -> None:
    """(The README documents them: tests/unit/test_readme.py.)"""
    names = set()
    for golden in sorted(EXPECTED.glob("*.prom")):
        result = subprocess.run(
            ["promtool", "check", "metrics"],
            input=golden.read_bytes(),
            capture_output=True,
            check=False,
        )
        assert result.returncode == 0, golden.name + result.stdout.decode() + result.stderr.decode()
        names |= {
            line.split()[2]
            for line in golden.read_text().splitlines()
            if line.startswith("# TYPE ")
        }
    assert "galera_status_file_transfer" in names and "galera_gra_log_files" in names


def test_what_the_real_states_say() -> None:
    """The facts rules depend on, straight from the captures."""
    parsed = {
        s: status_json.parse_status_file((FIXTURES / f"{s}.json").read_bytes())
        for s in SAMPLES
        if not s.startswith("synthetic/")
    }
    assert (parsed["synced"].state, parsed["synced"].comment) == ("SYNCED", "Operational")
    assert parsed["joiner_sst"].transfer == ("sst", "joiner")
    assert parsed["joiner_ist"].transfer == ("ist", "joiner")
    assert parsed["donor"].transfer == ("sst", "donor")
    assert parsed["synced"].transfer is None and parsed["stopped"].transfer is None
    # MariaDB 10.11.19 / Galera 26.4.23 never reported progress in the lab.
    assert all(p.progress is None for p in parsed.values())
    assert parsed["sst_failed_joiner"].counts() == {
        ("error", "sst"): 4,
        ("warning", "state_file"): 1,
    }
    assert parsed["sst_failed_donor"].counts()[("error", "sst")] == 3
    assert parsed["apply_failed"].counts()[("error", "inconsistency")] == 1
    assert parsed["apply_failed"].counts()[("error", "apply")] == 3
    assert not any(m.level == "error" for m in parsed["synced"].messages)


def test_progress_when_a_writer_reports_it() -> None:
    doc = (
        (FIXTURES / "joiner_ist.json")
        .read_text()
        .replace('"total": -1, "done": -1', '"total": 40002, "done": 12000')
    )
    parsed = status_json.parse_status_file(doc.encode())
    assert parsed.progress == status_json.Progress(done=12000, total=40002)


def test_sst_failures_counted_once_per_failure_across_rewrites(tmp_path: Path) -> None:
    datadir = datadir_with(tmp_path, "sst_failed_joiner")
    source = StatusFileCollector(datadir=str(datadir))
    key = "galera_status_file_sst_failures_total"
    assert samples(scrape_text([source]))[key] == 1  # 4 errors in one second: one failure
    assert samples(scrape_text([source]))[key] == 1  # the same file again
    # The server restarts (fresh file), then fails again a minute later.
    shutil.copy(FIXTURES / "stopped.json", datadir / "wsrep_status.json")
    assert samples(scrape_text([source]))[key] == 1
    later = (FIXTURES / "sst_failed_joiner.json").read_text().replace("1796204310", "1796204370")
    (datadir / "wsrep_status.json").write_text(later)
    assert samples(scrape_text([source]))[key] == 2


def test_path_resolution(tmp_path: Path) -> None:
    assert resolve_status_path("", "", "/d") == Path("/d/wsrep_status.json")
    assert resolve_status_path("", "st.json", "/d") == Path("/d/st.json")
    assert resolve_status_path("", "/abs/st.json", "/d") == Path("/abs/st.json")
    assert resolve_status_path("/etc/x.json", "st.json", "/d") == Path("/etc/x.json")
    # The server's setting is remembered while mysqld is down.
    datadir = datadir_with(tmp_path, None)
    shutil.copy(FIXTURES / "donor.json", datadir / "custom.json")
    source = StatusFileCollector(datadir="/elsewhere")
    up = Scrape(
        deadline=time.monotonic() + 5,
        server=ServerSettings("", str(datadir), wsrep_status_file="custom.json"),
    )
    assert source.path_for(up) == datadir / "custom.json"
    down = Scrape(deadline=time.monotonic() + 5)
    assert source.path_for(down) == datadir / "custom.json"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "malformed"),
        (b"{", "malformed"),
        (b"[]", "malformed"),
        (b'{"status": 1}', "malformed"),
        (b'{"status": {"state": 3, "comment": "x"}}', "malformed"),
        (b'{"status": {"state": "S", "comment": "c"}, "errors": 5}', "malformed"),
        (b"[" * 100_000, "malformed"),
        (b'{"status": {"state": "' + b"9" * 5000 + b'"}}', "malformed"),
        (b" " * (MAX_STATUS_FILE_BYTES + 1), "too_large"),
    ],
)
def test_broken_file_is_an_error_metric_not_a_failed_scrape(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    datadir = datadir_with(tmp_path, None)
    (datadir / "wsrep_status.json").write_bytes(content)
    got = samples(scrape_text([StatusFileCollector(datadir=str(datadir))]))
    assert got["galera_status_file_valid"] == 0
    assert got[f'galera_status_file_error{{reason="{reason}"}}'] == 1
    assert got['galera_exporter_collector_success{collector="status_file"}'] == 1


def test_every_truncation_of_a_real_file_is_handled(tmp_path: Path) -> None:
    data = (FIXTURES / "sst_failed_donor.json").read_bytes()
    complete = data.rindex(b"}") + 1
    for end in range(len(data) + 1):
        try:
            status_json.parse_status_file(data[:end])
            parsed = True
        except status_json.StatusFileError:
            parsed = False
        assert parsed == (end >= complete), end  # a torn write is malformed, never half-read


def test_unknown_states_and_hostile_messages_stay_bounded() -> None:
    doc = (
        b'{"status": {"state": "EVIL\\n", "comment": "x{y=\\"z\\"}", "progress": '
        b'{"total": 1e999, "done": NaN}}, "errors": [{"msg": "\\u0000'
        + b"a" * 100_000
        + b'", "timestamp": "now"}]}'
    )
    parsed = status_json.parse_status_file(doc)
    assert (parsed.state, parsed.comment, parsed.progress) == ("other", "other", None)
    assert parsed.messages[0].kind == "other" and parsed.messages[0].timestamp is None


def test_missing_file_and_not_a_regular_file(tmp_path: Path) -> None:
    datadir = datadir_with(tmp_path, None)
    got = samples(scrape_text([StatusFileCollector(datadir=str(datadir))]))
    assert got["galera_status_file_present"] == 0
    assert got["galera_status_file_valid"] == 0
    assert not any(v for k, v in got.items() if k.startswith("galera_status_file_error"))
    os.mkfifo(datadir / "wsrep_status.json")  # would block a plain open() forever
    started = time.monotonic()
    got = samples(scrape_text([StatusFileCollector(datadir=str(datadir))]))
    assert time.monotonic() - started < 2
    assert "galera_status_file_present" not in got
    assert got['galera_status_file_error{reason="unreadable"}'] == 1
    assert got['galera_exporter_collector_success{collector="status_file"}'] == 0


def test_gra_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    datadir = datadir_with(tmp_path, None, gra=3)
    (datadir / "GRA_dir.log").mkdir()  # not a regular file
    (datadir / "GRA_link.log").symlink_to(datadir / "GRA_2_5021_v2.log")  # not followed
    (datadir / "GRA_x.txt").write_text("")
    got = samples(scrape_text([GraLogCollector(str(datadir))]))
    assert got["galera_gra_log_files"] == 3
    assert got["galera_gra_log_newest_timestamp_seconds"] == FIXED_MTIME + 2
    assert got["galera_gra_log_scan_truncated"] == 0
    monkeypatch.setattr(gra_log, "MAX_COUNTED", 2)
    got = samples(scrape_text([GraLogCollector(str(datadir))]))
    assert got["galera_gra_log_files"] == 2 and got["galera_gra_log_scan_truncated"] == 1
    assert got["galera_gra_log_scan_denied"] == 0
    empty = samples(scrape_text([GraLogCollector(str(tmp_path / "nope"))]))
    assert "galera_gra_log_files" not in empty  # unknown, not zero
    assert empty['galera_exporter_collector_success{collector="gra_log"}'] == 0


def test_gra_scan_denied_is_a_fact_not_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the non-root exporter of docs/deploy.md sees the datadir: search, no listing (we
    run as root, which ignores modes, so the listing's refusal is stood in for)."""
    datadir = datadir_with(tmp_path, None, gra=1)

    def refuse(path: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    # gra_log's os is the os module: the string names where the collector reaches it.
    monkeypatch.setattr("galera_exporter.collectors.gra_log.os.scandir", refuse)
    got = samples(scrape_text([GraLogCollector(str(datadir))]))
    assert got["galera_gra_log_scan_denied"] == 1
    assert "galera_gra_log_files" not in got
    assert got['galera_exporter_collector_success{collector="gra_log"}'] == 1


def test_permission_denied_is_said_and_not_a_collector_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server creates the file 0600; a non-root exporter gets EACCES (root ignores modes,
    so the refusal is stood in for at the open)."""
    datadir = datadir_with(tmp_path, "synced")

    def refuse(path: Path, max_bytes: int = 0) -> statefile.FileRead:
        return statefile.FileRead(present=None, problem=statefile.PERMISSION_DENIED)

    monkeypatch.setattr(statefile, "read_now", refuse)
    got = samples(scrape_text([StatusFileCollector(datadir=str(datadir))]))
    assert got['galera_status_file_error{reason="permission_denied"}'] == 1
    assert got['galera_status_file_error{reason="unreadable"}'] == 0
    assert got["galera_status_file_valid"] == 0
    assert "galera_status_file_present" not in got
    assert got['galera_exporter_collector_success{collector="status_file"}'] == 1


def test_flag_and_yaml_reach_the_source(tmp_path: Path) -> None:
    from galera_exporter import config  # noqa: PLC0415 - only this test needs the loader
    from galera_exporter.cli import build_parser  # noqa: PLC0415
    from galera_exporter.collectors import COLLECTOR_NAMES, build_collectors  # noqa: PLC0415

    datadir = datadir_with(tmp_path, None)
    shutil.copy(FIXTURES / "donor.json", datadir / "elsewhere.json")
    args = build_parser().parse_args(
        [f"--galera.datadir={datadir}", "--galera.status-file=elsewhere.json"]
    )
    cfg = config.load(args, COLLECTOR_NAMES, env={})
    assert cfg.galera.status_file == "elsewhere.json"
    built = build_collectors(cfg)
    try:
        sources = [s for s in built if s.name in ("status_file", "gra_log")]
        assert [s.name for s in sources] == ["status_file", "gra_log"]
        got = samples(scrape_text(sources))
    finally:
        for source in built:
            source.close()
    assert got['galera_status_file_state_info{comment="Donating SST",state="DONOR"}'] == 1
    yaml_file = tmp_path / "c.yml"
    yaml_file.write_text("galera:\n  status_file: /abs/wsrep.json\ncollectors:\n  gra_log: false\n")
    cfg = config.load(
        build_parser().parse_args([f"--config.file={yaml_file}"]), COLLECTOR_NAMES, env={}
    )
    assert cfg.galera.status_file == "/abs/wsrep.json"
    built = build_collectors(cfg)
    for source in built:
        source.close()
    assert "gra_log" not in [s.name for s in built]
