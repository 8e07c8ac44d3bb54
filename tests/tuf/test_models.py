"""Parsing the four roles: precise errors for malformed fields, unknown fields kept."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notary_tuf.canonical import canonical_bytes
from notary_tuf.errors import (
    Base64Error,
    CanonicalizationError,
    FormatError,
    InvalidRoleNameError,
    JSONFormatError,
    KeyFormatError,
    NotaryTufError,
    RoleTypeError,
)
from notary_tuf.gotime import GoTime
from notary_tuf.models import Timestamp
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.signed import Envelope, Metadata, encode_envelope

FIXTURES = Path(__file__).parent.parent / "data" / "go_fixtures" / "notary0.3"
FILES = {
    ROOT: "root.json",
    TARGETS: "targets.json",
    SNAPSHOT: "snapshot.json",
    TIMESTAMP: "timestamp.json",
    "targets/releases": "targets/releases.json",
}


def _doc(role: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((FIXTURES / FILES[role]).read_bytes())
    return value


def _bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def _delete(doc: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def _first_key(doc: dict[str, Any]) -> str:
    return str(next(iter(doc["signed"]["keys"])))


NEGATIVES: list[tuple[str, str, Any, type[NotaryTufError], str]] = [
    # (id, role, document-or-bytes, error type, text the message must contain)
    ("not-json", ROOT, b"{nope", JSONFormatError, "invalid JSON"),
    ("not-an-object", ROOT, b"[]", FormatError, "metadata"),
    ("no-signed", ROOT, {"signatures": []}, FormatError, "empty payload"),
    ("signed-not-object", ROOT, {"signed": 3, "signatures": []}, FormatError, "signed"),
    ("signatures-not-array", ROOT, {"signed": {}, "signatures": {}}, FormatError, "signatures"),
    (
        "wrong-type-root",
        ROOT,
        _set(_doc(ROOT), ("signed", "_type"), "Targets"),
        RoleTypeError,
        "expected type Root",
    ),
    (
        "wrong-type-delegation",
        "targets/releases",
        _set(_doc("targets/releases"), ("signed", "_type"), "Root"),
        RoleTypeError,
        "expected type Targets",
    ),
    (
        "version-zero",
        TARGETS,
        _set(_doc(TARGETS), ("signed", "version"), 0),
        FormatError,
        "version cannot be less than 1",
    ),
    (
        "version-fraction",
        TARGETS,
        _set(_doc(TARGETS), ("signed", "version"), 1.5),
        CanonicalizationError,
        "non-integral number 1.5",
    ),
    (
        "version-string",
        TARGETS,
        _set(_doc(TARGETS), ("signed", "version"), "2"),
        FormatError,
        "targets.signed.version: expected an integer",
    ),
    (
        "version-missing",
        SNAPSHOT,
        _delete(_doc(SNAPSHOT), ("signed", "version")),
        FormatError,
        "snapshot.signed.version: missing",
    ),
    (
        "expires-garbage",
        TIMESTAMP,
        _set(_doc(TIMESTAMP), ("signed", "expires"), "tomorrow"),
        FormatError,
        "not an RFC 3339 timestamp",
    ),
    (
        "expires-bad-month",
        TIMESTAMP,
        _set(_doc(TIMESTAMP), ("signed", "expires"), "2030-13-01T00:00:00Z"),
        FormatError,
        "month out of range",
    ),
    (
        "missing-role",
        ROOT,
        _delete(_doc(ROOT), ("signed", "roles", "snapshot")),
        FormatError,
        "missing snapshot role specification",
    ),
    (
        "threshold-zero",
        ROOT,
        _set(_doc(ROOT), ("signed", "roles", "targets", "threshold"), 0),
        FormatError,
        "invalid threshold",
    ),
    (
        "unknown-keyid",
        ROOT,
        _set(_doc(ROOT), ("signed", "roles", "targets", "keyids"), ["ab" * 32]),
        FormatError,
        "without corresponding key",
    ),
    (
        "bad-key-base64",
        ROOT,
        _set(_doc(ROOT), ("signed", "keys", _first_key(_doc(ROOT)), "keyval", "public"), "***"),
        Base64Error,
        "keyval.public",
    ),
    (
        "key-not-object",
        ROOT,
        _set(_doc(ROOT), ("signed", "keys", _first_key(_doc(ROOT))), "x"),
        KeyFormatError,
        "root.signed.keys",
    ),
    (
        "bad-sig-base64",
        TARGETS,
        _set(_doc(TARGETS), ("signatures",), [{"keyid": "a", "method": "ecdsa", "sig": "%%%"}]),
        Base64Error,
        "signatures[0].sig",
    ),
    (
        "sig-keyid-number",  # a missing or null keyid is Go's "" (tests/tuf/test_go_nil_forms.py)
        TARGETS,
        _set(_doc(TARGETS), ("signatures",), [{"keyid": 5, "method": "ecdsa", "sig": ""}]),
        FormatError,
        "signatures[0].keyid: expected a string",
    ),
    (
        "snapshot-no-targets-hash",
        SNAPSHOT,
        _delete(_doc(SNAPSHOT), ("signed", "meta", "targets")),
        FormatError,
        "missing targets sha256",
    ),
    (
        "snapshot-short-hash",
        SNAPSHOT,
        _set(_doc(SNAPSHOT), ("signed", "meta", "root", "hashes", "sha256"), "AAAA"),
        FormatError,
        "invalid root checksum",
    ),
    (
        "timestamp-no-snapshot",
        TIMESTAMP,
        _set(_doc(TIMESTAMP), ("signed", "meta"), {}),
        FormatError,
        "missing snapshot sha256",
    ),
    (
        "target-length-string",
        TARGETS,
        _set(_doc(TARGETS), ("signed", "targets"), {"x": {"length": "1", "hashes": {}}}),
        FormatError,
        "targets.signed.targets.x.length",
    ),
    (
        "delegation-not-child",
        TARGETS,
        _set(_doc(TARGETS), ("signed", "delegations", "roles", 0, "name"), "targets/a/b"),
        FormatError,
        "delegation role targets/a/b invalid",
    ),
    (
        "delegation-bad-name",
        TARGETS,
        _set(_doc(TARGETS), ("signed", "delegations", "roles", 0, "name"), "targets/UPPER"),
        FormatError,
        "invalid",
    ),
]


@pytest.mark.parametrize(
    ("role", "document", "error", "message"),
    [n[1:] for n in NEGATIVES],
    ids=[n[0] for n in NEGATIVES],
)
def test_malformed_metadata_raises_its_own_error(
    role: str, document: Any, error: type[NotaryTufError], message: str
) -> None:
    data = document if isinstance(document, bytes) else _bytes(document)
    with pytest.raises(error, match=None) as info:
        Metadata.from_bytes(role, data)
    assert message in str(info.value)


@pytest.mark.parametrize("role", ["foo", "targets/", "targets/../root", "Targets", ""])
def test_invalid_role_names(role: str) -> None:
    with pytest.raises(InvalidRoleNameError):
        Metadata.from_bytes(role, (FIXTURES / "targets.json").read_bytes())


@pytest.mark.parametrize("role", list(FILES), ids=list(FILES))
def test_unknown_fields_are_kept_but_not_in_go_form(role: str) -> None:
    doc = _doc(role)
    doc["signed"]["x-extra"] = {"kept": [1, 2]}
    metadata: Metadata[Any] = Metadata.from_bytes(role, _bytes(doc))
    assert metadata.signed.unrecognized == {"x-extra": {"kept": [1, 2]}}
    assert metadata.signed.to_dict()["x-extra"] == {"kept": [1, 2]}
    assert "x-extra" not in metadata.signed.to_dict(go_form=True)
    # The generic envelope keeps it too, so signatures are checked over it.
    assert b'"x-extra"' in metadata.envelope.canonical
    assert metadata.go_bytes() != metadata.to_bytes()


def test_model_round_trip_is_exact_for_go_files() -> None:
    for role, name in FILES.items():
        raw = (FIXTURES / name).read_bytes()
        metadata: Metadata[Any] = Metadata.from_bytes(role, raw)
        assert canonical_bytes(metadata.signed.to_dict()) == metadata.envelope.canonical


def test_expires_is_kept_as_received_and_normalised_only_in_go_form() -> None:
    doc = _set(_doc(TIMESTAMP), ("signed", "expires"), "2116-07-03T17:56:36.0273798790+00:00")
    metadata: Metadata[Timestamp] = Metadata.from_bytes(TIMESTAMP, _bytes(doc))
    assert metadata.signed.to_dict()["expires"] == "2116-07-03T17:56:36.0273798790+00:00"
    assert metadata.signed.to_dict(go_form=True)["expires"] == "2116-07-03T17:56:36.027379879Z"


def test_envelope_layout_detects_non_go_bytes() -> None:
    raw = (FIXTURES / "targets.json").read_bytes()
    assert Envelope.from_bytes(raw).is_go_layout
    spaced = json.dumps(json.loads(raw), indent=1).encode()
    assert not Envelope.from_bytes(spaced).is_go_layout
    # Cure53 TUF-01-001: an unsigned top-level key after "signatures".
    injected = raw[:-1] + b',"abc":"xyz"}'
    assert not Envelope.from_bytes(injected).is_go_layout


def test_encode_envelope_orders_signed_then_signatures() -> None:
    raw = (FIXTURES / "snapshot.json").read_bytes()
    envelope = Envelope.from_bytes(raw)
    assert encode_envelope(envelope.canonical, envelope.signatures) == raw
    assert raw.startswith(b'{"signed":{')


@pytest.mark.parametrize(
    ("text", "go_text"),
    [
        ("2116-07-03T17:56:36.027379879-05:00", "2116-07-03T17:56:36.027379879-05:00"),
        ("2016-07-03T17:56:36.100+00:00", "2016-07-03T17:56:36.1Z"),
        ("2016-07-03T17:56:36.000Z", "2016-07-03T17:56:36Z"),
        ("2016-02-29T00:00:00Z", "2016-02-29T00:00:00Z"),
    ],
)
def test_go_time_normalisation(text: str, go_text: str) -> None:
    assert GoTime.parse(text).go_text == go_text


@pytest.mark.parametrize(
    "text",
    ["2015-02-29T00:00:00Z", "2016-01-01T24:00:00Z", "2016-01-01 00:00:00Z", "2016-01-01T00:00:00"],
)
def test_go_time_rejects(text: str) -> None:
    with pytest.raises(FormatError):
        GoTime.parse(text)


# --- Fuzzing: nothing but our own errors, whatever the input ------------------

json_leaf = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
)
json_any = st.recursive(
    json_leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out.extend(_paths(child, (*prefix, i)))
    return out


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(
    role=st.sampled_from(sorted(FILES)),
    data=st.data(),
    replacement=json_any,
    delete=st.booleans(),
)
def test_structural_fuzz_raises_only_our_errors(
    role: str, data: st.DataObject, replacement: Any, delete: bool
) -> None:
    doc = _doc(role)
    path = data.draw(st.sampled_from(_paths(doc)[1:]))
    mutated = (
        _delete(doc, path) if delete and isinstance(path[-1], str) else _set(doc, path, replacement)
    )
    with contextlib.suppress(NotaryTufError):
        Metadata.from_bytes(role, _bytes(mutated))


@settings(max_examples=3000)
@given(role=st.sampled_from(sorted(FILES)), data=st.data())
def test_byte_fuzz_raises_only_our_errors(role: str, data: st.DataObject) -> None:
    raw = bytearray((FIXTURES / FILES[role]).read_bytes())
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        index = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw[index] = data.draw(st.integers(min_value=0, max_value=255))
    with contextlib.suppress(NotaryTufError):
        Metadata.from_bytes(role, bytes(raw))


@pytest.mark.parametrize("role", [ROOT, TARGETS], ids=["root-role", "delegation"])
def test_null_keyids_are_accepted_and_written_back_as_null(role: str) -> None:
    """Go decodes ``"keyids": null`` as a nil slice; docker writes it after removing a signer."""
    doc = _doc(role)
    if role == ROOT:
        doc["signed"]["roles"]["x-extra-role"] = {"keyids": None, "threshold": 1}
        path: tuple[Any, ...] = ("signed", "roles", "x-extra-role", "keyids")
    else:
        doc["signed"]["delegations"]["roles"][0]["keyids"] = None
        path = ("signed", "delegations", "roles", 0, "keyids")
    metadata: Metadata[Any] = Metadata.from_bytes(role, _bytes(doc))
    go_form = metadata.signed.to_dict(go_form=True)
    node: Any = {"signed": go_form}
    for key in path:
        node = node[key]
    assert node is None
