"""Reading an atomic upload: one multipart part per role (Go ``atomicUpdateHandler``).

The role is the part's *filename*, used verbatim (``targets/releases`` keeps its
slash; Go builds that basename it broke delegation uploads, notary#1630) with
an optional ``.json`` suffix trimmed; the form field name is ignored. Each part
must decode as ``{"signed": {...}, "signatures": [...]}``; the full validation
comes later. If a role appears twice the last part wins, as in Go.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader

from notary_server.errors import NO_DETAIL, ApiError, ErrorCode
from notary_tuf._fields import decode_b64
from notary_tuf.canonical import parse_json
from notary_tuf.errors import NotaryTufError
from notary_tuf.gotime import GoTime
from notary_tuf.rolenames import is_valid_role

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["read_uploads"]


def _check_signed(signed: Any) -> None:
    if not isinstance(signed, dict):
        raise TypeError("signed is not an object")
    if signed.get("_type") is not None and not isinstance(signed["_type"], str):
        raise TypeError("_type is not a string")
    expires = signed.get("expires")
    if expires is not None:
        if not isinstance(expires, str):
            raise TypeError("expires is not a string")
        GoTime.parse(expires)
    version = signed.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise TypeError("version is not an integer")


def _check_signatures(signatures: Any) -> None:
    if not isinstance(signatures, list):
        raise TypeError("signatures is not an array")
    for signature in signatures:
        if signature is None:
            continue
        if not isinstance(signature, dict):
            raise TypeError("signature is not an object")
        for name in ("keyid", "method"):
            if signature.get(name) is not None and not isinstance(signature[name], str):
                raise TypeError(f"{name} is not a string")
        decode_b64(signature.get("sig"), "sig")


def _check_signed_meta(value: Any) -> None:
    """Fail like Go's decode into ``data.SignedMeta`` (the types of the fields it reads).

    Raises:
        TypeError: a field Go decodes has the wrong type.
        NotaryTufError: ``expires`` or a signature's base64 does not parse.
    """
    if value is None:
        return
    if not isinstance(value, dict):
        raise TypeError("not an object")
    if value.get("signed") is not None:
        _check_signed(value["signed"])
    if value.get("signatures") is not None:
        _check_signatures(value["signatures"])


async def read_uploads(request: web.Request) -> dict[str, bytes]:
    """Read every part of an upload into role name → bytes.

    Raises:
        ApiError: ``MALFORMED_UPLOAD`` (not multipart, or a broken body),
            ``NO_FILENAME``, ``INVALID_ROLE`` (detail: the role) or
            ``MALFORMED_JSON``.
    """
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError, KeyError) as e:
        raise ApiError(ErrorCode.MALFORMED_UPLOAD) from e
    uploads: dict[str, bytes] = {}
    while True:
        try:
            part = await reader.next()
        except ValueError as e:
            raise ApiError(ErrorCode.MALFORMED_UPLOAD) from e
        if part is None:
            return uploads
        if not isinstance(part, BodyPartReader):
            raise ApiError(ErrorCode.MALFORMED_UPLOAD)
        role = (part.filename or "").removesuffix(".json")
        if not role:
            raise ApiError(ErrorCode.NO_FILENAME, NO_DETAIL)
        if not is_valid_role(role):
            raise ApiError(ErrorCode.INVALID_ROLE, role)
        try:
            data = bytes(await part.read())
        except ValueError as e:
            raise ApiError(ErrorCode.MALFORMED_UPLOAD) from e
        try:
            _check_signed_meta(parse_json(data))
        except (NotaryTufError, TypeError) as e:
            raise ApiError(ErrorCode.MALFORMED_JSON) from e
        uploads[role] = data
