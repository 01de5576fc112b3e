"""Command line: parse flags, build the exporter from the configuration, serve HTTP."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from galera_exporter import __version__, config
from galera_exporter.collectors import COLLECTOR_NAMES, COLLECTORS, build_sources
from galera_exporter.exporter import Exporter
from galera_exporter.web import MetricsApp, make_http_server

log = logging.getLogger("galera_exporter")


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = config.load(args, COLLECTOR_NAMES)
    except config.ConfigError as err:
        for problem in err.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.check_config:
        print(f"configuration OK ({cfg.source})")
        return 0
    setup_logging(cfg.log.level)

    exporter = Exporter(build_sources(cfg))
    app = MetricsApp(exporter, cfg.web.telemetry_path, cfg.mysql.timeout_seconds)
    try:
        server = make_http_server(app, cfg.web.listen_address)
    except OSError as err:
        log.error("cannot listen on %s: %s", cfg.web.listen_address, err.strerror)
        exporter.close()
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del frame
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info(
        "listening on %s (metrics at %s), collectors: %s",
        cfg.web.listen_address,
        cfg.web.telemetry_path,
        ", ".join(s.name for s in exporter.sources),
    )
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        exporter.close()
    return 0
