"""Rules every metadata store shares: checksums, version bounds, changefeed paging.

Kept apart from the backends so that memory, SQLite and PostgreSQL agree by
construction rather than by copy. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from notary_server.storage import OldVersionError, StorageError
from notary_tuf.validation import MAX_VERSION

if TYPE_CHECKING:
    from collections.abc import Sequence

    from notary_tuf.validation import MetaUpdate

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MIN_VERSION",
    "TIMESTAMP_ROLE",
    "ChangesPage",
    "changes_page",
    "check_against_stored",
    "check_batch",
    "sha256_hex",
    "utcnow",
    "version_fits",
]

DEFAULT_PAGE_SIZE: Final = 100
"""Records returned when ``records`` is 0 (Go ``notary.DefaultPageSize``)."""

MIN_VERSION: Final = -(2**31)
"""Lowest version Go's 32-bit ``integer`` column holds (highest: ``MAX_VERSION``)."""

_MAX_INT32: Final = 2**31 - 1

TIMESTAMP_ROLE: Final = "timestamp"


def sha256_hex(data: bytes) -> str:
    """Return the lowercase hex SHA-256 of ``data``, as stored in ``sha256`` columns."""
    return hashlib.sha256(data).hexdigest()


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


def version_fits(version: int) -> bool:
    """Tell whether ``version`` fits Go's 32-bit ``integer`` version column."""
    return MIN_VERSION <= version <= MAX_VERSION


def check_batch(updates: Sequence[MetaUpdate]) -> None:
    """Reject a batch that no backend may store, before touching storage.

    Raises:
        StorageError: a version does not fit Go's 32-bit ``integer`` column
            (Cure53 TUF-01-002: Go would fail or wrap).
        OldVersionError: two updates share a role and version (Go
            ``UpdateMany``'s duplicate check).
    """
    seen: set[tuple[str, int]] = set()
    for update in updates:
        if not version_fits(update.version):
            raise StorageError(
                f"{update.role} version {update.version} does not fit a 32-bit integer"
            )
        key = (update.role, update.version)
        if key in seen:
            raise OldVersionError(f"{update.role} version {update.version} appears twice")
        seen.add(key)


def check_against_stored(updates: Sequence[MetaUpdate], stored: dict[str, int]) -> None:
    """Reject updates not above the highest stored version of their role.

    The check is against what was stored *before* the batch, so a batch may
    carry several versions of one role in any order (Go checks outside its
    transaction, which has this effect).

    Args:
        updates: the batch.
        stored: highest stored version per role; roles absent have none.

    Raises:
        OldVersionError: some update is not newer than what is stored.
    """
    for update in updates:
        current = stored.get(update.role)
        if current is not None and current >= update.version:
            raise OldVersionError(
                f"{update.role} version {update.version} is not above stored version {current}"
            )


@dataclass(frozen=True, slots=True)
class ChangesPage:
    """One changefeed query, normalised (Go ``SQLStorage.GetChanges``).

    Attributes:
        backwards: read from the newest record down (results are still
            returned oldest first).
        after: forward only: return records with ``id > after``.
        before: backwards only: return records with ``id < before``, or
            from the newest record when None.
        limit: at most this many records.
    """

    backwards: bool
    after: int
    before: int | None
    limit: int


def changes_page(change_id: int, records: int) -> ChangesPage:
    """Turn ``get_changes`` arguments into a query (docs/protocol.md#changefeed).

    ``records == 0`` means :data:`DEFAULT_PAGE_SIZE`; Go's handler applies
    that default, the stores apply it too so that every caller gets it.
    A negative ``change_id`` or ``records`` reads backwards with
    ``|records|`` records; backwards with ``change_id > 0`` reads below it.
    """
    if records == 0:
        records = DEFAULT_PAGE_SIZE
    backwards = change_id < 0 or records < 0
    # IDs are 32-bit serials; clamping keeps out-of-range arguments harmless.
    change_id = min(change_id, _MAX_INT32)
    limit = min(abs(records), _MAX_INT32)
    if backwards:
        return ChangesPage(
            backwards=True, after=0, before=change_id if change_id > 0 else None, limit=limit
        )
    return ChangesPage(backwards=False, after=change_id, before=None, limit=limit)
