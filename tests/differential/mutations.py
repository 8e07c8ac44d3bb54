"""Mutations of metadata uploads along Go's type schema (``tuf/data/*.go``).

A :class:`Mutation` names one file of an upload (``role``), a layer (the
``signed`` object, re-signed afterwards, or the envelope, left as mutated), a
path into it and a :class:`Variant` that replaces the value found there (or
adds it, or deletes it).  Paths may hold selectors resolved against the file,
so one mutation means the same thing on both servers although each server's
timestamp key (and so its key ID) differs:

* ``$KEY:<role>``: the first key ID root lists for ``<role>``;
* ``$DKEY``: the first key ID of the first delegated role;
* ``$TARGET``: the first target name (sorted).

Values are plain JSON values, :class:`Raw` JSON text written verbatim (``1e2``,
``1.0``, escapes) or :data:`MISSING` (delete the field).  :func:`catalog`
lists every mutation of the systematic sweep; :func:`random_mutations` adds
seeded random ones.
"""

from __future__ import annotations

import base64
import copy
import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from notary_tuf.canonical import canonical_bytes, parse_json
from notary_tuf.errors import NotaryTufError
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS
from notary_tuf.signed import Signature

RELEASES: Final = "targets/releases"
"""The delegation of the delegation base repository."""

SIGNED: Final = "signed"
ENVELOPE: Final = "envelope"
KEY: Final = "key"
"""Layers: re-signed ``signed`` content, the envelope as sent, the signing key's type."""


class Raw(str):
    """JSON text written into the file verbatim."""

    __slots__ = ()


class Unsorted(dict[str, Any]):
    """An object written in insertion order instead of sorted key order."""


class _Missing:
    def __repr__(self) -> str:
        return "<omitted>"

    def __deepcopy__(self, _memo: dict[int, Any]) -> _Missing:
        return self


MISSING: Final = _Missing()
"""A variant value meaning: delete the field (as a current value: it is absent)."""


# ---------------------------------------------------------------------------- JSON text


def dumps(value: Any) -> str:
    """Compact JSON text; objects sorted by key unless :class:`Unsorted`; :class:`Raw` verbatim."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        items = value.items() if isinstance(value, Unsorted) else sorted(value.items())
        return (
            "{"
            + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{dumps(v)}" for k, v in items)
            + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def signing_message(signed_text: str) -> bytes:
    """What a verifier checks signatures over: the canonical form of the parsed ``signed``.

    Go decodes ``signed`` into a generic value and canonicalises it
    (``tuf/signed/verify.go``).  Text with no canonical form (a fraction) is
    signed as it is; both servers then judge a signature they cannot check.
    """
    raw = signed_text.encode("utf-8", "surrogatepass")
    try:
        return canonical_bytes(parse_json(raw), str_keys=True)
    except (NotaryTufError, ValueError):
        return raw


def envelope_tree(signed_text: str, signatures: Sequence[Signature]) -> Unsorted:
    """The file as a tree in Go's layout, ready for an envelope mutation."""
    sigs = [
        Unsorted(keyid=sig.keyid, method=sig.method, sig=base64.b64encode(sig.sig).decode("ascii"))
        for sig in signatures
    ]
    return Unsorted(signed=Raw(signed_text), signatures=sigs)


def file_bytes(tree: Any) -> bytes:
    """The upload bytes of a file tree (lone surrogates kept as Go would read them)."""
    return dumps(tree).encode("utf-8", "surrogatepass")


# ---------------------------------------------------------------------------- variants


@dataclass(frozen=True)
class Variant:
    """A named replacement: ``make(current)`` returns the new value (or :data:`MISSING`)."""

    name: str
    make: Callable[[Any], Any]


def const(name: str, value: Any) -> Variant:
    """A variant that always yields a deep copy of ``value``."""
    return Variant(name, lambda _current: copy.deepcopy(value))


