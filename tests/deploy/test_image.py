"""The Dockerfile passes hadolint and really builds (buildah on a debootstrap base, as in
docs/deploy.md); the exporter inside the image runs as non-root and answers /metrics, and the
lab is not in the image."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from galera_lab.node import process_alive
from galera_lab.wait import wait_for
from tests.integration.exporter_process import parse_exposition, value
from tests.support.ports import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
# Kept between runs on one machine: the debootstrap tree (~30 s to make) and the base image.
CACHE = Path(os.environ.get("GALERA_EXPORTER_BUILD_CACHE", "/var/tmp/galera-exporter-build-cache"))
BASE_TAG = "localhost/galera-exporter-base:bookworm"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
FIXTURE_DATADIR = REPO / "tests" / "fixtures" / "states" / "synced"
IMAGE_UID = 9878


def run(*argv: str, timeout: float = 900, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )  # type: ignore[call-overload]
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
    return result  # type: ignore[no-any-return]


@contextlib.contextmanager
def timed(what: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    print(f"[timing] {what}: {time.monotonic() - started:.1f}s")


def image_exists(tag: str) -> bool:
    return (
        subprocess.run(
            ["buildah", "inspect", "--type", "image", tag],
            capture_output=True,
            timeout=60,
            check=False,
        ).returncode
        == 0
    )


def apt_mirror() -> str:
    """The Debian mirror this machine's apt uses (never written into the repository)."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    for line in Path("/etc/apt/sources.list").read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["deb"]:
            return next(p for p in parts[1:] if "://" in p)
    raise AssertionError("no Debian mirror in the apt configuration")


