"""The key store contract: rows of Go's ``private_keys`` table.

Port of the storage half of Go ``signer/keydbstore/sql_keydbstore.go``. A
store keeps :class:`KeyRecord` rows and knows nothing about encryption, which
is :class:`notary_signer.keys.KeyService`'s business: ``private`` is whatever
that layer wrote (the JWE text for SQL backends).

Deletion is a soft delete (``deleted_at`` is set, as gorm does); every read
ignores deleted rows, and a deleted key's ID stays taken (``UNIQUE (key_id)``).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

__all__ = ["KeyRecord", "KeyStore"]


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRecord:
    """One ``private_keys`` row.

    Attributes:
        key_id: The TUF key ID.
        algorithm: The TUF key type (``ecdsa``, ``ed25519``).
        gun: The GUN the key was created for.
        role: The role (``timestamp``, ``snapshot``).
        public: Raw public bytes (ecdsa: DER SPKI; ed25519: 32 bytes).
        private: The stored private bytes (JWE compact text for SQL backends). Secret.
        passphrase_alias: The alias whose passphrase encrypted ``private``.
        encryption_alg: ``A256GCM``.
        keywrap_alg: ``PBES2-HS256+A128KW``.
        last_used: When the key last signed; ``None`` while it is pending.
    """

    key_id: str
    algorithm: str
    gun: str
    role: str
    public: bytes
    private: bytes
    passphrase_alias: str
    encryption_alg: str
    keywrap_alg: str
    last_used: datetime | None = None

    def __repr__(self) -> str:
        """Leave the private bytes out."""
        return (
            f"KeyRecord(key_id={self.key_id!r}, algorithm={self.algorithm!r}, gun={self.gun!r}, "
            f"role={self.role!r}, passphrase_alias={self.passphrase_alias!r}, "
            f"last_used={self.last_used!r})"
        )


class KeyStore(abc.ABC):
    """Async access to the ``private_keys`` rows."""

    async def __aenter__(self) -> Self:
        """Use the store as an async context manager; it is closed on exit."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        await self.close()

    @abc.abstractmethod
    async def add(self, record: KeyRecord) -> None:
        """Insert a new key row (``created_at``/``updated_at`` now, ``last_used`` NULL).

        Raises:
            KeyExistsError: a row (live or deleted) has the same key ID.
            KeyStoreError: the database failed.
        """

    @abc.abstractmethod
    async def get(self, key_id: str) -> KeyRecord:
        """Return the live row with this key ID.

        Raises:
            KeyNotFoundError: there is none.
            KeyStoreError: the database failed.
        """

    @abc.abstractmethod
    async def get_pending(self, gun: str, role: str, algorithm: str) -> KeyRecord | None:
        """Return the pending key for (gun, role, algorithm), if any.

        The newest (highest ``id``, i.e. last inserted) live row with
        ``last_used IS NULL``. Go ``SQLKeyDBStore.Create`` takes the lowest
        ``key_id`` instead, which only matters when several keys are pending:
        Go's store never makes a second one, ours does on every rotation, and
        the newest is the one the latest rotation handed out.

        Raises:
            KeyStoreError: the database failed.
        """

    @abc.abstractmethod
    async def add_unless_pending(self, record: KeyRecord) -> KeyRecord:
        """Insert ``record`` unless a key for its GUN, role and algorithm is pending.

        One atomic step, also across processes sharing the database (several
        signer replicas): of concurrent callers for one (gun, role, algorithm)
        exactly one inserts, and every other gets that key back (the first
        writer wins). Go's signer does not take part in this: its ``Create``
        checks and inserts without a lock.

        Returns:
            The pending key now stored: an existing one (``record`` is then
            not stored), or ``record``.

        Raises:
            KeyExistsError: a row (live or deleted) has the same key ID.
            KeyStoreError: the database failed.
        """

    @abc.abstractmethod
    async def mark_used(self, key_id: str, when: datetime) -> None:
        """Set ``last_used`` (and ``updated_at``) of a live key; no-op when absent.

        Raises:
            KeyStoreError: the database failed.
        """

    @abc.abstractmethod
    async def delete(self, key_id: str) -> None:
        """Soft-delete the key (set ``deleted_at``); deleting a missing key succeeds.

        Raises:
            KeyStoreError: the database failed.
        """

    @abc.abstractmethod
    async def list_for_rotation(self, to_alias: str) -> list[str]:
        """Return the IDs of live keys not yet encrypted under ``to_alias``, sorted.

        Raises:
            KeyStoreError: the database failed.
        """

    @abc.abstractmethod
    async def replace_encryption(
        self, key_id: str, *, private: bytes, alias: str, expected_alias: str
    ) -> bool:
        """Store re-encrypted private bytes, in one transaction, if the row is unchanged.

        Only ``private``, ``passphrase_alias`` and ``updated_at`` change, and only
        while the row's alias is still ``expected_alias`` (a compare-and-set,
        so a concurrent rotation cannot be overwritten with stale bytes).

        Returns:
            Whether the row was updated.

        Raises:
            KeyStoreError: the database failed.
        """

    @abc.abstractmethod
    async def one_key_per_alias(self) -> list[KeyRecord]:
        """Return one live key for each passphrase alias in use (the newest of each).

        The signer decrypts these at start-up, so that a wrong passphrase stops it
        there instead of failing its first signature (issue #19).

        Raises:
            KeyStoreError: the database failed.
        """

    @abc.abstractmethod
    async def check_health(self) -> None:
        """Fail unless the ``private_keys`` table can be queried (Go ``HealthCheck``).

        Raises:
            KeyStoreError: it cannot.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and threads; idempotent."""
