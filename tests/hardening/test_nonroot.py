"""The exporter as an unprivileged system user, reading grastate.dat/gvwstate.dat from a 0700
datadir through POSIX ACLs (the setup docs/deploy.md describes), and nothing else there."""

from __future__ import annotations

import importlib.metadata
import os
import pwd
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from galera_lab.node import Node
from galera_lab.wait import wait_for
from tests.hardening.conftest import DB_USER, write_option_file
from tests.hardening.harness import DISTINCTIVE_PASSWORD, Exporter, metric

# cluster/slow: from the real-Galera fixture (tests/support/tiers.py)
pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(os.geteuid() != 0, reason="creates a system user: needs root"),
]

USER = "galera-exp-test"


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix(), *argv], capture_output=True, text=True, timeout=60, check=False
        )

    def prefix(self) -> list[str]:
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--"]


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    """A system user with no login, no home and no groups of interest."""
    created = False
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home",
             "--shell", "/usr/sbin/nologin", USER],
            check=True, timeout=60,
        )  # fmt: skip
        created = True
        entry = pwd.getpwnam(USER)
    try:
        yield Account(USER, entry.pw_uid, entry.pw_gid)
    finally:
        if created:
            subprocess.run(["userdel", USER], check=False, timeout=60)


def runtime_for(account: Account, base: Path) -> tuple[str, Path]:
    """An interpreter the user may run and a copy of the package and its dependencies.

    The test's own interpreter may live where the user cannot go (e.g. under /root), so the
    installed packages are copied to a world-readable directory, as a real deployment's
    venv under /opt would be.
    """
    site = base / "site"
    if not site.exists():
        names = {"galera_exporter"}
        shutil.copytree(Path(__file__).parents[2] / "exporter" / "galera_exporter",
                        site / "galera_exporter")  # fmt: skip
        requires = importlib.metadata.requires("galera-exporter") or []
        for requirement in requires:
            if "extra ==" in requirement:
                continue
            dist = importlib.metadata.distribution(re.split(r"[<>=!~ ;\[]", requirement)[0])
            for file in dist.files or []:
                top = file.parts[0]
                if top.endswith((".dist-info", ".data")) or top in ("..", "bin") or top in names:
                    continue
                source = Path(str(file.locate()))
                if len(file.parts) == 1 and source.suffix in (".py", ".so"):
                    shutil.copy2(source, site / top)
                elif len(file.parts) > 1:
                    shutil.copytree(source.parents[len(file.parts) - 2], site / top,
                                    dirs_exist_ok=True)  # fmt: skip
                names.add(top)
        subprocess.run(["chmod", "-R", "a+rX", str(site)], check=True, timeout=60)
    for python in (sys.executable, f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"):
        if account.run(python, "-c", "import sys").returncode == 0:
            return python, site
    pytest.fail(f"no Python {sys.version_info[:2]} that {account.name} may run")


def test_unprivileged_user_reads_state_files_through_acls(
    node: Node, hardening_base: Path, account: Account, tmp_path: Path
) -> None:
    assert shutil.which("setfacl"), "setfacl missing: apt-get install acl"
    python, site = runtime_for(account, hardening_base)
    datadir = node.datadir
    datadir.chmod(0o700)  # as Debian's /var/lib/mysql: nobody but the server's user
    # The setup from docs/deploy.md: search (x, not list) on the datadir, read on the two
    # state files, and a default ACL so a re-created gvwstate.dat is readable too.
    user = account.name
    for argv in (
        ["setfacl", "-m", f"u:{user}:x", str(datadir)],
        ["setfacl", "-d", "-m", f"u:{user}:r", str(datadir)],
        [
            "setfacl",
            "-m",
            f"u:{user}:r",
            str(datadir / "grastate.dat"),
            str(datadir / "gvwstate.dat"),
        ],
    ):
        subprocess.run(argv, check=True, timeout=30)
    cnf = write_option_file(
        hardening_base / "exporter.cnf",
        user=DB_USER,
        password=DISTINCTIVE_PASSWORD,
        socket=node.socket,
    )
    os.chown(cnf, 0, account.gid)
    cnf.chmod(0o640)  # root:galera-exporter, as the unit file's setup does
    exporter = Exporter(
        [f"--mysql.defaults-file={cnf}", f"--galera.datadir={datadir}"],
        tmp_path / "exporter.log",
        prefix=account.prefix(),
        python=python,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"},
        cwd="/",
    )
    try:
        status = Path(f"/proc/{exporter.pid}/status").read_text()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        assert uids == [str(account.uid)] * 4, uids
        samples = exporter.scrape(5).samples()
        assert metric(samples, "galera_up") == 1
        for name in ("grastate_present", "grastate_valid", "gvwstate_present", "gvwstate_valid"):
            assert metric(samples, f"galera_{name}") == 1, name
        assert metric(samples, "galera_exporter_collector_success", collector="grastate") == 1
        # The server creates its wsrep status file 0600: a default ACL cannot open it (the mask
        # becomes ---), and the datadir cannot be listed, so GRA logs are not counted. Both are
        # said, and neither is a collector failure.
        assert (datadir / "wsrep_status.json").stat().st_mode & 0o777 == 0o600
        assert metric(samples, "galera_status_file_error", reason="permission_denied") == 1
        assert metric(samples, "galera_status_file_valid") == 0
        assert metric(samples, "galera_exporter_collector_success", collector="status_file") == 1
        assert metric(samples, "galera_gra_log_scan_denied") == 1
        assert metric(samples, "galera_gra_log_files") is None
        assert metric(samples, "galera_exporter_collector_success", collector="gra_log") == 1

        # Read-only and only those files: no write, no listing, no table data.
        assert account.run("test", "-w", str(datadir / "grastate.dat")).returncode != 0
        assert account.run("ls", str(datadir)).returncode != 0
        assert account.run("cat", str(datadir / "ibdata1")).returncode != 0

        # A restart deletes and re-creates gvwstate.dat (Galera writes it to a .tmp file and
        # renames it, at every Primary view change): only the default ACL covers the new file.
        node.stop()
        samples = exporter.scrape(5).samples()
        assert metric(samples, "galera_grastate_valid") == 1
        assert metric(samples, "galera_grastate_safe_to_bootstrap") == 1
        assert metric(samples, "galera_gvwstate_present") == 0  # a clean stop deletes it
        node.start(bootstrap=True)
        node.wait_synced(60)
        wait_for(
            "the exporter user reads the re-created gvwstate.dat",
            lambda: metric(exporter.scrape(5).samples(), "galera_gvwstate_valid") == 1,
            30,
        )
        assert metric(exporter.scrape(5).samples(), "galera_up") == 1

        # A crash keeps gvwstate.dat, and the exporter user can still read it: a crash must
        # never read as a clean stop.
        node.kill()
        samples = exporter.scrape(5).samples()
        assert metric(samples, "galera_up") == 0
        assert metric(samples, "galera_gvwstate_present") == 1
        assert metric(samples, "galera_gvwstate_valid") == 1
        assert metric(samples, "galera_state_file_unreadable", file="gvwstate.dat") == 0
        assert metric(samples, "galera_exporter_collector_success", collector="grastate") == 1

        # Without the default ACL (per-file ACLs only, the setup the docs no longer offer) the
        # re-created file is unreadable: reported as such, never as absent.
        subprocess.run(["setfacl", "-k", str(datadir)], check=True, timeout=30)
        node.start(bootstrap=True, start_position=node.recover_position())
        node.wait_synced(60)
        samples = exporter.scrape(5).samples()
        assert metric(samples, "galera_state_file_unreadable", file="gvwstate.dat") == 1
        assert metric(samples, "galera_gvwstate_present") is None
        assert metric(samples, "galera_gvwstate_valid") == 0
        assert metric(samples, "galera_exporter_collector_success", collector="grastate") == 0
        assert metric(samples, "galera_grastate_present") == 1  # rewritten in place: kept
        assert metric(samples, "galera_state_file_unreadable", file="grastate.dat") == 0
    finally:
        exporter.stop()
        subprocess.run(["setfacl", "-b", str(datadir)], check=False, timeout=30)
    log_text = exporter.log_text()
    assert "gvwstate.dat: permission denied" in log_text  # said once, with the path
    assert log_text.count("gvwstate.dat: permission denied") == 1
