r"""The server-managed timestamp and snapshot keys (Go ``GetOrCreate*Key``, ``Rotate*Key``).

Beyond Go (ADR 0021): :class:`KeyMinting` makes concurrent ``GET``\s of one
GUN and role share one key creation, and charges every request that creates
a key to its client's :class:`KeyCreationBudget`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from notary_server.services.current import get_current, parse_stored
from notary_server.storage import NotFoundError, StorageError
from notary_server.storage._common import utcnow
from notary_server.storage.base import AuditEvent
from notary_server.token_buckets import TokenBuckets
from notary_tuf.rolenames import ROOT

if TYPE_CHECKING:
    from notary_server.storage.base import Audit, MetaStore
    from notary_server.storage.capabilities import AuditLog
    from notary_server.trust.base import CryptoService
    from notary_tuf.keys import PublicKey
    from notary_tuf.models import Root
    from notary_tuf.signed import Metadata

__all__ = [
    "ROTATION_ACTION",
    "KeyCreationBudget",
    "KeyCreationRefusedError",
    "KeyMinting",
    "get_or_create_key",
    "record_rotation",
    "rotate_key",
    "rotation_detail",
]

logger = logging.getLogger(__name__)

ROTATION_ACTION = "key-rotation"
"""The audit log action of ``POST {role}.key``."""


def rotation_detail(role: str, key_id: str) -> str:
    """The audit detail of a key rotation (the purge reads the key ID back)."""
    return f"role={role} key={key_id}"


class KeyCreationRefusedError(Exception):
    """The client's key creation budget is spent (the handler answers 429).

    Attributes:
        rate: the configured ``limits.key_creation.per_second``.
    """

    def __init__(self, rate: float) -> None:
        """Record the configured rate."""
        super().__init__(f"key creation budget spent (rate {rate:g}/s)")
        self.rate = rate


class KeyCreationBudget(TokenBuckets):
    """Token buckets of key creations per client key, at most ``clients`` of them (LRU).

    A request that may create a key takes a token first (none left: refused);
    it is given back when no key was created after all (a pending key reused,
    or a failure). Dropping the least recently seen bucket only forgives a
    client, so memory stays bounded.
    """


@dataclass(slots=True)
class _Flight:
    task: asyncio.Task[PublicKey]
    followers: int = 0


class KeyMinting:
    """One process's key creations: ``GET`` single flight, and the creation budget.

    Concurrent ``GET {role}.key`` requests of one GUN and role that find no
    held key share one creation (the first request's; the others wait for its
    key and are not charged). Creation runs as a task of its own, so a leader
    whose client disconnects does not fail the followers.
    """

    def __init__(self, budget: KeyCreationBudget | None = None) -> None:
        """Mint under ``budget`` (None: no creation budget)."""
        self.budget = budget
        self._flights: dict[tuple[str, str], _Flight] = {}

    def waiting(self, gun: str, role: str) -> int:
        """How many requests wait for the creation in flight for (gun, role) (for tests)."""
        flight = self._flights.get((gun, role))
        return 0 if flight is None else flight.followers

    def _charge(self, client: str) -> None:
        if self.budget is not None and not self.budget.take(client):
            raise KeyCreationRefusedError(self.budget.rate)

    def _refund(self, client: str) -> None:
        if self.budget is not None:
            self.budget.give_back(client)

    async def get_or_create(
        self, crypto: CryptoService, gun: str, role: str, algorithm: str, client: str
    ) -> PublicKey:
        """The key a ``GET`` creates: joins the creation in flight, or starts one.

        Raises:
            KeyCreationRefusedError: ``client``'s budget is spent (only a
                request that starts a creation is charged).
            TrustServiceError: the trust service failed.
        """
        name = (gun, role)
        flight = self._flights.get(name)
        if flight is None:
            self._charge(client)
            task = asyncio.ensure_future(self._create(crypto, gun, role, algorithm, client))
            flight = self._flights[name] = _Flight(task)
            task.add_done_callback(functools.partial(self._landed, name, flight))
        else:
            flight.followers += 1
        return await asyncio.shield(flight.task)

    def _landed(
        self, name: tuple[str, str], flight: _Flight, task: asyncio.Task[PublicKey]
    ) -> None:
        if self._flights.get(name) is flight:
            del self._flights[name]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have gone

    async def _create(
        self, crypto: CryptoService, gun: str, role: str, algorithm: str, client: str
    ) -> PublicKey:
        created = False
        try:
            key, created = await crypto.get_or_create_key(role, gun, algorithm)
        finally:
            if not created:
                self._refund(client)
        return key

    async def rotate(
        self, crypto: CryptoService, gun: str, role: str, algorithm: str, client: str
    ) -> PublicKey:
        """A rotation's new key, charged to ``client`` (refunded if it fails).

        Raises:
            KeyCreationRefusedError: ``client``'s budget is spent.
            TrustServiceError: the trust service failed.
        """
        self._charge(client)
        try:
            return await crypto.rotate_key(role, gun, algorithm)
        except BaseException:
            self._refund(client)
            raise


async def get_or_create_key(
    store: MetaStore,
    crypto: CryptoService,
    gun: str,
    role: str,
    algorithm: str,
    *,
    minting: KeyMinting | None = None,
    client: str = "",
) -> PublicKey:
    """Return a key the trust service holds for ``role``, creating one if needed.

    With no root stored yet, a key is created (a signer hands back its pending
    key, so repeated GETs agree and a GET after a rotation returns the rotated
    key; the local service makes a new key every time, as Go's does).
    Otherwise the first key of the root's ``role`` that the service holds is
    returned, and a key is created only when it holds none of them. Creations
    go through ``minting`` (ADR 0021): concurrent GETs share one, and only a
    request that may create a key is charged to ``client``'s budget.

    Raises:
        KeyCreationRefusedError: ``client``'s key creation budget is spent.
        TrustServiceError: the trust service failed.
        StorageError: the store failed or holds an unusable root.
    """
    minting = minting if minting is not None else KeyMinting()
    try:
        root: Metadata[Root] = parse_stored(ROOT, await get_current(store, gun, ROOT))
    except NotFoundError:
        return await minting.get_or_create(crypto, gun, role, algorithm, client)
    for keyid in root.signed.roles[role].keyids:
        held = await crypto.get_key(keyid)
        if held is not None:
            return held
    return await minting.get_or_create(crypto, gun, role, algorithm, client)


async def rotate_key(
    crypto: CryptoService,
    gun: str,
    role: str,
    algorithm: str,
    *,
    minting: KeyMinting | None = None,
    client: str = "",
) -> PublicKey:
    """Create a new key for ``role``; it takes effect once a root lists it.

    The key is one the trust service never handed out before: not the current
    key, not the key a ``GET`` returned, not an earlier rotation's. (Go's
    server on Go's SQL signer hands back the pending key there, so a rotation
    right after a ``GET`` "rotates" to the key the GET gave.) It is charged to
    ``client``'s key creation budget.

    Raises:
        KeyCreationRefusedError: ``client``'s key creation budget is spent.
        TrustServiceError: the trust service failed.
    """
    minting = minting if minting is not None else KeyMinting()
    return await minting.rotate(crypto, gun, role, algorithm, client)


async def record_rotation(
    store: AuditLog, gun: str, role: str, key: PublicKey, audit: Audit
) -> None:
    """Record a key rotation in the audit log (a failure is logged, never raised).

    The rotation has happened at the signer by then; refusing the request
    because the audit log is unavailable would only hide the new key.
    """
    event = AuditEvent(
        created_at=utcnow(),
        gun=gun,
        action=ROTATION_ACTION,
        detail=rotation_detail(role, key.key_id),
        actor=audit.actor,
        client_addr=audit.client_addr,
    )
    try:
        await store.record_audit(event)
    except StorageError as e:
        logger.warning("%s: the %s key rotation was not audited: %s", gun, role, e)
