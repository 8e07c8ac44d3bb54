"""Base64 and PEM exactly as Go's ``encoding/base64`` and ``encoding/pem`` read them.

Which bytes count as a certificate decides which root keys exist, and which
base64 Go accepts decides which metadata parses, so both follow Go's decoders
rather than Python's more lenient or stricter ones.
"""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from notary_tuf.errors import Base64Error

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "PemBlock",
    "decode_base64",
    "encode_base64",
    "iter_pem_blocks",
    "pem_decode",
    "pem_encode",
]


_MEMO_MAX: Final = 128
"""Inputs up to this long (digests, signatures, keys) are remembered by the codecs.

A targets file lists every target's digests, and each new version repeats all
but the newest: decoding and re-encoding them again was a fifth of validating
an upload (issue #8). Longer inputs (certificates, PEM bodies) are not kept.
"""


def encode_base64(data: bytes) -> str:
    """Encode bytes as Go's encoding/json writes ``[]byte`` (standard, padded)."""
    if len(data) <= _MEMO_MAX:
        return _encode_small(data)
    return _encode(data)


def _encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


_encode_small: Final = functools.lru_cache(maxsize=4096)(_encode)


def decode_base64(data: str | bytes) -> bytes:
    r"""Decode standard, padded base64 the way Go's ``base64.StdEncoding`` does.

    Go skips ``\\r`` and ``\\n`` anywhere in the input, requires the padding,
    rejects anything after it and tolerates non-zero trailing bits.

    Args:
        data: the base64 text.

    Returns:
        The decoded bytes.

    Raises:
        Base64Error: ``data`` is not valid standard base64.
    """
    if len(data) <= _MEMO_MAX:
        return _decode_small(data)
    return _decode(data)


def _decode(data: str | bytes) -> bytes:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if b"\r" in raw or b"\n" in raw:
        raw = raw.replace(b"\r", b"").replace(b"\n", b"")
    # Python's strict mode refuses what Go refuses, except padding beyond two "="
    # after a complete group ("QUJD===="), which it reads as data: refused first.
    if len(raw) % 4 or raw.endswith(b"==="):
        raise Base64Error("illegal base64 data")
    try:
        return binascii.a2b_base64(raw, strict_mode=True)
    except binascii.Error as e:
        raise Base64Error("illegal base64 data") from e


_decode_small: Final = functools.lru_cache(maxsize=4096)(_decode)


@dataclass(frozen=True, slots=True)
class PemBlock:
    """One PEM block: its type line, headers and decoded body."""

    type: str
    headers: dict[str, str]
    data: bytes


def _get_line(data: bytes) -> tuple[bytes, bytes]:
    index = data.find(b"\n")
    if index < 0:
        line, rest = data, b""
    else:
        line, rest = data[:index], data[index + 1 :]
    return line.rstrip(b" \t\r"), rest


def _find_end(rest: bytes, block_type: bytes, *, has_headers: bool) -> tuple[int, bytes] | None:
    """Locate a well-formed ``-----END <type>-----`` line; return body end and what follows."""
    if not has_headers and rest.startswith(b"-----END "):
        end, trailer_start = 0, len(b"-----END ")
    else:
        end = rest.find(b"\n-----END ")
        trailer_start = end + len(b"\n-----END ")
    if end < 0:
        return None
    trailer_len = len(block_type) + 5
    if rest[trailer_start : trailer_start + trailer_len] != block_type + b"-----":
        return None
    after, remaining = _get_line(rest[trailer_start + trailer_len :])
    if after:
        return None
    return end, remaining


def _decode_one(rest: bytes) -> tuple[PemBlock | None, bytes, bool]:
    """Try the block right after a ``-----BEGIN `` marker.

    Returns the block (or None), the remaining data and whether the caller
    should keep searching after a malformed block.
    """
    type_line, rest = _get_line(rest)
    if not type_line.endswith(b"-----"):
        return None, rest, True
    block_type = type_line[:-5]
    headers: dict[str, str] = {}
    while True:
        if not rest:
            return None, b"", False
        line, following = _get_line(rest)
        key, colon, value = line.partition(b":")
        if not colon:
            break
        headers[key.strip().decode("latin-1")] = value.strip().decode("latin-1")
        rest = following
    found = _find_end(rest, block_type, has_headers=bool(headers))
    if found is None:
        return None, rest, True
    end, remaining = found
    body = rest[:end].replace(b" ", b"").replace(b"\t", b"")
    try:
        der = decode_base64(body)
    except Base64Error:
        return None, rest, True
    return PemBlock(block_type.decode("latin-1"), headers, der), remaining, False


def pem_decode(data: bytes) -> tuple[PemBlock | None, bytes]:
    """Find the next PEM block the way Go's ``pem.Decode`` does.

    Text before the block is skipped, as are malformed blocks.

    Args:
        data: PEM text.

    Returns:
        The block and the data after it, or ``(None, data)`` if there is none.
    """
    rest = data
    while True:
        if rest.startswith(b"-----BEGIN "):
            rest = rest[len(b"-----BEGIN ") :]
        else:
            index = rest.find(b"\n-----BEGIN ")
            if index < 0:
                return None, data
            rest = rest[index + len(b"\n-----BEGIN ") :]
        block, rest, keep_looking = _decode_one(rest)
        if block is not None:
            return block, rest
        if not keep_looking:
            return None, data


def iter_pem_blocks(data: bytes) -> Iterator[PemBlock]:
    """Yield every PEM block in ``data`` in order, as repeated ``pem.Decode`` would."""
    block, rest = pem_decode(data)
    while block is not None:
        yield block
        block, rest = pem_decode(rest)


def pem_encode(block_type: str, der: bytes) -> bytes:
    """Encode ``der`` as a header-less PEM block, byte for byte as Go writes it."""
    body = base64.b64encode(der)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    head = f"-----BEGIN {block_type}-----\n".encode()
    tail = f"-----END {block_type}-----\n".encode()
    return head + b"".join(line + b"\n" for line in lines) + tail
