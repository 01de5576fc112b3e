"""The serving state (clustercheck semantics), its cache, and the load-balancer endpoint."""

from __future__ import annotations

import base64
import http.client
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from galera_exporter import config
from galera_exporter.auth import BasicAuth
from galera_exporter.cli import build_parser
from galera_exporter.collectors import COLLECTOR_NAMES
from galera_exporter.collectors.base import CollectorError, Scrape
from galera_exporter.collectors.maintenance import MaintenanceCollector
from galera_exporter.collectors.wsrep import WsrepCollector
from galera_exporter.db import DatabaseError, ServerState
from galera_exporter.exporter import Exporter
from galera_exporter.reload import app_settings, collector_inputs
from galera_exporter.serving import Policy, ServingProbe, decide
from galera_exporter.web import AppSettings, MetricsApp, make_http_server, serve_in_thread
from galera_exporter.webconfig import WebSettings
from tests.unit.fixtures import STATES_DIR, CapturedReader, read_tsv

SYNCED = ServerState(
    read_tsv(STATES_DIR / "synced" / "status.tsv"),
    read_tsv(STATES_DIR / "synced" / "variables.tsv"),
)


def with_changes(status: dict[str, str] | None = None, **variables: str) -> ServerState:
    return ServerState({**SYNCED.status, **(status or {})}, {**SYNCED.variables, **variables})


DONOR = {"wsrep_local_state": "2", "wsrep_local_state_comment": "Donor/Desynced"}


@pytest.mark.parametrize(
    ("state", "policy", "reason"),
    [
        (SYNCED, Policy(), "serving"),
        (None, Policy(), "down"),
        (with_changes({"wsrep_cluster_status": "non-Primary"}), Policy(), "non_primary"),
        (with_changes({"wsrep_cluster_status": "Disconnected"}), Policy(), "non_primary"),
        (with_changes({"wsrep_cluster_status": ""}), Policy(), "non_primary"),
        (with_changes({"wsrep_local_state": "1"}), Policy(), "not_synced"),
        (with_changes({"wsrep_local_state": "3"}), Policy(), "not_synced"),
        (with_changes({"wsrep_local_state": "garbage"}), Policy(), "not_synced"),
        (with_changes(DONOR), Policy(), "donor"),
        (with_changes(DONOR), Policy(available_when_donor=True), "serving"),
        (with_changes({"wsrep_ready": "OFF"}), Policy(), "not_ready"),
        (with_changes(wsrep_reject_queries="ALL"), Policy(), "rejecting_queries"),
        (with_changes(wsrep_reject_queries="ALL_KILL"), Policy(), "rejecting_queries"),
        (with_changes(wsrep_reject_queries="NONE"), Policy(), "serving"),
        # clustercheck's default AVAILABLE_WHEN_READONLY=1: read_only does not matter...
        (with_changes(read_only="ON"), Policy(), "serving"),
        # ...and with 0 a read-only node gets no traffic.
        (with_changes(read_only="ON"), Policy(available_when_readonly=False), "read_only"),
        (with_changes(read_only="OFF"), Policy(available_when_readonly=False), "serving"),
    ],
)
def test_decide_as_clustercheck(state: ServerState | None, policy: Policy, reason: str) -> None:
    assert decide(state, policy) == reason


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("synced", "serving"),
        ("bootstrap_single", "serving"),
        ("donor", "donor"),
        ("joiner", "non_primary"),
        ("non_primary", "non_primary"),
        ("isolated", "non_primary"),
    ],
)
def test_decide_on_captured_nodes(name: str, reason: str) -> None:
    captured = CapturedReader(STATES_DIR / name).read(1.0)
    assert decide(captured, Policy()) == reason


class SlowReader:
    """A StatusReader stand-in that counts reads and takes `delay` seconds for each."""

    def __init__(self, state: ServerState | None = SYNCED, delay: float = 0.0) -> None:
        self.state = state
        self.delay = delay
        self.reads = 0
        self._lock = threading.Lock()

    def read(self, timeout: float) -> ServerState:
        del timeout
        with self._lock:
            self.reads += 1
        time.sleep(self.delay)
        if self.state is None:
            raise DatabaseError("connect", "refused", "refused")
        return self.state

    def close(self) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_probe_reuses_a_read_younger_than_the_ttl() -> None:
    reader, clock = SlowReader(), FakeClock()
    probe = ServingProbe(reader.read, clock)
    probe.record(SYNCED)  # what a scrape read
    clock.now += 1.9
    seen = probe.observe(ttl=2.0, timeout=1.0)
    assert seen is not None and seen.state is SYNCED
    assert reader.reads == 0
    clock.now += 0.2  # 2.1 s old: stale, so one read
    probe.observe(ttl=2.0, timeout=1.0)
    assert reader.reads == 1
    probe.observe(ttl=2.0, timeout=1.0)
    assert reader.reads == 1  # and that read is reused


