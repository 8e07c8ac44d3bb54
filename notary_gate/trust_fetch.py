"""The trust server's public API over HTTP(S): metadata files and health.

``GET /v2/<gun>/_trust/tuf/<name>.json`` is what every notary client reads
(``<name>`` is ``root``, ``2.root``, ``timestamp``, ``snapshot.<sha256>``,
``targets/releases.<sha256>``…); no credentials are sent, so the trust server
must serve reads anonymously to the gate's address.
"""

from __future__ import annotations

import aiohttp

from notary_gate.tuf_client import TrustServerError

__all__ = ["TrustServerAPI"]

_CHUNK = 65536


class TrustServerAPI:
    """Fetches files from one trust server with a shared session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        """Ask ``base_url`` (``https://host:port``) with ``session``."""
        self._session = session
        self._base = base_url

    async def fetch(self, gun: str, name: str, limit: int) -> bytes | None:
        """One metadata file, ``None`` on 404 (see :data:`notary_gate.tuf_client.Fetcher`).

        Raises:
            TrustServerError: no answer, another status, or a body over ``limit`` bytes.
        """
        url = f"{self._base}/v2/{gun}/_trust/tuf/{name}.json"
        try:
            async with self._session.get(url) as response:
                if response.status == 404:  # noqa: PLR2004 - HTTP status
                    return None
                if response.status != 200:  # noqa: PLR2004 - HTTP status
                    text = (await response.content.read(300)).decode("utf-8", "replace")
                    raise TrustServerError(f"GET {name}.json: HTTP {response.status} {text}")
                body = bytearray()
                async for chunk in response.content.iter_chunked(_CHUNK):
                    body += chunk
                    if len(body) > limit:
                        raise TrustServerError(f"GET {name}.json: longer than {limit} bytes")
                return bytes(body)
        except (aiohttp.ClientError, TimeoutError) as e:
            raise TrustServerError(f"{self._base}: {type(e).__name__}: {e}".rstrip(": ")) from e

    async def health(self) -> str | None:
        """``None`` when ``/_notary_server/health`` answers 200, else what went wrong."""
        try:
            async with self._session.get(f"{self._base}/_notary_server/health") as response:
                if response.status == 200:  # noqa: PLR2004 - HTTP status
                    return None
                return f"health check answered HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as e:
            return f"{type(e).__name__}: {e}".rstrip(": ")