OMIT: Final = const("omitted", MISSING)
NULL: Final = const("null", None)
EMPTY_OBJECT: Final = const("{}", {})
EMPTY_LIST: Final = const("[]", [])
EMPTY_STRING: Final = const('""', "")


def _same_number_spelled(suffix: str) -> Variant:
    return Variant(f"same-number{suffix}", lambda current: Raw(f"{current}{suffix}"))


NUMBERS: Final = (
    NULL,
    OMIT,
    const("0", 0),
    const("-1", -1),
    const("1e2", Raw("1e2")),
    const("2147483647", 2**31 - 1),
    const("2^31", 2**31),
    const("2^53", 2**53),
    const("2^63", Raw("9223372036854775808")),
    const("1.5", Raw("1.5")),
    const('"1"', "1"),
    const("true", value=True),
    _same_number_spelled(".0"),
    _same_number_spelled("e0"),
    Variant("plus-one", lambda current: current + 1 if isinstance(current, int) else 2),
)

OBJECTS: Final = (NULL, OMIT, EMPTY_OBJECT, EMPTY_LIST, const('"str"', "str"), const("1", 1))
LISTS: Final = (NULL, OMIT, EMPTY_LIST, EMPTY_OBJECT, const('"str"', "str"), const("[1]", [1]))

LONG: Final = "x" * 70_000
UNUSUAL_STRINGS: Final = (
    const("unicode", "zürich-東京-🙂"),
    const("escaped-unicode", Raw('"z\\u00fcrich"')),
    const("html-chars", "<a&b>"),
    const("backslash-quote", 'a\\"b'),
    const("tab-escape", Raw('"a\\tb"')),
    const("u2028", "a\u2028b"),
    const("lone-surrogate", Raw('"a\\ud800b"')),
    const("very-long", LONG),
)

ROLE_NAMES: Final = (ROOT, TARGETS, SNAPSHOT, "timestamp")


def _expiry_variants() -> tuple[Variant, ...]:
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(days=400)
    day = base.strftime("%Y-%m-%d")
    clock = base.strftime("%H:%M:%S")
    stamp = f"{day}T{clock}"
    return (
        NULL,
        OMIT,
        EMPTY_STRING,
        const("number", 1_900_000_000),
        const("no-fraction", f"{stamp}Z"),
        const("fraction", f"{stamp}.123456789Z"),
        const("trailing-zeros", f"{stamp}.500000000Z"),
        const("zero-fraction", f"{stamp}.000Z"),
        const("comma-fraction", f"{stamp},5Z"),
        const("offset+01:00", f"{stamp}+01:00"),
        const("offset-05:30", f"{stamp}-05:30"),
        const("offset+00:00", f"{stamp}+00:00"),
        const("lowercase-z", f"{stamp}z"),
        const("lowercase-t", f"{day}t{clock}Z"),
        const("space-separator", f"{day} {clock}Z"),
        const("date-only", day),
        const("no-zone", stamp),
        const("year-10000", f"10000-01-01T{clock}Z"),
        const("expired", "2001-01-01T00:00:00Z"),
        const("leap-second", f"{day}T23:59:60Z"),
        const("feb-30", f"{base.year}-02-30T00:00:00Z"),
    )


def _type_variants(proper: str) -> tuple[Variant, ...]:
    return (
        NULL,
        OMIT,
        EMPTY_STRING,
        const("lowercase", proper.lower()),
        const("uppercase", proper.upper()),
        const("other-type", "Targets" if proper != "Targets" else "Root"),
        const("number", 1),
    )


_CERT_LIKE: Final = base64.b64encode(
    b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
)

KEYTYPES: Final = (
    *(
        const(name, name)
        for name in ("ecdsa", "ecdsa-x509", "rsa", "rsa-x509", "ed25519", "ECDSA", "unknown")
    ),
    NULL,
    OMIT,
    EMPTY_STRING,
)


def _flip_b64(current: Any) -> Any:
    raw = bytearray(base64.b64decode(current)) if isinstance(current, str) else bytearray(b"x")
    raw[-1] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


