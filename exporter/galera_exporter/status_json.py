"""Pure parsing of MariaDB's wsrep_status_file JSON into bounded, enum-like facts; no I/O.

What MariaDB 10.11.19 with Galera 26.4.23 really writes (tests/fixtures/statusfile, captured
from the lab with capture.py there):

    {"date": "...", "timestamp": 1796204205.41,
     "errors": [{"timestamp": 1796204310.0, "msg": "WSREP: ..."}, ...],
     "warnings": [...], "events": [],
     "status": {"state": "SYNCED", "comment": "Operational",
                "progress": {"from": -1, "to": -1, "total": 0, "done": 0, "indefinite": -1}}}

The server rewrites it at every state change and logged error or warning; the lists start
empty at each server start. Messages are free text that may quote paths, command lines and
SQL: they are only ever classified into MESSAGE_KINDS here, never exported. States and
comments outside the known sets become "other", so labels stay bounded whatever the file says.
In the lab, progress stayed at -1 (or 0/0 once Synced) through SSTs and a 40,002-write-set IST
of 7 s: these versions do not report it, and the collector exports progress only when a
writer does (total > 0).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

OTHER = "other"
# wsrep-lib's server states as MariaDB's status file spells them (JOINING, not JOINER).
STATES = frozenset(
    {
        "DISCONNECTED",
        "INITIALIZING",
        "INITIALIZED",
        "CONNECTED",
        "JOINING",
        "JOINED",
        "DONOR",
        "SYNCED",
        "DISCONNECTING",
    }
)
# Comments seen in the lab, plus the IST/SST counterparts the server uses for the donor.
COMMENTS = frozenset(
    {
        "Disconnected",
        "Initializing",
        "Initialized",
        "Waiting",
        "Receiving SST",
        "Receiving IST",
        "Donating SST",
        "Donating IST",
        "Syncing",
        "Operational",
        "Disconnecting",
    }
)
# (kind, role) of a state transfer a comment says is running.
TRANSFERS = {
    "Receiving SST": ("sst", "joiner"),
    "Receiving IST": ("ist", "joiner"),
    "Donating SST": ("sst", "donor"),
    "Donating IST": ("ist", "donor"),
}

# Messages classified by their own wording (checked against the captured fixtures); the
# first matching kind wins, so the order matters: an SST command line quoting "failed" is sst.
MESSAGE_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "sst",
        re.compile(
            r"wsrep_sst_|\bSST failed\b|\bSST script aborted\b|State transfer to .* failed"
            r"|Application state transfer failed|Application received wrong state"
            r"|from joiner script|\bSST\b.*\b(?:failed|aborted|timed? ?out)\b",
            re.IGNORECASE,
        ),
    ),
    ("ist", re.compile(r"\bIST\b.*\b(?:failed|aborted|error)\b", re.IGNORECASE)),
    ("inconsistency", re.compile(r"Inconsistency detected|Inconsistent by consensus")),
    (
        "apply",
        re.compile(
            r"Failed to apply write set|apply failed|Could not execute \w+ event"
            r"|Can't find record|HA_ERR_",
        ),
    ),
    ("state_file", re.compile(r"Could not open state file|grastate\.dat|gvwstate\.dat")),
)
KINDS = (*(kind for kind, _ in MESSAGE_KINDS), OTHER)
LEVELS = ("error", "warning")
# More entries than any server keeps; bounds the work a hostile file can cause per scrape.
MAX_MESSAGES = 1000
MAX_CLASSIFIED_CHARS = 2000


class StatusFileError(ValueError):
    """The text is not a wsrep status file (not JSON, or not the expected shape)."""


@dataclass(frozen=True)
class Message:
    level: str  # one of LEVELS
    kind: str  # one of KINDS
    timestamp: float | None


@dataclass(frozen=True)
class Progress:
    done: int
    total: int


@dataclass(frozen=True)
class StatusFile:
    state: str  # one of STATES or OTHER
    comment: str  # one of COMMENTS or OTHER
    timestamp: float | None
    progress: Progress | None  # only when the writer reports one (total > 0)
    messages: tuple[Message, ...] = field(default_factory=tuple)

    @property
    def transfer(self) -> tuple[str, str] | None:
        """(sst|ist, joiner|donor) while the file says a state transfer runs."""
        return TRANSFERS.get(self.comment)

    def counts(self) -> dict[tuple[str, str], int]:
        """Messages per (level, kind), only the kinds present."""
        out: dict[tuple[str, str], int] = {}
        for m in self.messages:
            out[m.level, m.kind] = out.get((m.level, m.kind), 0) + 1
        return out


def classify(msg: str) -> str:
    text = msg[:MAX_CLASSIFIED_CHARS]
    for kind, pattern in MESSAGE_KINDS:
        if pattern.search(text):
            return kind
    return OTHER


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _count(value: object) -> int | None:
    """A non-negative integer count (JSON ints and integral floats), else None."""
    number = _number(value)
    if number is None or number < 0 or number != int(number) or number > 2**63:
        return None
    return int(number)


def _messages(doc: dict[str, object], key: str, level: str) -> list[Message]:
    items = doc.get(key, [])
    if not isinstance(items, list):
        raise StatusFileError(f"{key!r} is not a list")
    out = []
    for item in items[:MAX_MESSAGES]:
        if not isinstance(item, dict):
            raise StatusFileError(f"an entry of {key!r} is not an object")
        msg = item.get("msg", "")
        if not isinstance(msg, str):
            raise StatusFileError(f"an entry of {key!r} has a non-text msg")
        out.append(Message(level, classify(msg), _number(item.get("timestamp"))))
    return out


def _progress(value: object) -> Progress | None:
    if not isinstance(value, dict):
        return None
    total, done = _count(value.get("total")), _count(value.get("done"))
    if total is None or done is None or total == 0:
        return None
    return Progress(done=min(done, total), total=total)


def parse_status_file(data: bytes) -> StatusFile:
    """The status file's facts; StatusFileError for anything but the expected JSON shape."""
    try:
        doc = json.loads(data.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError
        raise StatusFileError(f"not JSON: {type(err).__name__}") from None
    if not isinstance(doc, dict):
        raise StatusFileError("not a JSON object")
    status = doc.get("status")
    if not isinstance(status, dict):
        raise StatusFileError("no 'status' object")
    state, comment = status.get("state"), status.get("comment")
    if not isinstance(state, str) or not isinstance(comment, str):
        raise StatusFileError("'status' has no text 'state' and 'comment'")
    messages = _messages(doc, "errors", "error") + _messages(doc, "warnings", "warning")
    return StatusFile(
        state=state if state in STATES else OTHER,
        comment=comment if comment in COMMENTS else OTHER,
        timestamp=_number(doc.get("timestamp")),
        progress=_progress(status.get("progress")),
        messages=tuple(messages),
    )
