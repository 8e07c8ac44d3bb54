"""What the two sides of a ``docker trust`` walk printed, made comparable.

Docker and the notary CLI print things that differ between two servers that
behave the same: key IDs (each side made its own keys), the order of lists docker
fills from Go maps, and the checksums of cached files that hold fresh signatures.
These helpers remove that noise and nothing else; :mod:`tests.differential.docker_walks`
compares what is left.
"""

from __future__ import annotations

import json
import re
from typing import Any

# A client names a cached file it could not fetch by role and checksum
# ("targets/releases.<sha256> trust data unavailable"); the checksum is of a file
# holding fresh signatures and expiry times, so it differs between two servers
# that behave the same.
_ROLE_CHECKSUM = re.compile(r"(?<=[a-z])\.[0-9a-f]{64}\b")


def scrub_checksums(text: str) -> str:
    """``text`` with each ``role.<sha256>`` file name's checksum replaced by ``<checksum>``."""
    return _ROLE_CHECKSUM.sub(".<checksum>", text)


def label_inspect(entries: Any, known: dict[str, str]) -> Any:
    """Replace key IDs in ``docker trust inspect`` JSON by stable labels.

    Keys in ``known`` keep their labels, the administrative keys become
    ``Root``/``Repository``, anything else ``key#N`` by first appearance. Every
    list is sorted: docker fills them from Go maps (signers, tags with two digests)
    or orders them by key ID, which differ per side, so their order is noise.
    """
    labels = dict(known)
    for entry in entries if isinstance(entries, list) else []:
        for admin in entry.get("AdministrativeKeys") or []:
            for key in admin.get("Keys") or []:
                labels.setdefault(key["ID"], admin["Name"])
    unknown: dict[str, str] = {}

    def label(key_id: str) -> str:
        if key_id in labels:
            return labels[key_id]
        return unknown.setdefault(key_id, f"key#{len(unknown) + 1}")

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if isinstance(node.get("Keys"), list):
                node = dict(node, Keys=sorted(label(key["ID"]) for key in node["Keys"]))
            return {name: walk(value) for name, value in node.items()}
        if isinstance(node, list):
            return sorted((walk(item) for item in node), key=_canonical)
        return node

    return walk(entries)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def same_lines(left: str, right: str) -> bool:
    """Whether two texts have the same lines, in any order."""
    return sorted(left.splitlines()) == sorted(right.splitlines())
