"""Configuration reload (SIGHUP or POST /-/reload): keep what did not change, report the outcome."""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Callable

from galera_exporter import config, webconfig
from galera_exporter.collectors import COLLECTOR_NAMES, enabled
from galera_exporter.collectors.base import Collector
from galera_exporter.exporter import Exporter
from galera_exporter.web import AppSettings, ExporterHTTPServer, MetricsApp

log = logging.getLogger("galera_exporter")

# The part of the configuration each collector is built from. A collector whose part did not change
# is kept as it is, with its counters and its log follower's position and state: rebuilding
# it would reset every counter (an sst_failed event already counted would be lost) and re-read
# the log's backlog. A collector missing here is rebuilt whenever any collector setting changes.
COLLECTOR_INPUTS: dict[str, Callable[[config.Config], object]] = {
    "wsrep": lambda c: (c.target, c.mysql, c.serving),
    "grastate": lambda c: c.galera.datadir,  # not status_file: its change must not reset SST starts
    "backend_log": lambda c: c.backend,
    "errorlog": lambda c: (c.mysqld, c.galera.datadir),
    "maintenance": lambda c: c.maintenance,
    "status_file": lambda c: (c.galera.status_file, c.galera.datadir),
    "gra_log": lambda c: c.galera.datadir,
}


def _all_collector_inputs(c: config.Config) -> object:
    return (c.target, c.mysql, c.galera, c.backend, c.mysqld)


def collector_inputs(name: str, cfg: config.Config) -> object:
    return COLLECTOR_INPUTS.get(name, _all_collector_inputs)(cfg)


def load_all(args: argparse.Namespace) -> tuple[config.Config, webconfig.WebSettings]:
    """The configuration and the web config it names; ConfigError lists every problem."""
    cfg = config.load(args, COLLECTOR_NAMES)
    try:
        web = webconfig.load(cfg.web.config_file)
    except webconfig.WebConfigError as err:
        raise config.ConfigError(err.problems) from None
    return cfg, web


def app_settings(cfg: config.Config, web: webconfig.WebSettings) -> AppSettings:
    return AppSettings(
        cfg.web.telemetry_path,
        cfg.mysql.timeout_seconds,
        web,
        cfg.web.enable_lifecycle,
        serving_path=cfg.web.serving_path,
        serving_cache_seconds=cfg.serving.cache_seconds,
        serving_require_auth=cfg.serving.require_auth,
    )


def describe_web(web: webconfig.WebSettings) -> str:
    users = len(web.auth.users) if web.auth else 0
    return f"TLS {'on' if web.tls else 'off'}, basic auth users: {users}"


def plan_collectors(
    old_cfg: config.Config, new_cfg: config.Config, running: list[Collector]
) -> tuple[list[Collector], list[Collector]]:
    """The collectors for `new_cfg`, in table order: running ones whose inputs did not change,
    and new ones built for the rest. Returns (all, newly built)."""
    by_name = {collector.name: collector for collector in running}
    collectors: list[Collector] = []
    built: list[Collector] = []
    try:
        for spec in enabled(new_cfg):
            kept = by_name.get(spec.name)
            if kept is not None and collector_inputs(spec.name, old_cfg) == collector_inputs(
                spec.name, new_cfg
            ):
                collectors.append(kept)
            else:
                collector = spec.build(new_cfg)
                built.append(collector)
                collectors.append(collector)
    except BaseException:
        for collector in built:
            collector.close()
        raise
    return collectors, built


class Reloader:
    """Re-reads --config.file and the web config; on any error keeps the running config."""

    def __init__(
        self,
        args: argparse.Namespace,
        cfg: config.Config,
        exporter: Exporter,
        apply_log_level: Callable[[str], None],
    ) -> None:
        self._args = args
        self._cfg = cfg
        self._exporter = exporter
        self._apply_log_level = apply_log_level
        self._lock = threading.Lock()
        self.app: MetricsApp | None = None
        self.server: ExporterHTTPServer | None = None

    def __call__(self) -> list[str]:
        with self._lock:
            ok = False
            try:
                problems = self._reload()
                ok = not problems
                return problems
            except Exception:
                # Whatever broke (a bug of ours, or an input the validation let through), the
                # running configuration stays and the reload is reported failed, never 1.
                log.exception("reload failed, keeping the running configuration")
                return ["reload failed with an internal error (see the exporter's log)"]
            finally:
                if self.app is not None:
                    self.app.reload_status.record(ok=ok)

    def _reload(self) -> list[str]:
        try:
            cfg, web = load_all(self._args)
        except config.ConfigError as err:
            for problem in err.problems:
                log.error("reload failed, keeping the running configuration: %s", problem)
            return err.problems
        if cfg.web.listen_address != self._cfg.web.listen_address:
            log.warning(
                "web.listen_address changed to %s: takes effect after a restart",
                cfg.web.listen_address,
            )
        collectors, built = plan_collectors(self._cfg, cfg, self._exporter.collectors)
        self._apply_log_level(cfg.log.level)
        self._exporter.replace_collectors(collectors)
        if self.app is not None:
            self.app.update(app_settings(cfg, web))
        if self.server is not None:
            self.server.ssl_context = web.ssl_context
        self._cfg = cfg
        kept = len(collectors) - len(built)
        log.info(
            "configuration reloaded from %s (%s; %d collectors kept, %d rebuilt)",
            cfg.source,
            describe_web(web),
            kept,
            len(built),
        )
        return []
