"""`galera-lab`: run the lab cluster and its monitoring stack, break it, and repair it.

  galera-lab up [--nodes 3] [--base-address 127.0.0.11] [--no-monitoring]
  galera-lab status | down [--purge] | reset
  galera-lab stop|kill|start|restart|isolate|heal|freeze|thaw|wipe NODE
  galera-lab scenario NAME            (galera-lab scenario --list)
  galera-lab cfg-cm-cluster --node N --show-cluster-status|--bootstrap-node|...

The lab lives under --dir (default $GALERA_LAB_DIR or the checkout's .lab/); every command
reads the saved state there, so each can run as a separate process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pymysql

from galera_lab import cfgcm, faults, recovery, scenarios
from galera_lab.cluster import DEFAULT_BASE_ADDRESS, Cluster, ClusterError, ClusterSpec
from galera_lab.cluster import default_base_dir as _default_base_dir
from galera_lab.node import Node, NodeError
from galera_lab.stack import Stack
from galera_lab.wait import WaitTimeoutError

NODE_ACTIONS: dict[str, tuple[Callable[[Node], object], str]] = {
    "stop": (faults.stop, "graceful shutdown (SIGTERM)"),
    "kill": (faults.kill, "kill -9 (crash / power cut)"),
    "start": (faults.start, "start like Debian's unit (galera_recovery first)"),
    "restart": (faults.restart, "graceful stop, then start"),
    "isolate": (faults.isolate, "cut group communication (gmcast.isolate=1)"),
    "heal": (faults.heal, "restore group communication (gmcast.isolate=0)"),
    "freeze": (faults.freeze, "SIGSTOP mysqld (hung server)"),
    "thaw": (faults.thaw, "SIGCONT mysqld"),
    "wipe": (faults.wipe, "stop and empty the datadir: the next start is a full SST"),
}


def try_this(cluster: Cluster, base: Path) -> str:
    n2 = cluster.nodes[1] if len(cluster.nodes) > 1 else cluster.nodes[0]
    env = f"GALERA_LAB_DIR={base} " if base != _default_base_dir() else ""
    stack = Stack(cluster)
    alerts = stack.urls.get("prometheus", "<prometheus>") + "/alerts"
    return f"""Try this: break node 2, watch the metrics and alerts, then follow the runbook
  {env}galera-lab kill 2                 # node 2 crashes (kill -9)
  {env}galera-lab status                 # nodes 1 and 3 go on as a 2-node Primary component
  curl -s {_exporter_hint(stack, n2)} | grep -E '^galera_(up|grastate_seqno|gvwstate_present) '
  # alerts (with their runbook_url): {alerts}
  # notifications Alertmanager sent: tail -f {stack.notifications_file}
  {env}galera-lab cfg-cm-cluster --node 2 --restart-node    # the guide's fix (IST, ~3 s)
  {env}galera-lab scenario two-killed    # now the survivor (node 3) turns non-Primary
  {env}galera-lab cfg-cm-cluster --node 3 --show-cluster-status
  {env}galera-lab cfg-cm-cluster --node 3 --force-safe-to-bootstrap
  {env}galera-lab cfg-cm-cluster --node 3 --bootstrap-node
  {env}galera-lab cfg-cm-cluster --node 1 --restart-node    # and node 2 the same way
  {env}galera-lab reset                  # back to healthy from any scenario
