"""Which GUNs the server accepts at all (beyond Go, ADR 0012).

Go's routes take any GUN matching ``[^*]+``; its SQL columns are
``varchar(255)``, so a longer GUN makes PostgreSQL fail the insert (a 500),
and a NUL character cannot be stored in PostgreSQL text at all. We refuse such
GUNs before anything else looks at them, with the error the route gives a GUN
outside ``repositories.gun_prefixes``: ``INVALID_GUN`` (400) for an upload,
``METADATA_NOT_FOUND`` (404) for reads and deletes. No real client notices:
Docker's own reference grammar caps a repository name at 255 characters and
allows no control characters.

Path tricks (ADR 0018): for reads, the dispatcher redirects unclean paths
(``..``, ``.``, ``//``) to their clean form, as gorilla/mux does, and matches
the decoded path, so ``a%2Fb`` reads ``a/b``. A write (POST, PUT, PATCH,
DELETE) whose path is not clean or that holds an encoded slash, backslash or
percent sign is refused instead (:func:`write_path_problem`): a proxy or an
authorisation layer in front of the server would see one repository name and
the storage another. Go's client and the docker CLI never send such paths.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["MAX_GUN_LENGTH", "WRITE_METHODS", "gun_problem", "write_path_problem"]

MAX_GUN_LENGTH: Final = 255
"""The ``gun`` columns are ``varchar(255)`` (Go's schema; PostgreSQL counts characters)."""

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")

WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods whose path must name the repository unambiguously (:func:`write_path_problem`)."""

# %2F a slash, %5C a backslash, %25 a percent sign (double encoding: %252F).
_AMBIGUOUS_ESCAPE: Final = re.compile(r"%(?:2[fF]|5[cC]|25)")


def gun_problem(gun: str) -> str | None:
    """Return why ``gun`` cannot be a repository name, or None when it can."""
    if len(gun) > MAX_GUN_LENGTH:
        return f"GUN is longer than {MAX_GUN_LENGTH} characters"
    if _CONTROL.search(gun) is not None:
        return "GUN contains a control character"
    return None


def write_path_problem(raw_path: str, path: str, cleaned: str) -> str | None:
    """Return why a write to this path is refused, or None when its path is unambiguous.

    Args:
        raw_path: the path as sent (percent-encoded).
        path: the decoded path.
        cleaned: ``path`` cleaned as gorilla/mux does.
    """
    if cleaned != path:
        return "the path of a write must be clean: no '.', '..' or empty segment"
    if _AMBIGUOUS_ESCAPE.search(raw_path) is not None:
        return "the path of a write must not hold an encoded '/', '\\' or '%'"
    if "\\" in path:
        return "the path of a write must not hold a backslash"
    return None
