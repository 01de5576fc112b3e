"""HTTP basic auth against bcrypt hashes: cached results, bounded bcrypt work, even timing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from enum import Enum

import bcrypt

BCRYPT_MAX_PASSWORD_BYTES = 72
# A check at cost 20 takes ~80 s on this class of machine (cost 10: ~80 ms, doubling per step):
# such a hash would hang every login, and, before this bound, start-up and --check-config.
BCRYPT_MAX_COST = 19
# exporter-toolkit keeps 100 entries; both caches are bounded so a flood of distinct wrong
# passwords costs a fixed amount of memory.
CACHE_SIZE = 1024
# bcrypt is CPU-bound and holds the GIL only briefly, so N checks at once use N cores. One at
# a time (exporter-toolkit serialises them with a mutex too) leaves the other core to scrapes.
MAX_CONCURRENT_CHECKS = 1
# How long a request waits for the bcrypt slot before it is told to come back (503). Short:
# the waiting request holds one of the HTTP server's few workers, which a scrape with cached
# credentials needs (with 0.25 s, 20 wrong-password clients slowed such scrapes to ~0.6 s).
CHECK_WAIT_SECONDS = 0.02
# Any syntactically valid hash: only its cost matters, because a check against it always fails.
_DUMMY_BODY = b"J9Mn3bqfd0OzQh2LeZ9mGe1vPfA3BNRj0ZGtXpF7wSdh6X2CuZ6Hi"


class Verdict(Enum):
    OK = "ok"
    DENIED = "denied"
    BUSY = "busy"  # too many bcrypt checks under way: answer 503, do not count as a failure


def bcrypt_cost(hashed: bytes) -> int:
    return int(hashed[4:6])


class _Cache:
    """A bounded set with least-recently-used eviction, safe across threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: bytes) -> bool:
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return True
            return False

    def add(self, key: bytes) -> None:
        with self._lock:
            self._keys[key] = None
            self._keys.move_to_end(key)
            while len(self._keys) > self._size:
                self._keys.popitem(last=False)


class BasicAuth:
    """Checks `Authorization: Basic` against bcrypt hashes.

    Like exporter-toolkit, each outcome is cached under a SHA-256 of (user, hash, password),
    so a scrape every 15 s pays bcrypt once and a client retrying one wrong password pays it
    once too. Successes and failures live in separate caches: a flood of distinct wrong
    passwords evicts only other failures, never the scraper's cached success.

    Unknown users are checked against a dummy hash of the same cost as the real users; all
    users must share one cost (webconfig refuses mixed costs), because with two costs the
    time of a check tells which cost, and so whether the name exists.
    """

    def __init__(self, users: Mapping[str, bytes]) -> None:
        self._users = dict(users)
        costs = {bcrypt_cost(h) for h in users.values()} or {10}
        if len(costs) != 1:
            raise ValueError(f"basic auth users with different bcrypt costs: {sorted(costs)}")
        self.cost = costs.pop()
        self._dummy = b"$2b$%02d$" % self.cost + _DUMMY_BODY
        self._ok = _Cache(CACHE_SIZE)
        self._denied = _Cache(CACHE_SIZE)
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_CHECKS)

    @property
    def users(self) -> tuple[str, ...]:
        return tuple(sorted(self._users))

    def check_header(self, header: str | None) -> Verdict:
        """OK if the header carries valid credentials; BUSY if they could not be checked now."""
        if not header:
            return Verdict.DENIED
        scheme, _, encoded = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return Verdict.DENIED
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return Verdict.DENIED
        user, sep, password = decoded.partition(":")
        if not sep:
            return Verdict.DENIED
        return self.check(user, password)

    def check(self, user: str, password: str) -> Verdict:
        hashed = self._users.get(user)
        known = hashed is not None
        secret = password.encode("utf-8")
        # bcrypt ignores bytes past 72 (the bcrypt package refuses them): such a password is
        # never accepted, but it costs a check like any other so its timing says nothing.
        too_long = len(secret) > BCRYPT_MAX_PASSWORD_BYTES
        against = hashed if hashed is not None and not too_long else self._dummy
        key = hashlib.sha256(
            b"\0".join((user.encode("utf-8"), against, hashlib.sha256(secret).digest()))
        ).digest()
        if key in self._ok:
            return Verdict.OK
        if key in self._denied:
            return Verdict.DENIED
        if not self._slots.acquire(timeout=CHECK_WAIT_SECONDS):
            return Verdict.BUSY
        try:
            try:
                ok = bcrypt.checkpw(secret[:BCRYPT_MAX_PASSWORD_BYTES], against)
            except ValueError:
                ok = False
        finally:
            self._slots.release()
        ok = ok and known and not too_long
        (self._ok if ok else self._denied).add(key)
        return Verdict.OK if ok else Verdict.DENIED
