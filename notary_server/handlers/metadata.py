"""Uploading, reading and deleting a repository's metadata."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web

from notary_server.appkeys import CRYPTO_KEY, METASTORE_KEY
from notary_server.errors import EMPTY_DETAIL, ApiError, ErrorCode
from notary_server.multipart import read_uploads
from notary_server.services.current import get_current
from notary_server.services.timestamp import get_current_snapshot, get_or_create_timestamp
from notary_server.services.updates import apply_update
from notary_server.storage import NotFoundError, OldVersionError, StorageError
from notary_tuf.rolenames import SNAPSHOT, TIMESTAMP

if TYPE_CHECKING:
    from collections.abc import Mapping

    from notary_server.storage.base import StoredMeta

__all__ = ["atomic_update", "delete_repository", "format_last_modified", "get_metadata"]


def format_last_modified(moment: datetime) -> str:
    """Format a time as Go's ``time.RFC1123`` does for a UTC time (``… UTC``, not ``GMT``)."""
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S UTC")


async def atomic_update(request: web.Request, params: Mapping[str, str]) -> web.StreamResponse:
    """``POST /v2/{gun}/_trust/tuf/``: validate and store an upload atomically."""
    uploads = await read_uploads(request)
    try:
        await apply_update(
            store=request.app[METASTORE_KEY],
            crypto=request.app[CRYPTO_KEY],
            gun=params["gun"],
            uploads=uploads,
            now=datetime.now(UTC),
        )
    except OldVersionError:
        raise
    except StorageError as e:
        # Go: any store failure but ErrOldVersion is a 500 UPDATING without detail.
        raise ApiError(ErrorCode.UPDATING) from e
    return web.Response(status=200)


async def _read(request: web.Request, params: Mapping[str, str]) -> StoredMeta:
    store = request.app[METASTORE_KEY]
    gun, role = params["gun"], params["tufRole"]
    if "checksum" in params:
        # Stored checksums are lowercase hex; like Go, other spellings are not found.
        return await store.get_checksum(gun, role, params["checksum"])
    if "version" in params:
        try:
            version = int(params["version"])
        except ValueError as e:  # pragma: no cover - the route only admits digits
            raise ApiError(ErrorCode.METADATA_NOT_FOUND, EMPTY_DETAIL) from e
        if version > 2**63 - 1:
            raise ApiError(ErrorCode.METADATA_NOT_FOUND, EMPTY_DETAIL)
        return await store.get_version(gun, role, version)
    if role == TIMESTAMP:
        return await get_or_create_timestamp(store, request.app[CRYPTO_KEY], gun, datetime.now(UTC))
    if role == SNAPSHOT:
        return await get_current_snapshot(store, request.app[CRYPTO_KEY], gun, datetime.now(UTC))
    return await get_current(store, gun, role)


async def get_metadata(request: web.Request, params: Mapping[str, str]) -> web.StreamResponse:
    """``GET`` a role: current, by version, or by checksum; the stored bytes verbatim."""
    try:
        stored = await _read(request, params)
    except NotFoundError as e:
        raise ApiError(ErrorCode.METADATA_NOT_FOUND, EMPTY_DETAIL) from e
    response = web.Response(body=stored.data, content_type="text/plain", charset="utf-8")
    response.headers["Last-Modified"] = format_last_modified(stored.created)
    return response


async def delete_repository(request: web.Request, params: Mapping[str, str]) -> web.StreamResponse:
    """``DELETE /v2/{gun}/_trust/tuf/``: remove every file of the GUN (200 even if none)."""
    await request.app[METASTORE_KEY].delete(params["gun"])
    return web.Response(status=200)
