"""The end-to-end lab loads a copy of the rules whose long `for:` waits are capped."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import E2E_MAX_FOR_SECONDS, REPO, rules_with_capped_for

FOR = re.compile(r"^\s+for:\s*(\d+)([smh])\s*$", re.M)
SECONDS = {"s": 1, "m": 60, "h": 3600}


def _fors(text: str) -> list[int]:
    return [int(n) * SECONDS[unit] for n, unit in FOR.findall(text)]


def test_capped_copy_only_shortens_long_waits(tmp_path: Path) -> None:
    copy = rules_with_capped_for(tmp_path / "rules")
    original = _fors((REPO / "rules" / "galera-alerts.yml").read_text(encoding="utf-8"))
    capped = _fors((copy / "galera-alerts.yml").read_text(encoding="utf-8"))
    assert max(original) > E2E_MAX_FOR_SECONDS  # there is something to cap
    assert len(capped) == len(original)  # every rule keeps a `for:`, in the same order
    assert capped == [min(s, E2E_MAX_FOR_SECONDS) for s in original]


def test_capped_copy_changes_nothing_but_for(tmp_path: Path) -> None:
    copy = rules_with_capped_for(tmp_path / "rules")
    for source in sorted((REPO / "rules").glob("*.yml")):
        original = FOR.sub("for:", source.read_text(encoding="utf-8"))
        capped = FOR.sub("for:", (copy / source.name).read_text(encoding="utf-8"))
        assert original == capped, source.name
