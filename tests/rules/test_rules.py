"""Rules: promtool check + every promtool test file, the rules' shape, runbook anchors, examples."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.rules.scenarios import CASES, RULES, generated
from tests.support import yamlfile

REPO = RULES.parent
RULE_FILES = [
    RULES / "galera-recording.yml",
    RULES / "galera-serving.yml",
    RULES / "galera-alerts.yml",
]
RECORDING_FILES = [RULES / "galera-recording.yml", RULES / "galera-serving.yml"]
TEST_FILES = sorted((RULES / "tests").glob("*.yml"))
RUNBOOK = REPO / "docs" / "runbook.md"
EXAMPLES = REPO / "examples"
BASE_URL = "https://github.com/galera-exporter/galera-exporter/blob/main/docs/runbook.md"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
SEVERITIES = {"critical", "warning", "info"}


def run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    print(
        f"{' '.join(str(a) for a in args)}: rc {result.returncode} in "
        f"{time.monotonic() - started:.2f}s"
    )
    return result


def alert_rules() -> list[dict[str, Any]]:
    doc = yamlfile.safe_load((RULES / "galera-alerts.yml").read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def recording_rules() -> list[dict[str, Any]]:
    docs = [yamlfile.safe_load(path.read_text()) for path in RECORDING_FILES]
    return [r for doc in docs for g in doc["groups"] for r in g["rules"] if "record" in r]


def github_anchor(heading: str) -> str:
    """GitHub's heading slug: lower case, punctuation dropped, spaces to hyphens."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def runbook_anchors() -> set[str]:
    return {
        github_anchor(m.group(1))
        for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", RUNBOOK.read_text(), re.MULTILINE)
    }


# ------------------------------------------------------------------------------- promtool
@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(path: Path) -> None:
    result = run(PROMTOOL, "check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_are_test_files() -> None:
    # One generated file per scenario area, plus the hand-written recording-rule tests and the
    # hand-written groups' (serving and gcache window; state transfers and GRA logs).
    hand_written = {"recording", "serving", "recovery"}
    assert {p.stem for p in TEST_FILES} == {*CASES, *hand_written, "decisions-generated"}


# decisions-generated.yml alone takes ~30 s of promtool: the slow tier.
@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=pytest.mark.slow) if p.stem == "decisions-generated" else p
     for p in TEST_FILES],
    ids=lambda p: p.name,
)  # fmt: skip
def test_promtool_test_rules(path: Path) -> None:
    result = run(PROMTOOL, "test", "rules", path.name, cwd=path.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.slow  # ~14 s: regenerates every scenario's test file
def test_test_files_match_scenarios(update_golden: bool) -> None:
    """rules/tests/*.yml are generated from tests/rules/scenarios.py and must not drift."""
    stale = []
    for path, text in generated().items():
        if update_golden:
            path.write_text(text)
        elif not path.exists() or path.read_text() != text:
            stale.append(path.name)
    assert not stale, f"regenerate with `pytest tests/rules --update-golden`: {stale}"


# -------------------------------------------------------------------------- alert shape
@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_alert_shape(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"Galera(?:[A-Z][a-z0-9]+)+", rule["alert"]), "CamelCase Galera... name"
    assert rule["labels"]["severity"] in SEVERITIES
    assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), "every alert needs a for:"
    annotations = rule["annotations"]
    optional = {"bootstrap_node", "evidence"}
    assert {"summary", "description", "runbook_url"} <= set(annotations)
    assert set(annotations) - {"summary", "description", "runbook_url"} <= optional
    # Only an alert that tells to bootstrap a node names it, and then as the alert's instance.
    advice = rule["labels"].get("advice")
    assert ("bootstrap_node" in annotations) == (advice == "bootstrap")
    if advice == "bootstrap":
        assert annotations["bootstrap_node"] == "{{ $labels.instance }}"
        assert "instance:galera_bootstrap_candidate:bool" in rule["expr"]
    if advice == "verify":
        assert "unless on (cluster) instance:galera_bootstrap_candidate:bool" in rule["expr"]
    if "bootstrap" in annotations["description"].lower().replace("bootstrap nothing", ""):
        # Any text that may tell to bootstrap a named node is the advice=bootstrap twin.
        assert advice in ("bootstrap", "verify", None)
    assert "{{" not in annotations["summary"], "summary must be static"
    assert "$labels.cluster" in annotations["description"], "description names the cluster"
    url = annotations["runbook_url"]
    assert url.startswith(BASE_URL + "#"), url
    anchor = url.split("#", 1)[1]
    assert anchor == github_anchor(rule["alert"])
    assert anchor in runbook_anchors(), f"docs/runbook.md has no heading for #{anchor}"


def test_alert_names_unique() -> None:
    """One rule per name, except the scenario twins told apart by their advice label."""
    keys = [(r["alert"], r["labels"].get("advice")) for r in alert_rules()]
    assert len(keys) == len(set(keys))
    twins = {name for name, advice in keys if advice}
    for name in twins:
        assert {a for n, a in keys if n == name} == {"bootstrap", "verify"}, name


