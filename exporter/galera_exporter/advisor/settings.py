"""galera-advisor's settings: [NAME=]URL arguments, flags, and the `advisor:` section of a YAML
file (the exporter's own config file may carry it; the exporter ignores that section)."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import yaml

from galera_exporter.advisor.fetch import Client, Target
from galera_exporter.regularfile import read_regular_file

EXIT_USAGE = 4  # 0-3 are the cluster's state (report.EXIT_STATUS)
DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_TIMEOUT_SECONDS = 300.0
MAX_FILE_BYTES = 1 << 20
NAME = re.compile(r"([A-Za-z0-9_.\-]+)=(.+)")
KEYS = {
    "nodes": "list of [NAME=]URL",
    "timeout_seconds": "number",
    "cluster": "string",
    "tls_ca_file": "path",
    "tls_cert_file": "path",
    "tls_key_file": "path",
    "basic_auth_username": "string",
    "basic_auth_password_file": "path",
    "prometheus_url": "URL",
}


class SettingsError(Exception):
    """Invalid arguments or config; the message says where."""


@dataclass(frozen=True)
class Settings:
    targets: tuple[Target, ...]
    client: Client
    timeout: float
    cluster: str  # empty: the wsrep_cluster_name the nodes report
    json: bool
    prometheus_url: str = ""  # empty: the split-brain history is not asked for


USERINFO = re.compile(r"(//)[^/@]*@")


def shown(text: str) -> str:
    """An argument as echoed in an error: any user:password@ in it blanked out."""
    return repr(USERINFO.sub(r"\1<credentials>@", text))


def parse_target(text: str) -> Target:
    """`node3=http://10.0.0.3:9878/metrics`, `http://node1:9878/metrics` or `node1:9878`."""
    match = NAME.fullmatch(text)
    name, url = (match.group(1), match.group(2)) if match else ("", text)
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise SettingsError(f"{shown(text)}: not a URL ({err})") from err
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{shown(text)}: expected [NAME=][http[s]://]host:port[/path]")
    if parts.username is not None or parts.password is not None:
        # Never from argv: it would show in ps and shell history.
        raise SettingsError(
            f"{parts.hostname}: credentials in a URL are refused; use --basic-auth.username "
            "and --basic-auth.password-file"
        )
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if port is not None:
        netloc += f":{port}"
    path = parts.path or "/metrics"
    query = f"?{parts.query}" if parts.query else ""
    return Target(name or parts.hostname, f"{parts.scheme}://{netloc}{path}{query}")


def parse_prometheus_url(text: str) -> str:
    """A Prometheus base URL (a route prefix path is kept), never with credentials in it."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as err:
        raise SettingsError(f"prometheus URL {shown(text)}: not a URL ({err})") from err
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"prometheus URL {shown(text)}: expected http[s]://host:port[/prefix]")
    if parts.username is not None or parts.password is not None or parts.query:
        raise SettingsError(
            f"prometheus URL {parts.hostname}: credentials or a query in it are refused"
        )
    return text.rstrip("/")


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("nodes", nargs="*", metavar="[NAME=]URL", help="a node's exporter")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--config.file",
        dest="config_file",
        default="",
        metavar="FILE",
        help="YAML file with an `advisor:` section (see docs/advisor.md)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"deadline for all nodes together (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "--cluster",
        default=None,
        metavar="NAME",
        help="cluster name in the texts (default: wsrep_cluster_name reported)",
    )
    parser.add_argument(
        "--tls.ca-file",
        dest="tls_ca_file",
        default=None,
        metavar="FILE",
        help="CA certificate(s) to verify https exporters",
    )
    parser.add_argument(
        "--tls.cert-file",
        dest="tls_cert_file",
        default=None,
        metavar="FILE",
        help="client certificate (exporters that require one)",
    )
    parser.add_argument(
        "--tls.key-file",
        dest="tls_key_file",
        default=None,
        metavar="FILE",
        help="client certificate's key",
    )
    parser.add_argument(
        "--basic-auth.username",
        dest="basic_auth_username",
        default=None,
        metavar="USER",
        help="basic auth user of the exporters' web config",
    )
    parser.add_argument(
        "--basic-auth.password-file",
        dest="basic_auth_password_file",
        default=None,
        metavar="FILE",
        help="file holding that user's password (never given on the command line)",
    )
    parser.add_argument(
        "--prometheus.url",
        dest="prometheus_url",
        default=None,
        metavar="URL",
        help="Prometheus evaluating the exporter's rules, asked (within --timeout) whether the"
        " cluster had a split brain in the last 24 h; without it that is unknown and said so",
    )


