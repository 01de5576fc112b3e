"""Every template function of the common subset (tests/rules/test_portability.py) renders the
same on Prometheus and on vmalert: one alert, one annotation per family of functions, raised
by both engines and read back from their Alertmanagers (API v2). No lab: the expressions are
constants, so any store answers them alike."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from galera_lab import procs
from galera_lab.stack import ALERTMANAGER, PROMETHEUS
from galera_lab.wait import wait_for
from tests.rules.test_portability import COMMON_TEMPLATE_FUNCTIONS
from tests.scale.vmstack import VICTORIA_METRICS, VMALERT, am_alerts, http_json

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

Q = '\\"'  # a double quote inside a query string inside a YAML double-quoted scalar
ANNOTATIONS = {
    "labels_value": "{{ $labels.x }} {{ $labels.instance }} {{ $value }}",
    "query_first_value": '{{ with query "vector(2)" }}{{ . | first | value }}{{ end }}',
    "label": (
        f'{{{{ with query "label_replace(vector(1), {Q}l{Q}, {Q}v{Q}, {Q}{Q}, {Q}{Q})" }}}}'
        '{{ . | first | label "l" }}{{ end }}'
    ),
    "sort_range_index": (
        f'{{{{ range $i, $s := query "label_replace(vector(1), {Q}k{Q}, {Q}b{Q}, {Q}{Q}, {Q}{Q})'
        f' or label_replace(vector(2), {Q}k{Q}, {Q}a{Q}, {Q}{Q}, {Q}{Q})" | sortByLabel "k" }}}}'
        "{{ if $i }},{{ end }}{{ $s.Labels.k }}={{ $s.Value }}{{ end }}"
        ' {{ with query "vector(3)" }}{{ (index . 0).Value }}{{ end }}'
    ),
    "empty_query": '{{ if query "vector(1) > 5" }}some{{ else }}none{{ end }}',
    "printf": '{{ printf "%.0f|%q|%s|%d" 2.6 "a" "b" 7 }} {{ $value | printf "%.2f" }}',
    "humanize": (
        "{{ 1234567.0 | humanize }} {{ 0.00123 | humanize }} {{ 0.0 | humanize }}"
        " {{ $value | humanizePercentage }} {{ 3725.5 | humanizeDuration }}"
        " {{ 2048.0 | humanize1024 }}"
    ),
    "compare": (
        '{{ if gt $value 0.1 }}gt{{ end }} {{ if eq $labels.x "nope" }}eq{{ else }}ne{{ end }}'
        " {{ if and (lt 1 2) (le 1 1) (ge 2 1) (ne 1 2) (not false) }}and{{ end }}"
        " {{ if or false true }}or{{ end }} {{ len $labels }}"
    ),
    "strings": (
        '{{ "aB" | toUpper }} {{ "aB" | toLower }} {{ "ab cd" | title }}'
        ' {{ reReplaceAll ":.*" "" $labels.instance }} {{ stripPort $labels.instance }}'
        ' {{ if match "^db" $labels.instance }}m{{ end }} {{ "<b>" | safeHtml }}'
    ),
    "static": 'the nodes\' positions <b> & "quoted" `code`',
}
# What both must render (so a function that silently renders nothing cannot pass).
EXPECTED = {
    "labels_value": 'it\'s <a&b> "q" db-1.example:9104 0.1234',
    "query_first_value": "2",
    "label": "v",
    "sort_range_index": "a=2,b=1 3",
    "empty_query": "none",
    "printf": '3|"a"|b|7 0.12',
    "humanize": "1.235M 1.23m 0 12.34% 1h 2m 5s 2ki",
    "compare": "gt ne and or 2",
    "strings": "AB ab Ab Cd db-1.example db-1.example m <b>",
    "static": ANNOTATIONS["static"],
}
EXPR = (
    'label_replace(label_replace(vector(0.1234), "instance", "db-1.example:9104", "", ""),'
    ' "x", "it\'s <a&b> \\"q\\"", "", "")'
)


def rule_file(path: Path) -> Path:
    rule = {"alert": "TemplateParity", "expr": EXPR, "labels": {"severity": "warning"},
            "annotations": ANNOTATIONS}  # fmt: skip
    path.write_text(yaml.safe_dump({"groups": [{"name": "parity", "rules": [rule]}]}))
    return path


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Prometheus and vmalert (on VictoriaMetrics) loading one rule file, each notifying its
    own Alertmanager; returns the Alertmanagers' URLs by engine."""
    base = tmp_path_factory.mktemp("parity")
    rules = rule_file(base / "parity.yml")
    am_config = base / "alertmanager.yml"
    am_config.write_text("route: {receiver: api, group_wait: 1s}\nreceivers: [{name: api}]\n")
    started: list[procs.Tracked] = []
    ports = {name: procs.free_port() for name in ("am-p", "am-v", "prom", "vm", "vmalert")}

    def spawn(name: str, args: list[str]) -> None:
        started.append(procs.spawn(name, args, base / f"{name}.log"))

    try:
        for am in ("am-p", "am-v"):
            spawn(am, [ALERTMANAGER, f"--config.file={am_config}",
                       f"--storage.path={base / am}", "--cluster.listen-address=",
                       f"--web.listen-address=127.0.0.1:{ports[am]}"])  # fmt: skip
        prom_config = base / "prometheus.yml"
        prom_config.write_text(yaml.safe_dump({
            "global": {"evaluation_interval": "2s"},
            "rule_files": [str(rules)],
            "alerting": {"alertmanagers": [
                {"static_configs": [{"targets": [f"127.0.0.1:{ports['am-p']}"]}]}]},
        }))  # fmt: skip
        spawn("prometheus", [PROMETHEUS, f"--config.file={prom_config}",
                             f"--storage.tsdb.path={base / 'prom'}",
                             f"--web.listen-address=127.0.0.1:{ports['prom']}",
                             # Its first notification may go out before it has found the
                             # Alertmanager (dropped); resend soon, not after 1 min.
                             "--rules.alert.resend-delay=2s"])  # fmt: skip
        spawn("victoria-metrics", [VICTORIA_METRICS, f"-storageDataPath={base / 'vm'}",
                                   f"-httpListenAddr=127.0.0.1:{ports['vm']}"])  # fmt: skip
        wait_for("VictoriaMetrics ready", lambda: http_json(
            f"http://127.0.0.1:{ports['vm']}/api/v1/query?query=1"), 30.0)  # fmt: skip
        spawn("vmalert", [VMALERT, f"-rule={rules}",
                          f"-datasource.url=http://127.0.0.1:{ports['vm']}",
                          f"-notifier.url=http://127.0.0.1:{ports['am-v']}",
                          # 2 s: a 1 s evaluation of five template queries timed out
                          # ("context canceled") on the loaded 2-core machine.
                          "-evaluationInterval=2s",
                          f"-httpListenAddr=127.0.0.1:{ports['vmalert']}"])  # fmt: skip
        yield {"Prometheus": f"http://127.0.0.1:{ports['am-p']}",
               "vmalert": f"http://127.0.0.1:{ports['am-v']}"}  # fmt: skip
    finally:
        for proc in reversed(started):
            procs.stop(proc)


def test_the_parity_rule_calls_every_common_function() -> None:
    text = " ".join(ANNOTATIONS.values())
    missing = {f for f in COMMON_TEMPLATE_FUNCTIONS if not re.search(rf"\b{f}\b", text)}
    assert not missing


def test_prometheus_and_vmalert_render_the_same(engines: dict[str, str]) -> None:
    started = time.monotonic()
    got: dict[str, dict[str, Any]] = {}

    def probe() -> bool:
        for engine, am in engines.items():
            for alert in am_alerts(am):
                if alert["labels"].get("alertname") == "TemplateParity":
                    got[engine] = alert
        return len(got) == 2

    wait_for("TemplateParity at both Alertmanagers", probe, 60.0, interval=0.5)
    print(f"[parity] both alerts in {time.monotonic() - started:.1f}s")
    prometheus, vmalert = got["Prometheus"], got["vmalert"]
    assert prometheus["annotations"] == EXPECTED
    assert vmalert["annotations"] == EXPECTED
    # vmalert adds the group's name as a label; nothing else differs.
    assert vmalert["labels"] == {**prometheus["labels"], "alertgroup": "parity"}