KEYVAL_PUBLIC: Final = (
    NULL,
    OMIT,
    EMPTY_STRING,
    const("not-base64", "!!not base64!!"),
    const("number", 123),
    const("cert-like-garbage", _CERT_LIKE.decode()),
    Variant("last-byte-flipped", _flip_b64),
    Variant("unpadded", lambda c: c.rstrip("=") if isinstance(c, str) else c),
)
KEYVAL_PRIVATE: Final = (
    const("string", base64.b64encode(b"secret").decode()),
    NULL,
    EMPTY_STRING,
    const("number", 1),
)


def _hash_of(size: int) -> str:
    return base64.b64encode(bytes(range(size))).decode()


HASHES: Final = (
    *OBJECTS,
    Variant("sha256-only", lambda c: {"sha256": c["sha256"]} if isinstance(c, dict) else c),
    Variant("sha512-only", lambda c: {"sha512": c["sha512"]} if isinstance(c, dict) else c),
    Variant("plus-md5", lambda c: {**c, "md5": _hash_of(16)} if isinstance(c, dict) else c),
    Variant(
        "plus-unknown-alg", lambda c: {**c, "blake3": _hash_of(32)} if isinstance(c, dict) else c
    ),
    const("md5-only", {"md5": _hash_of(16)}),
    Variant("sha256-short", lambda c: {**c, "sha256": _hash_of(16)} if isinstance(c, dict) else c),
    Variant("sha256-not-base64", lambda c: {**c, "sha256": "zz!!"} if isinstance(c, dict) else c),
    Variant(
        "sha256-wrong-value", lambda c: {**c, "sha256": _hash_of(32)} if isinstance(c, dict) else c
    ),
    Variant("sha256-null", lambda c: {**c, "sha256": None} if isinstance(c, dict) else c),
)

CUSTOM: Final = (
    NULL,
    EMPTY_OBJECT,
    EMPTY_LIST,
    const('"str"', "str"),
    const("1", 1),
    const("nested", {"a": {"b": [1, "x", None]}}),
    const("float", Raw("1.5")),
)

EXTRA_FIELDS: Final = (
    const("extra-string", "x"),
    const("extra-null", None),
    const("extra-object", {"a": 1}),
)


# ---------------------------------------------------------------------------- mutations


@dataclass(frozen=True)
class Mutation:
    """One change to one file of an upload.

    ``kind`` (role family, path pattern, variant) groups equal mutations over
    all base repositories; ``INTENDED_DIFFERENCES`` is keyed by it.
    """

    role: str
    layer: str
    path: tuple[str | int, ...]
    variant: Variant
    family: str = ""

    @property
    def kind(self) -> str:
        """``family:path=variant``, e.g. ``root:roles.root.threshold=2^31``."""
        family = self.family or self.role
        where = ".".join(str(p) for p in self.path) or "<top>"
        layer = "" if self.layer == SIGNED else f"/{self.layer}"
        return f"{family}{layer}:{where}={self.variant.name}"

    def apply(self, tree: Any) -> Any:
        """Return a mutated deep copy of ``tree`` (a ``signed`` object or an envelope tree)."""
        out = copy.deepcopy(tree)
        if not self.path:
            return self.variant.make(out)
        parent: Any = out
        steps = [_resolve(out, step) for step in self.path]
        for step in steps[:-1]:
            parent = parent[step]
        last = steps[-1]
        current = _get(parent, last)
        value = self.variant.make(current)
        if value is MISSING:
            if isinstance(parent, dict):
                parent.pop(last, None)
            elif isinstance(last, int) and last < len(parent):
                del parent[last]
        elif isinstance(parent, dict) or (isinstance(last, int) and last < len(parent)):
            parent[last] = value
        else:
            parent.append(value)
        return out


def _get(parent: Any, step: str | int) -> Any:
    if isinstance(parent, dict):
        return parent.get(step, MISSING)
    if isinstance(step, int) and isinstance(parent, list) and step < len(parent):
        return parent[step]
    return MISSING