def _read_file(path: str, what: str) -> bytes:
    """A config or password file: regular, small, opened without blocking (regularfile.py: a
    FIFO put there must not hang the advisor, a huge file must not be read whole)."""
    try:
        data, _ = read_regular_file(path, MAX_FILE_BYTES)
    except OSError as err:
        raise SettingsError(f"{what} {path}: {err.strerror}") from err
    return data


def _section(path: str) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(_read_file(path, "config file"))
    except yaml.YAMLError as err:
        raise SettingsError(f"{path}: invalid YAML: {getattr(err, 'problem', err)}") from err
    section = (doc or {}).get("advisor") if isinstance(doc, dict) else None
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise SettingsError(f"{path}: advisor: must be a mapping")
    for key in section:
        if key not in KEYS:
            known = ", ".join(sorted(KEYS))
            raise SettingsError(f"{path}: advisor.{key}: unknown key (known: {known})")
    base = Path(path).parent
    for key in ("tls_ca_file", "tls_cert_file", "tls_key_file", "basic_auth_password_file"):
        if key in section:
            if not isinstance(section[key], str):
                raise SettingsError(f"{path}: advisor.{key}: expected a path")
            section[key] = str(base / section[key]) if section[key] else ""
    nodes = section.get("nodes", [])
    if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
        raise SettingsError(f"{path}: advisor.nodes: expected a list of [NAME=]URL strings")
    return section


def load(args: argparse.Namespace) -> Settings:
    """Flags win over the file; URLs on the command line replace the file's node list."""
    file = _section(args.config_file) if args.config_file else {}

    def pick(key: str, default: Any) -> Any:
        flag = getattr(args, key)
        return flag if flag is not None else file.get(key, default)

    targets = tuple(parse_target(n) for n in (args.nodes or file.get("nodes", [])))
    if not targets:
        raise SettingsError("no nodes: give [NAME=]URL arguments or advisor.nodes in the file")
    names = [t.name for t in targets]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SettingsError(f"node name given twice: {', '.join(twice)} (use NAME=URL)")
    timeout = pick("timeout", file.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS))
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise SettingsError(f"timeout: expected seconds, got {timeout!r}")
    if not 0 < timeout <= MAX_TIMEOUT_SECONDS:
        raise SettingsError(f"timeout: must be in (0, {MAX_TIMEOUT_SECONDS:g}] seconds")
    username = pick("basic_auth_username", "")
    password_file = pick("basic_auth_password_file", "")
    if bool(username) != bool(password_file):
        raise SettingsError("basic auth needs both a username and a password file")
    password = ""
    if password_file:
        try:
            password = _read_file(password_file, "password file").decode().rstrip("\r\n")
        except UnicodeDecodeError as err:
            raise SettingsError(f"password file {password_file}: not UTF-8") from err
    client = Client(
        ca_file=pick("tls_ca_file", ""),
        cert_file=pick("tls_cert_file", ""),
        key_file=pick("tls_key_file", ""),
        username=username,
        password=password,
    )
    if any(t.url.startswith("https:") for t in targets):
        try:
            client.ssl_context()
        except (OSError, ValueError) as err:  # ssl.SSLError is an OSError
            raise SettingsError(f"TLS files: {err}") from err
    prometheus = pick("prometheus_url", "")
    if not isinstance(prometheus, str):
        raise SettingsError(f"prometheus_url: expected a URL, got {prometheus!r}")
    return Settings(
        targets,
        client,
        float(timeout),
        str(pick("cluster", "")),
        bool(args.json),
        parse_prometheus_url(prometheus) if prometheus else "",
    )


class Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error, which is galera-advisor's "action needed"."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def parser_for(prog: str, description: str, epilog: str) -> argparse.ArgumentParser:
    parser = Parser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_flags(parser)
    return parser
