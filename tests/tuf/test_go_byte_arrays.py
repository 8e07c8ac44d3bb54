"""``[]byte`` fields given as JSON arrays decode element by element, as Go's decoder does.

Go's ``encoding/json`` fills a byte slice from a base64 string or from an array
of integers 0-255 (``ParseUint`` per element); a ``null`` element leaves its
byte zero, and anything else is an unmarshal error. The Go server accepts such
files and writes the bytes back as base64 when it re-serialises them. The upload
differential (issue #13) found Go accepting ``"hashes":{"a":[null,null]}`` and
``"keyval":{"private":[null]}`` where we refused; these pin the rule down for
every ``[]byte`` field: file hashes, signatures and both halves of a key.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from notary_tuf.canonical import parse_json
from notary_tuf.errors import NotaryTufError
from notary_tuf.rolenames import ROOT, TARGETS
from notary_tuf.signed import Metadata
from tests.tuf.test_models import _doc

REFUSED_ELEMENTS = ["-0", "1.0", "1e0", "256", "-1", '"a"', "true", "[1]", "{}"]


def _array(data: bytes, *, nulls: tuple[int, ...] = ()) -> str:
    """``data`` as a JSON array of numbers, with ``null`` at the positions ``nulls``."""
    return "[" + ",".join("null" if i in nulls else str(b) for i, b in enumerate(data)) + "]"


def _targets_with_hash(array_text: str) -> bytes:
    doc = _doc(TARGETS)
    doc["signed"]["targets"] = {"t": {"hashes": {"sha256": "@"}, "length": 1}}
    return json.dumps(doc).replace('"@"', array_text).encode()


def test_a_hash_given_as_an_array_is_its_bytes_and_is_written_back_as_base64() -> None:
    digest = bytes(range(31)) + b"\x00"
    upload = _targets_with_hash(_array(digest, nulls=(0, 31)))

    metadata: Metadata[Any] = Metadata.from_bytes(TARGETS, upload)

    assert metadata.signed.targets["t"].hashes["sha256"] == b"\x00" + digest[1:]
    written = json.loads(metadata.go_bytes())["signed"]["targets"]["t"]["hashes"]["sha256"]
    assert written == base64.b64encode(b"\x00" + digest[1:]).decode()


def test_a_key_given_as_arrays_has_the_key_id_of_its_base64_form() -> None:
    doc = _doc(ROOT)
    key_id, key = next(iter(doc["signed"]["keys"].items()))
    public = base64.b64decode(key["keyval"]["public"])
    key["keyval"]["public"] = "@public"
    key["keyval"]["private"] = "@private"
    text = json.dumps(doc).replace('"@public"', _array(public)).replace('"@private"', "[null,null]")

    metadata: Metadata[Any] = Metadata.from_bytes(ROOT, text.encode())

    parsed = metadata.signed.keys[key_id]
    assert parsed.key_id == key_id
    assert parsed.private == b"\x00\x00"


def test_a_signature_given_as_an_array_is_its_bytes() -> None:
    doc = _doc(TARGETS)
    sig = base64.b64decode(doc["signatures"][0]["sig"])
    doc["signatures"][0]["sig"] = "@sig"
    upload = json.dumps(doc).replace('"@sig"', _array(sig)).encode()

    metadata: Metadata[Any] = Metadata.from_bytes(TARGETS, upload)

    assert metadata.signatures[0].sig == sig


@pytest.mark.parametrize("element", REFUSED_ELEMENTS)
def test_an_element_go_cannot_parse_as_a_byte_is_refused(element: str) -> None:
    with pytest.raises(NotaryTufError, match=r"sha256\[1\]: expected a byte"):
        Metadata.from_bytes(TARGETS, _targets_with_hash(f"[1,{element}]"))


@pytest.mark.parametrize("element", REFUSED_ELEMENTS)
def test_a_key_byte_go_cannot_parse_is_refused(element: str) -> None:
    doc = _doc(ROOT)
    next(iter(doc["signed"]["keys"].values()))["keyval"]["private"] = "@private"
    text = json.dumps(doc).replace('"@private"', f"[{element}]")
    with pytest.raises(NotaryTufError, match=r"private\[0\]: expected a byte"):
        Metadata.from_bytes(ROOT, text.encode())


def test_minus_zero_is_zero_for_every_signed_field() -> None:
    """Only the unsigned byte parse refuses ``-0``; ``version: -0`` is version 0."""
    assert parse_json(b'{"version":-0}') == {"version": 0}
