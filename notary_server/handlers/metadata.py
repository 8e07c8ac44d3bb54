"""Uploading, reading and deleting a repository's metadata."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from aiohttp import web

from notary_server.appkeys import CONFIG_KEY, CRYPTO_KEY, METASTORE_KEY, READER_KEY
from notary_server.cache import CachedFile, format_last_modified
from notary_server.errors import EMPTY_DETAIL, ApiError, ErrorCode
from notary_server.handlers.audit import request_audit
from notary_server.multipart import read_uploads
from notary_server.services.timestamp import serve_snapshot, serve_timestamp
from notary_server.services.updates import apply_update
from notary_server.storage import NotFoundError, OldVersionError, StorageError
from notary_tuf.rolenames import SNAPSHOT, TIMESTAMP

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["atomic_update", "delete_repository", "format_last_modified", "get_metadata"]


async def atomic_update(request: web.Request, params: Mapping[str, str]) -> web.StreamResponse:
    """``POST /v2/{gun}/_trust/tuf/``: validate and store an upload atomically."""
    uploads = await read_uploads(request)
    try:
        await apply_update(
            store=request.app[METASTORE_KEY],
            crypto=request.app[CRYPTO_KEY],
            gun=params["gun"],
            uploads=uploads.files,
            parsed=uploads.parsed,
            max_targets_per_file=request.app[CONFIG_KEY].limits.max_targets_per_file,
            now=datetime.now(UTC),
            audit=request_audit(request),
        )
    except OldVersionError:
        raise
    except StorageError as e:
        # Go: any store failure but ErrOldVersion is a 500 UPDATING without detail.
        raise ApiError(ErrorCode.UPDATING) from e
    return web.Response(status=200)


async def _read(request: web.Request, params: Mapping[str, str]) -> CachedFile:
    reader = request.app[READER_KEY]
    gun, role = params["gun"], params["tufRole"]
    if "checksum" in params:
        # Stored checksums are lowercase hex; like Go, other spellings are not found.
        return await reader.by_checksum(gun, role, params["checksum"])
    if "version" in params:
        try:
            version = int(params["version"])
        except ValueError as e:  # pragma: no cover - the route only admits digits
            raise ApiError(ErrorCode.METADATA_NOT_FOUND, EMPTY_DETAIL) from e
        if version > 2**63 - 1:
            raise ApiError(ErrorCode.METADATA_NOT_FOUND, EMPTY_DETAIL)
        return await reader.by_version(gun, role, version)
    if role == TIMESTAMP:
        return await serve_timestamp(reader, request.app[CRYPTO_KEY], gun, datetime.now(UTC))
    if role == SNAPSHOT:
        return await serve_snapshot(reader, request.app[CRYPTO_KEY], gun, datetime.now(UTC))
    return await reader.current(gun, role)


def _etag_matches(header: str, etag: str) -> bool:
    """``If-None-Match`` against our strong ETag, with the weak comparison RFC 9110 asks for."""
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def _not_modified_since(header: str, created: datetime) -> bool:
    """``If-Modified-Since`` (any HTTP date form, or Go's ``… UTC``) at or after ``created``."""
    text = header.strip()
    if text.endswith(" UTC"):  # Go's Last-Modified spelling, echoed back by a client
        text = text.removesuffix(" UTC") + " GMT"
    try:
        since = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return created.replace(microsecond=0) <= since


def _not_modified(request: web.Request, file: CachedFile) -> bool:
    headers = request.headers
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:  # it takes precedence over If-Modified-Since
        return _etag_matches(if_none_match, file.etag)
    if_modified_since = headers.get("If-Modified-Since")
    return if_modified_since is not None and _not_modified_since(if_modified_since, file.created)


async def get_metadata(request: web.Request, params: Mapping[str, str]) -> web.StreamResponse:
    """``GET`` a role: current, by version, or by checksum; the stored bytes verbatim.

    Beyond Go: every answer carries a strong ``ETag`` (the quoted SHA-256 of
    the body), and a request whose ``If-None-Match`` matches it, or (without
    ``If-None-Match``) whose ``If-Modified-Since`` is not before
    ``Last-Modified``, gets a ``304`` without a body. Go's clients send
    neither header, so they see Go's answers.
    """
    try:
        file = await _read(request, params)
    except NotFoundError as e:
        raise ApiError(ErrorCode.METADATA_NOT_FOUND, EMPTY_DETAIL) from e
    if _not_modified(request, file):
        return web.Response(
            status=304, headers={"ETag": file.etag, "Last-Modified": file.last_modified}
        )
    return web.Response(
        body=file.data,
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "Last-Modified": file.last_modified,
            "ETag": file.etag,
        },
    )


async def delete_repository(request: web.Request, params: Mapping[str, str]) -> web.StreamResponse:
    """``DELETE /v2/{gun}/_trust/tuf/``: remove every file of the GUN (200 even if none)."""
    await request.app[METASTORE_KEY].delete(params["gun"], audit=request_audit(request))
    return web.Response(status=200)
