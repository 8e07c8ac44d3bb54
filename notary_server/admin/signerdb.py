"""The signer's ``private_keys`` table, reached directly for ``purge --signer-config``.

The server never imports :mod:`notary_signer` (layering rule). The table and
column names are Go notary 0.7's (``migrations/signer``), which both signers
use, so two small SQL statements serve our signer's database and Go's alike
(ADR 0009). Only ``storage.backend`` and ``storage.db_url`` of
``signer-config.json`` are read, with Go's ``NOTARY_SIGNER_STORAGE_*``
environment overrides.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import asyncpg

from notary_server.services.purge import SignerKeyRow
from notary_server.storage import StorageError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["SignerDatabase", "open_signer_database"]

_ROWS: Final = "SELECT key_id, gun, role, deleted_at IS NOT NULL FROM private_keys WHERE gun = {p}"
_OWNERS: Final = "SELECT key_id, gun FROM private_keys WHERE key_id IN ({marks})"
# A hard delete: soft-deleted rows still hold the encrypted private key.
_DELETE: Final = "DELETE FROM private_keys WHERE gun = {p}"


def _setting(document: Mapping[str, Any], environ: Mapping[str, str], key: str) -> str:
    env = "NOTARY_SIGNER_" + key.replace(".", "_").upper()
    if env in environ:
        return environ[env]
    node: Any = document
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, str) else ""


class SignerDatabase:
    """``private_keys`` on PostgreSQL (asyncpg) or SQLite (stdlib, off the event loop)."""

    def __init__(self, backend: str, db_url: str) -> None:
        """Remember where the table is; every call opens and closes its connection."""
        self.backend = backend
        self.db_url = db_url

    async def _pg(self, query: str, *args: object, fetch: bool) -> list[tuple[Any, ...]]:
        try:
            conn = await asyncpg.connect(self.db_url, timeout=10)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            raise StorageError(f"cannot connect to the signer database: {e}") from e
        try:
            if fetch:
                return [tuple(row) for row in await conn.fetch(query, *args)]
            status = await conn.execute(query, *args)
            return [(int(status.rsplit(" ", 1)[-1]),)]
        except asyncpg.PostgresError as e:
            raise StorageError(f"signer database: {e}") from e
        finally:
            await conn.close()

    def _sqlite_sync(self, query: str, args: tuple[object, ...], *, fetch: bool) -> list[Any]:
        path = self.db_url.removeprefix("file:").split("?", 1)[0]
        if not Path(path).exists():
            raise StorageError(f"the signer database {path} does not exist")
        try:
            conn = sqlite3.connect(path, timeout=10, isolation_level=None)
        except sqlite3.Error as e:
            raise StorageError(f"cannot open the signer database: {e}") from e
        try:
            cursor = conn.execute(query, args)
            return cursor.fetchall() if fetch else [(cursor.rowcount,)]
        except sqlite3.Error as e:
            raise StorageError(f"signer database: {e}") from e
        finally:
            conn.close()

    async def _query(self, query: str, args: tuple[object, ...], *, fetch: bool) -> list[Any]:
        if self.backend == "postgres":
            marks = iter(f"${i}" for i in range(1, len(args) + 1))
            return await self._pg(query.replace("?", "{}").format(*marks), *args, fetch=fetch)
        return await asyncio.to_thread(self._sqlite_sync, query, args, fetch=fetch)

    async def rows_for(self, gun: str) -> list[SignerKeyRow]:
        """Every row (live or soft-deleted) of the GUN.

        Raises:
            StorageError: the database failed.
        """
        rows = await self._query(_ROWS.format(p="?"), (gun,), fetch=True)
        return [
            SignerKeyRow(key_id=str(r[0]), gun=str(r[1]), role=str(r[2]), deleted=bool(r[3]))
            for r in rows
        ]

    async def owners(self, key_ids: Iterable[str]) -> dict[str, str]:
        """The GUN each of these key IDs was made for.

        Raises:
            StorageError: the database failed.
        """
        ids = tuple(key_ids)
        if not ids:
            return {}
        query = _OWNERS.format(marks=", ".join("?" * len(ids)))
        return {str(r[0]): str(r[1]) for r in await self._query(query, ids, fetch=True)}

    async def delete_gun(self, gun: str) -> int:
        """Delete every row of the GUN outright; return how many.

        Raises:
            StorageError: the database failed.
        """
        rows = await self._query(_DELETE.format(p="?"), (gun,), fetch=False)
        return int(rows[0][0])


def open_signer_database(path: Path, environ: Mapping[str, str]) -> SignerDatabase:
    """Read ``signer-config.json`` and describe its database.

    Raises:
        StorageError: the file is unreadable or names no SQL database.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise StorageError(f"{path}: cannot read the signer configuration: {e}") from e
    backend = _setting(document, environ, "storage.backend")
    db_url = _setting(document, environ, "storage.db_url")
    if backend not in ("postgres", "sqlite3") or not db_url:
        raise StorageError(
            f"{path}: storage.backend must be postgres or sqlite3 with a db_url "
            f"(got {backend or 'nothing'!r}); a memory signer has nothing to purge"
        )
    if backend == "sqlite3" and not db_url.startswith("file:") and not Path(db_url).is_absolute():
        db_url = str(path.resolve().parent / db_url)
    return SignerDatabase(backend, db_url)
