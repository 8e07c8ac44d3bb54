"""Every collection-valued field of Go's ``tuf/data`` types in its three forms.

Go decodes metadata into structs: an absent or ``null`` slice, map or
``[]byte`` becomes nil, which Go writes back as ``null`` (or leaves out under
``omitempty``), while ``[]``/``{}``/``""`` stay empty and are written back as
such. Scalars that are absent or ``null`` keep their zero value. ``data.Keys``
has its own decoder, which turns ``null`` into an empty map. The Go client
relies on these forms: removing the last delegation uploads
``"delegations":{"keys":{},"roles":null}``.

:data:`FIELDS` lists each field with its Go declaration (file and line in
theupdateframework/notary at 1772970, the last commit) and, for the forms
``null``, ``empty`` and ``omitted``, either what Go writes back when it
re-serialises the parsed file (:data:`OMITTED`: the member is left out) or
:data:`REFUSED` when Go's server refuses the upload. The upload that carries
the field is a targets file (or a root, or a client-made snapshot) that is
otherwise what the Go client writes, correctly signed, so only the field
decides.

``tests/tuf/test_go_nil_forms.py`` checks our parser and validator against the
table; ``tests/interop/test_go_nil_forms_live.py`` checks the table itself
against the Debian notary-server: its verdict, and the hash its server-made
snapshot records, which is the SHA-256 of Go's re-serialisation.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from notary_tuf.canonical import canonical_bytes, html_escape
from notary_tuf.keys import PublicKey
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS
from testkit.repo_builder import RepoBuilder, SigningKey

Form = Literal["null", "empty", "omitted"]
FORMS: Final[tuple[Form, ...]] = ("null", "empty", "omitted")

OMITTED: Final = "<omitted>"
"""Go leaves the member out when it writes the file back."""

REFUSED: Final = "<refused>"
"""Go's server answers 400 to the upload."""

GO_PANICS: Final = "<go panics>"
"""Go's handler dereferences nil and the connection closes without an answer; we answer 400."""

DELEGATION: Final = "targets/releases"
TARGET_NAME: Final = "t"
JUNK_SIGNATURE: Final = {"keyid": "junk", "method": "ecdsa", "sig": "AAAA"}
"""A second signature by no known key: Go skips it, so the file stays valid."""

Where = Literal["signed", "envelope"]


@dataclass(frozen=True)
class Field:
    """One field of a Go struct and what each form of it becomes.

    Attributes:
        name: where the field sits, for test IDs.
        go: the Go declaration, ``file:line`` and the line's field.
        role: the file that carries it (``root``, ``targets`` or ``snapshot``).
        where: ``signed`` for a member of the signed object, ``envelope`` for
            the file's top level (signatures).
        path: the member's path below ``where``.
        empty: the field's empty JSON value (None where the field has none).
        written: form → what Go writes back, or :data:`REFUSED`.
        prepare: a change to the base document first (e.g. no roles, so that
            no role names a key).
    """

    name: str
    go: str
    role: str
    where: Where
    path: tuple[str | int, ...]
    empty: Any
    written: Mapping[Form, Any]
    prepare: Callable[[dict[str, Any]], None] | None = field(default=None, compare=False)

    @property
    def forms(self) -> tuple[Form, ...]:
        """The forms this field has (scalars have no ``empty``)."""
        return tuple(f for f in FORMS if f in self.written)

    @property
    def written_path(self) -> tuple[str | int, ...]:
        """The member's path in the whole file."""
        return (("signed",) if self.where == "signed" else ()) + self.path


def _no_delegation_roles(doc: dict[str, Any]) -> None:
    doc["signed"]["delegations"]["roles"] = None


def _extra_root_role(doc: dict[str, Any]) -> None:
    doc["signed"]["roles"][DELEGATION] = {"keyids": [], "threshold": 1}


def _junk_signature(doc: dict[str, Any]) -> None:
    doc["signatures"].append(dict(JUNK_SIGNATURE))


_KEY = ("delegations", "keys", "<delegation key>")
_ROLE = ("delegations", "roles", 0)
_TARGET = ("targets", TARGET_NAME)
_ZERO_META: Final = {"hashes": None, "length": 0}
_EMPTY_KEYVAL: Final = {"private": None, "public": None}
_ALL_REFUSED: Final[Mapping[Form, Any]] = dict.fromkeys(FORMS, REFUSED)

