"""What `pip install .` ships: the exporter alone. The lab (it kills and wipes database nodes)
is its own distribution, lab/pyproject.toml, that only a checkout installs."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
LAB_MODULES = {p.stem for p in (REPO / "lab" / "galera_lab").glob("*.py")}
EXPORTER_MODULES = {p.stem for p in (REPO / "exporter").rglob("*.py")}


def build_wheel(project: Path, out: Path) -> zipfile.ZipFile:
    """Build a wheel the way `pip install` does (isolated build backend), from a copy: the
    build writes build/ and *.egg-info next to the sources, and the checkout stays clean."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
         "-q", str(project), "-w", str(out)],
        capture_output=True, text=True, timeout=540, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    elapsed = time.monotonic() - started
    print(f"[timing] pip wheel {project.name}: {elapsed:.1f}s -> {wheels[0].name}")
    return zipfile.ZipFile(wheels[0])


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout as a user has it, lab included, so that leaving the lab out is the
    packaging's doing and not the copy's."""
    tree = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, tree / name)
    for name in ("exporter", "lab"):
        shutil.copytree(REPO / name, tree / name, ignore=ignore)
    return tree


def dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    [path] = [n for n in wheel.namelist() if n.endswith(f".dist-info/{name}")]
    return wheel.read(path).decode()


def console_scripts(wheel: zipfile.ZipFile) -> dict[str, str]:
    entry_points = configparser.ConfigParser()
    entry_points.read_string(dist_info(wheel, "entry_points.txt"))
    return dict(entry_points["console_scripts"])


def test_product_wheel_holds_the_exporter_only(source: Path, tmp_path: Path) -> None:
    wheel = build_wheel(source, tmp_path)
    names = wheel.namelist()
    top_level = {n.split("/", 1)[0] for n in names}
    assert top_level == {"galera_exporter", "galera_exporter-0.1.0.dist-info"}, top_level
    assert "galera_exporter/cli.py" in names
    assert not [n for n in names if "galera_lab" in n or n.startswith("bin/")]
    # Lab modules that the exporter has no module of the same name for (cfgcm, faults, node…).
    lab_only = LAB_MODULES - EXPORTER_MODULES
    assert {"cfgcm", "faults", "node", "scenarios"} <= lab_only
    shipped = {Path(n).stem for n in names if n.endswith(".py")}
    assert not shipped & lab_only, shipped & lab_only
    # The product's commands: the exporter and the read-only advisor; never the lab.
    assert console_scripts(wheel) == {
        "galera-exporter": "galera_exporter.cli:main",
        "galera-advisor": "galera_exporter.advisor.cli:main",
    }
    metadata = Parser().parsestr(dist_info(wheel, "METADATA"))
    assert metadata["Name"] == "galera-exporter"


def test_lab_is_its_own_distribution(source: Path, tmp_path: Path) -> None:
    wheel = build_wheel(source / "lab", tmp_path)
    top_level = {n.split("/", 1)[0] for n in wheel.namelist()}
    assert top_level == {"galera_lab", "galera_lab-0.1.0.dist-info"}, top_level
    assert {Path(n).stem for n in wheel.namelist() if n.endswith(".py")} == LAB_MODULES
    assert console_scripts(wheel) == {"galera-lab": "galera_lab.cli:main"}
    metadata = Parser().parsestr(dist_info(wheel, "METADATA"))
    assert metadata["Name"] == "galera-lab"
    requires = {r.split(";")[0].split(">")[0].split("=")[0].strip().lower()
                for r in metadata.get_all("Requires-Dist") or []}  # fmt: skip
    # The lab starts `python -m galera_exporter` next to each node, and imports these itself.
    assert {"galera-exporter", "pymysql", "pyyaml", "prometheus-client"} <= requires


def test_lab_project_leaves_tool_config_to_the_root() -> None:
    """ruff and pytest read the closest pyproject.toml that configures them, mypy the one in
    the working directory: the lab's must configure none of them, so one config covers both."""
    lab = tomllib.loads((REPO / "lab" / "pyproject.toml").read_text())
    assert set(lab.get("tool", {})) <= {"setuptools"}
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "lab" in root["tool"]["mypy"]["mypy_path"]
    assert "lab" in root["tool"]["ruff"]["src"]


def test_dev_install_has_the_lab_as_its_own_distribution() -> None:
    """What scripts/install-deps.sh leaves: `galera-lab` on PATH, from the galera-lab
    distribution, and galera-exporter's own entry points without it."""
    # `in`, not `==`: a venv with system site-packages also sees an older system-wide install.
    assert "galera-lab" in metadata.packages_distributions().get("galera_lab", [])
    scripts = {ep.name for ep in metadata.distribution("galera-exporter").entry_points}
    assert scripts == {"galera-exporter", "galera-advisor"}
    lab = shutil.which("galera-lab")
    assert lab, "galera-lab is not on PATH: run scripts/install-deps.sh"
    result = subprocess.run(
        [lab, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "usage: galera-lab" in result.stdout
