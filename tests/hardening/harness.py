"""Helpers for the hardening tests: the exporter as a real process, scrapes, a fault proxy."""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from galera_lab.node import process_alive
from galera_lab.wait import wait_for
from tests.integration.exporter_process import Samples, parse_exposition
from tests.support.ports import free_port

# A password nobody would type by chance: if it shows up anywhere, it leaked.
DISTINCTIVE_PASSWORD = "Pw-3xq7-LEAKCANARY-91ZbT"  # noqa: S105 - the canary itself


@dataclass
class Response:
    status: int
    body: str
    seconds: float
    headers: dict[str, str]

    def samples(self) -> Samples:
        return parse_exposition(self.body)


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Exporter:
    """galera-exporter as a child process on a free 127.0.0.1 port; stopped by its pid."""

    def __init__(
        self,
        args: Sequence[str],
        log_path: Path,
        *,
        tls_ca: Path | None = None,
        prefix: Sequence[str] = (),
        python: str = sys.executable,
        env: dict[str, str] | None = None,
        wait: bool = True,
        cwd: str | None = None,
    ) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        self.log_path = log_path
        self.tls_context: ssl.SSLContext | None = None
        if tls_ca is not None:
            self.tls_context = ssl.create_default_context(cafile=str(tls_ca))
        self.argv = [
            *prefix,
            python,
            "-m",
            "galera_exporter",
            f"--web.listen-address={self.host}:{self.port}",
            *args,
        ]
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                env=env if env is not None else {**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.pid = self.proc.pid
        if wait:
            wait_for(f"exporter pid {self.pid} on port {self.port} healthy", self.healthy, 30)

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"exporter exited: {self.log_path.read_text()[-3000:]}")
        try:
            return self.get("/-/healthy", timeout=2).status == 200
        except (OSError, http.client.HTTPException):
            return False

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.tls_context is not None:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=self.tls_context
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        timeout: float = 15.0,
    ) -> Response:
        conn = self.connection(timeout)
        started = time.monotonic()
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            body = response.read().decode()
            return Response(
                response.status, body, time.monotonic() - started, dict(response.getheaders())
            )
        finally:
            conn.close()

    def get(
        self, path: str = "/metrics", headers: dict[str, str] | None = None, timeout: float = 15.0
    ) -> Response:
        return self.request("GET", path, headers, timeout)

    def scrape(
        self, scrape_timeout: float | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        all_headers = dict(headers or {})
        if scrape_timeout is not None:
            all_headers["X-Prometheus-Scrape-Timeout-Seconds"] = f"{scrape_timeout:g}"
        response = self.get("/metrics", all_headers, timeout=(scrape_timeout or 10) + 5)
        assert response.status == 200, (response.status, response.body[:500])
        return response

    def status_field(self, name: str) -> int:
        """A number from /proc/PID/status: VmRSS, VmHWM (peak RSS) in KiB, Threads."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
        raise AssertionError(f"no {name}")

    def rss_kib(self) -> int:
        return self.status_field("VmRSS")

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the whole process (all threads)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        wait_for(
            f"exporter pid {self.pid} gone", lambda: not process_alive(self.pid), 10, quiet=True
        )


def offline_exporter(tmp_path: Path, *args: str, **kwargs: object) -> Exporter:
    """An exporter with no mysqld behind it: /metrics still answers (galera_up 0), which is
    all the HTTP tests need, and it leaves the machine's few cores to the server under test."""
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "GALERA_EXPORTER_MYSQL_SOCKET": str(tmp_path / "no-mysqld.sock"),
    }
    datadir = tmp_path / "datadir"
    datadir.mkdir(exist_ok=True)
    return Exporter(
        [f"--galera.datadir={datadir}", "--mysql.timeout=0.5", *args],
        tmp_path / "exporter.log",
        env=env,
        **kwargs,  # type: ignore[arg-type]
    )


class FaultProxy:
    """A TCP proxy in front of mysqld that can delay replies, cut them mid-stream, or refuse.

    It makes "slow server" and "connection dropped mid-query" reproducible at the socket
    level, which is what the exporter sees of them.
    """

    def __init__(self, target: tuple[str, int], host: str = "127.0.0.1") -> None:
        self.target = target
        self.delay = 0.0  # seconds before each server->client chunk is forwarded
        self.cut_after: int | None = None  # close after this many server->client bytes (once)
        self.dribble = 0.0  # if set, server->client bytes go one at a time, this far apart
        self._listener = socket.create_server((host, 0))
        self.address = self._listener.getsockname()[:2]
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        sent_to_client = 0
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([client, server], [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is server:
                        if self.delay:
                            self._stop.wait(self.delay)
                        if (
                            self.cut_after is not None
                            and sent_to_client + len(data) > self.cut_after
                        ):
                            keep = max(self.cut_after - sent_to_client, 0)
                            client.sendall(data[:keep])
                            self.cut_after = None
                            return
                        sent_to_client += len(data)
                        if not self._send(client, data):
                            return
                    else:
                        server.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            server.close()

    def _send(self, client: socket.socket, data: bytes) -> bool:
        """Forward to the client, byte by byte when dribbling; False once the proxy stops."""
        if not self.dribble:
            client.sendall(data)
            return True
        for i in range(len(data)):
            if self._stop.wait(self.dribble):
                return False
            client.sendall(data[i : i + 1])
        return True

    def drop_all(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(5)
        self.drop_all()


def metric(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


FILE_METRICS = (
    "galera_grastate_present",
    "galera_grastate_valid",
    "galera_grastate_seqno",
    "galera_grastate_safe_to_bootstrap",
    "galera_gvwstate_present",
)


def assert_down_with_files(response: Response, limit: float) -> Samples:
    """galera_up 0, every file-based metric present, answered within `limit` seconds."""
    assert response.seconds <= limit, f"scrape took {response.seconds:.2f}s > {limit}s"
    samples = response.samples()
    assert metric(samples, "galera_up") == 0, response.body[:2000]
    names = {name for name, _ in samples}
    missing = [m for m in FILE_METRICS if m not in names]
    assert not missing, f"file metrics missing while mysqld is down: {missing}"
    assert metric(samples, "galera_grastate_valid") == 1
    return samples
