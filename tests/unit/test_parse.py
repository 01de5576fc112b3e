"""Table tests of the pure parsers, including the odd values real nodes produce."""

from __future__ import annotations

import pytest

from galera_exporter import parse

GRASTATE_RUNNING = b"""# GALERA saved state
version: 2.1
uuid:    125a32e7-ea40-11f1-8844-577ec5e07595
seqno:   -1
safe_to_bootstrap: 0
"""

GVWSTATE_3 = b"""my_uuid: 1259d7ea-ea40-11f1-a710-9652a3e4772c
#vwbeg
view_id: 3 1259d7ea-ea40-11f1-a710-9652a3e4772c 3
bootstrap: 0
member: 1259d7ea-ea40-11f1-a710-9652a3e4772c 0
member: 129277cd-ea40-11f1-8dfa-a36d9926b072 0
member: 1a2080f9-ea40-11f1-a4a4-3ea7e89f4d6b 0
#vwend
"""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Primary", "Primary"),
        ("non-Primary", "non-Primary"),
        ("Disconnected", "Disconnected"),
        ("primary", "Primary"),
        ("", "Disconnected"),
        ("garbage", "Disconnected"),
        (" Primary ", "Primary"),
    ],
)
def test_cluster_status(raw: str, expected: str) -> None:
    assert parse.cluster_status(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Synced", "Synced"),
        ("Donor/Desynced", "Donor/Desynced"),
        ("Joined", "Joined"),
        ("Initialized", "Initialized"),
        ("Joining", "Joining"),
        ("Joining: receiving State Transfer", "Joining"),
        ("Joining: State Transfer request failed", "Joining"),
        ("", "Other"),
        ("Destroyed", "Other"),
    ],
)
def test_local_state(raw: str, expected: str) -> None:
    assert parse.local_state(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("3", 3.0),
        ("18446744073709551615", -1.0),  # non-Primary: 2**64-1
        ("18446744073709551616", -1.0),
        ("0", 0.0),
        ("", None),
        ("-5", None),
        ("1.8446744073709552e+19", None),
    ],
)
def test_conf_id(raw: str, expected: float | None) -> None:
    assert parse.parse_conf_id(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ON", 1.0),
        ("OFF", 0.0),
        ("true", 1.0),
        ("false", 0.0),
        (" on ", 1.0),
        ("", None),
        ("maybe", None),
    ],
)
def test_bool(raw: str, expected: float | None) -> None:
    assert parse.parse_bool(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0.142857", 0.142857), ("12", 12.0), ("", None), ("nan", None), ("inf", None), ("x", None)],
)
def test_number(raw: str, expected: float | None) -> None:
    assert parse.parse_number(raw) == expected


def test_repl_latency() -> None:
    latency = parse.parse_repl_latency("0.000165596/0.000545042/0.00217626/0.000624623/8")
    assert latency == parse.ReplLatency(0.000165596, 0.000545042, 0.00217626, 0.000624623, 8.0)
    assert parse.parse_repl_latency("") is None
    assert parse.parse_repl_latency("0/0/0/0") is None
    assert parse.parse_repl_latency("a/b/c/d/e") is None


def test_address_list_sorted_and_blank_free() -> None:
    assert parse.parse_address_list("127.0.0.13:3306,127.0.0.11:3306,,") == (
        "127.0.0.11:3306",
        "127.0.0.13:3306",
    )
    assert parse.parse_address_list("") == ()


def test_provider_options_and_size() -> None:
    options = parse.parse_provider_options(
        "base_dir = /srv/x/; gcache.size = 64M; gmcast.listen_addr = tcp://127.0.0.11:4567; junk"
    )
    assert options["gcache.size"] == "64M"
    assert options["gmcast.listen_addr"] == "tcp://127.0.0.11:4567"
    assert parse.parse_size("64M") == 64 * 1024**2
    assert parse.parse_size("1G") == 1024**3
    assert parse.parse_size("4096") == 4096
    assert parse.parse_size("1.5k") == 1536
    assert parse.parse_size("lots") is None


def test_grastate_running() -> None:
    state = parse.parse_grastate(GRASTATE_RUNNING)
    assert state == parse.Grastate("2.1", "125a32e7-ea40-11f1-8844-577ec5e07595", -1, 0)


def test_grastate_clean_stop_trailing_spaces_and_crlf() -> None:
    data = (
        b"# GALERA saved state\r\nversion: 2.1  \r\n"
        b"uuid:  125A32E7-EA40-11F1-8844-577EC5E07595 \r\n"
        b"seqno:   22\r\nsafe_to_bootstrap: 1   \r\n"
    )
    state = parse.parse_grastate(data)
    assert state.seqno == 22
    assert state.safe_to_bootstrap == 1
    assert state.uuid == "125a32e7-ea40-11f1-8844-577ec5e07595"


def test_grastate_without_safe_to_bootstrap_is_valid() -> None:
    # Galera 3 before 25.3.19 did not write the field.
    state = parse.parse_grastate(
        b"version: 2.1\nuuid: 00000000-0000-0000-0000-000000000000\nseqno: -1\n"
    )
    assert state.safe_to_bootstrap is None
    assert state.uuid == parse.ZERO_UUID


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "missing field"),
        (GRASTATE_RUNNING[:40], "missing field"),  # truncated mid-file
        (b"\x00\x01\x02garbage", "binary"),
        (b"\xff\xfe not utf8", "UTF-8"),
        (GRASTATE_RUNNING.replace(b"seqno:   -1", b"seqno: abc"), "seqno is not an integer"),
        (GRASTATE_RUNNING.replace(b"seqno:   -1", b"seqno: -7"), "below -1"),
        (GRASTATE_RUNNING.replace(b"safe_to_bootstrap: 0", b"safe_to_bootstrap: 2"), "not 0 or 1"),
        (GRASTATE_RUNNING.replace(b"125a32e7-ea40", b"nope"), "not a UUID"),
        (b"this is not a state file\n", "key: value"),
    ],
)
def test_grastate_invalid(data: bytes, message: str) -> None:
    with pytest.raises(parse.ParseError, match=message):
        parse.parse_grastate(data)


def test_gvwstate_three_members() -> None:
    view = parse.parse_gvwstate(GVWSTATE_3)
    assert view.my_uuid == "1259d7ea-ea40-11f1-a710-9652a3e4772c"
    assert view.view_id == "3 1259d7ea-ea40-11f1-a710-9652a3e4772c 3"
    assert len(view.members) == 3


def test_gvwstate_one_member() -> None:
    data = b"""my_uuid: 531102d1-ea40-11f1-946c-6316151837b4
#vwbeg
view_id: 3 531102d1-ea40-11f1-946c-6316151837b4 7
bootstrap: 0
member: 531102d1-ea40-11f1-946c-6316151837b4 0
#vwend
"""
    assert parse.parse_gvwstate(data).members == ("531102d1-ea40-11f1-946c-6316151837b4",)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        GVWSTATE_3.replace(b"#vwend\n", b""),  # truncated
        GVWSTATE_3.replace(b"my_uuid: 1259d7ea-ea40-11f1-a710-9652a3e4772c\n", b""),
        b"my_uuid: 1259d7ea-ea40-11f1-a710-9652a3e4772c\n#vwbeg\n#vwend\n",  # no members
        GVWSTATE_3.replace(b"member: 129277cd", b"member: zz9277cd"),
        b"\x00" * 10,
    ],
)
def test_gvwstate_invalid(data: bytes) -> None:
    with pytest.raises(parse.ParseError):
        parse.parse_gvwstate(data)
