"""The end-to-end lab loads a copy of the rules whose long `for:` waits are capped."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import REPO, rules_with_capped_for


def test_capped_copy_only_shortens_long_waits(tmp_path: Path) -> None:
    copy = rules_with_capped_for(tmp_path / "rules")
    original = (REPO / "rules" / "galera-alerts.yml").read_text(encoding="utf-8")
    capped = (copy / "galera-alerts.yml").read_text(encoding="utf-8")
    assert re.search(r"for:\s*(5|10|15)m", original)
    assert not re.search(r"for:\s*(5|10|15)m", capped)
    assert len(re.findall(r"^\s+for:", capped, flags=re.M)) == len(
        re.findall(r"^\s+for:", original, flags=re.M)
    )
