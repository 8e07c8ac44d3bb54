"""Which GUNs the server accepts at all (beyond Go, ADR 0012).

Go's routes take any GUN matching ``[^*]+``; its SQL columns are
``varchar(255)``, so a longer GUN makes PostgreSQL fail the insert (a 500),
and a NUL character cannot be stored in PostgreSQL text at all. We refuse such
GUNs before anything else looks at them, with the error the route gives a GUN
outside ``repositories.gun_prefixes``: ``INVALID_GUN`` (400) for an upload,
``METADATA_NOT_FOUND`` (404) for reads and deletes. No real client notices:
Docker's own reference grammar caps a repository name at 255 characters and
allows no control characters.

Path tricks need no rule here: the dispatcher redirects unclean paths (``..``,
``.``, ``//``) to their clean form first, as gorilla/mux does, so a GUN never
contains such segments.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["MAX_GUN_LENGTH", "gun_problem"]

MAX_GUN_LENGTH: Final = 255
"""The ``gun`` columns are ``varchar(255)`` (Go's schema; PostgreSQL counts characters)."""

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def gun_problem(gun: str) -> str | None:
    """Return why ``gun`` cannot be a repository name, or None when it can."""
    if len(gun) > MAX_GUN_LENGTH:
        return f"GUN is longer than {MAX_GUN_LENGTH} characters"
    if _CONTROL.search(gun) is not None:
        return "GUN contains a control character"
    return None
