"""Collector: the server's wsrep status and a few variables, one query pair per scrape."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from galera_exporter import parse, serving
from galera_exporter.collectors.base import CollectorError, Scrape, ServerSettings
from galera_exporter.db import REASONS, DatabaseError, ServerState, StatusSource
from galera_exporter.wsrep_map import NUMERIC

log = logging.getLogger(__name__)

SRC = "SHOW GLOBAL STATUS"
VARS = "SHOW GLOBAL VARIABLES"
ERROR_KINDS = ("connect", "timeout", "query", "busy", "auth", "too_many_connections")


class WsrepCollector:
    """Turns the wsrep status (and Uptime) into typed metrics; galera_up says if it worked."""

    name = "wsrep"

    def __init__(self, reader: StatusSource, policy: serving.Policy | None = None) -> None:
        self._reader = reader
        self._policy = policy or serving.Policy()
        # The serving endpoint reads through this: the same connection and the same reads.
        self.serving = serving.ServingProbe(reader.read)
        self._errors = dict.fromkeys(ERROR_KINDS, 0)
        self._errors_lock = threading.Lock()
        self._last_error = ""

    def collect(self, scrape: Scrape) -> Iterable[Metric]:
        try:
            state = self._reader.read(scrape.remaining())
        except DatabaseError as err:
            with self._errors_lock:
                self._errors[err.kind] = self._errors.get(err.kind, 0) + 1
            if str(err) != self._last_error:  # log changes, not every failing scrape
                log.warning("mysqld did not answer the status query: %s", err)
                self._last_error = str(err)
            if err.kind != "busy":  # busy: another reader holds the connection, not a verdict
                self.serving.record(None)
            yield _up(0)
            yield _error_state(err.reason)
            yield self._error_counter()
            yield from serving_metrics(serving.decide(None, self._policy))
            raise CollectorError(str(err)) from None
        if self._last_error:
            log.info("mysqld answers again")
            self._last_error = ""
        scrape.server = ServerSettings(
            log_error=state.variables.get("log_error", ""),
            datadir=state.variables.get("datadir", ""),
            wsrep_status_file=state.variables.get("wsrep_status_file"),
        )
        self.serving.record(state)
        yield _up(1)
        yield _error_state(None)
        yield self._error_counter()
        yield from status_metrics(state)
        yield from serving_metrics(serving.decide(state, self._policy))

    def serving_reason(self, ttl: float, timeout: float) -> str:
        """The serving endpoint's verdict from a status read at most `ttl` old (serving.py)."""
        seen = self.serving.observe(ttl, timeout)
        return serving.decide(seen.state if seen else None, self._policy)

    def _error_counter(self) -> Metric:
        family = CounterMetricFamily(
            "galera_exporter_mysql_errors",
            "Failed status queries by kind (connect, timeout, query, busy, auth, "
            "too_many_connections)",
            labels=["kind"],
        )
        with self._errors_lock:
            for kind, count in sorted(self._errors.items()):
                family.add_metric([kind], count)
        return family

    def close(self) -> None:
        self._reader.close()


def _up(value: int) -> Metric:
    return GaugeMetricFamily(
        "galera_up", "1 if mysqld answered this scrape's wsrep status query, else 0", value=value
    )


def _error_state(reason: str | None) -> Metric:
    return _state_set(
        "galera_mysql_error",
        "Why galera_up is 0 in this scrape, one series per kind: refused (nothing listens: "
        "mysqld not running, or a joiner during SST), auth (login refused), "
        "too_many_connections, timeout (connect or query timed out: a hung mysqld), other; "
        "all 0 when galera_up is 1",
        "kind",
        REASONS,
        reason or "",
    )


def serving_metrics(reason: str) -> Iterable[Metric]:
    """Whether a load balancer should send this node traffic, and why (see serving.py)."""
    yield GaugeMetricFamily(
        "galera_node_serving",
        f"1 if this node should get traffic as clustercheck decides it (Primary, Synced or an "
        f"allowed Donor/Desynced, wsrep_ready ON, wsrep_reject_queries NONE, read_only if not "
        f"allowed) from {SRC} and {VARS}, else 0",
        value=1.0 if reason == "serving" else 0.0,
    )
    yield _state_set(
        "galera_node_serving_reason",
        "Why galera_node_serving is what it is, one series per reason: serving, down, "
        "non_primary, not_synced, donor, not_ready, rejecting_queries, read_only",
        "reason",
        serving.REASONS,
        reason,
    )


def _state_set(name: str, doc: str, label: str, states: Iterable[str], current: str) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for state in states:
        family.add_metric([state], 1.0 if state == current else 0.0)
    return family


def status_metrics(state: ServerState) -> Iterable[Metric]:
    """Pure: every metric derived from one status/variables snapshot (golden-tested)."""
    yield from _numeric(state.status)
    yield from _uptime(state.status)
    yield from _states(state.status)
    yield from _identity(state.status, state.variables)
    yield from _membership(state.status)
    yield from _variables(state.variables)


def _numeric(status: dict[str, str]) -> Iterable[Metric]:
    """The table-driven numeric variables, plus conf_id with its special value."""
    for row in NUMERIC:
        raw = status.get(row.variable)
        if raw is None:
            continue
        value = parse.parse_bool(raw) if row.kind == "bool" else parse.parse_number(raw)
        if value is None:
            continue
        doc = f"{row.variable} from {SRC}: {row.meaning}"
        if row.kind == "counter":
            yield CounterMetricFamily(
                row.metric.removesuffix("_total"), doc, value=value * row.scale
            )
        else:
            yield GaugeMetricFamily(row.metric, doc, value=value * row.scale)

    if "wsrep_cluster_conf_id" in status:
        conf_id = parse.parse_conf_id(status["wsrep_cluster_conf_id"])
        if conf_id is not None:
            yield GaugeMetricFamily(
                "galera_cluster_conf_id",
                f"wsrep_cluster_conf_id from {SRC}; -1 when the node is in no Primary "
                "configuration (Galera reports 2^64-1)",
                value=conf_id,
            )


