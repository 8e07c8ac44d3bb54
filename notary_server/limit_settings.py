"""The ``limits`` settings (beyond Go, ADR 0012), apart from the code that enforces them.

Kept free of aiohttp so that reading the configuration does not import the
web framework; :mod:`notary_server.limits` enforces these values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["LimitsConfig"]

MIB: Final = 1024 * 1024
DEFAULT_MAX_BODY_BYTES: Final = 128 * MIB
"""Largest upload body: the previous fixed limit; Go's client fetches no file above 100 MiB."""
DEFAULT_MAX_METADATA_BYTES: Final = 16 * MIB
"""Largest single role file (one part of an upload), ADR 0020.

A targets file weighs about 200 bytes per target (sha256 and sha512, a 25-character
name; 10,000 targets: 2.0 MB, 100,000: 20.4 MB), so 16 MiB holds some 80,000
targets in one role, more than any real repository keeps there (large ones
delegate). Go's client would download up to 100 MiB (``notary.MaxDownloadSize``)."""
DEFAULT_MAX_PARTS: Final = 10_000
"""Most parts in one upload: root, targets, snapshot and every changed delegation."""
DEFAULT_MAX_TARGETS: Final = 1_000_000
"""Most entries in one targets file: about what fits in 16 MiB at ~17 bytes, the least one takes."""
DEFAULT_MAX_CHANGEFEED_RECORDS: Final = 10_000
"""Largest changefeed page; a larger ``records`` is served this many (clients page on)."""
DEFAULT_RATE_CLIENTS: Final = 10_000
"""Most client addresses whose token buckets are kept (least recently seen dropped first)."""

DEFAULT_KEY_CREATION_PER_SECOND: Final = 1.0
"""Keys a client may have created per second, sustained (ADR 0021; 0 turns the budget off)."""
DEFAULT_KEY_CREATION_BURST: Final = 1000.0
"""Keys a client may have created at once: a CI initialising hundreds of repositories."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitsConfig:
    """``limits``: request limits (beyond Go, ADR 0012).

    Keys: ``max_body_bytes``, ``max_parts``, ``max_metadata_bytes``,
    ``max_targets_per_file``, ``max_changefeed_records``,
    ``rate.requests_per_second`` (0, the default, turns the rate limit off),
    ``rate.burst`` (default: twice the rate, at least 1) and ``rate.clients``;
    ``key_creation.per_second`` and ``key_creation.burst``: the budget of
    requests that create a key (ADR 0021), on even when the rate limit is off
    (a per second of 0 turns it off), over ``rate.clients`` client buckets.
    """

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_parts: int = DEFAULT_MAX_PARTS
    max_metadata_bytes: int = DEFAULT_MAX_METADATA_BYTES
    max_targets_per_file: int = DEFAULT_MAX_TARGETS
    max_changefeed_records: int = DEFAULT_MAX_CHANGEFEED_RECORDS
    rate_per_second: float = 0.0
    rate_burst: float = 0.0
    rate_clients: int = DEFAULT_RATE_CLIENTS
    key_creation_per_second: float = DEFAULT_KEY_CREATION_PER_SECOND
    key_creation_burst: float = DEFAULT_KEY_CREATION_BURST

    @property
    def burst(self) -> float:
        """The bucket size: ``rate.burst``, or twice the rate (at least one request)."""
        return self.rate_burst if self.rate_burst > 0 else max(1.0, 2 * self.rate_per_second)
