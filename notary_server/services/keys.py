"""The server-managed timestamp and snapshot keys (Go ``GetOrCreate*Key``, ``Rotate*Key``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from notary_server.services.current import get_current, parse_stored
from notary_server.storage import NotFoundError
from notary_tuf.rolenames import ROOT

if TYPE_CHECKING:
    from notary_server.storage.base import MetaStore
    from notary_server.trust.base import CryptoService
    from notary_tuf.keys import PublicKey
    from notary_tuf.models import Root
    from notary_tuf.signed import Metadata

__all__ = ["get_or_create_key", "rotate_key"]


async def get_or_create_key(
    store: MetaStore, crypto: CryptoService, gun: str, role: str, algorithm: str
) -> PublicKey:
    """Return a key the trust service holds for ``role``, creating one if needed.

    With no root stored yet, a key is created (the signer reuses a pending one).
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

    Raises:
        TrustServiceError: the trust service failed.
    """
    return await crypto.create_key(role, gun, algorithm)
