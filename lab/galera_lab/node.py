"""One real MariaDB Galera node on a loopback address: its files, process and faults.

Recipe and pitfalls: shared/reference/galera-lab.md. mariadbd runs as root with
--defaults-file first (so /etc/mysql is never read), mariabackup SST (rsync SST fails as root),
and a restart after a crash recovers the position first, as Debian's galera_recovery does.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from galera_lab.wait import wait_for

MARIADBD = (
    shutil.which("mariadbd", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", "")) or "mariadbd"
)
GALERA_PROVIDER = "/usr/lib/galera/libgalera_smm.so"
# MariaDB >= 10.9 writes its wsrep state (and SST/IST progress) as JSON to this file, relative
# to the datadir; the exporter's statusfile collector reads it, also while mysqld is down.
STATUS_FILE = "wsrep_status.json"
# Popen objects of the mariadbd processes this Python process started, so that stop/kill can
# reap them at once (an unreaped child lingers as a zombie) and none is garbage-collected
# while still running. Processes started by another invocation are handled by pid alone.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
RECOVERED_RE = re.compile(r"WSREP: Recovered position:\s+([0-9a-f-]{36}):(-?\d+)")


@dataclass(frozen=True)
class NodeSpec:
    """Where one node lives: its name, loopback address, ports and the cluster it belongs to."""

    name: str
    address: str
    base_dir: Path
    peers: tuple[str, ...]  # gcomm addresses "ip:port" of every node, this one included
    cluster_name: str = "galera_lab"
    mysql_port: int = 3306
    gcomm_port: int = 4567
    ist_port: int = 4568
    sst_port: int = 4444
    extra_mysqld: dict[str, str] = field(default_factory=dict)


class NodeError(RuntimeError):
    pass


def process_alive(pid: int) -> bool:
    """True if pid runs and is not a zombie (a SIGKILLed child of PID 1 lingers as Z)."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]
        return False
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("State:"):
            return "Z" not in line.split()[1]
    return False