def test_probe_records_a_failed_read_as_down() -> None:
    reader = SlowReader(state=None)
    probe = ServingProbe(reader.read)
    seen = probe.observe(ttl=2.0, timeout=1.0)
    assert seen is not None and seen.state is None
    assert decide(seen.state, Policy()) == "down"


def test_probe_keeps_the_last_read_when_a_scrape_holds_the_connection() -> None:
    def busy(timeout: float) -> ServerState:
        raise DatabaseError("busy", "another scrape held the connection", "timeout")

    clock = FakeClock()
    probe = ServingProbe(busy, clock)
    probe.record(SYNCED)
    clock.now += 10
    seen = probe.observe(ttl=2.0, timeout=1.0)
    assert seen is not None and seen.state is SYNCED


def test_single_flight_one_read_for_a_flood() -> None:
    """200 concurrent callers on a stale cache: one read; the others wait for it."""
    reader = SlowReader(delay=0.3)
    probe = ServingProbe(reader.read)
    start = threading.Barrier(200)
    results: list[Any] = []

    def poll() -> None:
        start.wait()
        results.append(probe.observe(ttl=5.0, timeout=2.0))

    threads = [threading.Thread(target=poll) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 200
    assert all(r is not None and r.state is SYNCED for r in results)
    assert reader.reads == 1


def app_for(
    reader: Any, *, policy: Policy | None = None, path: str = "/clustercheck", **settings: Any
) -> MetricsApp:
    app = MetricsApp(Exporter([WsrepCollector(reader, policy)]), "/metrics", 2.0)
    app.update(AppSettings(serving_path=path, **settings))
    return app


def call(app: MetricsApp, path: str, headers: dict[str, str] | None = None) -> tuple[str, bytes]:
    answer: list[str] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, **(headers or {})}
    body = b"".join(app(environ, lambda status, hdrs: answer.append(status)))
    return answer[0], body


def test_endpoint_200_when_synced_503_otherwise() -> None:
    status, body = call(app_for(CapturedReader(STATES_DIR / "synced")), "/clustercheck")
    assert status == "200 OK" and body == b"Galera node is synced.\n"
    for name in ("non_primary", "joiner", "donor", "down_crashed"):
        status, body = call(app_for(CapturedReader(STATES_DIR / name)), "/clustercheck")
        assert status == "503 Service Unavailable", name
    status, _ = call(
        app_for(CapturedReader(STATES_DIR / "donor"), policy=Policy(available_when_donor=True)),
        "/clustercheck",
    )
    assert status == "200 OK"


def test_endpoint_off_by_default() -> None:
    status, _ = call(app_for(CapturedReader(STATES_DIR / "synced"), path=""), "/clustercheck")
    assert status == "404 Not Found"


def test_endpoint_without_wsrep_collector_is_503() -> None:
    app = MetricsApp(Exporter([]), "/metrics", 2.0)
    app.update(AppSettings(serving_path="/clustercheck"))
    status, body = call(app, "/clustercheck")
    assert status == "503 Service Unavailable" and b"disabled" in body


@pytest.fixture(scope="module")
def auth() -> BasicAuth:
    return BasicAuth({"prom": bcrypt.hashpw(b"secret", bcrypt.gensalt(4))})


def test_endpoint_open_under_basic_auth_unless_required(auth: BasicAuth) -> None:
    reader = CapturedReader(STATES_DIR / "synced")
    web = WebSettings(auth=auth)
    open_app = app_for(reader, web=web)
    assert call(open_app, "/clustercheck")[0] == "200 OK"
    assert call(open_app, "/metrics")[0] == "401 Unauthorized"  # the rest stays closed
    closed = app_for(reader, web=web, serving_require_auth=True)
    assert call(closed, "/clustercheck")[0] == "401 Unauthorized"
    good = "Basic " + base64.b64encode(b"prom:secret").decode()
    assert call(closed, "/clustercheck", {"HTTP_AUTHORIZATION": good})[0] == "200 OK"


