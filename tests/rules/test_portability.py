"""The rule files stay portable to other rule engines: vmalert (Debian's 1.79.5) parses them,
and their annotation templates use only functions that render the same on Prometheus and
vmalert (checked side by side by tests/scale/test_template_parity.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support import yamlfile

REPO = Path(__file__).resolve().parents[2]
VMALERT = "/usr/bin/vmalert"

# Template functions seen to render identically on Prometheus 2.42 and vmalert 1.79.5
# (tests/scale/test_template_parity.py renders each one on both). Thanos Ruler and Mimir's
# ruler use Prometheus' own template package. Not here on purpose: `strvalue` (Prometheus
# reads the `__value__` label, vmalert the metric name), `humanizeTimestamp`, `toTime`,
# `tmpl`, `graphLink`, `tableLink` (missing or different in vmalert 1.79.5), and the
# engine-only variables ($externalURL, $expr).
COMMON_TEMPLATE_FUNCTIONS = frozenset({
    # Prometheus' template functions
    "query", "first", "label", "value", "sortByLabel",
    "humanize", "humanizePercentage", "humanizeDuration", "humanize1024",
    "toUpper", "toLower", "title", "reReplaceAll", "match", "stripPort", "safeHtml",
    # Go text/template built-ins
    "printf", "index", "len", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not",
})  # fmt: skip
KEYWORDS = frozenset({"if", "else", "end", "range", "with", "nil", "true", "false"})
ACTION = re.compile(r"\{\{(.*?)\}\}", re.S)
STRING = re.compile(r'`[^`]*`|"(?:[^"\\]|\\.)*"')  # raw and interpreted Go string literals
IDENT = re.compile(r"(?<![\w$.])[A-Za-z_]\w*")


def rule_files() -> list[Path]:
    return sorted((REPO / "rules").glob("*.yml"))


def template_functions(template: str) -> set[str]:
    """Names a Go template calls: identifiers in actions that are no variable, field,
    string or keyword."""
    names: set[str] = set()
    for action in ACTION.findall(template):
        names |= set(IDENT.findall(STRING.sub(" ", action))) - KEYWORDS
    return names


def test_template_functions_are_found() -> None:
    template = (
        '{{ range $i, $s := printf `x{a=%q}` $labels.a | query | sortByLabel "instance" }}'
        '{{ if $i }}, {{ end }}{{ (index . 0).Value | printf "%.0f" }}{{ end }}'
    )
    assert template_functions(template) == {"printf", "query", "sortByLabel", "index"}


def test_annotations_use_only_the_common_template_functions() -> None:
    used: dict[str, set[str]] = {}
    for path in rule_files():
        for group in yamlfile.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                templates = [
                    *rule.get("annotations", {}).values(),
                    *rule.get("labels", {}).values(),
                ]
                for name in set().union(*map(template_functions, templates)):
                    used.setdefault(name, set()).add(rule.get("alert") or rule.get("record"))
    assert "query" in used  # the extraction sees the rules' templates at all
    foreign = {name: sorted(rules) for name, rules in used.items()
               if name not in COMMON_TEMPLATE_FUNCTIONS}  # fmt: skip
    assert not foreign, f"template functions outside the common subset: {foreign}"


def test_vmalert_accepts_the_rule_files() -> None:
    """vmalert parses every rule file: expressions (MetricsQL parser) and templates."""
    result = subprocess.run(
        [VMALERT, "-dryRun", "-loggerLevel=ERROR", *(f"-rule={p}" for p in rule_files())],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fatal" not in result.stdout + result.stderr, result.stdout + result.stderr
