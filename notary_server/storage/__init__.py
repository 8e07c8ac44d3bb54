"""Metadata storage: the contract, its errors, and the backends.

Errors port Go ``server/storage/errors.go``, renamed to end in ``Error``.
Backends are chosen by Go's ``storage.backend`` names through an explicit
registry (see :func:`open_store`), never discovered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notary_server.storage.capabilities import Backend

__all__ = ["NotFoundError", "OldVersionError", "StorageError", "open_store"]


class StorageError(Exception):
    """A storage operation failed for a reason other than those below."""


class NotFoundError(StorageError):
    """No record matches (Go ``ErrNotFound``)."""


class OldVersionError(StorageError):
    """A version at least as new is already stored (Go ``ErrOldVersion``)."""


async def open_store(backend: str, db_url: str | None) -> Backend:
    """Open the metadata store Go's ``storage.backend`` and ``storage.db_url`` name.

    See :func:`notary_server.storage.registry.open_store`; imported lazily
    because the backends import the errors above.

    Raises:
        StorageError: the backend is unknown or unsupported, ``db_url`` is
            missing, or the store cannot be opened.
    """
    from notary_server.storage.registry import open_store as _open_store  # noqa: PLC0415

    return await _open_store(backend, db_url)