def _resolve(tree: Any, step: str | int) -> str | int:
    """Turn a selector into the key it names in ``tree`` (see the module docstring)."""
    if not isinstance(step, str) or not step.startswith("$"):
        return step
    if step.startswith("$KEY:"):
        return str(tree["roles"][step.removeprefix("$KEY:")]["keyids"][0])
    if step == "$DKEY":
        return str(tree["delegations"]["roles"][0]["keyids"][0])
    if step == "$TARGET":
        return str(min(tree["targets"]))
    raise ValueError(f"unknown selector {step}")


def _each(
    role: str, path: tuple[str | int, ...], variants: Sequence[Variant], *, family: str = ""
) -> Iterator[Mutation]:
    for variant in variants:
        yield Mutation(role, SIGNED, path, variant, family)


def _extra(role: str, path: tuple[str | int, ...], family: str = "") -> Iterator[Mutation]:
    yield from _each(role, (*path, "x-unknown"), EXTRA_FIELDS, family=family)


def _key_object(role: str, path: tuple[str | int, ...], family: str = "") -> Iterator[Mutation]:
    yield from _each(role, path, OBJECTS, family=family)
    yield from _each(role, (*path, "keytype"), KEYTYPES, family=family)
    yield from _each(role, (*path, "keyval"), OBJECTS, family=family)
    yield from _each(role, (*path, "keyval", "public"), KEYVAL_PUBLIC, family=family)
    yield from _each(role, (*path, "keyval", "private"), KEYVAL_PRIVATE, family=family)
    yield from _extra(role, path, family)
    yield from _extra(role, (*path, "keyval"), family)


def _common(role: str, proper_type: str, family: str = "") -> Iterator[Mutation]:
    yield from _each(role, ("_type",), _type_variants(proper_type), family=family)
    yield from _each(role, ("version",), NUMBERS, family=family)
    yield from _each(role, ("expires",), _expiry_variants(), family=family)
    yield from _extra(role, (), family)
    yield from _each(role, (), (Variant("unsorted-keys", _unsorted),), family=family)


def _unsorted(current: Any) -> Any:
    return Unsorted(reversed(list(current.items()))) if isinstance(current, dict) else current


def root_mutations() -> Iterator[Mutation]:
    """Every field of ``Root`` (``tuf/data/root.go``)."""
    yield from _each(ROOT, ("keys",), OBJECTS)
    for listed in (ROOT, TARGETS, "timestamp"):
        yield from _key_object(ROOT, ("keys", f"$KEY:{listed}"))
    yield from _each(ROOT, ("roles",), OBJECTS)
    for role in ROLE_NAMES:
        yield from _each(ROOT, ("roles", role), OBJECTS)
        yield from _each(ROOT, ("roles", role, "keyids"), LISTS)
        yield from _each(
            ROOT,
            ("roles", role, "keyids"),
            (
                Variant("duplicated", lambda c: [*c, *c] if isinstance(c, list) else c),
                Variant("plus-unknown-id", lambda c: [*c, "ab" * 32] if isinstance(c, list) else c),
            ),
        )
        yield from _each(ROOT, ("roles", role, "threshold"), NUMBERS)
        yield from _extra(ROOT, ("roles", role))
    yield from _each(
        ROOT,
        ("roles", RELEASES),
        (const("extra-role", {"keyids": [], "threshold": 1}),),
    )
    yield from _each(
        ROOT,
        ("consistent_snapshot",),
        (const("true", value=True), NULL, OMIT, const('"false"', "false"), const("0", 0)),
    )
    yield from _common(ROOT, "Root")