Scenarios ({env}galera-lab scenario --list): {", ".join(scenarios.SCENARIOS)}
Stop everything: make demo-down (or {env}galera-lab down --purge)"""


def _exporter_hint(stack: Stack, node: Node) -> str:
    return stack.exporter_url(node) if node.name in stack.exporters else "<exporter URL>"


def cmd_up(args: argparse.Namespace) -> int:
    base = Path(args.dir)
    if (base / "cluster.json").exists() and args.nodes is None and args.base_address is None:
        cluster = Cluster.load(base)
    else:
        cluster = Cluster(
            ClusterSpec(
                base_dir=base,
                size=args.nodes or 3,
                base_address=args.base_address or DEFAULT_BASE_ADDRESS,
            )
        )
    started = time.monotonic()
    print(
        f"[lab] {len(cluster.nodes)} nodes on {', '.join(n.spec.address for n in cluster)} "
        f"under {base}",
        flush=True,
    )
    recovery.up(cluster)
    stack = Stack(cluster, with_prometheus=not args.no_monitoring)
    print(
        "[lab] starting exporters"
        + ("" if args.no_monitoring else ", Prometheus, Alertmanager and the webhook sink"),
        flush=True,
    )
    stack.start()
    print(f"[lab] up in {time.monotonic() - started:.1f}s\n{stack.describe()}", flush=True)
    if stack.rule_files:
        print(f"  {'rule files:':<22}" + ", ".join(stack.rule_files))
    print("\n" + try_this(cluster, base))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    base = Path(args.dir)
    if not (base / "cluster.json").exists():
        print(f"[lab] nothing under {base}")
        return 0
    cluster = Cluster.load(base)
    stopped = Stack(cluster).stop()
    if stopped:
        print(f"[lab] stopped {', '.join(stopped)}")
    cluster.stop_all()
    print("[lab] nodes stopped")
    if args.purge:
        shutil.rmtree(base)
        print(f"[lab] removed {base}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    cluster = Cluster.load(Path(args.dir))
    print(
        f"{'node':<7}{'address':<13}{'pid':>8}  {'cluster':<12}{'size':>4}  {'state':<16}"
        f"{'ready':<6}{'grastate seqno/safe':<20}gvwstate"
    )
    for view in cluster.views():
        node = view.node
        grastate = node.grastate_fields()
        pid = str(node.pid or "-")
        status = view.get("wsrep_cluster_status", "down" if not view.running else "no answer")
        print(
            f"{node.name:<7}{node.spec.address:<13}{pid:>8}  {status:<12}"
            f"{view.get('wsrep_cluster_size', '-'):>4}  "
            f"{view.get('wsrep_local_state_comment', '-'):<16}{view.get('wsrep_ready', '-'):<6}"
            f"{grastate.get('seqno', '?') + '/' + grastate.get('safe_to_bootstrap', '?'):<20}"
            f"{'present' if node.gvwstate.exists() else 'absent'}"
        )
    problem = cluster.healthy_problem()
    print(f"cluster: {'healthy' if problem is None else problem}")
    stack = Stack(cluster)
    if stack.processes:
        from galera_lab import procs  # noqa: PLC0415

        print("monitoring:")
        for name, proc in stack.processes.items():
            state = "running" if procs.is_running(proc) else "NOT RUNNING"
            print(f"  {name:<16} pid {proc.pid:<8} {state}")
        print(stack.describe())
    return 0


def cmd_node_action(args: argparse.Namespace) -> int:
    cluster = Cluster.load(Path(args.dir))
    node = cluster.node(args.node)
    action, _help = NODE_ACTIONS[args.command]
    started = time.monotonic()
    action(node)
    print(f"[lab] {args.command} {node.name}: done in {time.monotonic() - started:.1f}s")
    return 0


def cmd_scenario(args: argparse.Namespace) -> int:
    if args.list or not args.name:
        for scenario in scenarios.SCENARIOS.values():
            print(f"{scenario.name:<14}{scenario.summary}\n{'':<14}guide: {scenario.guide_section}")
        return 0
    cluster = Cluster.load(Path(args.dir))
    scenarios.run(cluster, args.name)
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    cluster = Cluster.load(Path(args.dir))
    recovery.reset(cluster)
    # The exporter account lives in the database: a rebuilt cluster needs it again.
    stack = Stack(cluster)
    if stack.processes:
        stack.start()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="galera-lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dir", default=str(_default_base_dir()), help="lab base directory (default: %(default)s)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the cluster, exporters, Prometheus, Alertmanager")
    up.add_argument("--nodes", type=int, default=None, help="cluster size (default 3)")
    up.add_argument(
        "--base-address",
        default=None,
        help=f"first node's loopback address (default {DEFAULT_BASE_ADDRESS})",
    )
    up.add_argument(
        "--no-monitoring",
        action="store_true",
        help="exporters only: no Prometheus, Alertmanager or sink",
    )
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop everything the lab started")
    down.add_argument("--purge", action="store_true", help="also delete the lab directory")
    down.set_defaults(func=cmd_down)

    sub.add_parser(
        "status", help="nodes, their wsrep state and files, monitoring processes"
    ).set_defaults(func=cmd_status)
    sub.add_parser("reset", help="back to a healthy cluster from any scenario").set_defaults(
        func=cmd_reset
    )

    for name, (_action, text) in NODE_ACTIONS.items():
        p = sub.add_parser(name, help=text)
        p.add_argument("node", help="node number (1-based), name or address")
        p.set_defaults(func=cmd_node_action)

    scenario = sub.add_parser("scenario", help="reproduce a guide scenario from a healthy cluster")
    scenario.add_argument("name", nargs="?", choices=list(scenarios.SCENARIOS))
    scenario.add_argument("--list", action="store_true")
    scenario.set_defaults(func=cmd_scenario)

    sub.add_parser(
        "cfg-cm-cluster",
        add_help=False,
        help="the guide's command on one lab node (see cfg-cm-cluster --help)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # cfg-cm-cluster has its own parser: hand it everything after the word, plus --dir.
    if "cfg-cm-cluster" in argv:
        at = argv.index("cfg-cm-cluster")
        head = parser.parse_known_args([*argv[:at], "status"])[0]
        rest = argv[at + 1 :]
        if "--lab-dir" not in rest:
            rest = ["--lab-dir", head.dir, *rest]
        return cfgcm.main(rest)
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except BrokenPipeError:
        # `galera-lab status | head`: the reader left; not an error worth a message.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces stdout until exit
        return 0
    except (ClusterError, NodeError, WaitTimeoutError, pymysql.err.MySQLError, OSError) as err:
        print(f"galera-lab {args.command}: {err}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
