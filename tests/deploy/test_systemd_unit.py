"""deploy/galera-exporter.service: valid for systemd, hardened, and its flags are real flags."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "galera-exporter.service"


def service_section() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    text = UNIT.read_text().replace("\\\n", " ")
    section = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
        elif section == "Service" and "=" in stripped and not stripped.startswith("#"):
            key, _, value = stripped.partition("=")
            values.setdefault(key, []).append(value.strip())
    return values


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    binary = shutil.which("galera-exporter")
    assert binary, "galera-exporter is not installed"
    unit = tmp_path / "galera-exporter.service"
    # verify checks that ExecStart's binary exists: point it at the installed one.
    unit.write_text(UNIT.read_text().replace("/opt/galera-exporter/bin/galera-exporter", binary))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_hardening_and_user() -> None:
    service = service_section()
    assert service["User"] == ["galera-exporter"]
    for key, expected in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "CapabilityBoundingSet": "",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
    }.items():
        assert service.get(key) == [expected], key
    assert "/var/lib/mysql" in service["ReadOnlyPaths"][0]
    configparser.ConfigParser(strict=False, interpolation=None).read_string(
        UNIT.read_text().replace("\\\n", " ")
    )


def test_execstart_flags_exist() -> None:
    flags = re.findall(r"(--[a-z][a-z.-]+)=", service_section()["ExecStart"][0])
    assert flags
    help_text = subprocess.run(
        [sys.executable, "-m", "galera_exporter", "--help"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    for flag in flags:
        assert flag in help_text, f"{flag} in the unit is not a flag of galera-exporter"
