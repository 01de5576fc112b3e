"""Hypothesis fuzzing of the wsrep status file parser and of the source reading it.

The only exception allowed is StatusFileError; whatever the file says, labels stay within
the bounded sets (a message never becomes a label). Seeds are the real captured files with
random values put into every field, plus random bytes; each seed is also checked truncated at
many points (a crash mid-write). The last test requires >= 20,000 checked inputs.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.exposition import generate_latest

from galera_exporter import status_json
from galera_exporter.collectors.status_file import StatusFileCollector
from galera_exporter.exporter import Exporter, ScrapeRegistry
from tests.hardening.test_fuzz_parsers import cut_points

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "statusfile"
REAL = [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))]
INPUTS: Counter[str] = Counter()
FUZZ = settings(
    max_examples=700,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["SYNCED", "JOINING", "Receiving SST", "Operational", "WSREP: SST failed"]),
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
PATHS = [
    ("status", "state"),
    ("status", "comment"),
    ("status", "progress"),
    ("status", "progress", "total"),
    ("status", "progress", "done"),
    ("status",),
    ("errors",),
    ("warnings",),
    ("timestamp",),
]


def mutate(doc: Any, path: tuple[str, ...], new: Any) -> Any:
    doc = json.loads(json.dumps(doc))
    target = doc
    for key in path[:-1]:
        if not isinstance(target, dict):
            return doc
        target = target.setdefault(key, {})
    if isinstance(target, dict):
        target[path[-1]] = new
    return doc


def check(data: bytes) -> None:
    INPUTS["parse"] += 1
    try:
        parsed = status_json.parse_status_file(data)
    except status_json.StatusFileError:
        return
    assert parsed.state in status_json.STATES | {status_json.OTHER}
    assert parsed.comment in status_json.COMMENTS | {status_json.OTHER}
    for message in parsed.messages:
        assert message.level in status_json.LEVELS and message.kind in status_json.KINDS
    if parsed.progress is not None:
        assert 0 <= parsed.progress.done <= parsed.progress.total
        assert parsed.progress.total > 0


def checked_with_cuts(data: bytes) -> None:
    check(data)
    for end in cut_points(len(data)):
        check(data[:end])


@FUZZ
@given(
    st.sampled_from(REAL),
    st.lists(st.tuples(st.sampled_from(PATHS), value), min_size=1, max_size=3),
    st.lists(st.tuples(st.sampled_from(["errors", "warnings"]), st.text(max_size=300))),
)
def test_real_files_with_random_fields(doc: Any, edits: list[Any], msgs: list[Any]) -> None:
    for path, new in edits:
        doc = mutate(doc, path, new)
    for key, msg in msgs:
        if isinstance(doc.get(key), list):
            doc[key].append({"timestamp": 1.0, "msg": msg})
    checked_with_cuts(json.dumps(doc, allow_nan=True).encode())


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    checked_with_cuts(data)


@settings(max_examples=150, deadline=None, database=None)
@given(st.sampled_from(REAL), st.text(min_size=1, max_size=60))
def test_hostile_message_never_reaches_a_label(tmp_path_factory: Any, doc: Any, msg: str) -> None:
    """Through the whole source: the exposition never holds message text."""
    datadir = tmp_path_factory.mktemp("d")
    marker = f"ZQX{msg}"
    doc = json.loads(json.dumps(doc))
    doc["errors"].append({"timestamp": 5.0, "msg": f"WSREP: SST failed {marker}"})
    doc["status"]["comment"] = marker
    (datadir / "wsrep_status.json").write_text(json.dumps(doc))
    exporter = Exporter([StatusFileCollector(datadir=str(datadir))])
    text = generate_latest(ScrapeRegistry(exporter, time.monotonic() + 5)).decode()
    INPUTS["source"] += 1
    assert "ZQX" not in text
    assert 'galera_status_file_messages{kind="sst",level="error"}' in text


def test_zz_total_inputs() -> None:
    total = sum(INPUTS.values())
    print(f"\nstatus file fuzz: {total:,} inputs checked ({dict(INPUTS)})")
    assert total >= 20_000