def test_scrapes_feed_the_endpoint_cache() -> None:
    """With Prometheus scraping, polls inside the TTL cost no read of their own."""
    reader = SlowReader()
    app = app_for(reader, serving_cache_seconds=30.0)
    assert call(app, "/metrics")[0] == "200 OK"
    assert reader.reads == 1
    for _ in range(50):
        assert call(app, "/clustercheck")[0] == "200 OK"
    assert reader.reads == 1


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[tuple[SlowReader, int]]:
    reader = SlowReader(delay=0.2)
    app = app_for(reader, serving_cache_seconds=1.0)
    server = make_http_server(app, "127.0.0.1:0")
    thread = serve_in_thread(server)
    try:
        yield reader, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_http_flood_at_most_one_read_per_ttl(served: tuple[SlowReader, int]) -> None:
    """40 clients polling over real HTTP for ~3 s: reads <= TTL periods elapsed (+1)."""
    reader, port = served
    codes: list[int] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + 3.0
    started = time.monotonic()

    def client() -> None:
        while time.monotonic() < stop_at:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", "/clustercheck")
                response = conn.getresponse()
                response.read()
                with lock:
                    codes.append(response.status)
            finally:
                conn.close()

    threads = [threading.Thread(target=client) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    elapsed = time.monotonic() - started
    periods = int(elapsed / 1.0) + 1
    print(f"{len(codes)} polls in {elapsed:.2f}s, {reader.reads} status reads (TTL 1 s)")
    assert codes and set(codes) == {200}
    assert len(codes) > 10 * periods  # a flood, not a trickle
    # A read is due once per TTL; it takes 0.2 s, so a period starts at most every 1.0 s.
    assert 1 <= reader.reads <= periods


def test_maintenance_source(tmp_path: Path) -> None:
    def values(collector: MaintenanceCollector) -> dict[str, float]:
        scrape = Scrape(deadline=time.monotonic() + 1)
        return {m.name: m.samples[0].value for m in collector.collect(scrape)}

    assert values(MaintenanceCollector("")) == {}  # off: no series, no false "absent"
    marker = tmp_path / "maintenance"
    collector = MaintenanceCollector(str(marker))
    assert values(collector) == {"galera_maintenance": 0.0}
    marker.write_text("reboot all three for the kernel update\n")
    got = values(collector)
    assert got["galera_maintenance"] == 1.0
    assert got["galera_maintenance_since_timestamp_seconds"] == pytest.approx(
        marker.stat().st_mtime
    )
    marker.unlink()
    marker.mkdir()  # exists, but no regular file: unknown, never a 0
    with pytest.raises(CollectorError):
        values(collector)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(CollectorError):
        values(MaintenanceCollector(str(fifo)))
    assert time.monotonic() - started < 1.0  # a FIFO never blocks the scrape


def test_flags() -> None:
    args = build_parser().parse_args(
        [
            "--web.serving-path=/clustercheck",
            "--serving.available-when-donor",
            "--no-serving.available-when-readonly",
            "--serving.cache-ttl=0.5",
            "--maintenance.file=/etc/galera-exporter/maintenance",
        ]
    )
    cfg = config.load(args, COLLECTOR_NAMES, env={})
    assert cfg.web.serving_path == "/clustercheck"
    assert cfg.serving == config.ServingConfig(True, False, 0.5, False)
    assert cfg.maintenance.file == "/etc/galera-exporter/maintenance"
    defaults = config.load(build_parser().parse_args([]), COLLECTOR_NAMES, env={})
    assert defaults.web.serving_path == "" and defaults.maintenance.file == ""
    assert defaults.serving == config.ServingConfig(False, True, 2.0, False)


@pytest.mark.parametrize(
    ("flag", "problem"),
    [
        ("--web.serving-path=/metrics", "web.serving_path"),
        ("--web.serving-path=/-/healthy", "web.serving_path"),
        ("--web.serving-path=clustercheck", "web.serving_path"),
        ("--serving.cache-ttl=0", "--serving.cache-ttl"),
        ("--serving.cache-ttl=3600", "--serving.cache-ttl"),
    ],
)
def test_bad_flags(flag: str, problem: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        config.load(build_parser().parse_args([flag]), COLLECTOR_NAMES, env={})
    assert any(problem in p for p in err.value.problems), err.value.problems


def test_reload_installs_the_serving_settings() -> None:
    """A reload (SIGHUP) swaps the endpoint's path and TTL like the other web settings."""
    args = build_parser().parse_args(
        ["--web.serving-path=/lb", "--serving.cache-ttl=3", "--serving.require-auth"]
    )
    cfg = config.load(args, COLLECTOR_NAMES, env={})
    settings = app_settings(cfg, WebSettings())
    assert (settings.serving_path, settings.serving_cache_seconds) == ("/lb", 3.0)
    assert settings.serving_require_auth is True
    # A changed policy rebuilds the wsrep collector (its metric uses it); the marker path only
    # the maintenance collector.
    donor = build_parser().parse_args(["--serving.available-when-donor"])
    other = config.load(donor, COLLECTOR_NAMES, env={})
    assert collector_inputs("wsrep", cfg) != collector_inputs("wsrep", other)
    assert collector_inputs("maintenance", cfg) == collector_inputs("maintenance", other)
