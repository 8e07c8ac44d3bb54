"""The signer's key service: create, look up, sign with and delete keys.

Port of the behaviour behind Go ``signer/api/rpc_api.go``: the SQL key store
(``signer/keydbstore/sql_keydbstore.go``) wrapped in the cache of
``cachedcryptoservice.go``. Transport-free; :mod:`notary_signer.servicers`
maps its errors to gRPC codes.

* ``create_key`` generates and stores a new key, unless the caller asks for
  ``reuse_pending``: then the newest pending key (never used to sign) for the
  same GUN, role and algorithm is handed back if there is one. Go's SQL store
  always reuses its (single) pending key, so a rotation right after a ``GET
  {role}.key`` hands back the very key the GET returned; Go's ``memory``
  backend always generates. Ours generates unless told otherwise, so a caller
  that cannot say what it wants (Go's server) always gets a key nobody was
  given before, and our server asks for reuse only on ``GET {role}.key``
  (:data:`notary_signer.servicers.CREATE_MODE_METADATA`). Get-or-create is
  atomic (ADR 0021): concurrent callers for one GUN, role and algorithm wait
  for each other in this process, and the store inserts a new key only while
  none is pending (an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on
  SQLite), so replicas on one database hand out one pending key too.
* Keys are encrypted at rest with the passphrase of ``default_alias`` (JWE,
  :mod:`notary_signer.jwe`); the row records the alias, and decryption uses the
  row's alias. The memory backend keeps plaintext, as Go's does.
* Every successful signature sets ``last_used`` (Go ``activatingPrivateKey``):
  before the answer when the key was pending, within a second after it
  otherwise (:mod:`notary_signer.usage`, ADR 0033); a failure to record it is
  logged, and the signature is still returned.
* Decrypted keys are kept in a bounded in-process LRU cache.

PBKDF2 and key generation run in a worker thread to keep the event loop free.
Nothing here logs key material, passphrases or signed payloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from notary_signer import jwe
from notary_signer.crypto import SUPPORTED_ALGORITHMS, SignerKey
from notary_signer.errors import KeyDecryptionError, UnsupportedAlgorithmError
from notary_signer.keystore.base import KeyRecord
from notary_signer.usage import FLUSH_SECONDS, UsageRecorder

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from notary_signer.config import Passphrases
    from notary_signer.keystore.base import KeyStore

__all__ = ["DEFAULT_CACHE_SIZE", "KeyInfo", "KeyService"]

logger = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE: Final = 1024


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What the RPCs return about a key.

    Attributes:
        key_id: The TUF key ID.
        algorithm: The TUF key type.
        public: Raw public bytes (ecdsa: DER SPKI; ed25519: 32 bytes).
        role: The role the key was created for.
        created: True when :meth:`KeyService.create_key` generated the key
            (False for a pending key handed back again, and for look-ups).
    """

    key_id: str
    algorithm: str
    public: bytes
    role: str
    created: bool = False


def _info(key: SignerKey, role: str, *, created: bool = False) -> KeyInfo:
    return KeyInfo(key.key_id, key.algorithm, key.public_key.public, role, created)


@dataclass(slots=True)
class _Held:
    """A decrypted key in the cache; ``used``: the store shows it has signed (not pending)."""

    key: SignerKey
    role: str
    used: bool


