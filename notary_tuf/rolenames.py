"""Role names and the delegation naming rules (port of Go ``tuf/data/roles.go``)."""

from __future__ import annotations

import posixpath
import re
from typing import Final

__all__ = [
    "BASE_ROLES",
    "ROOT",
    "SNAPSHOT",
    "TARGETS",
    "TIMESTAMP",
    "TUF_TYPES",
    "is_base_role",
    "is_delegation",
    "is_valid_role",
    "parent_role",
    "tuf_type_for",
]

ROOT: Final = "root"
TARGETS: Final = "targets"
SNAPSHOT: Final = "snapshot"
TIMESTAMP: Final = "timestamp"
BASE_ROLES: Final = (ROOT, TARGETS, SNAPSHOT, TIMESTAMP)

TUF_TYPES: Final = {ROOT: "Root", TARGETS: "Targets", SNAPSHOT: "Snapshot", TIMESTAMP: "Timestamp"}

_DELEGATION_CHARS: Final = re.compile(r"[-a-z0-9_/]+\Z")
_MAX_ROLE_LENGTH: Final = 255  # the tuf_files.role column is varchar(255)


def is_base_role(name: str) -> bool:
    """Return True for ``root``, ``targets``, ``snapshot`` and ``timestamp``."""
    return name in BASE_ROLES


def is_delegation(name: str) -> bool:
    """Return True when ``name`` is a valid delegation name such as ``targets/releases``.

    The name must start with ``targets/``, use only ``[-a-z0-9_/]``, be at most
    255 characters, and be a clean path (no empty, ``.`` or ``..`` segments and
    no trailing slash).
    """
    return (
        name.startswith(TARGETS + "/")
        and _DELEGATION_CHARS.match(name) is not None
        and len(name) <= _MAX_ROLE_LENGTH
        and posixpath.normpath(name) == name
    )


def is_valid_role(name: str) -> bool:
    """Return True for a base role or a valid delegation name."""
    return is_base_role(name) or is_delegation(name)


def parent_role(name: str) -> str:
    """Return the role that delegates to ``name`` (``targets/a/b`` → ``targets/a``)."""
    return posixpath.dirname(name)


def tuf_type_for(name: str) -> str:
    """Return the ``_type`` a role's metadata must carry (delegations are ``Targets``)."""
    if is_delegation(name):
        return TUF_TYPES[TARGETS]
    return TUF_TYPES[name]