def _uptime(status: dict[str, str]) -> Iterable[Metric]:
    """The server's Uptime: tells a node that ran before its peers crashed from a newer one."""
    uptime = parse.parse_number(status.get("Uptime", ""))
    if uptime is not None and uptime >= 0:
        yield GaugeMetricFamily(
            "galera_mysqld_uptime_seconds",
            f"Uptime from {SRC}: seconds since mysqld started",
            value=uptime,
        )


def _states(status: dict[str, str]) -> Iterable[Metric]:
    """Text states as state sets."""
    if "wsrep_cluster_status" in status:
        yield _state_set(
            "galera_cluster_status",
            f"wsrep_cluster_status from {SRC} as a state set (Disconnected for unknown text)",
            "status",
            parse.CLUSTER_STATUSES,
            parse.cluster_status(status["wsrep_cluster_status"]),
        )
    if "wsrep_local_state_comment" in status:
        yield _state_set(
            "galera_local_state",
            f"wsrep_local_state_comment from {SRC} as a state set (Joining sub-states folded)",
            "state",
            parse.LOCAL_STATES,
            parse.local_state(status["wsrep_local_state_comment"]),
        )
    if "wsrep_evs_state" in status:
        yield _state_set(
            "galera_evs_state",
            f"wsrep_evs_state from {SRC}: the group-communication protocol state",
            "state",
            parse.EVS_STATES,
            parse.evs_state(status["wsrep_evs_state"]),
        )


def _identity(status: dict[str, str], variables: dict[str, str]) -> Iterable[Metric]:
    """uuids, names and versions in one info metric."""
    info = GaugeMetricFamily(
        "galera_status_info",
        f"Text facts from {SRC} and {VARS}: state uuids, gcomm uuid, versions, names",
        labels=[
            "cluster_state_uuid",
            "local_state_uuid",
            "gcomm_uuid",
            "provider_version",
            "node_name",
            "cluster_name",
            "local_state_comment",
            "server_version",
        ],
    )
    info.add_metric(
        [
            status.get("wsrep_cluster_state_uuid", ""),
            status.get("wsrep_local_state_uuid", ""),
            status.get("wsrep_gcomm_uuid", ""),
            status.get("wsrep_provider_version", ""),
            variables.get("wsrep_node_name", ""),
            variables.get("wsrep_cluster_name", ""),
            status.get("wsrep_local_state_comment", ""),
            variables.get("version", ""),
        ],
        1.0,
    )
    yield info


def _membership(status: dict[str, str]) -> Iterable[Metric]:
    """Component membership and group-communication health."""
    if "wsrep_incoming_addresses" in status:
        members = parse.parse_address_list(status["wsrep_incoming_addresses"])
        component = GaugeMetricFamily(
            "galera_component_info",
            f"wsrep_incoming_addresses from {SRC}, sorted: the members of this node's component. "
            "Nodes of one component report the same value, so distinct values among Primary "
            "nodes count Primary components (split brain)",
            labels=["members"],
        )
        component.add_metric([",".join(members)], 1.0)
        yield component
        yield GaugeMetricFamily(
            "galera_component_members",
            f"Entries in wsrep_incoming_addresses from {SRC}",
            value=len(members),
        )

    latency = parse.parse_repl_latency(status.get("wsrep_evs_repl_latency", ""))
    if latency is not None:
        family = GaugeMetricFamily(
            "galera_evs_repl_latency_seconds",
            f"wsrep_evs_repl_latency from {SRC}: group round-trip over the last sample window",
            labels=["stat"],
        )
        for stat in ("min", "avg", "max", "stddev"):
            family.add_metric([stat], getattr(latency, stat))
        yield family
        yield GaugeMetricFamily(
            "galera_evs_repl_latency_samples",
            f"Sample size of wsrep_evs_repl_latency from {SRC}",
            value=latency.samples,
        )
    for variable, metric, meaning in (
        ("wsrep_evs_delayed", "galera_evs_delayed_nodes", "nodes on the delayed list"),
        ("wsrep_evs_evict_list", "galera_evs_evicted_nodes", "nodes on the evict list"),
    ):
        if variable in status:
            yield GaugeMetricFamily(
                metric,
                f"Entries in {variable} from {SRC}: {meaning}",
                value=len(parse.parse_address_list(status[variable])),
            )


def _variables(variables: dict[str, str]) -> Iterable[Metric]:
    """Facts from SHOW GLOBAL VARIABLES."""
    if "wsrep_desync" in variables:
        desync = parse.parse_bool(variables["wsrep_desync"])
        if desync is not None:
            yield GaugeMetricFamily(
                "galera_desync_enabled",
                f"wsrep_desync from {VARS}: 1 when an operator desynced this node on purpose",
                value=desync,
            )
    if "wsrep_on" in variables:
        wsrep_on = parse.parse_bool(variables["wsrep_on"])
        if wsrep_on is not None:
            yield GaugeMetricFamily(
                "galera_wsrep_on", f"wsrep_on from {VARS}: 1 when replication is on", value=wsrep_on
            )
    options = parse.parse_provider_options(variables.get("wsrep_provider_options", ""))
    gcache = parse.parse_size(options.get("gcache.size", ""))
    if gcache is not None:
        yield GaugeMetricFamily(
            "galera_gcache_size_bytes",
            f"gcache.size from wsrep_provider_options ({VARS})",
            value=gcache,
        )
