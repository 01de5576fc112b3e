"""Rule evaluation time on a real Prometheus for 1,000 clusters x 3 nodes of synthetic series.

    python bench/rules_bench.py                        # 1,000 clusters x 3 nodes
    python bench/rules_bench.py --clusters 3000 --cycles 3
    python bench/rules_bench.py --rules-dir /tmp/old-rules   # e.g. `git archive` of an old commit

A fake scrape target serves, for every node, a real exposition of galera-exporter (the golden
files of tests/fixtures/states, captured from real nodes) with per-cluster UUIDs, addresses
and node names, in a mix of states (healthy, a crashed node, a donor/joiner pair, non-Primary).
Prometheus scrapes the 3,000 targets (job "galera", target labels cluster and instance, as the
recording rules expect), loads every rules/*.yml, and the group evaluation times are read from
its own /api/v1/rules. Figures only; nothing is asserted.

Absolute times on a shared machine vary by +-25 %, so the figure that counts is a ratio measured
in one run: a "floor" group of four trivial per-cluster aggregations over the raw per-node series
(FLOOR below) is loaded into the same Prometheus, and the total of the project's groups is
printed as a multiple of it (goal: <= 3x).
"""

from __future__ import annotations

import argparse
import glob
import http.server
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, ClassVar

from galera_lab.procs import free_port
from galera_lab.wait import wait_for

REPO = Path(__file__).resolve().parents[1]
STATES = REPO / "tests" / "fixtures" / "states"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ADDR_RE = re.compile(r"127\.0\.0\.(\d+)")
# Clusters cycle through BROKEN after --healthy healthy ones: one crashed node, a donor
# feeding a joiner, a cluster that lost quorum.
HEALTHY = ("synced", "synced", "synced")
BROKEN = (
    ("synced", "synced", "down_crashed"),
    ("donor", "joiner", "synced"),
    ("non_primary", "non_primary", "non_primary"),
)


# The status_file and gra_log families of the matching captured state (tests/fixtures/statusfile
# goldens), appended to each node's exposition so the galera-recovery group reads what a real
# node exports: a transfer series only on donors and joiners, no progress (MariaDB 10.11).
STATUS_FILE_GOLDEN = REPO / "tests" / "fixtures" / "statusfile" / "expected"
STATUS_FILE_STATE = {
    "synced": "synced",
    "donor": "donor",
    "joiner": "joiner_sst",
    "down_crashed": "synced",  # kill -9 leaves the last state written
    "non_primary": "synced",
}
RECOVERY_FAMILIES = ("galera_status_file_", "galera_gra_log_")


def recovery_families(state: str) -> str:
    path = STATUS_FILE_GOLDEN / f"{STATUS_FILE_STATE.get(state, 'stopped')}.prom"
    if not path.exists():
        return ""
    keep = []
    for line in path.read_text().splitlines():
        name = line.split()[2] if line.startswith("# ") else line
        if name.startswith(RECOVERY_FAMILIES):
            keep.append(line)
    return "".join(line + "\n" for line in keep)


# The floor: what any per-cluster rule set must at least pay, reading four per-node series once.
FLOOR = """\
groups:
  - name: floor
    rules:
      - record: floor:up:sum
        expr: sum by (cluster) (up{job="galera"})
      - record: floor:galera_up:sum
        expr: sum by (cluster) (galera_up)
      - record: floor:galera_primary:sum
        expr: sum by (cluster) (galera_cluster_status{status="Primary"})
      - record: floor:galera_safe_to_bootstrap:max
        expr: max by (cluster) (galera_grastate_safe_to_bootstrap)
"""


def body_for(template: str, state: str, cluster: int, node: int, nodes: int) -> bytes:
    """The fixture's exposition made to belong to node `node` of cluster `cluster`.

    The fixtures were captured at different moments, so the facts that nodes of one cluster
    share are made consistent: one cluster state uuid, and one member list for every node of
    the Primary component (a non-Primary node sees only itself).
    """
    cluster_uuids = set(
        re.findall(r'(?:cluster_state_uuid|local_state_uuid)="([0-9a-f-]{36})"', template)
    )
    cluster_uuids |= set(re.findall(r'galera_grastate_info\{uuid="([0-9a-f-]{36})"', template))
    cluster_uuid = str(uuid.uuid5(uuid.NAMESPACE_OID, f"cluster/{cluster}"))
    mapping: dict[str, str] = {}

    def new_uuid(match: re.Match[str]) -> str:
        original = match.group(0)
        if original == "00000000-0000-0000-0000-000000000000":
            return original
        if original in cluster_uuids:
            return cluster_uuid
        if original not in mapping:
            mapping[original] = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{cluster}/{node}/{original}"))
        return mapping[original]

    def address(n: int) -> str:
        return f"10.{cluster // 250}.{cluster % 250}.{n + 1}:3306"

    members = [address(node)] if state == "non_primary" else [address(n) for n in range(nodes)]
    text = UUID_RE.sub(new_uuid, template)
    text = re.sub(r'members="[^"]*"', f'members="{",".join(members)}"', text)
    text = re.sub(r"^galera_component_members .*$", f"galera_component_members {len(members)}.0",
                  text, flags=re.MULTILINE)  # fmt: skip
    text = ADDR_RE.sub(lambda m: f"10.{cluster // 250}.{cluster % 250}.{m.group(1)}", text)
    text = text.replace('node_name="node1"', f'node_name="node{node + 1}"')
    return text.encode()


