"""galera-advisor's command line: parse, fetch, report. No logic of its own."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from galera_exporter.advisor import history, report, settings

DESCRIPTION = (
    "Read every node's galera-exporter at once and print the cluster's state, the recovery"
    " guide's scenario and the one next step (read-only: GET requests only)."
)
EPILOG = """exit status:
  0  healthy: every node is in one Primary component
  1  degraded: a Primary component serves, some nodes are not in it
  2  action needed: split brain, partitioned, quorum lost, stopped, crashed
     (the steps name the node, or say exactly what to verify first)
  3  cannot tell: nodes unobservable and none seen Primary, or the nodes given are of
     different clusters
  4  usage or config error
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = settings.parser_for("galera-advisor", DESCRIPTION, EPILOG)
    args = parser.parse_args(argv)
    try:
        config = settings.load(args)
    except settings.SettingsError as err:
        print(f"galera-advisor: {err}", file=sys.stderr)
        return report.EXIT_USAGE
    started = time.monotonic()
    scrapes, past = history.gather(
        config.targets, config.client, config.timeout, config.prometheus_url
    )
    result = report.build(scrapes, config.cluster, time.monotonic() - started, past)
    print(result.json_text() if config.json else report.text(result))
    return result.exit_status
