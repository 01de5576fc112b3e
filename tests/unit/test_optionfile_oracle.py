"""The option-file reader against the real MariaDB client library: my_print_defaults.

Hundreds of generated files mixing indentation, quotes, escapes, comments, CRLF, group
spellings, includes and non-ASCII bytes; for each, the exporter's options must be byte for
byte what `my_print_defaults --defaults-file=F client client-server client-mariadb` prints,
and a file the client rejects must be rejected by the exporter too.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from galera_exporter import optionfile
from galera_exporter.credentials import CLIENT_GROUPS

MY_PRINT_DEFAULTS = shutil.which("my_print_defaults")
pytestmark = pytest.mark.skipif(MY_PRINT_DEFAULTS is None, reason="mariadb-client not installed")

INDENTS = [b"", b"", b" ", b"\t", b"  \t ", b"\xa0"]
KEYS = [
    b"user",
    b"password",
    b"host",
    b"port",
    b"socket",
    b"ssl-ca",
    b"ssl_ca",
    b"ssl-cert",
    b"ssl-key",
    b"ssl-verify-server-cert",
    b"ssl_verify_server_cert",
    b"skip-ssl",
    b"ssl",
    b"loose-ssl-key",
    b"default-character-set",
]
SEPARATORS = [b"=", b" = ", b"\t=\t", b"   =", b"= "]
PIECES = [
    b"a",
    b"Zz9",
    b" ",
    b"#",
    b";",
    b"=",
    b'"',
    b"'",
    b"\\",
    b"\\n",
    b"\\t",
    b"\\s",
    b"\\\\",
    b"\\x",
    b'\\"',
    b"\\'",
    b"[",
    b"]",
    b"!",
    "é".encode(),
    "à".encode(),  # ends in 0xA0, a Latin-1 blank to MariaDB
    b"\t",
]
GROUPS = [
    b"[client]",
    b"[CLIENT]",
    b"[client ]",
    b"[client]  # the exporter's",
    b"[client-server]",
    b"[client-mariadb]",
    b"[mysql]",
    b"[mysqld]",
    b"[ client]",
    b"[mariadb-client]",
]
COMMENTS = [b"# a comment", b"; a comment", b"   # indented", b"\t;", b"#", b""]
TRAILERS = [b"", b"", b" # trailing", b"#x", b" ; not a comment", b"\t"]


def value(rng: random.Random) -> bytes:
    text = b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 6)))
    quote = rng.choice([b"", b"", b'"', b"'"])
    return quote + text + quote


def option_line(rng: random.Random) -> bytes:
    key = rng.choice(KEYS)
    if rng.random() < 0.1:
        return rng.choice(INDENTS) + key + rng.choice(TRAILERS)
    return rng.choice(INDENTS) + key + rng.choice(SEPARATORS) + value(rng) + rng.choice(TRAILERS)


def option_file(rng: random.Random, includes: list[bytes]) -> bytes:
    lines: list[bytes] = []
    if rng.random() > 0.05:  # sometimes an option before any group: fatal for the client
        lines.append(rng.choice(GROUPS))
    for _ in range(rng.randint(1, 12)):
        roll = rng.random()
        if roll < 0.12:
            lines.append(rng.choice(GROUPS))
        elif roll < 0.22:
            lines.append(rng.choice(COMMENTS))
        elif roll < 0.27 and includes:
            lines.append(rng.choice(includes))
        else:
            lines.append(option_line(rng))
    newline = rng.choice([b"\n", b"\n", b"\r\n"])
    text = newline.join(lines)
    return text if rng.random() < 0.2 else text + newline


def client_reads(path: Path) -> tuple[int, bytes]:
    assert MY_PRINT_DEFAULTS is not None
    result = subprocess.run(
        [MY_PRINT_DEFAULTS, f"--defaults-file={path}", *CLIENT_GROUPS],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode, result.stdout


MARIADB_GROUPS = ("mysql", "mariadb-client", *CLIENT_GROUPS)  # `mariadb --help` lists them


def mariadb_cli_reads(path: Path) -> tuple[int, bytes]:
    """What the `mariadb` command-line client itself would start with."""
    result = subprocess.run(
        ["mariadb", f"--defaults-file={path}", "--print-defaults"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode, result.stdout


def exporter_as_mariadb_cli(path: Path) -> tuple[int, bytes]:
    try:
        parsed = optionfile.read(str(path), MARIADB_GROUPS)
    except optionfile.OptionFileError:
        return 2, b""  # the client prints nothing on stdout then
    args = b"".join(option.as_argument() + b" " for option in parsed.options)
    return 0, b"mariadb would have been started with the following arguments:\n" + args + b"\n"


def exporter_reads(path: Path) -> tuple[int, bytes]:
    try:
        parsed = optionfile.read(str(path), CLIENT_GROUPS)
    except optionfile.OptionFileError:
        return 2, b""
    return 0, b"".join(option.as_argument() + b"\n" for option in parsed.options)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def test_generated_files_read_as_the_client_reads_them(tmp_path: Path) -> None:
    rng = random.Random(20261202)  # noqa: S311 - a reproducible generator, not a secret
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    included = tmp_path / "included.cnf"
    includes = [
        b"!include " + bytes(included),
        b"  !include\t" + bytes(included) + b"  ",
        b"!includedir " + bytes(conf_d),
        b"!include " + bytes(tmp_path / "missing.cnf"),
    ]
    compared = agreed_errors = 0
    for case in range(400):
        write(included, option_file(rng, []))
        for child in conf_d.iterdir():
            child.unlink()
        for index in range(rng.randint(0, 3)):
            name = (
                rng.choice(["a", "B", "z", "10-x", "9"])
                + f"{index}"
                + rng.choice([".cnf", ".cnf", ".conf"])
            )
            write(conf_d / name, option_file(rng, []))
        top = write(tmp_path / "my.cnf", option_file(rng, includes))
        client = client_reads(top)
        ours = exporter_reads(top)
        if client != ours:
            pytest.fail(
                f"case {case}: client {client!r}\nexporter {ours!r}\nfile {top.read_bytes()!r}"
            )
        if case % 4 == 0:  # and the mariadb client, reading its own groups too
            cli = mariadb_cli_reads(top)
            ours_as_cli = exporter_as_mariadb_cli(top)
            assert (cli[0] == 0) == (ours_as_cli[0] == 0), (case, cli, top.read_bytes())
            if cli[0] == 0:
                assert ours_as_cli[1] == cli[1], (case, top.read_bytes())
        compared += 1
        agreed_errors += client[0] != 0
    print(f"{compared} generated files read identically, {agreed_errors} rejected by both")
    assert agreed_errors > 0  # the generator does reach the client's fatal errors


CASES: dict[str, bytes] = {
    "indented password": b"[client]\nuser = exporter\n    password = s3cret\n",
    "quoted hash": b'[client]\npassword = "pa#ss;word" # the comment\n',
    "single quotes and escapes": b"[client]\npassword='a\\tb\\sc\\\\d\\x'\n",
    "unquoted hash ends value": b"[client]\npassword = abc#def\n",
    "semicolon kept": b"[client]\npassword = abc ;def\n",
    "repeated key, last wins": b"[client]\nuser=a\n[client-server]\nuser=b\n[client]\nuser=c\n",
    "dashes and underscores": b"[client]\nssl_ca=/a\nssl-ca=/b\n",
    "no group first": b"password = x\n[client]\n",
    "unterminated group": b"[client\nuser=x\n",
    "empty include": b"[client]\n!include   \n",
    "crlf": b"[client]\r\nuser = x\r\npassword = 'y'\r\n",
    "trailing nbsp byte": "[client]\nuser=voilà\n".encode(),
    "bare option": b"[client]\nskip-ssl\npassword\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_named_cases_match_the_client(tmp_path: Path, name: str) -> None:
    top = write(tmp_path / "my.cnf", CASES[name])
    client = client_reads(top)
    assert exporter_reads(top) == client
    print(f"{name}: rc {client[0]}, {client[1]!r}")


def test_includes_nesting_and_order_match_the_client(tmp_path: Path) -> None:
    conf_d = tmp_path / "d"
    conf_d.mkdir()
    for name in ("b.cnf", ".cnf", "C.cnf", "a.x.cnf", "z.CNF", "y.conf"):
        write(conf_d / name, f"[client]\nuser={name}\n".encode())
    (conf_d / "sub.cnf").mkdir()  # a directory with a .cnf name: skipped
    world = write(conf_d / "w.cnf", b"[client]\nuser=world\n")
    world.chmod(0o666)  # ignored by the client: world-writable
    loop = write(
        tmp_path / "loop.cnf", b"[client]\nhost=h\n!include " + bytes(tmp_path / "loop.cnf") + b"\n"
    )
    top = write(
        tmp_path / "my.cnf",
        b"!includedir " + bytes(conf_d) + b"\n[client]\nport=1\n!include " + bytes(loop),
    )  # the last line has no newline: MariaDB drops the path's last character
    assert exporter_reads(top) == client_reads(top)
    top.write_bytes(top.read_bytes() + b"\n")
    client = client_reads(top)
    assert exporter_reads(top) == client
    assert client[1].count(b"--host=h") == optionfile.MAX_INCLUDE_DEPTH  # bounded like the client
    parsed = optionfile.read(str(top), CLIENT_GROUPS)
    assert any("world-writable" in w for w in parsed.warnings)
    assert any("nested more than" in w for w in parsed.warnings)


def test_missing_includedir_is_fatal_for_both(tmp_path: Path) -> None:
    top = write(tmp_path / "my.cnf", b"[client]\n!includedir " + bytes(tmp_path / "nope") + b"\n")
    assert client_reads(top)[0] != 0
    with pytest.raises(optionfile.OptionFileError, match=r"my.cnf:2: !includedir .*nope"):
        optionfile.read(str(top), CLIENT_GROUPS)


def test_fifo_and_huge_files_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.cnf"
    os.mkfifo(fifo)
    with pytest.raises(optionfile.OptionFileError, match="not a regular file"):
        optionfile.read(str(fifo), CLIENT_GROUPS)
    huge = write(
        tmp_path / "huge.cnf", b"[client]\n" + b"# filler\n" * (optionfile.MAX_FILE_BYTES // 9)
    )
    with pytest.raises(optionfile.OptionFileError, match="larger than"):
        optionfile.read(str(huge), CLIENT_GROUPS)
    long_line = write(tmp_path / "long.cnf", b"[client]\npassword=" + b"x" * 5000 + b"\n")
    with pytest.raises(optionfile.OptionFileError) as info:
        optionfile.read(str(long_line), CLIENT_GROUPS)
    assert "long.cnf:2: line longer than" in str(info.value)
    assert "xxxx" not in str(info.value)


def test_include_fan_out_is_bounded(tmp_path: Path) -> None:
    # Two files that each include their own directory: 2 + 4 + ... + 1024 reads for MariaDB.
    loop = tmp_path / "loop"
    loop.mkdir()
    for name in ("a.cnf", "b.cnf"):
        write(loop / name, b"[client]\nuser=u\n!includedir " + bytes(loop) + b"\n")
    top = write(tmp_path / "my.cnf", b"!includedir " + bytes(loop) + b"\n")
    with pytest.raises(optionfile.OptionFileError, match=f"more than {optionfile.MAX_FILES}"):
        optionfile.read(str(top), CLIENT_GROUPS)
