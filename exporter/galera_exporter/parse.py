"""Pure parsers for Galera's text facts: status values, grastate.dat and gvwstate.dat."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# A non-Primary node reports wsrep_cluster_conf_id as 2**64-1 (observed on MariaDB 10.11 with
# galera 26.4.23): "no configuration". We export it as -1 so it never looks like a real,
# comparable configuration id, and so a float can hold it exactly.
NO_CONF_ID = 2**64 - 1
NO_CONF_ID_EXPORTED = -1

CLUSTER_STATUSES = ("Primary", "non-Primary", "Disconnected")

# wsrep_local_state_comment values, grouped into a fixed set so dashboards and rules see a
# stable series set. Galera prints "Joining: receiving State Transfer" and similar sub-states.
LOCAL_STATES = ("Initialized", "Joining", "Donor/Desynced", "Joined", "Synced", "Other")

# EVS protocol states of gcomm (evs_proto.hpp); OPERATIONAL is the only healthy one.
EVS_STATES = ("CLOSED", "JOINING", "LEAVING", "GATHER", "INSTALL", "OPERATIONAL", "Other")

_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


class ParseError(ValueError):
    """A state file or value that does not have the shape Galera writes."""


def parse_number(raw: str) -> float | None:
    """A status value as a float, or None when it is empty or not numeric."""
    text = raw.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):  # NaN / inf are not facts
        return None
    return value


def parse_bool(raw: str) -> float | None:
    """ON/OFF, true/false, 1/0 as 1.0/0.0; None for anything else."""
    text = raw.strip().lower()
    if text in ("on", "true", "yes", "1"):
        return 1.0
    if text in ("off", "false", "no", "0"):
        return 0.0
    return None


def parse_conf_id(raw: str) -> float | None:
    """wsrep_cluster_conf_id, with Galera's 2**64-1 "no configuration" mapped to -1."""
    text = raw.strip()
    # isdigit alone accepts '²'; more than 20 digits is no uint64 (and int() of a very long
    # string raises instead of converting).
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        return None
    value = int(text)
    if value >= NO_CONF_ID:
        return float(NO_CONF_ID_EXPORTED)
    return float(value)


def cluster_status(raw: str) -> str:
    """wsrep_cluster_status as one of CLUSTER_STATUSES ('Disconnected' for unknown text)."""
    text = raw.strip()
    for status in CLUSTER_STATUSES:
        if text.lower() == status.lower():
            return status
    return "Disconnected"


def local_state(comment: str) -> str:
    """wsrep_local_state_comment folded into LOCAL_STATES."""
    text = comment.strip()
    for state in LOCAL_STATES:
        if text == state or text.startswith(state + ":"):
            return state
    if text.startswith("Joining"):
        return "Joining"
    return "Other"


def evs_state(raw: str) -> str:
    """wsrep_evs_state folded into EVS_STATES."""
    text = raw.strip().upper()
    return text if text in EVS_STATES else "Other"


@dataclass(frozen=True)
class ReplLatency:
    """wsrep_evs_repl_latency: min/avg/max/stddev in seconds and the sample size."""

    min: float
    avg: float
    max: float
    stddev: float
    samples: float


def parse_repl_latency(raw: str) -> ReplLatency | None:
    """Parse 'min/avg/max/stddev/samples'; None when the value is absent or malformed."""
    parts = raw.strip().split("/")
    if len(parts) != 5:
        return None
    numbers = [parse_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    lo, avg, hi, dev, samples = (float(n) for n in numbers if n is not None)
    return ReplLatency(lo, avg, hi, dev, samples)


def parse_address_list(raw: str) -> tuple[str, ...]:
    """A comma-separated list (wsrep_incoming_addresses, evs lists), sorted, blanks dropped."""
    return tuple(sorted(p.strip() for p in raw.split(",") if p.strip()))


def is_uuid(text: str) -> bool:
    return bool(_UUID_RE.match(text))


@dataclass(frozen=True)
class Grastate:
    """The fields of grastate.dat."""

    version: str
    uuid: str
    seqno: int
    safe_to_bootstrap: int | None  # absent in files written by Galera 3 before 25.3.19


def _key_values(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition(":")
        if not sep:
            raise ParseError(f"line without 'key: value': {stripped[:60]!r}")
        fields.setdefault(key.strip(), value.strip())
    return fields


def _state_file_text(data: bytes) -> str:
    """A state file's bytes as text; Galera writes ASCII, so NULs or bad UTF-8 mean garbage."""
    if b"\x00" in data:
        raise ParseError("binary data (NUL byte)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ParseError(f"not UTF-8 text at byte {err.start}") from err


def parse_grastate(data: bytes) -> Grastate:
    """Parse grastate.dat bytes; raise ParseError for anything Galera would not have written."""
    text = _state_file_text(data)
    fields = _key_values(text)
    missing = [k for k in ("version", "uuid", "seqno") if k not in fields]
    if missing:
        raise ParseError("missing field(s): " + ", ".join(missing))
    if not is_uuid(fields["uuid"]):
        raise ParseError(f"uuid is not a UUID: {fields['uuid'][:60]!r}")
    try:
        seqno = int(fields["seqno"])
    except ValueError as err:
        raise ParseError(f"seqno is not an integer: {fields['seqno'][:60]!r}") from err
    if seqno < -1:
        raise ParseError(f"seqno below -1: {seqno}")
    safe: int | None = None
    if "safe_to_bootstrap" in fields:
        raw_safe = fields["safe_to_bootstrap"]
        if raw_safe not in ("0", "1"):
            raise ParseError(f"safe_to_bootstrap is not 0 or 1: {raw_safe[:60]!r}")
        safe = int(raw_safe)
    return Grastate(fields["version"], fields["uuid"].lower(), seqno, safe)


@dataclass(frozen=True)
class Gvwstate:
    """pc.recovery's saved primary view from gvwstate.dat."""

    my_uuid: str
    view_id: str
    members: tuple[str, ...]


def parse_gvwstate(data: bytes) -> Gvwstate:
    """Parse gvwstate.dat; raise ParseError when the view block is missing or broken."""
    text = _state_file_text(data)
    my_uuid = ""
    view_id = ""
    members: list[str] = []
    in_view = False
    ended = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "#vwbeg":
            in_view = True
            continue
        if stripped == "#vwend":
            ended = in_view
            in_view = False
            continue
        key, _, value = stripped.partition(":")
        key, value = key.strip(), value.strip()
        if key == "my_uuid":
            my_uuid = value
        elif in_view and key == "view_id":
            view_id = value
        elif in_view and key == "member":
            member = value.split()[0] if value.split() else ""
            if not is_uuid(member):
                raise ParseError(f"member is not a UUID: {value[:60]!r}")
            members.append(member.lower())
    if not is_uuid(my_uuid):
        raise ParseError("my_uuid missing or not a UUID")
    if not ended:
        raise ParseError("view block (#vwbeg ... #vwend) missing or unterminated")
    if not members:
        raise ParseError("view has no members")
    return Gvwstate(my_uuid.lower(), view_id, tuple(members))


def parse_provider_options(raw: str) -> dict[str, str]:
    """wsrep_provider_options ('a.b = 1; c.d = x') as a dict; malformed parts are skipped."""
    options: dict[str, str] = {}
    for part in raw.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            options[key.strip()] = value.strip()
    return options


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)[bB]?\s*$")
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(raw: str) -> float | None:
    """A galera size option ('128M', '1G', '4096') in bytes; None if malformed."""
    match = _SIZE_RE.match(raw)
    if not match:
        return None
    return float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
