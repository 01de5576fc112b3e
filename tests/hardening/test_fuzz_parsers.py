"""Hypothesis fuzzing of every parser of untrusted text: state files, status values, log lines.

The only exception allowed is the documented ParseError of parse_grastate/parse_gvwstate.
Hypothesis draws seeds both as random bytes/text and as the real formats with random damage
(wrong values, CRLF, garbage lines), which reaches the deep branches far more often than random
bytes do. Drawing costs ~1-3 ms per seed here, so each seed is also checked in systematic
variants (every truncation point, as a crash mid-write leaves; each line dropped; CRLF): about
10,000 seeds become well over 100,000 checked inputs in well under a minute. The last test
prints both numbers and requires >= 100,000 inputs.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from galera_exporter import parse

# Hypothesis examples (seeds) per test.
BUDGET = {
    "grastate_structured": 1_600,
    "grastate_bytes": 1_500,
    "gvwstate_structured": 1_200,
    "gvwstate_bytes": 1_000,
    "status_values": 2_500,
    "repl_latency": 1_000,
    "provider_options_and_size": 1_000,
    "log_lines": 1_500,
    "log_blocks": 600,
}
SEEDS: Counter[str] = Counter()
INPUTS: Counter[str] = Counter()


def cut_points(length: int) -> range | list[int]:
    """Every cut of a short input; about 40 spread over a long one (keeps the run short)."""
    if length <= 48:
        return range(length)
    step = length // 32
    return sorted({*range(8), *range(8, length - 8, step), *range(length - 8, length)})


def variants(data: bytes) -> Iterator[bytes]:
    """The seed, truncations of it (a crash mid-write), each line dropped, CRLF line ends."""
    yield data
    for end in cut_points(len(data)):
        yield data[:end]
    lines = data.split(b"\n")
    if 1 < len(lines) <= 16:
        for i in range(len(lines)):
            yield b"\n".join(lines[:i] + lines[i + 1 :])
        yield data.replace(b"\n", b"\r\n")


def text_variants(raw: str) -> Iterator[str]:
    yield raw
    for end in cut_points(len(raw)):
        yield raw[:end]
        yield raw[end:]


def fuzz(name: str) -> settings:
    return settings(
        max_examples=BUDGET[name],
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


junk = st.one_of(st.sampled_from(["", " ", "x", ":", "#", "=", ";", "/", "\t", "é", "\x00"]),
                 st.text(max_size=12))  # fmt: skip
uuid_text = st.one_of(st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()), junk)
number_text = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        ["", " ", "-1", "18446744073709551615", "1e999", "nan", "0x10", "1_000", "٣", "¹",
         "9" * 4301, "+5", " 7 ", "-0", "1.5"]
    ),
    junk,
)  # fmt: skip
spaces = st.sampled_from(["", " ", "  ", "\t"])


def key_line(key: str, value: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(spaces, value, spaces).map(lambda t: f"{t[0]}{key}:{t[0]}{t[1]}{t[2]}")


def damaged(lines: st.SearchStrategy[list[str]]) -> st.SearchStrategy[bytes]:
    """Join lines, maybe with CRLF, maybe truncated, maybe with a stray byte."""
    return st.tuples(
        lines, st.sampled_from(["\n", "\r\n"]), st.integers(0, 400), st.binary(max_size=3)
    ).map(lambda t: t[1].join(t[0]).encode("utf-8", "surrogatepass")[: t[2] or None] + t[3])


grastate_lines = st.lists(
    st.one_of(
        st.just("# GALERA saved state"),
        key_line("version", st.one_of(st.sampled_from(["2.1", "2.0"]), junk)),
        key_line("uuid", uuid_text),
        key_line("seqno", number_text),
        key_line("safe_to_bootstrap", st.one_of(st.sampled_from(["0", "1", "2", "-1", ""]), junk)),
        junk,
    ),
    max_size=8,
)


def check_grastate(data: bytes) -> None:
    try:
        state = parse.parse_grastate(data)
    except parse.ParseError:
        return
    assert parse.is_uuid(state.uuid) and state.uuid == state.uuid.lower()
    assert isinstance(state.seqno, int) and state.seqno >= -1
    assert state.safe_to_bootstrap in (None, 0, 1)
    assert isinstance(state.version, str)


@pytest.mark.slow  # ~5-8 s of examples
@fuzz("grastate_structured")
@given(damaged(grastate_lines))
def test_grastate_structured(data: bytes) -> None:
    SEEDS["grastate_structured"] += 1
    for variant in variants(data):
        INPUTS["grastate_structured"] += 1
        check_grastate(variant)


@fuzz("grastate_bytes")
@given(st.binary(max_size=300))
def test_grastate_bytes(data: bytes) -> None:
    SEEDS["grastate_bytes"] += 1
    for variant in variants(data):
        INPUTS["grastate_bytes"] += 1
        check_grastate(variant)


gvw_member = st.tuples(uuid_text, st.sampled_from(["", " 0", " 1", " x"])).map("".join)
gvwstate_lines = st.lists(
    st.one_of(
        key_line("my_uuid", uuid_text),
        st.sampled_from(["#vwbeg", "#vwend", "  #vwbeg  "]),
        key_line(
            "view_id", st.tuples(st.sampled_from("0139"), uuid_text, number_text).map(" ".join)
        ),
        key_line("bootstrap", st.sampled_from(["0", "1"])),
        key_line("member", gvw_member),
        junk,
    ),
    max_size=10,
)


def check_gvwstate(data: bytes) -> None:
    try:
        view = parse.parse_gvwstate(data)
    except parse.ParseError:
        return
    assert parse.is_uuid(view.my_uuid)
    assert view.members and all(parse.is_uuid(m) and m == m.lower() for m in view.members)
    assert isinstance(view.view_id, str)


@pytest.mark.slow  # ~5-8 s of examples
@fuzz("gvwstate_structured")
@given(damaged(gvwstate_lines))
def test_gvwstate_structured(data: bytes) -> None:
    SEEDS["gvwstate_structured"] += 1
    for variant in variants(data):
        INPUTS["gvwstate_structured"] += 1
        check_gvwstate(variant)


@fuzz("gvwstate_bytes")
@given(st.binary(max_size=300))
def test_gvwstate_bytes(data: bytes) -> None:
    SEEDS["gvwstate_bytes"] += 1
    for variant in variants(data):
        INPUTS["gvwstate_bytes"] += 1
        check_gvwstate(variant)


@pytest.mark.slow  # ~5-8 s of examples
@fuzz("status_values")
@given(st.one_of(number_text, st.text(max_size=60), st.text(alphabet="0123456789²³¹٣", max_size=30),
                 st.integers(0, 10).map(lambda n: "9" * (4300 + n))))  # fmt: skip
def test_status_values(seed: str) -> None:
    SEEDS["status_values"] += 1
    for raw in text_variants(seed):
        INPUTS["status_values"] += 1
        check_status_value(raw)


def check_status_value(raw: str) -> None:
    number = parse.parse_number(raw)
    assert number is None or math.isfinite(number)
    assert parse.parse_bool(raw) in (None, 0.0, 1.0)
    conf_id = parse.parse_conf_id(raw)
    assert conf_id is None or (math.isfinite(conf_id) and conf_id >= -1)
    assert parse.cluster_status(raw) in parse.CLUSTER_STATUSES
    assert parse.local_state(raw) in parse.LOCAL_STATES
    assert parse.evs_state(raw) in parse.EVS_STATES
    assert all(isinstance(a, str) and a.strip() == a and a for a in parse.parse_address_list(raw))


@fuzz("repl_latency")
@given(st.one_of(st.lists(number_text, max_size=7).map("/".join), st.text(max_size=60)))
def test_repl_latency(seed: str) -> None:
    SEEDS["repl_latency"] += 1
    for raw in text_variants(seed):
        INPUTS["repl_latency"] += 1
        latency = parse.parse_repl_latency(raw)
        if latency is not None:
            values = (latency.min, latency.avg, latency.max, latency.stddev, latency.samples)
            assert all(math.isfinite(v) for v in values)


size_text = st.one_of(
    st.tuples(
        st.integers(0, 10**6).map(str), st.sampled_from(["", "K", "m", "G", "T", "MB", "b", "X"])
    ).map("".join),
    number_text,
)
option_pairs = st.lists(
    st.tuples(st.one_of(st.sampled_from(["gcache.size", "gcs.fc_limit", " evs.x "]), junk),
              st.sampled_from([" = ", "=", " ", "=="]), st.one_of(size_text, junk)).map("".join),
    max_size=8,
)  # fmt: skip


@fuzz("provider_options_and_size")
@given(option_pairs.map("; ".join), size_text)
def test_provider_options_and_size(options: str, size: str) -> None:
    SEEDS["provider_options_and_size"] += 1
    for raw_options in text_variants(options):
        INPUTS["provider_options_and_size"] += 1
        parsed = parse.parse_provider_options(raw_options)
        assert all(isinstance(k, str) and k and isinstance(v, str) for k, v in parsed.items())
        check_size(parsed.get("gcache.size", ""))
    for raw in text_variants(size):
        INPUTS["provider_options_and_size"] += 1
        check_size(raw)


def check_size(raw: str) -> None:
    value = parse.parse_size(raw)
    # Never negative or NaN. (A 400-digit size gives inf: reported, not an exception.)
    assert value is None or value >= 0


logparse = pytest.importorskip("galera_exporter.logparse")

LONG_SEQNO = b":" + b"9" * 4400  # past Python's int() digit limit
log_line = st.one_of(
    st.binary(max_size=200),
    st.tuples(
        st.sampled_from([b"2026-11-27  8:54:05 0 ", b"2026-10-06T01:44:30.673582Z 0 ",
                         b"27 Jun 2017 10:11:12,345 ", b"191127  8:54:05 ", b"[", b"", b" "]),
        st.sampled_from([b"[Note] ", b"[ERROR] ", b"[Warning] ", b"ERROR ", b"INFO ", b""]),
        st.sampled_from([b"WSREP: Recovered position: ", b"WSREP: Synchronized with group",
                         b"Shutdown complete", b"Aborting", b"ready for connections",
                         b"WSREP: Receiving IST... 50.0% (", b"Starting MariaDB ",
                         b"WSREP: /usr/sbin/mariadbd: Terminated.", b""]),
        st.one_of(uuid_text.map(str.encode), st.binary(max_size=20)),
        st.sampled_from([b":", b":-1", b":12", b":99999999999999999999", LONG_SEQNO, b",0-1-5",
                         b"1/2 events) complete.", b"9223372036854775808/1 events) complete.",
                         b"3/9223372036854775807 events) complete.", b""]),
        st.binary(max_size=20),
    ).map(b"".join),
)  # fmt: skip


@fuzz("log_lines")
@given(log_line.map(lambda b: b.replace(b"\n", b" ")))
def test_log_lines(seed: bytes) -> None:
    SEEDS["log_lines"] += 1
    for line in variants(seed):
        INPUTS["log_lines"] += 1
        check_log_line(line)


def check_log_line(line: bytes) -> None:
    level = logparse.line_level(line)
    assert level is None or isinstance(level, bytes)
    stamp = logparse.line_timestamp(line)
    assert stamp is None or math.isfinite(stamp)
    parsed = logparse.parse_errorlog_line(line, logparse.RECOVERY_RUN_LINES)
    if parsed is not None and parsed.recovered is not None:
        assert parse.is_uuid(parsed.recovered.uuid)
        assert -1 <= parsed.recovered.seqno <= 2**63 - 1
    if parsed is not None and parsed.ist is not None:
        assert 0 <= parsed.ist.done <= parsed.ist.total <= 2**63 - 1


@fuzz("log_blocks")
@given(st.lists(log_line.map(lambda b: b.replace(b"\n", b" ")), max_size=12))
def test_log_blocks_agree_with_lines(lines: list[bytes]) -> None:
    SEEDS["log_blocks"] += 1
    INPUTS["log_blocks"] += 1
    block = b"".join(line + b"\n" for line in lines)
    errors = logparse.count_error_lines(block)
    assert errors == sum(1 for line in lines if logparse.is_error_level(logparse.line_level(line)))
    expected, run = [], 0
    for line in lines:
        if (item := logparse.parse_errorlog_line(line, run)) is not None:
            expected.append(item)
        run = logparse.next_run(run, line)
    assert logparse.errorlog_lines(block) == expected


@pytest.mark.slow  # the budget's total needs the slow fuzz tests above: same tier as them
def test_zz_total_generated_inputs() -> None:
    """Runs last in this module: the budget really ran (only meaningful in a full run)."""
    if set(SEEDS) != set(BUDGET):
        pytest.skip(f"only part of the fuzz tests ran: {sorted(SEEDS)}")
    total = sum(INPUTS.values())
    print(f"\nfuzz: {sum(SEEDS.values()):,} hypothesis seeds, {total:,} inputs checked")
    for name in BUDGET:
        print(f"  {name}: {SEEDS[name]:,} seeds, {INPUTS[name]:,} inputs")
    assert total >= 100_000
