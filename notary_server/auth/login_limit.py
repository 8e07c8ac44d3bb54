"""Failed-login limits for the built-in issuer (beyond Go, issue #14): per client and per user.

Each client address and each user name has a token bucket of failed logins:
it holds up to ``burst`` tokens and refills at ``per_minute`` a minute. A
login with credentials takes a token from both buckets *before* the password
is checked and gives it back when the password was right, so only failures
cost anything and concurrent guesses cannot overshoot the burst. With either
bucket empty the request is refused (429) without a bcrypt check.

User names are counted whether or not they exist, so the limit tells an
attacker nothing about which do. Each table keeps at most ``entries`` buckets
(least recently used dropped first); a bucket that has refilled is dropped
when next seen, since it means the same as no bucket. Dropping a bucket only
ever forgives, so memory stays bounded whatever the number of names or
addresses.

A client is its address; IPv6 clients are counted per /64 (one host usually
holds a whole /64, so counting single addresses would let it rotate freely).

This module is free of aiohttp, so :mod:`notary_server.config` can use its defaults.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "DEFAULT_CLIENT_BURST",
    "DEFAULT_CLIENT_PER_MINUTE",
    "DEFAULT_LIMIT_ENTRIES",
    "DEFAULT_USER_BURST",
    "DEFAULT_USER_PER_MINUTE",
    "FailureBuckets",
    "LoginLimiter",
    "LoginRefusal",
    "client_key",
]

DEFAULT_CLIENT_BURST: Final = 20
"""Failed logins a client address may make in a row."""
DEFAULT_CLIENT_PER_MINUTE: Final = 10.0
"""Failed logins a client address is given back a minute."""
DEFAULT_USER_BURST: Final = 10
"""Failed logins a user name may get in a row (from any address)."""
DEFAULT_USER_PER_MINUTE: Final = 2.0
"""Failed logins a user name is given back a minute."""
DEFAULT_LIMIT_ENTRIES: Final = 10_000
"""Most buckets kept per table (client addresses; user names)."""


def client_key(remote: str | None) -> str:
    """The key of a client address: itself for IPv4, its /64 for IPv6 (IPv4-mapped: the IPv4)."""
    if not remote:
        return ""
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:  # not an IP address (a Unix socket path): as it is
        return remote
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class FailureBuckets:
    """Token buckets of failed logins per key, at most ``entries`` of them (LRU).

    A ``burst`` of 0 turns the table off: nothing is ever refused or kept.
    """

    def __init__(
        self,
        *,
        burst: int,
        per_minute: float,
        entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create an empty table."""
        self.burst = float(burst)
        self.rate = per_minute / 60.0
        self.entries = entries
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        """The number of buckets kept."""
        return len(self._buckets)

    @property
    def enabled(self) -> bool:
        """Whether this table limits anything."""
        return self.burst > 0

    def tokens(self, key: str) -> float:
        """The tokens ``key`` has now (a full bucket is forgotten)."""
        now = self.clock()
        stored = self._buckets.pop(key, None)
        if stored is None:
            return self.burst
        tokens, last = stored
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < self.burst:
            self._buckets[key] = (tokens, now)  # most recently used: at the end
        return tokens

    def wait(self, key: str) -> float:
        """Seconds until ``key`` has a token (0: it has one now)."""
        if not self.enabled:
            return 0.0
        missing = 1.0 - self.tokens(key)
        if missing <= 0:
            return 0.0
        return math.inf if self.rate <= 0 else missing / self.rate

    def add(self, key: str, tokens: float) -> None:
        """Give ``key`` ``tokens`` (negative: take them); drop the oldest beyond ``entries``."""
        if not self.enabled:
            return
        now = self.clock()
        current = min(self.burst, self.tokens(key) + tokens)
        self._buckets.pop(key, None)
        if current < self.burst:
            self._buckets[key] = (current, now)
        while len(self._buckets) > self.entries:
            self._buckets.popitem(last=False)


@dataclass(frozen=True, slots=True)
class LoginRefusal:
    """Why a login was refused before its password was checked.

    Attributes:
        limit: the configuration key of the limit (``auth.options.login_client_burst`` …).
        retry_after: whole seconds until the client may try again (at least 1).
    """

    limit: str
    retry_after: int


class LoginLimiter:
    """The per-client and per-user tables of failed logins."""

    def __init__(self, clients: FailureBuckets, users: FailureBuckets) -> None:
        """Limit failures per client address (``clients``) and per user name (``users``)."""
        self.clients = clients
        self.users = users

    def _tables(self, client: str, user: str | None) -> list[tuple[str, FailureBuckets, str]]:
        tables = [("auth.options.login_client_burst", self.clients, client)]
        if user is not None:
            tables.append(("auth.options.login_user_burst", self.users, user))
        return tables

    def acquire(self, client: str, user: str | None) -> LoginRefusal | None:
        """Take a token from ``client``'s and ``user``'s buckets; a refusal if either has none.

        On a refusal nothing is taken. ``user`` None (credentials that did not
        parse) uses the client's bucket only.
        """
        tables = self._tables(client, user)
        for limit, table, key in tables:
            wait = table.wait(key)
            if wait > 0:
                retry = 86_400 if math.isinf(wait) else max(1, math.ceil(wait))
                return LoginRefusal(limit, retry)
        for _, table, key in tables:
            table.add(key, -1.0)
        return None

    def release(self, client: str, user: str | None) -> None:
        """Give back what :meth:`acquire` took: the password was right."""
        for _, table, key in self._tables(client, user):
            table.add(key, 1.0)
