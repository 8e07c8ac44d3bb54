"""Token buckets per client, bounded in number: the request rate limit and the key creation budget.

Each bucket holds up to ``burst`` tokens and refills at ``rate`` per second. At
most ``clients`` buckets are kept; the least recently seen is dropped first,
which only ever forgives a client, so memory stays bounded whatever the number
of addresses. No I/O and no aiohttp: the clock is injectable for tests.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from notary_server.limit_settings import DEFAULT_RATE_CLIENTS

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["TokenBuckets"]


class TokenBuckets:
    """Token buckets per client key, at most ``clients`` of them (LRU)."""

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        clients: int = DEFAULT_RATE_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create an empty table (every client starts with ``burst`` tokens)."""
        self.rate = rate
        self.burst = burst
        self.clients = clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _tokens(self, client: str) -> float:
        now = self.clock()
        tokens, last = self._buckets.pop(client, (self.burst, now))
        return min(self.burst, tokens + (now - last) * self.rate)

    def _store(self, client: str, tokens: float) -> None:
        self._buckets[client] = (tokens, self.clock())
        while len(self._buckets) > self.clients:
            self._buckets.popitem(last=False)

    def take(self, client: str) -> bool:
        """Take a token from ``client``'s bucket; False (nothing taken) when it is empty."""
        tokens = self._tokens(client)
        allowed = tokens >= 1.0
        self._store(client, tokens - 1.0 if allowed else tokens)
        return allowed

    def give_back(self, client: str) -> None:
        """Return a token taken for a request that, after all, cost nothing."""
        self._store(client, min(self.burst, self._tokens(client) + 1.0))
