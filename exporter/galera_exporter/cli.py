"""Command line: parse flags, build the exporter from the configuration, serve HTTP."""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

# PyMySQL imports the cryptography package at import time (~8 MB of RSS, a fifth of the
# exporter's) only for the RSA password exchange of MySQL 8's caching_sha2_password and
# sha256_password over unencrypted TCP. MariaDB has neither plugin, and over the unix socket
# MySQL 8 needs no RSA either, so the exporter keeps it out unless asked to load it.
RSA_AUTH_ENV = "GALERA_EXPORTER_MYSQL_RSA_AUTH"
if os.environ.get(RSA_AUTH_ENV, "") not in ("1", "true", "yes") and "pymysql" not in sys.modules:
    sys.modules.setdefault("cryptography", None)  # type: ignore[arg-type]

from galera_exporter import __version__, config  # noqa: E402
from galera_exporter.collectors import COLLECTORS, build_collectors  # noqa: E402
from galera_exporter.exporter import Exporter  # noqa: E402
from galera_exporter.reload import Reloader, app_settings, describe_web, load_all  # noqa: E402
from galera_exporter.web import MetricsApp, make_http_server  # noqa: E402

log = logging.getLogger("galera_exporter")

M_ARENA_MAX = -8  # from glibc's malloc.h


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="galera-exporter",
        description="Prometheus exporter for one MariaDB Galera node: wsrep status, "
        "grastate.dat/gvwstate.dat and the back-end log. Credentials come only from the "
        "MySQL option file (--mysql.defaults-file) or GALERA_EXPORTER_MYSQL_* environment "
        "variables, never from a flag.",
    )
    parser.add_argument("--version", action="version", version=f"galera-exporter {__version__}")
    parser.add_argument(
        "--config.file", dest="config_file", default=None, help="YAML configuration file"
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate the configuration, print every problem with its location, and exit",
    )
    config.add_flags(parser)
    for spec in COLLECTORS:
        parser.add_argument(
            f"--collect.{spec.name}",
            dest=f"collect.{spec.name}",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"{spec.help} (default: {'on' if spec.enabled_by_default else 'off'})".replace(
                "%", "%%"
            ),
        )
    return parser


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="ts=%(asctime)s level=%(levelname)s source=%(name)s msg=%(message)r",
        force=True,
    )


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas: it gives new threads their own (up to 8 per core), and with
    the HTTP workers and the log followers that grows RSS by megabytes for nothing."""
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, arenas)  # the C library linked into python
    except (OSError, AttributeError):
        log.debug("mallopt is not available (not glibc); malloc arenas left as they are")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg, web = load_all(args)
    except config.ConfigError as err:
        for problem in err.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.check_config:
        print(f"configuration OK ({cfg.source}; {describe_web(web)})")
        return 0
    setup_logging(cfg.log.level)
    limit_malloc_arenas()

    exporter = Exporter(build_collectors(cfg))
    reloader = Reloader(args, cfg, exporter, setup_logging)
    app = MetricsApp(exporter, cfg.web.telemetry_path, cfg.mysql.timeout_seconds, web, reloader)
    app.update(app_settings(cfg, web))  # the same settings a reload would install
    try:
        server = make_http_server(app, cfg.web.listen_address, web.ssl_context)
    except OSError as err:
        log.error("cannot listen on %s: %s", cfg.web.listen_address, err.strerror)
        exporter.close()
        return 1
    reloader.app, reloader.server = app, server
    app.http_stats = server.stats

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del frame
        log.info("received %s, shutting down", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    def on_hup(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        log.info("received SIGHUP, reloading the configuration")
        # Not in the handler itself: closing the old collectors may wait for a running scrape.
        threading.Thread(target=reloader, name="reload", daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_hup)
    log.info(
        "listening on %s (%s, metrics at %s), collectors: %s",
        cfg.web.listen_address,
        describe_web(web),
        cfg.web.telemetry_path,
        ", ".join(s.name for s in exporter.collectors),
    )
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        exporter.close()
    return 0
