"""Input mutators for the fuzz tests: bytes, JSON structure (optionally re-signed), multipart.

All randomness comes from a seeded ``random.Random``, so a failing input is
reproduced from its seed and index.
"""

from __future__ import annotations

import json
import random
from typing import Any, Final

from notary_tuf.canonical import canonical_bytes
from notary_tuf.errors import NotaryTufError
from notary_tuf.signed import encode_envelope
from testkit.repo_builder import SigningKey, sign_signed

INTERESTING: Final[tuple[Any, ...]] = (
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31 - 1,
    2**31,
    2**32,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63),
    1.5,
    1e308,
    "",
    "root",
    "targets/../root",
    "a" * 300,
    "\x00",
    "\u2028",
    "2001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "not a date",
    "AAAA",
    "!!!",
    [],
    {},
    [None],
    {"": None},
)

TOKENS: Final = (
    b"null",
    b"-1",
    b"1e400",
    b'"',
    b"{",
    b"}",
    b"[]",
    b"2147483648",
    b"\\u0000",
    b"\\ud800",
    b"\xff",
    b"\x00",
    b",",
    b":",
    b'"version":',
)


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """One to four byte-level edits of ``data``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            out.extend(rng.choice(TOKENS))
            continue
        at = rng.randrange(len(out))
        match rng.randrange(7):
            case 0:
                out[at] ^= 1 << rng.randrange(8)
            case 1:
                out[at] = rng.randrange(256)
            case 2:
                del out[at : at + rng.randint(1, 64)]
            case 3:
                out[at:at] = rng.choice(TOKENS)
            case 4:
                end = min(len(out), at + rng.randint(1, 64))
                out[at:at] = out[at:end]
            case 5:
                del out[at:]
            case _:
                digits = [i for i, c in enumerate(out) if 0x30 <= c <= 0x39]
                if digits:
                    out[rng.choice(digits)] = rng.randrange(0x30, 0x3A)
    return bytes(out)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths(child, (*prefix, index)))
    return found


def mutate_value(rng: random.Random, document: Any) -> Any:
    """Replace, delete or add one node somewhere in a decoded JSON document."""
    paths = [p for p in _paths(document) if p]
    if not paths:
        return rng.choice(INTERESTING)
    path = rng.choice(paths)
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    action = rng.randrange(4)
    if action == 0 and isinstance(parent, dict):
        del parent[last]
    elif action == 1 and isinstance(parent, dict):
        parent[rng.choice(("extra", "version", "expires", "_type", "keyid", "x"))] = rng.choice(
            INTERESTING
        )
    elif action == 2 and isinstance(parent, list):
        parent.append(parent[last])
    else:
        parent[last] = rng.choice(INTERESTING)
    return document


def mutate_file(rng: random.Random, data: bytes, keys: list[SigningKey]) -> bytes:
    """A mutated metadata file: raw bytes, or a structural edit (re-signed half the time)."""
    kind = rng.randrange(3)
    if kind == 0:
        return mutate_bytes(rng, data)
    document = json.loads(data)
    if kind == 1 or not isinstance(document.get("signed"), dict):
        mutated = mutate_value(rng, document)
        return json.dumps(mutated, separators=(",", ":")).encode()
    signed = mutate_value(rng, document["signed"])
    if not isinstance(signed, dict):
        return json.dumps({"signed": signed, "signatures": []}).encode()
    try:
        # Correctly signed by the role's keys: the input reaches the semantic checks.
        return sign_signed(signed, keys) if keys else encode_envelope(canonical_bytes(signed), [])
    except NotaryTufError:  # Go could not write it (e.g. a float): send it unsigned
        return json.dumps({"signed": signed, "signatures": document["signatures"]}).encode()


FILENAMES: Final = (
    "root",
    "targets",
    "snapshot",
    "timestamp",
    "targets/releases",
    "root.json",
    "",
    "Root",
    "../root",
    "targets/",
    "targets//x",
    "a" * 300,
    "foo",
    '"',
    ";",
)


def random_multipart(rng: random.Random, files: list[bytes]) -> tuple[bytes, str]:
    """A random, often malformed, multipart body and its Content-Type header."""
    boundary = rng.choice(("b", "----x", "a" * 70, "sp ace", "Z"))
    out = bytearray()
    if rng.random() < 0.2:
        out += b"preamble\r\n"
    for _ in range(rng.randint(0, 5)):
        name = rng.choice(FILENAMES)
        headers = [f'Content-Disposition: form-data; name="files"; filename="{name}"']
        if rng.random() < 0.1:
            headers = ['Content-Disposition: form-data; name="files"']
        if rng.random() < 0.1:
            headers.append(rng.choice(("Content-Length: 5", "Content-Transfer-Encoding: base64")))
        if rng.random() < 0.05:
            headers.append("Content-Type: multipart/mixed; boundary=inner")
        content = rng.choice(files) if files else b""
        if rng.random() < 0.7:
            content = mutate_bytes(rng, content)
        out += f"--{boundary}\r\n".encode() + "\r\n".join(headers).encode() + b"\r\n\r\n"
        out += content + b"\r\n"
    if rng.random() < 0.8:
        out += f"--{boundary}--\r\n".encode()
    body = bytes(out)
    if rng.random() < 0.2:
        body = mutate_bytes(rng, body)
    content_type = rng.choice(
        (
            f"multipart/form-data; boundary={boundary}",
            f'multipart/form-data; boundary="{boundary}"',
            "multipart/form-data",
            "application/json",
            f"multipart/mixed; boundary={boundary}",
        )
    )
    return body, content_type


# ------------------------------------------------------------------ path forms (issue #14)

_SEPARATOR_FORMS: Final = ("/", "/", "/", "%2F", "%2f", "%252F", "%5C", "%5c", "\\", "%255C")
_DOT_FORMS: Final = (".", "%2E", "%2e")


def _dot_segment(rng: random.Random) -> str:
    return "".join(rng.choice(_DOT_FORMS) for _ in range(rng.choice((1, 2))))


def write_path_form(rng: random.Random, gun: str) -> str:
    """``gun`` as a write could name it in a path: dot segments, empty segments,
    separators encoded, double encoded or swapped for a backslash, and escapes
    of harmless characters, one to four of them.
    """
    segments: list[str] = gun.split("/")
    for _ in range(rng.randint(1, 4)):
        where = rng.randrange(len(segments) + 1)
        choice = rng.randrange(6)
        if choice == 0:  # a "." or ".." segment, encoded or not
            segments.insert(where, _dot_segment(rng))
        elif choice == 1:  # climb out of a made-up segment: x/..
            segments[where:where] = ["evil", _dot_segment(rng)]
        elif choice == 2:  # an empty segment: //
            segments.insert(where, "")
        elif choice == 3 and len(segments) > 1:  # glue two segments with another separator
            index = min(where, len(segments) - 2)
            separator = rng.choice(_SEPARATOR_FORMS)
            segments[index : index + 2] = [segments[index] + separator + segments[index + 1]]
        elif choice == 4:  # escape a harmless character (%61 is "a")
            index = min(where, len(segments) - 1)
            text = segments[index]
            if text:
                at = rng.randrange(len(text))
                segments[index] = f"{text[:at]}%{ord(text[at]):02X}{text[at + 1 :]}"
        else:  # climb above the GUN
            segments.append(rng.choice(("..", "%2E%2E", "../..")))
    return "/".join(segments)


def deep_json(rng: random.Random, depth: int) -> str:
    """A JSON value nested ``depth`` deep (objects and arrays mixed) around a random leaf."""
    leaf = rng.choice(('"\\u0041"', '"\\ud800"', '"q\\"x"', "1", "null", '"plain"', "[]", "{}"))
    opening: list[str] = []
    closing: list[str] = []
    for _ in range(depth):
        if rng.random() < 0.5:
            opening.append(rng.choice(('{"a":', '{"\\u0062":', '{"z":0,"a":')))
            closing.append("}")
        else:
            opening.append(rng.choice(("[", "[0,", '["\\u0063",')))
            closing.append("]")
    return "".join(opening) + leaf + "".join(reversed(closing))