def ensure_base_image() -> None:
    """localhost/galera-exporter-base:bookworm from a cached debootstrap tree (made if absent)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_exists(BASE_TAG):
            print(f"[cache] base image {BASE_TAG} present")
            return
        rootfs = CACHE / "bookworm-minbase"
        if not (rootfs / ".complete").exists():
            shutil.rmtree(rootfs, ignore_errors=True)
            with timed("debootstrap --variant=minbase bookworm"):
                run("debootstrap", "--variant=minbase", "bookworm", str(rootfs), apt_mirror())
            (rootfs / ".complete").touch()
        else:
            print(f"[cache] debootstrap tree {rootfs} present")
        with timed("base image from the debootstrap tree"):
            ctr = run("buildah", "from", "scratch").stdout.strip()
            try:
                mnt = run("buildah", "mount", ctr).stdout.strip()
                # The tree holds our marker; the image should not.
                run("cp", "-a", f"{rootfs}/.", f"{mnt}/")
                Path(mnt, ".complete").unlink()
                run("buildah", "umount", ctr)
                run("buildah", "commit", "-q", ctr, BASE_TAG)
            finally:
                run("buildah", "rm", ctr)


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    for tool in ("buildah", "debootstrap", "hadolint"):
        assert shutil.which(tool), f"{tool} is not installed (scripts/install-deps.sh installs it)"
    ensure_base_image()
    tag = f"localhost/galera-exporter:test-{uuid.uuid4().hex[:8]}"
    argv = [
        "buildah", "bud", "--isolation", "chroot", "--format", "docker",
        "--build-arg", f"BASE_IMAGE={BASE_TAG}", "-t", tag, "-f", str(REPO / "Dockerfile"),
    ]  # fmt: skip
    if HOST_CA.exists():
        # This machine reaches PyPI through a TLS-intercepting path: give pip its CA bundle.
        argv += ["-v", f"{HOST_CA}:/host-ca.crt:ro", "--build-arg", "PIP_CERT=/host-ca.crt"]
    with timed("buildah bud"):
        run(*argv, str(REPO))
    try:
        yield tag
    finally:
        subprocess.run(["buildah", "rmi", tag], capture_output=True, timeout=120, check=False)


def test_hadolint() -> None:
    with timed("hadolint"):
        result = subprocess.run(
            ["hadolint", str(REPO / "Dockerfile")],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_config(image: str) -> None:
    inspected = json.loads(run("buildah", "inspect", "--type", "image", image).stdout)
    config = inspected["Docker"]["config"]
    assert config["User"] == f"{IMAGE_UID}:{IMAGE_UID}"
    assert "9878/tcp" in config["ExposedPorts"]
    assert config["Entrypoint"] == ["galera-exporter"]
    assert config["Healthcheck"]["Test"][0] == "CMD"
    size = sum(layer.get("size", 0) for layer in inspected.get("OCIv1", {}).get("layers", []))
    print(f"image config OK; {len(inspected['Docker']['rootfs']['diff_ids'])} layers {size or ''}")


def test_image_has_no_lab(image: str) -> None:
    """The lab kills and wipes database nodes: it is for a checkout, never in the image."""
    ctr = run("buildah", "from", image).stdout.strip()
    try:

        def in_image(*argv: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["buildah", "run", "--isolation", "chroot", ctr, "--", *argv],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip

        imported = in_image("python3", "-c", "import galera_lab")
        assert imported.returncode != 0, "galera_lab is importable in the image"
        assert "No module named 'galera_lab'" in imported.stderr, imported.stderr
        assert in_image("sh", "-c", "command -v galera-lab").returncode != 0
        # Nor anywhere on disk under another name or path (a lab module, its console script).
        found = in_image(
            "find", "/opt/galera-exporter", "/usr/local", "(", "-name", "galera_lab*", "-o",
            "-name", "galera-lab*", "-o", "-name", "cfgcm.py", "-o", "-name", "faults.py", ")",
        )  # fmt: skip
        assert found.returncode == 0, found.stderr
        assert found.stdout.strip() == "", found.stdout
        assert in_image("galera-exporter", "--version").returncode == 0
    finally:
        subprocess.run(["buildah", "rm", ctr], capture_output=True, timeout=120, check=False)


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def test_exporter_in_the_image_answers(image: str, tmp_path: Path) -> None:
    ctr = run("buildah", "from", image).stdout.strip()
    try:
        uid = run("buildah", "run", "--isolation", "chroot", ctr, "--", "id", "-u").stdout.strip()
        assert uid == str(IMAGE_UID), "the image must not run as root"
        version = run(
            "buildah", "run", "--isolation", "chroot", ctr, "--", "galera-exporter", "--version"
        )
        print(version.stdout.strip())
        datadir = tmp_path / "datadir"
        shutil.copytree(FIXTURE_DATADIR, datadir)
        subprocess.run(["chmod", "-R", "a+rX", str(tmp_path)], check=True, timeout=30)
        port = free_port()
        log = tmp_path / "exporter.log"
        started = time.monotonic()
        with open(log, "wb") as out:
            # chroot isolation shares the host's network: 127.0.0.1 is the host's loopback.
            proc = subprocess.Popen(
                ["buildah", "run", "--isolation", "chroot", "-v", f"{datadir}:/var/lib/mysql:ro",
                 ctr, "--", "galera-exporter", f"--web.listen-address=127.0.0.1:{port}"],
                stdout=out, stderr=out, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        try:

            def scrape() -> str | None:
                if proc.poll() is not None:
                    raise AssertionError(f"exporter exited: {log.read_text()[-2000:]}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                        return str(r.read().decode())
                except OSError:
                    return None

            body = wait_for(f"exporter in the image on 127.0.0.1:{port}", scrape, 60, 0.2)
            print(f"[timing] container start to first /metrics: {time.monotonic() - started:.1f}s")
            samples = parse_exposition(body)
            assert value(samples, "galera_up") == 0  # no mysqld in this test
            assert value(samples, "galera_grastate_valid") == 1
            assert value(samples, "galera_grastate_seqno") == -1
            # The HEALTHCHECK command works inside the image.
            check = (
                "import urllib.request as u; "
                f"print(u.urlopen('http://127.0.0.1:{port}/-/healthy', timeout=4).status)"
            )
            health = run(
                "buildah", "run", "--isolation", "chroot", ctr, "--", "python3", "-c", check
            )
            assert health.stdout.strip() == "200"
            exporters = [
                pid for pid in descendants(proc.pid)
                if b"galera-exporter" in Path(f"/proc/{pid}/cmdline").read_bytes()
            ]  # fmt: skip
            for pid in exporters:
                status = Path(f"/proc/{pid}/status").read_text()
                assert f"Uid:\t{IMAGE_UID}\t" in status
        finally:
            for pid in descendants(proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            wait_for("buildah run gone", lambda: not process_alive(proc.pid), 30, quiet=True)
    finally:
        subprocess.run(["buildah", "rm", ctr], capture_output=True, timeout=120, check=False)