class KeyService:
    """Keys in a :class:`KeyStore`, encrypted under passphrase aliases."""

    def __init__(
        self,
        store: KeyStore,
        passphrases: Passphrases,
        default_alias: str,
        *,
        encrypt: bool = True,
        cache_size: int = DEFAULT_CACHE_SIZE,
        usage_interval: float = FLUSH_SECONDS,
    ) -> None:
        """Serve keys from ``store``.

        Args:
            store: Where the rows live.
            passphrases: The ``NOTARY_SIGNER_<ALIAS>`` passphrases.
            default_alias: The alias new keys are encrypted under.
            encrypt: ``False`` for the memory backend, which keeps plaintext.
            cache_size: How many decrypted keys to keep.
            usage_interval: How long ``last_used`` of a key that has signed
                before may lag its newest signature.
        """
        self._store = store
        self._passphrases = passphrases
        self._default_alias = default_alias
        self._encrypt = encrypt
        self._cache_size = cache_size
        self._cache: OrderedDict[str, _Held] = OrderedDict()
        self._usage = UsageRecorder(store, interval=usage_interval)
        self._creating: dict[tuple[str, str, str], tuple[asyncio.Lock, int]] = {}

    @property
    def store(self) -> KeyStore:
        """The underlying key store."""
        return self._store

    async def create_key(
        self, algorithm: str, gun: str, role: str, *, reuse_pending: bool = False
    ) -> KeyInfo:
        """Generate a key for (gun, role, algorithm) and store it pending.

        With ``reuse_pending``, the newest pending key for (gun, role,
        algorithm) is returned instead when there is one (Go's SQL store
        reuses its pending key, so repeated ``GET {role}.key`` get one key).
        Without it a new key is always generated, so no two calls return the
        same key: a rotation never hands back a key handed out before.

        Raises:
            UnsupportedAlgorithmError: ``algorithm`` is not ``ecdsa`` or ``ed25519``.
            PassphraseError: the default alias has no passphrase.
            KeyStoreError: the database failed.
        """
        if algorithm not in SUPPORTED_ALGORITHMS:
            # Checked before touching the database, as Go's service lookup is.
            raise UnsupportedAlgorithmError(f"algorithm {algorithm} not supported for create key")
        if reuse_pending:
            async with self._getting(gun, role, algorithm):
                return await self._get_or_create(algorithm, gun, role)
        key, record = await self._generate(algorithm, gun, role)
        await self._store.add(record)
        self._remember(key.key_id, _Held(key, role, used=False))
        logger.info("created %s key %s for %s/%s", algorithm, key.key_id, gun, role)
        return _info(key, role, created=True)

    async def _generate(self, algorithm: str, gun: str, role: str) -> tuple[SignerKey, KeyRecord]:
        key = await asyncio.to_thread(SignerKey.generate, algorithm)
        return key, await asyncio.to_thread(self._seal, key, gun, role)

    async def _get_or_create(self, algorithm: str, gun: str, role: str) -> KeyInfo:
        """The pending key, or a new one stored pending; the first writer wins.

        Called under :meth:`_getting`, so one service generates at most one key
        for concurrent callers; the store's ``add_unless_pending`` settles the
        race between replicas sharing the database.
        """
        pending = await self._store.get_pending(gun, role, algorithm)
        if pending is None:
            key, record = await self._generate(algorithm, gun, role)
            pending = await self._store.add_unless_pending(record)
            if pending is record:
                self._remember(key.key_id, _Held(key, role, used=False))
                logger.info("created %s key %s for %s/%s", algorithm, key.key_id, gun, role)
                return _info(key, role, created=True)
            logger.info("another signer stored a pending key for %s/%s first", gun, role)
        logger.debug("reusing pending key %s for %s/%s", pending.key_id, gun, role)
        return KeyInfo(pending.key_id, pending.algorithm, pending.public, pending.role)

    @contextlib.asynccontextmanager
    async def _getting(self, gun: str, role: str, algorithm: str) -> AsyncIterator[None]:
        """Hold the get-or-create lock of (gun, role, algorithm); unused locks are dropped."""
        name = (gun, role, algorithm)
        lock, users = self._creating.get(name, (asyncio.Lock(), 0))
        self._creating[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._creating[name]
            if users == 1:
                del self._creating[name]
            else:
                self._creating[name] = (lock, users - 1)

    def _seal(self, key: SignerKey, gun: str, role: str) -> KeyRecord:
        private = key.private_bytes()
        alias = ""
        if self._encrypt:
            alias = self._default_alias
            private = jwe.encrypt(private, self._passphrases.get(alias)).encode("ascii")
        return KeyRecord(
            key_id=key.key_id,
            algorithm=key.algorithm,
            gun=gun,
            role=role,
            public=key.public_key.public,
            private=private,
            passphrase_alias=alias,
            encryption_alg=jwe.ENCRYPTION_ALG if self._encrypt else "",
            keywrap_alg=jwe.KEYWRAP_ALG if self._encrypt else "",
        )

    def _open(self, record: KeyRecord) -> SignerKey:
        raw = record.private
        if self._encrypt:
            passphrase = self._passphrases.get(record.passphrase_alias)
            try:
                raw = jwe.decrypt(raw, passphrase)
            except KeyDecryptionError as e:  # say which key and which passphrase (issue #19)
                raise KeyDecryptionError(
                    f"{e} (key {record.key_id}, passphrase alias {record.passphrase_alias!r})"
                ) from e
        key = SignerKey.from_private_bytes(record.algorithm, raw)
        if key.key_id != record.key_id:
            raise KeyDecryptionError(f"stored key {record.key_id} does not match its key ID")
        return key

    def _remember(self, key_id: str, held: _Held) -> None:
        self._cache[key_id] = held
        self._cache.move_to_end(key_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def get_key(self, key_id: str) -> tuple[SignerKey, str]:
        """Return the usable private key and its role.

        Raises:
            KeyNotFoundError: no live key has this ID.
            PassphraseError: the row's alias has no passphrase.
            KeyDecryptionError: the row cannot be decrypted or parsed.
            KeyStoreError: the database failed.
        """
        held = await self._held(key_id)
        return held.key, held.role

    async def _held(self, key_id: str) -> _Held:
        cached = self._cache.get(key_id)
        if cached is not None:
            self._cache.move_to_end(key_id)
            return cached
        record = await self._store.get(key_id)
        key = await asyncio.to_thread(self._open, record)
        held = _Held(key, record.role, used=record.last_used is not None)
        self._remember(key_id, held)
        return held

    async def key_info(self, key_id: str) -> KeyInfo:
        """Return the public information of a usable key (see :meth:`get_key`)."""
        key, role = await self.get_key(key_id)
        return _info(key, role)

    async def sign(self, key_id: str, message: bytes) -> tuple[SignerKey, bytes]:
        """Sign the full ``message`` and mark the key used.

        Raises:
            KeyNotFoundError: no live key has this ID.
            PassphraseError: the row's alias has no passphrase.
            KeyDecryptionError: the row cannot be decrypted or parsed.
            KeyStoreError: the database failed.
        """
        held = await self._held(key_id)
        signature = held.key.sign(message)
        now = datetime.now(UTC)
        if held.used:
            self._usage.later_use(key_id, now)
        elif await self._usage.first_use(key_id, now):
            held.used = True
        return held.key, signature

    async def close(self) -> None:
        """Write the signing times not yet written (call before closing the store)."""
        await self._usage.close()

    async def delete_key(self, key_id: str) -> None:
        """Forget the key (soft delete; deleting a missing key succeeds).

        Raises:
            KeyStoreError: the database failed.
        """
        self._cache.pop(key_id, None)
        await self._store.delete(key_id)
        logger.info("deleted key %s", key_id)
