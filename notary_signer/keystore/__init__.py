"""Where the signer keeps its keys: Go's ``private_keys`` table, or memory.

:class:`KeyStore` (``base``) is the contract; ``memory``, ``sqlite`` and
``postgres`` implement it. Backends are chosen by Go's ``storage.backend``
names through an explicit table, never discovered.
"""

from __future__ import annotations

from notary_signer.errors import KeyExistsError, KeyNotFoundError, KeyStoreError
from notary_signer.keystore.base import KeyRecord, KeyStore
from notary_signer.keystore.memory import MemoryKeyStore

__all__ = [
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyRecord",
    "KeyStore",
    "KeyStoreError",
    "MemoryKeyStore",
    "open_keystore",
]


async def open_keystore(backend: str, db_url: str) -> KeyStore:
    """Open the store for a Go ``storage.backend`` name.

    ``sqlite3`` creates the schema in an empty file; ``postgres`` expects it
    (``python -m notary_signer migrate``).

    Raises:
        KeyStoreError: unknown backend, or the database cannot be opened.
    """
    if backend == "memory":
        return MemoryKeyStore()
    if backend == "sqlite3":
        from notary_signer.keystore.sqlite import open_sqlite  # noqa: PLC0415 - optional backend

        return await open_sqlite(db_url)
    if backend == "postgres":
        from notary_signer.keystore.postgres import open_postgres  # noqa: PLC0415

        return await open_postgres(db_url)
    raise KeyStoreError(f"unknown storage backend {backend!r}")
