"""Reading an atomic upload: one multipart part per role (Go ``atomicUpdateHandler``).

The role is the part's *filename*, used verbatim (``targets/releases`` keeps its
slash; Go builds that basename it broke delegation uploads, notary#1630) with
an optional ``.json`` suffix trimmed; the form field name is ignored. Each part
must decode as ``{"signed": {...}, "signatures": [...]}``; the full validation
comes later. A role named by two parts (``targets`` and ``targets.json`` are one
role) is refused, 400 ``MALFORMED_UPLOAD``, before the second part is read
(ADR 0020): Go keeps the last part, so what it stores depends on part order,
and Go's client never sends a role twice (it builds one part per entry of a
role-keyed map, ``client.publish`` → ``HTTPStore.SetMulti``).

Each part is parsed once, here, and the parsed value travels with the bytes
(:class:`Uploads`) to validation; a part over the off-loop threshold is parsed
in a worker thread (:mod:`notary_server.services.offloop`). A part larger than
:data:`~notary_server.services.isolation.ISOLATE_BYTES` is not parsed in this
process at all: the child process that validates the upload parses it and
makes the same checks (ADR 0028).

Beyond Go, the ``limits`` section (ADR 0012) is enforced while the body
streams in: the body as a whole (its declared length up front, then the bytes
actually received), each part, the number of parts and the number of targets
in a file. A part is read in 64 KiB chunks and refused as soon as it holds
more than ``max_metadata_bytes`` (16 MiB by default, ADR 0020), before any of
it is parsed. The first limit crossed ends the read with
:class:`~notary_server.limits.LimitExceededError`; the rest of the body is
never read.

A body sent with a ``Content-Encoding`` other than ``identity`` is refused
before a byte of it is read (400 ``MALFORMED_UPLOAD``, ADR 0018): the server
does not inflate request bodies (``auto_decompress`` is off), and Go, which
does not either, drops the connection on such a body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader
from aiohttp.http_exceptions import HttpProcessingError

from notary_server.appkeys import CONFIG_KEY
from notary_server.errors import NO_DETAIL, ApiError, ErrorCode
from notary_server.limits import LimitExceededError
from notary_server.services.isolation import ISOLATE_BYTES
from notary_server.services.offloop import off_loop_if_large
from notary_tuf._fields import INT64_MAX, INT64_MIN, decode_b64
from notary_tuf.canonical import parse_json
from notary_tuf.errors import NotaryTufError
from notary_tuf.gotime import GoTime
from notary_tuf.rolenames import is_valid_role

if TYPE_CHECKING:
    from aiohttp import web

    from notary_server.limit_settings import LimitsConfig

__all__ = ["Uploads", "check_signed_meta", "read_uploads"]


@dataclass(frozen=True)
class Uploads:
    """An upload as read: role → bytes as received, and role → their parsed JSON value."""

    files: dict[str, bytes] = field(default_factory=dict)
    parsed: dict[str, Any] = field(default_factory=dict)


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
    if version is not None and not INT64_MIN <= version <= INT64_MAX:
        raise TypeError("version does not fit a 64-bit integer")


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


def check_signed_meta(value: Any) -> None:
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


_CHUNK_SIZE = 64 * 1024


def _check_content_encoding(request: web.Request) -> None:
    """Refuse a compressed body (any coding but ``identity``), before reading it."""
    codings = [
        coding.strip().lower()
        for header in request.headers.getall("Content-Encoding", ())
        for coding in header.split(",")
    ]
    refused = [coding for coding in codings if coding not in ("", "identity")]
    if refused:
        raise ApiError(
            ErrorCode.MALFORMED_UPLOAD,
            f"Content-Encoding {', '.join(c[:32] for c in refused[:4])} is not supported: "
            "send the upload uncompressed",
            unread_body=True,
        )


def _check_body_received(request: web.Request, limits: LimitsConfig) -> None:
    # Bytes taken off the socket so far (boundaries and part headers included).
    if request.content.total_bytes > limits.max_body_bytes:
        raise LimitExceededError("max_body_bytes", limits.max_body_bytes)


async def _read_part(part: BodyPartReader, request: web.Request, limits: LimitsConfig) -> bytes:
    """Read one part chunk by chunk, stopping at the first limit crossed."""
    data = bytearray()
    while not part.at_eof():  # as BodyPartReader.read, with the limits checked per chunk
        try:
            chunk = await part.read_chunk(_CHUNK_SIZE)
        except (ValueError, HttpProcessingError) as e:
            raise ApiError(ErrorCode.MALFORMED_UPLOAD) from e
        _check_body_received(request, limits)
        data.extend(chunk)
        if len(data) > limits.max_metadata_bytes:
            raise LimitExceededError("max_metadata_bytes", limits.max_metadata_bytes)
    return bytes(data)


def _part_role(part: object) -> tuple[BodyPartReader, str]:
    """The part and the role it uploads: its filename, ``.json`` trimmed."""
    if not isinstance(part, BodyPartReader):
        raise ApiError(ErrorCode.MALFORMED_UPLOAD)
    try:
        filename = part.filename
    except RuntimeWarning:  # aiohttp's BadContentDisposition*: raised if warnings are errors
        filename = None
    role = (filename or "").removesuffix(".json")
    if not role:
        raise ApiError(ErrorCode.NO_FILENAME, NO_DETAIL)
    if not is_valid_role(role):
        raise ApiError(ErrorCode.INVALID_ROLE, role)
    return part, role


def _check_role_once(role: str, uploads: dict[str, bytes]) -> None:
    """Refuse a second part for ``role`` (Go would keep whichever came last)."""
    if role in uploads:
        raise ApiError(
            ErrorCode.MALFORMED_UPLOAD,
            f"role {role} is in more than one part: send each role once",
            unread_body=True,
        )


def _check_targets_count(value: Any, limits: LimitsConfig) -> None:
    signed = value.get("signed") if isinstance(value, dict) else None
    targets = signed.get("targets") if isinstance(signed, dict) else None
    if isinstance(targets, dict) and len(targets) > limits.max_targets_per_file:
        raise LimitExceededError("max_targets_per_file", limits.max_targets_per_file)


def _parse_part(data: bytes) -> Any:
    """Parse a part as JSON and check the fields Go decodes (``MALFORMED_JSON`` if not)."""
    try:
        value = parse_json(data)
        check_signed_meta(value)
    except (NotaryTufError, TypeError) as e:
        raise ApiError(ErrorCode.MALFORMED_JSON) from e
    return value


async def read_uploads(request: web.Request) -> Uploads:
    """Read every part of an upload: its bytes by role, and each part's parsed value.

    Raises:
        ApiError: ``MALFORMED_UPLOAD`` (not multipart, or a broken body),
            a compressed body or a role in two parts, ``NO_FILENAME``,
            ``INVALID_ROLE`` (detail: the role) or ``MALFORMED_JSON``.
        LimitExceededError: the body, a part, the number of parts or the
            number of targets in a file is over its limit.
    """
    _check_content_encoding(request)
    limits = request.app[CONFIG_KEY].limits
    declared = request.content_length
    if declared is not None and declared > limits.max_body_bytes:
        raise LimitExceededError("max_body_bytes", limits.max_body_bytes)
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError, KeyError) as e:
        raise ApiError(ErrorCode.MALFORMED_UPLOAD) from e
    uploads = Uploads()
    parts = 0
    while True:
        try:
            part = await reader.next()
        # An invalid part header; a bad Content-Disposition is only a warning
        # (aiohttp's BadContentDisposition*, no filename) unless warnings are errors.
        except (ValueError, HttpProcessingError, RuntimeWarning) as e:
            raise ApiError(ErrorCode.MALFORMED_UPLOAD) from e
        _check_body_received(request, limits)
        if part is None:
            return uploads
        parts += 1
        if parts > limits.max_parts:
            raise LimitExceededError("max_parts", limits.max_parts)
        body_part, role = _part_role(part)
        _check_role_once(role, uploads.files)
        data = await _read_part(body_part, request, limits)
        uploads.files[role] = data
        if len(data) > ISOLATE_BYTES:
            continue  # parsed (and its targets counted) in the child process only
        value = await off_loop_if_large(len(data), _parse_part, data)
        _check_targets_count(value, limits)
        uploads.parsed[role] = value