FIELDS: Final[tuple[Field, ...]] = (
    # --- targets (and every delegation file: the same struct)
    Field(
        "targets.targets",
        'tuf/data/targets.go:22 Targets Files `json:"targets"`',
        TARGETS,
        "signed",
        ("targets",),
        {},
        {"null": None, "empty": {}, "omitted": None},
    ),
    Field(
        "targets.targets.<name>",
        "tuf/data/types.go:170 type Files map[string]FileMeta",
        TARGETS,
        "signed",
        _TARGET,
        {},
        {"null": _ZERO_META, "empty": _ZERO_META, "omitted": OMITTED},
    ),
    Field(
        "targets.targets.<name>.length",
        'tuf/data/types.go:182 Length int64 `json:"length"`',
        TARGETS,
        "signed",
        (*_TARGET, "length"),
        None,
        {"null": 0, "omitted": 0},
    ),
    Field(
        "targets.targets.<name>.hashes",
        'tuf/data/types.go:183 Hashes Hashes `json:"hashes"`',
        TARGETS,
        "signed",
        (*_TARGET, "hashes"),
        {},
        {"null": None, "empty": {}, "omitted": None},
    ),
    Field(
        "targets.targets.<name>.hashes.sha256",
        "tuf/data/types.go:174 type Hashes map[string][]byte",
        TARGETS,
        "signed",
        (*_TARGET, "hashes", "sha256"),
        "",
        {"null": None, "empty": "", "omitted": OMITTED},
    ),
    Field(
        "targets.targets.<name>.custom",
        'tuf/data/types.go:184 Custom *json.RawMessage `json:"custom,omitempty"`',
        TARGETS,
        "signed",
        (*_TARGET, "custom"),
        {},
        {"null": OMITTED, "empty": {}, "omitted": OMITTED},
    ),
    Field(
        "targets.delegations",
        'tuf/data/targets.go:23 Delegations Delegations `json:"delegations,omitempty"`',
        TARGETS,
        "signed",
        ("delegations",),
        {},
        {key: {"keys": None, "roles": None} for key in FORMS},
    ),
    Field(
        "targets.delegations.keys (no role names a key)",
        'tuf/data/types.go:338 Keys Keys `json:"keys"` (decoded by Keys.UnmarshalJSON)',
        TARGETS,
        "signed",
        ("delegations", "keys"),
        {},
        {"null": {}, "empty": {}, "omitted": None},
        prepare=_no_delegation_roles,
    ),
    Field(
        "targets.delegations.keys (a role names a key)",
        'tuf/data/types.go:338 Keys Keys `json:"keys"`',
        TARGETS,
        "signed",
        ("delegations", "keys"),
        {},
        _ALL_REFUSED,
    ),
    Field(
        "targets.delegations.roles",
        'tuf/data/types.go:339 Roles []*Role `json:"roles"`',
        TARGETS,
        "signed",
        ("delegations", "roles"),
        [],
        {"null": None, "empty": [], "omitted": None},
    ),
    Field(
        "targets.delegations.roles[].keyids",
        'tuf/data/roles.go:247 KeyIDs []string `json:"keyids"`',
        TARGETS,
        "signed",
        (*_ROLE, "keyids"),
        [],
        {"null": None, "empty": [], "omitted": None},
    ),
    Field(
        "targets.delegations.roles[].threshold",
        'tuf/data/roles.go:248 Threshold int `json:"threshold"`',
        TARGETS,
        "signed",
        (*_ROLE, "threshold"),
        None,
        {"null": REFUSED, "omitted": REFUSED},
    ),
    Field(
        "targets.delegations.roles[].name",
        'tuf/data/roles.go:255 Name RoleName `json:"name"`',
        TARGETS,
        "signed",
        (*_ROLE, "name"),
        "",
        _ALL_REFUSED,
    ),
    Field(
        "targets.delegations.roles[].paths",
        'tuf/data/roles.go:256 Paths []string `json:"paths,omitempty"`',
        TARGETS,
        "signed",
        (*_ROLE, "paths"),
        [],
        dict.fromkeys(FORMS, OMITTED),
    ),
    Field(
        "targets.delegations.keys.<id>.keytype",
        'tuf/data/keys.go:203 Type string `json:"keytype"`',
        TARGETS,
        "signed",
        (*_KEY, "keytype"),
        "",
        dict.fromkeys(FORMS, ""),
    ),
    Field(
        "targets.delegations.keys.<id>.keyval",
        'tuf/data/keys.go:204 Value KeyPair `json:"keyval"`',
        TARGETS,
        "signed",
        (*_KEY, "keyval"),
        {},
        dict.fromkeys(FORMS, _EMPTY_KEYVAL),
    ),
    Field(
        "targets.delegations.keys.<id>.keyval.public",
        'tuf/data/keys.go:38 Public []byte `json:"public"`',
        TARGETS,
        "signed",
        (*_KEY, "keyval", "public"),
        "",
        {"null": None, "empty": "", "omitted": None},
    ),
    Field(
        "targets.delegations.keys.<id>.keyval.private",
        'tuf/data/keys.go:39 Private []byte `json:"private"`',
        TARGETS,
        "signed",
        (*_KEY, "keyval", "private"),
        "",
        {"null": None, "empty": "", "omitted": None},
    ),
    # --- the envelope
    Field(
        "signed",
        'tuf/data/types.go:141 Signed *json.RawMessage `json:"signed"`',
        TARGETS,
        "envelope",
        ("signed",),
        {},
        {"null": GO_PANICS, "empty": REFUSED, "omitted": GO_PANICS},
    ),
    Field(
        "signatures",
        'tuf/data/types.go:142 Signatures []Signature `json:"signatures"`',
        TARGETS,
        "envelope",
        ("signatures",),
        [],
        _ALL_REFUSED,
    ),
    Field(
        "signatures[].keyid",
        'tuf/data/types.go:162 KeyID string `json:"keyid"`',
        TARGETS,
        "envelope",
        ("signatures", 1, "keyid"),
        "",
        dict.fromkeys(FORMS, ""),
        prepare=_junk_signature,
    ),
    Field(
        "signatures[].method",
        'tuf/data/types.go:163 Method SigAlgorithm `json:"method"`',
        TARGETS,
        "envelope",
        ("signatures", 1, "method"),
        "",
        dict.fromkeys(FORMS, ""),
        prepare=_junk_signature,
    ),
    Field(
        "signatures[].sig",
        'tuf/data/types.go:164 Signature []byte `json:"sig"`',
        TARGETS,
        "envelope",
        ("signatures", 1, "sig"),
        "",
        {"null": None, "empty": "", "omitted": None},
        prepare=_junk_signature,
    ),
    # --- root (a root rotation to version 2, uploaded alone)
    Field(
        "root.keys",
        'tuf/data/root.go:19 Keys Keys `json:"keys"`',
        ROOT,
        "signed",
        ("keys",),
        {},
        _ALL_REFUSED,
    ),
    Field(
        "root.roles",
        'tuf/data/root.go:20 Roles map[RoleName]*RootRole `json:"roles"`',
        ROOT,
        "signed",
        ("roles",),
        {},
        _ALL_REFUSED,
    ),
    Field(
        "root.roles.<not a base role>",
        'tuf/data/root.go:20 Roles map[RoleName]*RootRole `json:"roles"`',
        ROOT,
        "signed",
        ("roles", DELEGATION),
        {},
        {"null": None, "empty": {"keyids": None, "threshold": 0}, "omitted": OMITTED},
        prepare=_extra_root_role,
    ),
    Field(
        "root.roles.targets.keyids",
        'tuf/data/roles.go:247 KeyIDs []string `json:"keyids"`',
        ROOT,
        "signed",
        ("roles", TARGETS, "keyids"),
        [],
        {"null": None, "empty": [], "omitted": None},
    ),
    Field(
        "root.roles.root.keyids",
        'tuf/data/roles.go:247 KeyIDs []string `json:"keyids"`',
        ROOT,
        "signed",
        ("roles", ROOT, "keyids"),
        [],
        _ALL_REFUSED,
    ),
    Field(
        "root.roles.targets.threshold",
        'tuf/data/roles.go:248 Threshold int `json:"threshold"`',
        ROOT,
        "signed",
        ("roles", TARGETS, "threshold"),
        None,
        {"null": REFUSED, "omitted": REFUSED},
    ),
    Field(
        "root.consistent_snapshot",
        'tuf/data/root.go:21 ConsistentSnapshot bool `json:"consistent_snapshot"`',
        ROOT,
        "signed",
        ("consistent_snapshot",),
        None,
        {"null": False, "omitted": False},
    ),
    # --- snapshot (client-made; Go stores its bytes and never re-serialises it)
    Field(
        "snapshot.meta",
        'tuf/data/snapshot.go:22 Meta Files `json:"meta"`',
        SNAPSHOT,
        "signed",
        ("meta",),
        {},
        _ALL_REFUSED,
    ),
    Field(
        "snapshot.meta.targets.hashes",
        'tuf/data/types.go:183 Hashes Hashes `json:"hashes"`',
        SNAPSHOT,
        "signed",
        ("meta", TARGETS, "hashes"),
        {},
        _ALL_REFUSED,
    ),
)
"""The table. The timestamp's ``meta`` (tuf/data/timestamp.go:21) is not in it:
both servers ignore an uploaded timestamp and make their own."""


