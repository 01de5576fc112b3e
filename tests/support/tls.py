"""Certificates and keys for the TLS tests, made with the openssl command line."""

from __future__ import annotations

import subprocess
from pathlib import Path


def openssl(*args: str, cwd: Path | None = None) -> None:
    """Run `openssl ARGS`; a failure raises with openssl's output captured."""
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem): RSA, valid two days, for 127.0.0.1 (CN and subjectAltName)."""
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem",
        "-out", "cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1",
        cwd=directory,
    )  # fmt: skip
    return directory / "cert.pem", directory / "key.pem"


def encrypt_key(key: Path, out: Path, passphrase: str) -> Path:
    """`key` encrypted with AES-256 under `passphrase`, written to `out`."""
    openssl("pkey", "-in", str(key), "-out", str(out), "-aes256", "-passout", f"pass:{passphrase}")
    return out