class Node:
    """A mariadbd process with its own datadir; all paths under spec.base_dir/spec.name."""

    def __init__(self, spec: NodeSpec) -> None:
        self.spec = spec
        self.dir = spec.base_dir / spec.name
        self.datadir = self.dir / "data"
        self.socket = self.dir / "mysqld.sock"
        self.error_log = self.dir / "error.log"
        self.my_cnf = self.dir / "my.cnf"
        self.pid_file = self.dir / "lab.pid"  # ours; mariadbd's own is mysqld.pid
        self.grastate = self.datadir / "grastate.dat"
        self.gvwstate = self.datadir / "gvwstate.dat"
        self.status_file = self.datadir / STATUS_FILE

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def gcomm_address(self) -> str:
        return f"{self.spec.address}:{self.spec.gcomm_port}"

    # ---------------------------------------------------------------- files
    def write_config(self) -> None:
        s = self.spec
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "tmp").mkdir(exist_ok=True)
        (self.dir / "sst_log_archive").mkdir(exist_ok=True)
        extra = "".join(f"{k} = {v}\n" for k, v in s.extra_mysqld.items())
        # [sst] sockopt: mariabackup's joiner runs `socat TCP-LISTEN:<port>` on 0.0.0.0 whatever
        # wsrep_sst_receive_address says, so two SSTs anywhere on the machine collide on the
        # port ("Address already in use", joiner aborts). bind= keeps it on the node's address
        # (and the donor's outgoing connection too).
        self.my_cnf.write_text(
            f"""[client]
socket = {self.socket}
user = root
[mysqld]
user = root
datadir = {self.datadir}
tmpdir = {self.dir / "tmp"}
socket = {self.socket}
pid-file = {self.dir / "mysqld.pid"}
log-error = {self.error_log}
bind-address = {s.address}
port = {s.mysql_port}
skip-name-resolve
innodb_buffer_pool_size = 64M
innodb_log_file_size = 48M
binlog_format = ROW
default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
wsrep_on = ON
wsrep_provider = {GALERA_PROVIDER}
wsrep_cluster_name = {s.cluster_name}
wsrep_cluster_address = gcomm://{",".join(s.peers)}
wsrep_node_name = {s.name}
wsrep_node_address = {s.address}:{s.gcomm_port}
wsrep_node_incoming_address = {s.address}:{s.mysql_port}
wsrep_sst_method = mariabackup
wsrep_sst_receive_address = {s.address}:{s.sst_port}
wsrep_provider_options = "gmcast.listen_addr=tcp://{s.address}:{s.gcomm_port};ist.recv_addr={s.address}:{s.ist_port};gcache.size=64M"
wsrep_sst_auth = root:
wsrep_status_file = {STATUS_FILE}
{extra}[sst]
sst-log-archive-dir = {self.dir / "sst_log_archive"}
sockopt = bind={s.address}
"""
        )

    def init_datadir(self) -> None:
        """Create an empty datadir with mariadb-install-db (about 0.6 s)."""
        self.write_config()
        if (self.datadir / "mysql").is_dir():
            return
        self.datadir.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [
                "mariadb-install-db",
                f"--defaults-file={self.my_cnf}",
                "--user=root",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise NodeError(f"{self.name}: mariadb-install-db failed: {result.stderr[-2000:]}")

    def read_grastate(self) -> str:
        try:
            return self.grastate.read_text()
        except FileNotFoundError:
            return ""

    def grastate_fields(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        for line in self.read_grastate().splitlines():
            key, sep, value = line.partition(":")
            if sep and not key.startswith("#"):
                fields[key.strip()] = value.strip()
        return fields

    def set_safe_to_bootstrap(self, value: int) -> None:
        """What `cfg-cm-cluster --force-safe-to-bootstrap` does: edit grastate.dat."""
        text = self.read_grastate()
        if not text:
            raise NodeError(f"{self.name}: no grastate.dat")
        if "safe_to_bootstrap:" in text:
            text = re.sub(r"safe_to_bootstrap:\s*\d", f"safe_to_bootstrap: {value}", text)
        else:
            text += f"safe_to_bootstrap: {value}\n"
        self.grastate.write_text(text)

    # -------------------------------------------------------------- process
    @property
    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if process_alive(pid) else None

    def is_running(self) -> bool:
        return self.pid is not None

    def start(
        self,
        bootstrap: bool = False,
        start_position: str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> int:
        """Launch mariadbd in the background (its own session) and return its pid at once."""
        if self.is_running():
            raise NodeError(f"{self.name} is already running (pid {self.pid})")
        self.init_datadir()
        args = [MARIADBD, f"--defaults-file={self.my_cnf}", "--user=root"]
        if bootstrap:
            args.append("--wsrep-new-cluster")
        if start_position:
            args.append(f"--wsrep_start_position={start_position}")
        args.extend(extra_args)
        with open(self.dir / "mariadbd.out", "ab") as out:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                close_fds=True,
            )
        _CHILDREN[proc.pid] = proc
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc.pid

    def recover_position(self) -> str | None:
        """`mariadbd --wsrep-recover`: the committed '<uuid>:<seqno>' (grastate untouched)."""
        self.write_config()
        log_file = self.dir / "wsrep-recover.log"
        result = subprocess.run(
            [
                MARIADBD,
                f"--defaults-file={self.my_cnf}",
                "--user=root",
                "--wsrep-recover",
                f"--log-error={log_file}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        text = log_file.read_text(errors="replace") if log_file.exists() else ""
        text += result.stderr
        # Append the recover run's lines to the node's error log, like galera_recovery's
        # journal: the exporter's error-log follower reads "Recovered position" from there.
        with open(self.error_log, "a", encoding="utf-8") as err_log:
            err_log.write(text)
        log_file.unlink(missing_ok=True)
        matches = RECOVERED_RE.findall(text)
        if not matches:
            return None
        uuid, seqno = matches[-1]
        return f"{uuid}:{seqno}"

    def start_after_crash(self) -> int:
        """Debian's galera_recovery: if grastate seqno is -1, recover and pass the position."""
        position = None
        if self.grastate_fields().get("seqno", "-1") == "-1":
            position = self.recover_position()
        return self.start(start_position=position)

    def stop(self, timeout: float = 60.0) -> None:
        """Graceful shutdown (SIGTERM) and wait for the process to exit."""
        pid = self.pid
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        wait_for(
            f"{self.name} (pid {pid}) to exit after SIGTERM",
            lambda: not process_alive(pid),
            timeout,
        )

    def kill(self, timeout: float = 30.0) -> None:
        """kill -9, then wait until the process is really gone (not even a zombie)."""
        pid = self.pid
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        wait_for(
            f"{self.name} (pid {pid}) gone after SIGKILL", lambda: not process_alive(pid), timeout
        )

    def freeze(self) -> None:
        pid = self.pid
        if pid is not None:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        pid = self.pid
        if pid is not None:
            os.kill(pid, signal.SIGCONT)

    # ---------------------------------------------------------------- SQL
    def connect(
        self, timeout: float = 5.0
    ) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
        """As root over the node's socket (unix_socket authentication, we run as OS root)."""
        conn = pymysql.connect(
            unix_socket=str(self.socket),
            user="root",
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
            autocommit=True,
            defer_connect=True,
        )
        # We open the socket ourselves: pymysql leaks it (ResourceWarning) when connecting to
        # the socket of a stopped node fails, and the lab probes stopped nodes all the time.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(self.socket))
        except OSError as err:
            sock.close()
            raise pymysql.err.OperationalError(
                2002, f"Can't connect to local server through socket '{self.socket}' ({err})"
            ) from None
        conn.connect(sock)
        return conn

    def query(
        self, sql: str, timeout: float = 5.0, args: tuple[object, ...] | None = None
    ) -> list[tuple[object, ...]]:
        conn = self.connect(timeout)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        finally:
            conn.close()

    def wsrep_status(self, timeout: float = 5.0) -> dict[str, str]:
        rows = self.query("SHOW GLOBAL STATUS LIKE 'wsrep%'", timeout)
        return {str(k): "" if v is None else str(v) for k, v in rows}

    def synced(self) -> bool:
        try:
            status = self.wsrep_status(timeout=2.0)
        except (pymysql.err.MySQLError, OSError):
            return False
        return (
            status.get("wsrep_local_state_comment") == "Synced"
            and status.get("wsrep_cluster_status") == "Primary"
            and status.get("wsrep_ready") == "ON"
        )

    def wait_synced(self, timeout: float = 90.0) -> None:
        pid = self.pid

        def probe() -> bool:
            if pid is not None and not process_alive(pid):
                tail = (
                    self.error_log.read_text(errors="replace")[-3000:]
                    if self.error_log.exists()
                    else ""
                )
                raise NodeError(f"{self.name} exited while starting; error log tail:\n{tail}")
            return self.synced()

        wait_for(
            f"{self.name} Synced and Primary", probe, timeout, interval=0.2, fatal=(NodeError,)
        )

    def wait_answering(self, timeout: float = 60.0) -> None:
        """mysqld accepts connections (any wsrep state)."""
        wait_for(f"{self.name} answering SQL", lambda: self.query("SELECT 1", 2.0), timeout, 0.2)


def wait_gone(node: Node, timeout: float = 30.0) -> None:
    wait_for(f"{node.name} stopped", lambda: not node.is_running(), timeout)


def elapsed(started: float) -> str:
    return f"{time.monotonic() - started:.1f}s"
