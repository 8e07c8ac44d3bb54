"""The interface the server signs through (Go ``signed.CryptoService`` as the server uses it)."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notary_tuf.keys import PublicKey

__all__ = ["CryptoService", "KeyNotFoundError", "TrustServiceError"]


class TrustServiceError(Exception):
    """The trust service failed (unreachable, refused, internal error)."""


class KeyNotFoundError(TrustServiceError):
    """The trust service holds no private key with that ID."""


class CryptoService(abc.ABC):
    """Creates keys for a GUN and role, and signs with the keys it holds."""

    @abc.abstractmethod
    async def create_key(self, role: str, gun: str, algorithm: str) -> PublicKey:
        """Create (or, like Go's SQL signer, reuse a never-used) key for ``gun``/``role``.

        What ``GET {role}.key`` hands out when no root names a held key.

        Raises:
            TrustServiceError: the algorithm is unsupported or creation failed.
        """

    async def get_or_create_key(
        self, role: str, gun: str, algorithm: str
    ) -> tuple[PublicKey, bool]:
        """:meth:`create_key`, and whether a key was generated (False: a pending key reused).

        The server charges only generated keys to the client's key creation
        budget (ADR 0021). This default suits services that always generate.

        Raises:
            TrustServiceError: the algorithm is unsupported or creation failed.
        """
        return await self.create_key(role, gun, algorithm), True

    async def rotate_key(self, role: str, gun: str, algorithm: str) -> PublicKey:
        """Create a key for ``POST {role}.key``: never one handed out before.

        Unlike :meth:`create_key`, the key must not be one that an earlier
        ``create_key`` or ``rotate_key`` returned (the key a ``GET`` gave, the
        current key, an earlier rotation's). This default suits services whose
        ``create_key`` always generates.

        Raises:
            TrustServiceError: the algorithm is unsupported or creation failed.
        """
        return await self.create_key(role, gun, algorithm)

    @abc.abstractmethod
    async def get_key(self, key_id: str) -> PublicKey | None:
        """Return the public half of a held key, or None when it is not held.

        Any failure counts as "not held", as in Go.
        """

    @abc.abstractmethod
    async def sign(self, key_id: str, message: bytes) -> bytes:
        """Sign ``message`` (the full canonical bytes, not a digest) with a held key.

        Raises:
            KeyNotFoundError: the key is not held.
            TrustServiceError: signing failed.
        """

    @abc.abstractmethod
    async def check_health(self) -> None:
        """Fail when the service cannot sign.

        Raises:
            TrustServiceError: the service is unusable.
        """

    async def delete_key(self, key_id: str) -> None:  # noqa: ARG002 - refused by default
        """Delete a held private key for good (operator tooling; beyond Go's server).

        Deleting a key that is not held succeeds, as the signer's ``DeleteKey`` does.

        Raises:
            TrustServiceError: the service cannot delete keys or failed.
        """
        raise TrustServiceError(f"{type(self).__name__} cannot delete keys")

    async def close(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release connections; the service is unusable afterwards."""