def field_cases() -> list[tuple[Field, Form]]:
    """Every (field, form) pair of the table."""
    return [(f, form) for f in FIELDS for form in f.forms]


def case_id(case: tuple[Field, Form]) -> str:
    """A readable test ID."""
    return f"{case[0].name}={case[1]}"


# --------------------------------------------------------------------- documents


@dataclass
class Repository:
    """A repository as the Go client makes it, whose next upload carries one field.

    ``targets`` delegates ``targets/releases`` (one key, all paths) and lists one
    target; the snapshot is the server's when ``snapshot_key`` is given.
    """

    builder: RepoBuilder

    @classmethod
    def new(
        cls,
        gun: str,
        *,
        timestamp_key: PublicKey,
        snapshot_key: PublicKey | None,
        root_keys: list[SigningKey] | None = None,
        targets_keys: list[SigningKey] | None = None,
        delegation_key: SigningKey | None = None,
        now: datetime | None = None,
    ) -> Repository:
        """A builder holding the base content (not uploaded yet)."""
        builder = RepoBuilder(
            gun,
            timestamp_key=timestamp_key,
            snapshot_key=snapshot_key,
            now=now or datetime.now(UTC),
            root_keys=list(root_keys or []),
            targets_keys=list(targets_keys or [SigningKey.generate()]),
        )
        builder.delegate(DELEGATION, [delegation_key or SigningKey.generate()])
        builder.add_target(TARGET_NAME, b"target content")
        return cls(builder)

    def first_publish(self) -> dict[str, bytes]:
        """Root and targets version 1 (and a snapshot when the client holds its key)."""
        return self.builder.publish()

    def upload_with(self, case: Field, form: Form) -> dict[str, bytes]:
        """The next upload, with the field of ``case`` in ``form``."""
        if case.role == ROOT:
            doc = _document(self.builder.root_file())
            return {ROOT: _with_form(doc, case, form, self.builder.root_keys)}
        targets_doc = _document(self.builder.targets_file())
        if case.role == TARGETS:
            targets = _with_form(targets_doc, case, form, self.builder.targets_keys)
            parts = {TARGETS: targets}
            if not self.builder.server_managed_snapshot:
                parts[SNAPSHOT] = self.builder.snapshot_file(parts)
            return parts
        targets = self.builder.targets_file()
        assert self.builder.snapshot_signer is not None, "a snapshot row needs a client snapshot"
        snapshot_doc = _document(self.builder.snapshot_file({TARGETS: targets}))
        snapshot = _with_form(snapshot_doc, case, form, [self.builder.snapshot_signer])
        return {TARGETS: targets, SNAPSHOT: snapshot}