def targets_mutations(role: str, family: str, *, delegating: bool) -> Iterator[Mutation]:
    """Every field of ``Targets`` (``tuf/data/targets.go``) in ``role``'s file.

    ``delegating``: the file declares a delegation (``$DKEY``, ``roles[0]`` exist).
    """
    target = ("targets", "$TARGET")
    yield from _each(role, ("targets",), OBJECTS, family=family)
    yield from _each(role, target, OBJECTS, family=family)
    yield from _each(role, (*target, "length"), NUMBERS, family=family)
    yield from _each(role, (*target, "hashes"), HASHES, family=family)
    yield from _each(role, (*target, "custom"), CUSTOM, family=family)
    yield from _extra(role, target, family)
    name_meta = {"length": 1, "hashes": {"sha256": _hash_of(32)}}
    for variant in (
        *UNUSUAL_STRINGS,
        EMPTY_STRING,
        const("dotdot", "../x"),
        const("slash", "/abs"),
    ):
        name = variant.make(None)
        if isinstance(name, Raw):
            continue  # a raw object key would need a raw object; the plain strings suffice
        yield Mutation(
            role, SIGNED, ("targets", name), const(f"name:{variant.name}", name_meta), family
        )
    delegations = ("delegations",)
    yield from _each(
        role,
        delegations,
        (
            *OBJECTS,
            const("keys{}-roles-null", {"keys": {}, "roles": None}),
            const("keys-null-roles[]", {"keys": None, "roles": []}),
            const("roles-only", {"roles": []}),
            const("keys-only", {"keys": {}}),
        ),
        family=family,
    )
    yield from _each(role, (*delegations, "keys"), OBJECTS, family=family)
    yield from _each(role, (*delegations, "roles"), LISTS, family=family)
    yield from _extra(role, delegations, family)
    if delegating:
        yield from _key_object(role, (*delegations, "keys", "$DKEY"), family)
        first = (*delegations, "roles", 0)
        yield from _each(role, first, OBJECTS, family=family)
        yield from _each(
            role,
            (*first, "name"),
            (
                NULL,
                OMIT,
                EMPTY_STRING,
                const("sibling", "targets/other"),
                const("grandchild", "targets/releases/deep"),
                const("no-prefix", "releases"),
                const("targets", TARGETS),
                const("trailing-slash", "targets/releases/"),
                const("capitalised", "Targets/releases"),
                const("unicode", "targets/rélease"),
                const("number", 1),
            ),
            family=family,
        )
        yield from _each(role, (*first, "keyids"), LISTS, family=family)
        yield from _each(
            role,
            (*first, "keyids"),
            (
                Variant("duplicated", lambda c: [*c, *c] if isinstance(c, list) else c),
                Variant("plus-unknown-id", lambda c: [*c, "ab" * 32] if isinstance(c, list) else c),
            ),
            family=family,
        )
        yield from _each(role, (*first, "threshold"), NUMBERS, family=family)
        yield from _each(
            role,
            (*first, "paths"),
            (*LISTS, const('[""]', [""]), const("two", ["a/", "b/"]), const("unicode", ["ü/"])),
            family=family,
        )
        yield from _each(
            role,
            (*first, "path_hash_prefixes"),
            (const("[ab]", ["ab"]), EMPTY_LIST, NULL, const("not-hex", ["zz"]), const("[1]", [1])),
            family=family,
        )
        yield from _extra(role, first, family)
    yield from _common(role, "Targets", family)


def snapshot_mutations(*, with_delegation: bool) -> Iterator[Mutation]:
    """Every field of ``Snapshot`` (``tuf/data/snapshot.go``)."""
    yield from _each(SNAPSHOT, ("meta",), OBJECTS)
    for role in (ROOT, TARGETS, *([RELEASES] if with_delegation else [])):
        yield from _each(SNAPSHOT, ("meta", role), OBJECTS)
        yield from _each(SNAPSHOT, ("meta", role, "hashes"), HASHES)
        yield from _each(SNAPSHOT, ("meta", role, "length"), NUMBERS)
        yield from _extra(SNAPSHOT, ("meta", role))
    yield from _each(
        SNAPSHOT,
        ("meta", "targets/unknown"),
        (const("extra-entry", {"length": 1, "hashes": {"sha256": _hash_of(32)}}),),
    )
    yield from _common(SNAPSHOT, "Snapshot")


