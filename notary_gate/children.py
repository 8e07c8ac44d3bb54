"""Platform manifests of a signed multi-platform image.

Docker Content Trust signs the digest of what the tag names; for a
multi-platform image that is the index (manifest list), and the client then
fetches the manifest for its platform *by digest*, a digest no target names.
When the gate serves an allowed index it remembers the digests the index
lists, per GUN, for as long as trust data is reused (``cache.max_age``), and
such a digest is then served like a signed one: it is content-addressed and
named by signed content. A platform manifest asked for by digest without its
index having been served recently is judged like any digest.
"""

from __future__ import annotations

import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

__all__ = ["MAX_REMEMBERED", "SignedChildren", "index_children"]

MAX_REMEMBERED: Final = 65536
"""Child digests remembered in all; the oldest are forgotten first."""

_INDEX_TYPES: Final = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
_DIGEST: Final = re.compile(r"sha256:[0-9a-f]{64}")
_MAX_CHILDREN: Final = 1024


def index_children(manifest: bytes, content_type: str) -> list[str]:
    """The sha256 digests an index lists; empty for anything that is not an index."""
    media_type = content_type.split(";", maxsplit=1)[0].strip()
    if media_type not in _INDEX_TYPES and b'"manifests"' not in manifest:
        return []  # the common case, decided without parsing
    try:
        document = json.loads(manifest)
    except ValueError:
        return []
    if not isinstance(document, dict):
        return []
    if media_type not in _INDEX_TYPES and document.get("mediaType") not in _INDEX_TYPES:
        return []
    entries = document.get("manifests")
    if not isinstance(entries, list):
        return []
    digests = [e.get("digest") for e in entries[:_MAX_CHILDREN] if isinstance(e, dict)]
    return [d for d in digests if isinstance(d, str) and _DIGEST.fullmatch(d)]


class SignedChildren:
    """``(gun, digest)`` → when the remembrance ends (monotonic seconds)."""

    def __init__(self, ttl: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        """Remember digests for ``ttl`` seconds."""
        self._ttl = ttl
        self._monotonic = monotonic
        self._until: OrderedDict[tuple[str, str], float] = OrderedDict()

    def remember(self, gun: str, digests: list[str]) -> None:
        """Note that a signed index of ``gun`` lists ``digests``."""
        until = self._monotonic() + self._ttl
        for digest in digests:
            self._until[(gun, digest)] = until
            self._until.move_to_end((gun, digest))
        while len(self._until) > MAX_REMEMBERED:
            self._until.popitem(last=False)

    def signed_parent(self, gun: str, digest: str) -> bool:
        """Whether a signed index of ``gun`` served recently lists ``digest``."""
        until = self._until.get((gun, digest))
        return until is not None and self._monotonic() < until
