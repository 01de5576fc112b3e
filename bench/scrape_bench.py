"""Scrape cost, side by side on one real Galera node: galera-exporter vs prometheus-mysqld-exporter.

    python bench/scrape_bench.py                  # 1,000 alternating scrapes each, 10,000 for RSS
    python bench/scrape_bench.py --scrapes 2000 --rss-scrapes 20000

Starts one Galera node on 127.0.0.45 and three exporters on free 127.0.0.1 ports: ours
(default collectors), Debian's mysqld_exporter with its default collectors, and mysqld_exporter
with only --collect.global_status. Scrapes them in turn (A/B/C, order rotated every round,
a new connection per scrape as Prometheus does after an idle period), then prints: wall time
p50/p90/p99/max, CPU seconds per 1,000 scrapes of each exporter and of mysqld, response size,
our RSS every 1,000 scrapes up to --rss-scrapes, statements and connections each exporter's DB
user made (MariaDB's userstat), and the statements reaching mysqld during an idle period.
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import cpu_seconds, free_port, status_kib, stop_process
from galera_lab.node import Node, NodeSpec, process_alive
from galera_lab.wait import wait_for

ADDRESS = "127.0.0.45"
MYSQLD_EXPORTER = "/usr/bin/prometheus-mysqld-exporter"
# mysqld_exporter 0.14's default collectors besides global_status.
MYSQLD_EXPORTER_DEFAULTS = (
    "global_variables",
    "slave_status",
    "info_schema.innodb_cmp",
    "info_schema.innodb_cmpmem",
    "info_schema.query_response_time",
)
# What mysqld_exporter's default collectors need (galera-lab.md).
MYSQLD_EXPORTER_GRANT = "GRANT PROCESS, REPLICATION CLIENT, SELECT, SLAVE MONITOR ON *.* TO "


def rss_kib(pid: int) -> int:
    return max(0, status_kib(pid, "VmRSS"))


@dataclass
class Target:
    name: str
    argv: list[str]
    db_user: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    times: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    cpu_start: float = 0.0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, log: Path) -> None:
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True
            )
        wait_for(f"{self.name} answering on :{self.port}", lambda: self.scrape(record=False), 30)

    def scrape(self, record: bool = True, path: str = "/metrics") -> bool:
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"{self.name}: HTTP {response.status}")
        if record:
            self.times.append(elapsed)
            self.sizes.append(len(body))
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc, 10)
            wait_for(f"{self.name} exited", lambda: not process_alive(self.pid), 10, quiet=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def user_stats(node: Node, user: str) -> dict[str, int]:
    sql = (
        "SELECT TOTAL_CONNECTIONS, SELECT_COMMANDS, UPDATE_COMMANDS, OTHER_COMMANDS "
        "FROM information_schema.USER_STATISTICS WHERE USER = %s"
    )
    rows = node.query(sql.replace("%s", f"'{user}'"))
    if not rows:
        return {"connections": 0, "statements": 0}
    connections, selects, updates, other = (int(str(v)) for v in rows[0])
    return {"connections": connections, "statements": selects + updates + other}


def connections_of(node: Node, user: str) -> int:
    rows = node.query(
        f"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '{user}'"  # noqa: S608
    )
    return int(str(rows[0][0]))


def global_status(node: Node, *names: str) -> dict[str, int]:
    quoted = ", ".join(f"'{n}'" for n in names)
    rows = node.query(f"SHOW GLOBAL STATUS WHERE Variable_name IN ({quoted})")
    return {str(k): int(str(v)) for k, v in rows}


def main() -> int:  # noqa: PLR0912, PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scrapes", type=int, default=1000, help="alternating scrapes per exporter"
    )
    parser.add_argument(
        "--rss-scrapes", type=int, default=10_000, help="our scrapes for the RSS curve"
    )
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if not Path(MYSQLD_EXPORTER).exists():
        print(
            f"{MYSQLD_EXPORTER} missing: apt-get install prometheus-mysqld-exporter",
            file=sys.stderr,
        )
        return 2

    work = Path(tempfile.mkdtemp(prefix="galera-scrape-bench-", dir="/var/tmp"))
    node = Node(NodeSpec("bench1", ADDRESS, work, (f"{ADDRESS}:4567",)))
    targets: list[Target] = []
    try:
        print(f"load average at start: {os.getloadavg()} ({os.cpu_count()} CPUs)")
        started = time.monotonic()
        node.start(bootstrap=True)
        node.wait_synced(90)
        print(f"node {ADDRESS} Synced in {time.monotonic() - started:.1f}s")
        node.query("SET GLOBAL userstat = 1")
        grants = {
            "bench_ours": "",  # none: SHOW STATUS/VARIABLES need no privilege
            "bench_mysqld_exp": MYSQLD_EXPORTER_GRANT,
            "bench_mysqld_exp_gs": MYSQLD_EXPORTER_GRANT,
        }
        cnfs = {}
        for user, grant in grants.items():
            node.query(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'bench-{user}'")
            if grant:
                node.query(f"{grant}'{user}'@'localhost'")
            cnf = work / f"{user}.cnf"
            cnf.write_text(f"[client]\nuser={user}\npassword=bench-{user}\nsocket={node.socket}\n")
            cnf.chmod(0o600)
            cnfs[user] = cnf
        backend_log = work / "backend.log"
        backend_log.touch()

        ours = Target("galera-exporter", [], "bench_ours")
        ours.argv = [
            sys.executable, "-m", "galera_exporter", f"--web.listen-address=127.0.0.1:{ours.port}",
            f"--mysql.defaults-file={cnfs['bench_ours']}", f"--galera.datadir={node.datadir}",
            f"--backend.log-file={backend_log}",
        ]  # fmt: skip
        theirs = Target("mysqld_exporter default", [], "bench_mysqld_exp")
        theirs.argv = [
            MYSQLD_EXPORTER, f"--web.listen-address=127.0.0.1:{theirs.port}",
            f"--config.my-cnf={cnfs['bench_mysqld_exp']}",
        ]  # fmt: skip
        theirs_gs = Target("mysqld_exporter global_status", [], "bench_mysqld_exp_gs")
        theirs_gs.argv = [
            MYSQLD_EXPORTER, f"--web.listen-address=127.0.0.1:{theirs_gs.port}",
            f"--config.my-cnf={cnfs['bench_mysqld_exp_gs']}", "--collect.global_status",
            *(f"--no-collect.{name}" for name in MYSQLD_EXPORTER_DEFAULTS),
        ]  # fmt: skip
        targets = [ours, theirs, theirs_gs]
        for target in targets:
            target.start(work / f"{target.db_user}.log")
        for target in targets:  # warm-up: connections made, caches filled
            for _ in range(50):
                target.scrape(record=False)
        before_users = {t.db_user: user_stats(node, t.db_user) for t in targets}
        mysqld_cpu0 = cpu_seconds(node.pid or 0)
        for target in targets:
            target.cpu_start = cpu_seconds(target.pid)

        print(f"\n== {args.scrapes} alternating scrapes per exporter (order rotated every round)")
        bench_started = time.monotonic()
        for i in range(args.scrapes):
            for k in range(len(targets)):
                targets[(i + k) % len(targets)].scrape()
        bench_seconds = time.monotonic() - bench_started
        mysqld_cpu = cpu_seconds(node.pid or 0) - mysqld_cpu0
        after_users = {t.db_user: user_stats(node, t.db_user) for t in targets}

        header = f"{'exporter':32} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        header += f"{'CPU s/1000':>11} {'bytes':>8} {'new DB conns':>12}"
        print(header)
        results: dict[str, dict[str, float]] = {}
        for t in targets:
            cpu = cpu_seconds(t.pid) - t.cpu_start
            conns = after_users[t.db_user]["connections"] - before_users[t.db_user]["connections"]
            row = {
                "p50": percentile(t.times, 0.5) * 1000,
                "p90": percentile(t.times, 0.9) * 1000,
                "p99": percentile(t.times, 0.99) * 1000,
                "max": max(t.times) * 1000,
                "cpu": cpu * 1000 / len(t.times),
                "bytes": statistics.median(t.sizes),
                "conns": conns,
            }
            results[t.name] = row
            print(
                f"{t.name:32} {row['p50']:8.2f} {row['p90']:8.2f} {row['p99']:8.2f} "
                f"{row['max']:8.2f} {row['cpu']:11.3f} {row['bytes']:8.0f} {conns:12.0f}"
            )
        print(
            f"mysqld CPU for all three: {mysqld_cpu:.2f}s over {bench_seconds:.1f}s "
            f"({mysqld_cpu * 1000 / (args.scrapes * len(targets)):.3f} s per 1000 scrapes, average)"
        )
        r_ours, r_def = results[ours.name], results[theirs.name]
        print(
            f"\nours/mysqld_exporter default: p50 {r_ours['p50'] / r_def['p50']:.2f}x "
            "(target <= 0.5), "
            f"p99 {r_ours['p99']:.2f} ms (target < 10), CPU {r_ours['cpu'] / r_def['cpu']:.2f}x "
            f"(target <= 1); vs global_status only: p50 "
            f"{r_ours['p50'] / results[theirs_gs.name]['p50']:.2f}x, CPU "
            f"{r_ours['cpu'] / results[theirs_gs.name]['cpu']:.2f}x"
        )

        print("\n== the floor: HTTP only (no DB, no metrics), 1000 requests alternating")
        floor: dict[str, list[float]] = {ours.name: [], theirs.name: []}
        for i in range(1000):
            for t, path in ((ours, "/-/healthy"), (theirs, "/"))[:: 1 if i % 2 else -1]:
                t.times.clear()
                t.scrape(path=path)
                floor[t.name].append(t.times[0])
        for name, values in floor.items():
            print(
                f"{name:32} p50 {percentile(values, 0.5) * 1000:.2f} ms, "
                f"p99 {percentile(values, 0.99) * 1000:.2f} ms  (ours /-/healthy, theirs /)"
            )

        print(f"\n== each exporter alone, {args.scrapes} scrapes: mysqld's cost, statements")
        for t in targets:
            cpu0 = cpu_seconds(node.pid or 0)
            q0 = global_status(node, "Questions", "Com_show_status", "Com_select")
            for _ in range(args.scrapes):
                t.scrape(record=False)
            q1 = global_status(node, "Questions", "Com_show_status", "Com_select")
            per = {k: (q1[k] - q0[k] - (1 if k in ("Questions", "Com_show_status") else 0))
                   / args.scrapes for k in q0}  # fmt: skip
            mysqld = (cpu_seconds(node.pid or 0) - cpu0) * 1000 / args.scrapes
            print(
                f"{t.name:32} mysqld CPU {mysqld:.3f} s/1000 scrapes; per scrape: "
                f"{per['Questions']:.1f} statements ({per['Com_show_status']:.1f} SHOW STATUS, "
                f"{per['Com_select']:.1f} SELECT)"
            )

        print(f"\n== idle {args.idle_seconds:.0f}s, no scrapes: statements reaching mysqld")
        q0 = global_status(node, "Questions", "Connections")
        q0b = global_status(node, "Questions", "Connections")
        own = q0b["Questions"] - q0["Questions"]  # one per SHOW GLOBAL STATUS of this script
        time.sleep(args.idle_seconds)  # the idle period itself is what is measured
        q1 = global_status(node, "Questions", "Connections")
        print(
            f"Questions +{q1['Questions'] - q0b['Questions'] - own}, Connections "
            f"+{q1['Connections'] - q0b['Connections'] - 1} (this script's own read excluded)"
        )

        print(f"\n== our RSS over {args.rss_scrapes} sequential scrapes (KiB)")
        curve = [rss_kib(ours.pid)]
        conns0 = user_stats(node, ours.db_user)["connections"]
        ours.times.clear()
        cpu0 = cpu_seconds(ours.pid)
        for i in range(1, args.rss_scrapes + 1):
            ours.scrape()
            if i % 1000 == 0:
                curve.append(rss_kib(ours.pid))
        print(" ".join(str(v) for v in curve))
        print(
            "wall time of these scrapes (ours alone): p50 "
            f"{percentile(ours.times, 0.5) * 1000:.2f} ms, "
            f"p99 {percentile(ours.times, 0.99) * 1000:.2f} ms, p99.9 "
            f"{percentile(ours.times, 0.999) * 1000:.2f} ms; CPU "
            f"{(cpu_seconds(ours.pid) - cpu0) * 1000 / args.rss_scrapes:.3f} s/1000"
        )
        print(
            f"after {args.rss_scrapes}: {curve[-1] / 1024:.1f} MiB (target < 40), growth over the "
            f"last {args.rss_scrapes - 1000}: {curve[-1] - curve[1]} KiB; "
            f"mysqld_exporter default RSS {rss_kib(theirs.pid) / 1024:.1f} MiB, "
            f"global_status-only {rss_kib(theirs_gs.pid) / 1024:.1f} MiB"
        )
        print(
            f"our DB connections during those scrapes: "
            f"{user_stats(node, ours.db_user)['connections'] - conns0} new, "
            f"{connections_of(node, ours.db_user)} open now (one, reused)"
        )
        print(f"load average at the end: {os.getloadavg()}")
    finally:
        for target in targets:
            target.stop()
        node.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
