"""The server-managed timestamp and snapshot keys (Go ``GetOrCreate*Key``, ``Rotate*Key``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from notary_server.services.current import get_current, parse_stored
from notary_server.storage import NotFoundError, StorageError
from notary_server.storage._common import utcnow
from notary_server.storage.base import AuditEvent
from notary_tuf.rolenames import ROOT

if TYPE_CHECKING:
    from notary_server.storage.base import Audit, MetaStore
    from notary_server.trust.base import CryptoService
    from notary_tuf.keys import PublicKey
    from notary_tuf.models import Root
    from notary_tuf.signed import Metadata

__all__ = [
    "ROTATION_ACTION",
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


async def get_or_create_key(
    store: MetaStore, crypto: CryptoService, gun: str, role: str, algorithm: str
) -> PublicKey:
    """Return a key the trust service holds for ``role``, creating one if needed.

    With no root stored yet, a key is created (a signer hands back its pending
    key, so repeated GETs agree and a GET after a rotation returns the rotated
    key; the local service makes a new key every time, as Go's does).
    Otherwise the first key of the root's ``role`` that the service holds is
    returned, and a key is created only when it holds none of them.

    Raises:
        TrustServiceError: the trust service failed.
        StorageError: the store failed or holds an unusable root.
    """
    try:
        root: Metadata[Root] = parse_stored(ROOT, await get_current(store, gun, ROOT))
    except NotFoundError:
        return await crypto.create_key(role, gun, algorithm)
    for keyid in root.signed.roles[role].keyids:
        held = await crypto.get_key(keyid)
        if held is not None:
            return held
    return await crypto.create_key(role, gun, algorithm)


async def rotate_key(crypto: CryptoService, gun: str, role: str, algorithm: str) -> PublicKey:
    """Create a new key for ``role``; it takes effect once a root lists it.

    The key is one the trust service never handed out before: not the current
    key, not the key a ``GET`` returned, not an earlier rotation's. (Go's
    server on Go's SQL signer hands back the pending key there, so a rotation
    right after a ``GET`` "rotates" to the key the GET gave.)

    Raises:
        TrustServiceError: the trust service failed.
    """
    return await crypto.rotate_key(role, gun, algorithm)


async def record_rotation(
    store: MetaStore, gun: str, role: str, key: PublicKey, audit: Audit
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
