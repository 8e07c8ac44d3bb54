"""The in-memory key store: the reference implementation of the contract, for tests.

Go's ``memory`` backend keeps keys unencrypted in process memory and loses them
at restart; so does this one (the key service stores plaintext rows here).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from notary_signer.errors import KeyExistsError, KeyNotFoundError
from notary_signer.keystore.base import KeyRecord, KeyStore

__all__ = ["MemoryKeyStore"]


@dataclasses.dataclass(slots=True)
class _Row:
    record: KeyRecord
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


class MemoryKeyStore(KeyStore):
    """Rows in a dict keyed by key ID; every method is atomic on the event loop."""

    def __init__(self) -> None:
        """Start empty."""
        self._rows: dict[str, _Row] = {}

    async def add(self, record: KeyRecord) -> None:
        """Insert a new row (see :meth:`KeyStore.add`)."""
        if record.key_id in self._rows:
            raise KeyExistsError(f"key {record.key_id} is already stored")
        now = datetime.now(UTC)
        self._rows[record.key_id] = _Row(dataclasses.replace(record, last_used=None), now, now)

    def _live(self, key_id: str) -> _Row | None:
        row = self._rows.get(key_id)
        return row if row is not None and row.deleted_at is None else None

    async def get(self, key_id: str) -> KeyRecord:
        """Return the live row (see :meth:`KeyStore.get`)."""
        row = self._live(key_id)
        if row is None:
            raise KeyNotFoundError(key_id)
        return row.record

    async def get_pending(self, gun: str, role: str, algorithm: str) -> KeyRecord | None:
        """Return the newest pending key (see :meth:`KeyStore.get_pending`)."""
        # Rows are never re-inserted (a key ID stays taken), so dict order is insertion order.
        for row in reversed(self._rows.values()):
            record = row.record
            if (
                row.deleted_at is None
                and record.last_used is None
                and (record.gun, record.role, record.algorithm) == (gun, role, algorithm)
            ):
                return record
        return None

    async def add_unless_pending(self, record: KeyRecord) -> KeyRecord:
        """Insert unless a key is pending (see :meth:`KeyStore.add_unless_pending`)."""
        # Neither call suspends, so the check and the insert are atomic on the event loop.
        pending = await self.get_pending(record.gun, record.role, record.algorithm)
        if pending is not None:
            return pending
        await self.add(record)
        return record

    async def mark_used(self, key_id: str, when: datetime) -> None:
        """Set ``last_used`` (see :meth:`KeyStore.mark_used`)."""
        row = self._live(key_id)
        if row is not None:
            row.record = dataclasses.replace(row.record, last_used=when)
            row.updated_at = datetime.now(UTC)

    async def delete(self, key_id: str) -> None:
        """Soft-delete (see :meth:`KeyStore.delete`)."""
        row = self._live(key_id)
        if row is not None:
            row.deleted_at = datetime.now(UTC)

    async def list_for_rotation(self, to_alias: str) -> list[str]:
        """Return live keys under another alias (see :meth:`KeyStore.list_for_rotation`)."""
        return sorted(
            key_id
            for key_id, row in self._rows.items()
            if row.deleted_at is None and row.record.passphrase_alias != to_alias
        )

    async def replace_encryption(
        self, key_id: str, *, private: bytes, alias: str, expected_alias: str
    ) -> bool:
        """Compare-and-set the encryption (see :meth:`KeyStore.replace_encryption`)."""
        row = self._live(key_id)
        if row is None or row.record.passphrase_alias != expected_alias:
            return False
        row.record = dataclasses.replace(row.record, private=private, passphrase_alias=alias)
        row.updated_at = datetime.now(UTC)
        return True

    async def one_key_per_alias(self) -> list[KeyRecord]:
        """Return the newest live key of each alias (see :meth:`KeyStore.one_key_per_alias`)."""
        newest: dict[str, KeyRecord] = {}
        for row in self._rows.values():  # insertion order: later rows replace earlier ones
            if row.deleted_at is None:
                newest[row.record.passphrase_alias] = row.record
        return list(newest.values())

    async def check_health(self) -> None:
        """Always healthy."""

    async def close(self) -> None:
        """Nothing to release."""