class Targets(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[dict[str, bytes]] = {}
    protocol_version = "HTTP/1.1"  # keep-alive, as Prometheus uses it

    def do_GET(self) -> None:
        body = self.bodies.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Prometheus closing a keep-alive connection at shutdown is not news."""


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def api(base: str, path: str, **params: str) -> Any:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}" if params else f"{base}{path}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())["data"]


def query_value(base: str, expr: str) -> float:
    result = api(base, "/api/v1/query", query=expr)["result"]
    return float(result[0]["value"][1]) if result else 0.0


def print_per_rule(seen: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Every rule's median evaluation time, in group order."""
    for name, evaluations in seen.items():
        per_rule: dict[str, list[float]] = {}
        for group in evaluations.values():
            for i, r in enumerate(group["rules"]):
                per_rule.setdefault(f"{i:02d} {r['name']}", []).append(r["evaluationTime"])
        print(f"\n{name}: median ms per rule")
        for rule, times in per_rule.items():
            print(f"  {statistics.median(times) * 1000:8.2f}  {rule}")


def main() -> int:  # noqa: PLR0912, PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--scrape-interval", default="30s")
    parser.add_argument("--eval-interval", default="15s")
    parser.add_argument("--cycles", type=int, default=5, help="evaluations to sample per group")
    parser.add_argument(
        "--healthy",
        type=int,
        default=97,
        help="healthy clusters before each run of the 3 broken kinds (97: 3%% broken; 7: 30%%)",
    )
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--per-rule", action="store_true", help="print every rule's time")
    parser.add_argument(
        "--rules-dir", type=Path, default=REPO / "rules", help="where the *.yml rule files are"
    )
    args = parser.parse_args()
    rule_files = sorted(glob.glob(str(args.rules_dir.resolve() / "*.yml")))
    print(f"rule files: {', '.join(Path(f).name for f in rule_files) or 'none'}")
    if not rule_files:
        print("no rules/*.yml: nothing to evaluate", file=sys.stderr)
        return 2
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            print(f"{tool} missing: apt-get install prometheus", file=sys.stderr)
            return 2

    templates = {p.name: (p / "expected.prom").read_text() + recovery_families(p.name)
                 for p in STATES.iterdir() if (p / "expected.prom").exists()}  # fmt: skip
    scenarios = (HEALTHY,) * args.healthy + BROKEN
    Targets.bodies = {}
    for c in range(args.clusters):
        for n in range(args.nodes):
            state = scenarios[c % len(scenarios)][n % 3]
            Targets.bodies[f"/m/{c}/{n}"] = body_for(templates[state], state, c, n, args.nodes)
    broken = sum(1 for c in range(args.clusters) if scenarios[c % len(scenarios)] != HEALTHY)
    print(f"{args.clusters} clusters, {broken} of them broken")
    per_target = statistics.mean(len(b) for b in Targets.bodies.values())
    samples = sum(
        sum(1 for line in b.splitlines() if line and not line.startswith(b"#"))
        for b in Targets.bodies.values()
    )
    print(
        f"{len(Targets.bodies)} targets, {samples} samples per scrape round "
        f"({per_target / 1024:.1f} KiB per target)"
    )

    work = Path(tempfile.mkdtemp(prefix="galera-rules-bench-", dir="/var/tmp"))
    server = QuietServer(("127.0.0.1", free_port()), Targets)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target_port = server.server_address[1]
    prom: subprocess.Popen[bytes] | None = None
    try:
        sd = [
            {
                "targets": [f"127.0.0.1:{target_port}"],
                "labels": {
                    "__metrics_path__": f"/m/{c}/{n}",
                    "cluster": f"c{c:04d}",
                    "instance": f"c{c:04d}-node{n + 1}",
                },
            }
            for c in range(args.clusters)
            for n in range(args.nodes)
        ]
        (work / "targets.json").write_text(json.dumps(sd))
        (work / "floor.yml").write_text(FLOOR)
        rule_files.append(str(work / "floor.yml"))
        config = {
            "global": {
                "scrape_interval": args.scrape_interval,
                "scrape_timeout": "10s",
                "evaluation_interval": args.eval_interval,
            },
            "rule_files": rule_files,
            "scrape_configs": [
                {"job_name": "galera", "file_sd_configs": [{"files": [str(work / "targets.json")]}]}
            ],
        }
        (work / "prometheus.yml").write_text(json.dumps(config, indent=1))  # JSON is YAML
        check = subprocess.run(
            ["promtool", "check", "config", str(work / "prometheus.yml")],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if check.returncode != 0:
            print(check.stdout + check.stderr, file=sys.stderr)
            return 1
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with open(work / "prometheus.log", "wb") as log:
            prom = subprocess.Popen(
                ["prometheus", f"--config.file={work / 'prometheus.yml'}",
                 f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        started = time.monotonic()
        wait_for(
            "Prometheus ready", lambda: urllib.request.urlopen(f"{base}/-/ready", timeout=2), 60
        )
        total = args.clusters * args.nodes
        wait_for(
            f"all {total} targets scraped (up == 1)",
            lambda: query_value(base, 'count(up{job="galera"} == 1)') >= total,
            600,
            interval=2,
        )
        # Two more scrape rounds so range functions have data, then sample evaluations.
        rounds_from = time.time()
        interval = float(args.scrape_interval.rstrip("s"))
        wait_for(
            "two more scrape rounds",
            lambda: time.time() - rounds_from > 2 * interval,
            4 * interval,
            1,
        )
        head = api(base, "/api/v1/status/tsdb")["headStats"]
        print(
            f"series in the head: {head['numSeries']}; "
            f"ready after {time.monotonic() - started:.0f}s"
        )
        seen: dict[str, dict[str, dict[str, Any]]] = {}

        def sampled_enough() -> bool:
            for group in api(base, "/api/v1/rules")["groups"]:
                seen.setdefault(group["name"], {})[group["lastEvaluation"]] = group
            return bool(seen) and all(len(v) >= args.cycles for v in seen.values())

        wait_for(
            f"{args.cycles} evaluations of every group",
            sampled_enough,
            (args.cycles + 2) * float(args.eval_interval.rstrip("s")) + 60,
            interval=1,
        )
        print(
            f"\n{'group':28} {'rules':>5} {'median ms':>10} {'max ms':>8}  slowest rules (ms, last)"
        )
        worst = 0.0
        medians: dict[str, float] = {}
        for name, evaluations in seen.items():
            times = [g["evaluationTime"] * 1000 for g in evaluations.values()]
            last = evaluations[max(evaluations)]
            slow = sorted(last["rules"], key=lambda r: r["evaluationTime"], reverse=True)[:4]
            slowest = ", ".join(
                f"{r.get('name', '?')} {r['evaluationTime'] * 1000:.1f}" for r in slow
            )
            medians[name] = statistics.median(times)
            worst = max(worst, medians[name] if name != "floor" else 0.0)
            print(
                f"{name:28} {len(last['rules']):5d} {statistics.median(times):10.1f} "
                f"{max(times):8.1f}  {slowest}"
            )
        if args.per_rule:
            print_per_rule(seen)
        floor = medians.pop("floor")
        total_ms = sum(medians.values())
        print(
            f"\nall project groups {total_ms:.1f} ms per cycle; floor group {floor:.1f} ms; "
            f"ratio {total_ms / floor:.1f}x the floor (goal <= 3x)"
        )
        for name, ms in medians.items():
            print(f"  {name:28} {ms / floor:5.2f}x the floor")
        head = api(base, "/api/v1/status/tsdb")["headStats"]
        print(f"series in the head after the rules ran: {head['numSeries']}")
        firing = query_value(base, 'count(ALERTS{alertstate="firing"})')
        pending = query_value(base, 'count(ALERTS{alertstate="pending"})')
        print(
            f"slowest group median {worst:.1f} ms; "
            f"alerts pending {pending:.0f}, firing {firing:.0f}; Prometheus RSS "
            f"{rss_mib(prom.pid):.0f} MiB; "
            f"load average {os.getloadavg()}"
        )
    finally:
        if prom is not None and prom.poll() is None:
            os.kill(prom.pid, signal.SIGTERM)
            try:
                prom.wait(60)
            except subprocess.TimeoutExpired:
                os.kill(prom.pid, signal.SIGKILL)
                prom.wait(30)
        server.shutdown()
        server.server_close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