def test_alerts_file_is_generated() -> None:
    """rules/galera-alerts.yml is written by rules/generate.py: no hand edit may drift."""
    spec = importlib.util.spec_from_file_location("rules_generate", RULES / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render_rules() == (RULES / "galera-alerts.yml").read_text()


@pytest.mark.slow  # ~6 s: parses every promtool test file (decisions-generated.yml is large)
def test_every_alert_fires_in_some_test_and_is_silenced_elsewhere() -> None:
    fired: set[str] = set()
    silent: set[str] = set()
    for path in TEST_FILES:
        for group in yamlfile.safe_load(path.read_text())["tests"]:
            for check in group.get("alert_rule_test", []):
                (fired if check["exp_alerts"] else silent).add(check["alertname"])
    names = {r["alert"] for r in alert_rules()}
    assert names - fired == set(), "alerts without a firing test"
    assert names - silent == set(), "alerts never asserted silent"


def test_runbook_has_no_orphan_alert_headings() -> None:
    names = {github_anchor(r["alert"]) for r in alert_rules()}
    headings = {a for a in runbook_anchors() if re.fullmatch(r"galera[a-z]+", a)}
    assert headings - names == set()


# ---------------------------------------------------------------------- recording rules
@pytest.mark.parametrize("rule", recording_rules(), ids=lambda r: r["record"])
def test_recording_rule_name(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", rule["record"]), "level:metric:operations"


@pytest.mark.parametrize("path", RECORDING_FILES, ids=lambda p: p.name)
def test_every_recording_rule_has_a_comment(path: Path) -> None:
    lines = path.read_text().splitlines()
    missing = [
        line.strip()
        for i, line in enumerate(lines)
        if line.strip().startswith("- record:") and not lines[i - 1].strip().startswith("#")
    ]
    assert not missing


def test_rules_use_only_metrics_that_exist() -> None:
    """Every galera_* name in an expression is emitted by the exporter (or recorded here)."""
    source = "\n".join(p.read_text() for p in (REPO / "exporter").rglob("*.py"))
    exprs = " ".join(r["expr"] for r in recording_rules() + alert_rules())
    for name in sorted(set(re.findall(r"(?<![:\w])galera_[a-z_]+", exprs))):
        # Families may be built from a prefix (f"{prefix}_present") or without "_total".
        candidates = {name, name.removesuffix("_total"), name.rsplit("_", 1)[0]}
        assert any(f'"{c}"' in source for c in candidates), f"{name}: not emitted by the exporter"


def test_job_selector_appears_once() -> None:
    text = "".join(p.read_text() for p in RULE_FILES)
    assert text.count('job="galera"') == 1


# --------------------------------------------------------------------- runbook base URL
def test_runbook_base_url_can_be_replaced_with_the_documented_sed(tmp_path: Path) -> None:
    block = re.search(r"```sh\n(sed [^\n]+)\n```", RUNBOOK.read_text())
    assert block, "docs/runbook.md documents the sed command in a ```sh block"
    command = block.group(1)
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    # The documented shell one-liner itself is what is tested, hence shell=True.
    result = subprocess.run(  # noqa: S602
        command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    new_base = re.search(r"\|(https://[^|]+)\|g", command)
    assert new_base
    doc = yamlfile.safe_load((target / "galera-alerts.yml").read_text())
    urls = [r["annotations"]["runbook_url"] for g in doc["groups"] for r in g["rules"]]
    assert urls and all(u.startswith(new_base.group(1) + "#") for u in urls)
    assert run(PROMTOOL, "check", "rules", target / "galera-alerts.yml").returncode == 0


# ---------------------------------------------------------------------------- examples
def test_example_prometheus_config_is_valid() -> None:
    result = run(PROMTOOL, "check", "config", EXAMPLES / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    config = yamlfile.safe_load((EXAMPLES / "prometheus.yml").read_text())
    jobs = [job for job in config["scrape_configs"] if job["job_name"] == "galera"]
    assert jobs, 'the rules expect job="galera"'
    for static in jobs[0]["static_configs"]:
        assert static["labels"].get("cluster"), "every target group sets the cluster label"


def test_example_alertmanager_config_is_valid() -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool not installed")
    result = run(amtool, "check-config", EXAMPLES / "alertmanager.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    template = (EXAMPLES / "galera.tmpl").read_text()
    assert ".Annotations.runbook_url" in template
    for name in ("galera.title", "galera.text", "galera.html"):
        rendered = run(
            amtool,
            "template",
            "render",
            "--template.glob=galera.tmpl",
            f'--template.text={{{{ template "{name}" . }}}}',
            cwd=EXAMPLES,
        )
        assert rendered.returncode == 0, rendered.stderr
    assert "Runbook: " in rendered.stdout or "Runbook: what to do" in rendered.stdout
