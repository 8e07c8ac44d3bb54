"""Go's ``trust_service.type: local``: keys in process memory.

Go forces ed25519 for the local service whatever the configured algorithm, and
every ``create_key`` makes a fresh key. Keys are lost when the process stops, so
this is for development and tests only.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from notary_server.trust.base import CryptoService, KeyNotFoundError
from notary_tuf.crypto import PrivateKey
from notary_tuf.keys import KeyType

if TYPE_CHECKING:
    from notary_tuf.keys import PublicKey

__all__ = ["LocalCryptoService"]


class LocalCryptoService(CryptoService):
    """An in-memory trust service holding ed25519 keys."""

    def __init__(self) -> None:
        """Create an empty service."""
        self._keys: dict[str, PrivateKey] = {}

    async def create_key(self, role: str, gun: str, algorithm: str) -> PublicKey:  # noqa: ARG002
        """Generate a new ed25519 key (Go's local service ignores ``algorithm``)."""
        key = await asyncio.to_thread(PrivateKey.generate, KeyType.ED25519)
        public = key.public_key
        self._keys[public.key_id] = key
        return public

    async def get_key(self, key_id: str) -> PublicKey | None:
        """Return the public key if held."""
        key = self._keys.get(key_id)
        return key.public_key if key is not None else None

    async def sign(self, key_id: str, message: bytes) -> bytes:
        """Sign with a held key.

        Raises:
            KeyNotFoundError: the key is not held.
        """
        key = self._keys.get(key_id)
        if key is None:
            raise KeyNotFoundError(key_id)
        return key.sign(message)

    async def delete_key(self, key_id: str) -> None:
        """Forget a held key (absent keys are fine)."""
        self._keys.pop(key_id, None)

    async def check_health(self) -> None:
        """The in-memory service is always healthy."""