def _document(data: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(data)
    return doc


def resolve_path(doc: Any, path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """``path`` with the placeholder ``<delegation key>`` replaced by the key ID in ``doc``."""
    out: list[str | int] = []
    node: Any = doc
    for step in path:
        resolved: str | int = next(iter(node)) if step == "<delegation key>" else step
        out.append(resolved)
        if isinstance(node, dict):
            node = node.get(resolved)
        elif isinstance(node, list) and isinstance(resolved, int) and resolved < len(node):
            node = node[resolved]
        else:
            node = None
    return tuple(out)


def _with_form(doc: dict[str, Any], case: Field, form: Form, signers: list[SigningKey]) -> bytes:
    """``doc`` with the field set to ``form``, the signed part signed again by ``signers``."""
    doc = copy.deepcopy(doc)
    if case.prepare is not None:
        case.prepare(doc)
    base: dict[str, Any] = doc["signed"] if case.where == "signed" else doc
    path = resolve_path(base, case.path)
    parent: Any = base
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if form == "null":
        parent[last] = None
    elif form == "empty":
        parent[last] = copy.deepcopy(case.empty)
    elif isinstance(parent, dict):
        parent.pop(last, None)  # some members (custom) are absent already
    else:
        del parent[last]
    return _encode(doc, signers)


def _encode(doc: dict[str, Any], signers: list[SigningKey]) -> bytes:
    """The file, with fresh signatures by ``signers`` when ``signed`` is a non-empty object.

    Signatures beyond the signers' count (the junk one) are kept as they are.
    """
    members: list[bytes] = []
    signed = doc.get("signed", _ABSENT)
    signatures = doc.get("signatures", _ABSENT)
    if isinstance(signed, dict) and signed:
        message = canonical_bytes(signed)
        if isinstance(signatures, list) and signatures:
            fresh = [
                {
                    "keyid": key.key_id,
                    "method": key.private.method,
                    "sig": base64.b64encode(key.private.sign(message)).decode("ascii"),
                }
                for key in signers
            ]
            signatures = fresh + signatures[len(signers) :]
        members.append(b'"signed":' + html_escape(message))
    elif signed is not _ABSENT:
        members.append(b'"signed":' + _compact(signed))
    if signatures is not _ABSENT:
        members.append(b'"signatures":' + _compact(signatures))
    return b"{" + b",".join(members) + b"}"


_ABSENT: Final = object()


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def written_value(go_bytes: bytes, path: tuple[str | int, ...]) -> Any:
    """What a file holds at ``path`` (:data:`OMITTED` where the member is absent)."""
    node: Any = json.loads(go_bytes)
    for step in path:
        if isinstance(node, dict) and step not in node:
            return OMITTED
        node = node[step]
    return node
