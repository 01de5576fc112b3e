"""MariaDB option files (my.cnf) read byte for byte the way MariaDB's own clients read them.

The rules follow mysys/my_default.c (search_default_file_with_buffers) in MariaDB 10.11 and
are checked against the real `my_print_defaults` by tests/unit/test_optionfile_oracle.py:

- a line's leading whitespace is skipped, so an indented `password = x` is an option;
- `#` or `;` as the first non-blank character makes a comment line; `#` outside quotes ends
  a value (`;` does not);
- `[group]`: the name up to `]`, trailing blanks dropped, compared case-insensitively;
  an option before any group is a fatal error, as it is for the client;
- `key = value`: blanks around both dropped; one pair of matching quotes around the whole
  value dropped; then \\n \\t \\r \\b \\s \\" \\' \\\\ are unescaped, any other backslash kept;
- `!include FILE` (a missing file is skipped) and `!includedir DIR` (its `*.cnf` files in
  byte order; a missing directory is fatal), at most 10 levels deep, deeper ones skipped; a
  relative path is relative to the current directory, not to the including file; a fatal
  error inside an included file ends that file only;
- a world-writable file is ignored; "blank" means Latin-1 blanks, including byte 0xA0.

Where MariaDB's behaviour is undefined or silently lossy we stop with a located error
instead: lines over 4094 bytes (it splits them), NUL bytes (it truncates), an option with no
name, and files over MAX_FILE_BYTES or more than MAX_FILES files. Errors and warnings never
quote a line: it may hold a password.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field

from galera_exporter import regularfile

BLANKS = b" \t\n\v\f\r\xa0"  # my_isspace() in the Latin-1 character set MariaDB uses here
MAX_FILE_BYTES = 1 << 20
MAX_LINE_BYTES = 4094  # fgets(buff, sizeof(buff) - 1) with a 4096-byte buffer
MAX_INCLUDE_DEPTH = 10  # max_recursion_level in my_default.c
MAX_FILES = 256  # includedir loops can read a file many times; bound the total
ESCAPES = {
    ord("n"): b"\n",
    ord("t"): b"\t",
    ord("r"): b"\r",
    ord("b"): b"\b",
    ord("s"): b" ",
    ord('"'): b'"',
    ord("'"): b"'",
    ord("\\"): b"\\",
}


class OptionFileError(Exception):
    """The file cannot be used; the message says where and never quotes file content."""


class _ClientFatalError(OptionFileError):
    """An error MariaDB's reader stops at: fatal in the top file; in an included file it
    ends only that file (the caller ignores the included file's result), so a warning."""


@dataclass(frozen=True)
class Option:
    """One `--name[=value]` as the client would pass it to its option parser."""

    name: bytes
    value: bytes | None  # None: the name alone, e.g. `skip-ssl`
    path: str
    line: int
    group: bytes

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def as_argument(self) -> bytes:
        """The form my_print_defaults prints."""
        return b"--" + self.name + (b"" if self.value is None else b"=" + self.value)


@dataclass
class OptionFile:
    options: list[Option] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # every file read, top file first
    warnings: list[str] = field(default_factory=list)


def _split_lines(data: bytes) -> list[bytes]:
    """Lines as fgets returns them, each with its newline if it had one (a lone \r is not a
    line end, unlike for bytes.splitlines)."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _remove_end_comment(text: bytes) -> bytes:
    """Cut at the first # outside quotes; a backslash escapes a quote only inside quotes."""
    quote = 0
    escape = False
    for index, char in enumerate(text):
        if char in (0x22, 0x27) and not escape:
            if not quote:
                quote = char
            elif quote == char:
                quote = 0
        if not quote and char == 0x23:
            return text[:index]
        escape = bool(quote) and char == 0x5C and not escape
    return text


def _unescape(value: bytes) -> bytes:
    out = bytearray()
    index = 0
    while index < len(value):
        char = value[index]
        if char == 0x5C and index != len(value) - 1:
            index += 1
            escaped = value[index]
            out += ESCAPES.get(escaped, bytes((0x5C, escaped)))
        else:
            out.append(char)
        index += 1
    return bytes(out)


def _directive_argument(rest: bytes) -> bytes:
    """The path after !include/!includedir, trimmed as get_argument() trims it.

    get_argument() assumes the line ends with a newline and always cuts the last character:
    on a last line without one, MariaDB loses the path's last character. So do we, and the
    warning about the missing file then shows the name MariaDB looked for.
    """
    text = rest.lstrip(BLANKS)
    if not text:
        return b""
    end = len(text) - 1
    while end > 0 and text[end - 1] in BLANKS:
        end -= 1
    return text[:end]


class _Reader:
    def __init__(self, groups: Sequence[str]) -> None:
        self.groups = {g.lower().encode() for g in groups}
        self.result = OptionFile()

    def read_file(self, path: str, depth: int, required: bool) -> None:
        if len(self.result.files) >= MAX_FILES:
            raise OptionFileError(
                f"{path}: more than {MAX_FILES} option files read (!include loop?)"
            )
        try:
            info = os.stat(path)
        except OSError as err:
            if required:
                raise OptionFileError(
                    f"{path}: cannot read MySQL option file: {err.strerror}"
                ) from None
            self.result.warnings.append(f"{path}: included option file skipped: {err.strerror}")
            return
        if stat.S_ISREG(info.st_mode) and info.st_mode & stat.S_IWOTH:
            message = f"{path}: option file is world-writable, and MariaDB clients ignore it"
            if required:
                raise OptionFileError(f"{message}; chmod o-w it")
            self.result.warnings.append(f"{message}: skipped")
            return
        try:
            data, _ = regularfile.read_regular_file(path, MAX_FILE_BYTES)
        except OSError as err:
            if required or err.errno == errno.EFBIG:
                raise OptionFileError(
                    f"{path}: cannot read MySQL option file: {err.strerror}"
                ) from None
            self.result.warnings.append(f"{path}: included option file skipped: {err.strerror}")
            return
        self.result.files.append(path)
        try:
            self._parse(path, data, depth)
        except _ClientFatalError as err:
            if depth == 0:
                raise OptionFileError(str(err)) from None
            self.result.warnings.append(f"{err}: the rest of this included file is ignored")

    def _parse(self, path: str, data: bytes, depth: int) -> None:
        group: bytes | None = None  # None: no group yet; b"": a group we skip
        for number, raw in enumerate(_split_lines(data), start=1):
            where = f"{path}:{number}"
            if len(raw) > MAX_LINE_BYTES:
                raise OptionFileError(f"{where}: line longer than {MAX_LINE_BYTES} bytes")
            if b"\0" in raw:
                raise OptionFileError(f"{where}: NUL byte in the line")
            line = raw.lstrip(BLANKS)
            if not line or line[:1] in (b"#", b";"):
                continue
            if line.startswith(b"!"):
                self._directive(where, line[1:], depth, last_has_newline=raw.endswith(b"\n"))
                continue
            if line.startswith(b"["):
                end = line.find(b"]")
                if end < 0:
                    raise _ClientFatalError(f"{where}: group header without ']'")
                name = line[1:end].rstrip(BLANKS)
                group = name if name.lower() in self.groups else b""
                continue
            if group is None:
                raise _ClientFatalError(f"{where}: option before the first [group] header")
            if not group:
                continue
            self.result.options.append(self._option(where, path, number, line, group))

    def _option(self, where: str, path: str, number: int, line: bytes, group: bytes) -> Option:
        text = _remove_end_comment(line)
        name, equals, value = text.partition(b"=")
        name = name.rstrip(BLANKS)
        if not name:
            raise OptionFileError(f"{where}: option without a name")
        if not equals:
            return Option(name, None, path, number, group)
        value = value.strip(BLANKS)
        if len(value) > 1 and value[0] in b"'\"" and value[0] == value[-1]:
            value = value[1:-1]
        return Option(name, _unescape(value), path, number, group)

    def _directive(self, where: str, rest: bytes, depth: int, last_has_newline: bool) -> None:
        if depth >= MAX_INCLUDE_DEPTH:
            self.result.warnings.append(
                f"{where}: directive skipped: includes nested more than {MAX_INCLUDE_DEPTH} deep"
            )
            return
        rest = rest.lstrip(BLANKS)
        for keyword in (b"includedir", b"include"):
            after = rest[len(keyword) : len(keyword) + 1]
            if rest.startswith(keyword) and after and after in BLANKS:
                argument = _directive_argument(rest[len(keyword) :])
                if not argument:
                    raise _ClientFatalError(f"{where}: !{keyword.decode()} without a path")
                if not last_has_newline:
                    self.result.warnings.append(
                        f"{where}: !{keyword.decode()} on a last line without a newline: "
                        "MariaDB drops the path's last character, and so does the exporter"
                    )
                if keyword == b"include":  # fn_format(MY_UNPACK_FILENAME) expands ~ here only
                    target = os.fsdecode(os.path.expanduser(argument))
                    self.read_file(target, depth + 1, required=False)
                else:
                    self._include_dir(where, os.fsdecode(argument), depth)
                return
        # Any other "!word" is ignored by MariaDB too.

    def _include_dir(self, where: str, directory: str, depth: int) -> None:
        try:
            names = sorted(os.listdir(os.fsencode(directory)))
        except OSError as err:
            raise _ClientFatalError(f"{where}: !includedir {directory}: {err.strerror}") from None
        for name in names:
            if name.endswith(b".cnf"):
                self.read_file(
                    os.path.join(directory, os.fsdecode(name)), depth + 1, required=False
                )


def read(path: str, groups: Sequence[str]) -> OptionFile:
    """Every option of `groups` in `path` and what it includes, in the order the client sees
    them (the last of a name wins). Raises OptionFileError."""
    reader = _Reader(groups)
    reader.read_file(path, 0, required=True)
    return reader.result
