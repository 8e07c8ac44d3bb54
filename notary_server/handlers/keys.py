"""The server-managed keys: ``GET`` (get or create) and ``POST`` (rotate) ``{role}.key``.

Key creations go through the application's :class:`KeyMinting` (ADR 0021):
concurrent ``GET`` requests share one creation, and a client whose key creation
budget is spent gets 429 ``TOOMANYREQUESTS`` with ``Retry-After``, the
general rate limit's answer (:func:`notary_server.limits.limit_response`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

from aiohttp import web

from notary_server.appkeys import CONFIG_KEY, CRYPTO_KEY, METASTORE_KEY
from notary_server.handlers.audit import request_audit
from notary_server.limits import LimitExceededError, limit_response
from notary_server.services import keys as key_service
from notary_server.services.keys import KeyCreationRefusedError, KeyMinting
from notary_tuf.encoding import encode_base64

if TYPE_CHECKING:
    from collections.abc import Mapping

    from notary_tuf.keys import PublicKey

__all__ = ["KEY_MINTING_KEY", "get_key", "key_json", "rotate_key"]

KEY_MINTING_KEY: Final = web.AppKey("KEY_MINTING_KEY", KeyMinting)
"""The application's key creations: single flight and budget (absent: a fresh one per request)."""
KEY_CREATION_LIMIT: Final = "key_creation.per_second"


def _refused(error: KeyCreationRefusedError) -> web.Response:
    return limit_response(LimitExceededError(KEY_CREATION_LIMIT, error.rate, status=429))


def key_json(key: PublicKey) -> bytes:
    """Return the key as Go's ``json.Marshal`` writes it (struct field order, not sorted)."""
    document = {
        "keytype": key.keytype,
        "keyval": {"public": encode_base64(key.public), "private": None},
    }
    return json.dumps(document, separators=(",", ":")).encode()


async def get_key(request: web.Request, params: Mapping[str, str]) -> web.StreamResponse:
    """``GET /v2/{gun}/_trust/tuf/{role}.key``: a held key for the role, created if needed."""
    try:
        key = await key_service.get_or_create_key(
            request.app[METASTORE_KEY],
            request.app[CRYPTO_KEY],
            params["gun"],
            params["tufRole"],
            request.app[CONFIG_KEY].trust_service.key_algorithm,
            minting=request.app.get(KEY_MINTING_KEY),
            client=request.remote or "",
        )
    except KeyCreationRefusedError as e:
        return _refused(e)
    return web.Response(body=key_json(key), content_type="text/plain", charset="utf-8")


async def rotate_key(request: web.Request, params: Mapping[str, str]) -> web.StreamResponse:
    """``POST /v2/{gun}/_trust/tuf/{role}.key``: a new key; effective once a root lists it."""
    try:
        key = await key_service.rotate_key(
            request.app[CRYPTO_KEY],
            params["gun"],
            params["tufRole"],
            request.app[CONFIG_KEY].trust_service.key_algorithm,
            minting=request.app.get(KEY_MINTING_KEY),
            client=request.remote or "",
        )
    except KeyCreationRefusedError as e:
        return _refused(e)
    await key_service.record_rotation(
        request.app[METASTORE_KEY], params["gun"], params["tufRole"], key, request_audit(request)
    )
    return web.Response(body=key_json(key), content_type="text/plain", charset="utf-8")