def envelope_mutations(role: str, family: str = "") -> Iterator[Mutation]:
    """The envelope (``tuf/data/types.go`` Signed / Signature): unsigned and badly signed."""

    def env(path: tuple[str | int, ...], variants: Sequence[Variant]) -> Iterator[Mutation]:
        for variant in variants:
            yield Mutation(role, ENVELOPE, path, variant, family)

    yield from env(("signatures",), OBJECTS)
    yield from env(
        ("signatures",),
        (Variant("duplicated", lambda c: [*c, *c] if isinstance(c, list) else c),),
    )
    sig = ("signatures", 0)
    yield from env(sig, OBJECTS)
    yield from env(
        (*sig, "keyid"),
        (NULL, OMIT, EMPTY_STRING, const("unknown", "ab" * 32), const("number", 1)),
    )
    yield from env(
        (*sig, "method"),
        (
            NULL,
            OMIT,
            EMPTY_STRING,
            const("ECDSA", "ECDSA"),
            const("rsapss", "rsapss"),
            const("eddsa", "eddsa"),
            const("ecdsa-x509", "ecdsa-x509"),
            const("unknown", "xyz"),
        ),
    )
    yield from env(
        (*sig, "sig"),
        (
            NULL,
            OMIT,
            EMPTY_STRING,
            const("not-base64", "!!"),
            Variant("flipped", _flip_b64),
            Variant("truncated", lambda c: base64.b64encode(base64.b64decode(c)[:-8]).decode()),
        ),
    )
    yield from env((*sig, "x-unknown"), EXTRA_FIELDS)
    yield from env(("x-unknown",), EXTRA_FIELDS)
    yield from env(("signed",), (NULL, OMIT, EMPTY_LIST, const('"str"', "str")))
    yield from env(
        ("signed",),
        (Variant("pretty-printed", lambda c: Raw(json.dumps(json.loads(c), indent=2))),),
    )


# ---------------------------------------------------------------------------- random


def key_swaps(role: str, family: str = "") -> Iterator[Mutation]:
    """Sign ``role`` with a real key of another type (listed and used as such): all valid."""
    for keytype in ("ecdsa-x509", "rsa", "rsa-x509", "ed25519"):
        yield Mutation(role, KEY, (), const(keytype, keytype), family)


def random_variant(mutation: Mutation, rng: random.Random, label: str) -> Mutation:
    """``mutation`` with a seeded random value instead of its variant (same path, same file)."""
    value = _random_value(rng, depth=0)
    if value is MISSING and not mutation.path:
        value = None  # the whole signed object cannot be left out of its own envelope here
    return Mutation(
        mutation.role,
        mutation.layer,
        mutation.path,
        const(f"random{label}", value),
        mutation.family,
    )


def _random_value(rng: random.Random, depth: int) -> Any:
    """A random JSON value (nested at most two levels; :data:`MISSING` only at the top)."""
    makers: list[Callable[[], Any]] = [
        lambda: None,
        lambda: rng.choice([0, 1, -1, 2, 2**31 - 1, 2**31, 2**53, rng.randrange(-(2**40), 2**40)]),
        lambda: rng.choice([True, False]),
        lambda: "".join(rng.choice('abcxyz019/-_.:é東🙂<>&\\" ') for _ in range(rng.randrange(20))),
        lambda: Raw(rng.choice(["1e2", "1.0", "-0", "1E3", "0.5", "100e-2"])),
        lambda: MISSING if depth == 0 else None,
    ]
    if depth < 2:
        keys = ["a", "keyids", "threshold", "length", "hashes", "sha256"]
        makers += [
            lambda: [_random_value(rng, depth + 1) for _ in range(rng.randrange(3))],
            lambda: {
                rng.choice(keys): _random_value(rng, depth + 1) for _ in range(rng.randrange(3))
            },
        ]
    return rng.choice(makers)()
