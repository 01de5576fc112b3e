"""The README documents what the exporter really does: mapping table, metrics, flags."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from galera_exporter.cli import build_parser
from tests.support import known_metrics

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_generated_tables_are_current() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import readme_tables  # noqa: PLC0415 - a script, not a package module

    for name, make in readme_tables.TABLES.items():
        assert readme_tables.current(README, name) == make(), (
            f"README table {name} is stale: run python3 scripts/readme_tables.py --write"
        )


def test_every_emitted_metric_is_documented() -> None:
    """Every name the exporter emits (tests/support/known_metrics.py: the golden expositions of
    the captured states and status files, the log collectors and the mid-SST walk run for
    real) appears in the README's metrics reference."""
    names = (
        known_metrics.golden_names()
        | known_metrics.log_source_names()
        | known_metrics.sst_activity_names()
    )
    assert {"galera_status_file_transfer", "galera_gra_log_files", "galera_sst_datadir_bytes"} <= (
        names
    )
    undocumented = sorted(
        n
        for n in names
        if f"`{n}`" not in README
        and f"`{n}_total`" not in README
        and not re.search(rf"`{re.escape(n)}[{{`,]", README)
    )
    assert not undocumented


def test_flags_are_in_the_help_and_readme_config() -> None:
    flags = {s for a in build_parser()._actions for s in a.option_strings if s.startswith("--")}
    for flag in (
        "--config.file",
        "--check-config",
        "--web.listen-address",
        "--mysql.defaults-file",
    ):
        assert flag in flags
        assert flag in README
