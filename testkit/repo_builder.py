"""A small test-side notary "client" built only from ``notary_tuf``'s public API.

It makes what the Go client would upload -- root (ECDSA root key in a self-signed
certificate with CN = GUN, listed as ``ecdsa-x509``), targets and delegations,
and a client-signed snapshot -- so the interop tests can hand our bytes to the
real Go server and CLI.  It also makes deliberately broken files
(:func:`sign_signed`, :func:`tamper_signatures`) for the golden validation table.

State: :attr:`RepoBuilder.current` is what the builder believes the server
holds; it changes only through :meth:`RepoBuilder.accept`, called after the
server answered 200, so a rejected upload leaves the builder as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from notary_tuf.canonical import canonical_bytes
from notary_tuf.certs import new_root_certificate
from notary_tuf.crypto import PrivateKey
from notary_tuf.generate import expires_after, next_snapshot, sign_metadata
from notary_tuf.gotime import GoTime, format_go_time
from notary_tuf.keys import PublicKey
from notary_tuf.models import (
    DelegatedRole,
    Delegations,
    FileMeta,
    RoleKeys,
    Root,
    Snapshot,
    Targets,
)
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP, parent_role
from notary_tuf.signed import Envelope, Metadata, Signature, encode_envelope

if TYPE_CHECKING:
    from testkit.gotools import NotaryServerProcess

ROOT_CERT_LIFETIME = timedelta(days=3650)


@dataclass(frozen=True)
class SigningKey:
    """A private key and the public key as metadata lists it."""

    private: PrivateKey
    public: PublicKey

    @property
    def key_id(self) -> str:
        """The ID the key is listed (and signs) under."""
        return self.public.key_id

    @classmethod
    def generate(cls) -> SigningKey:
        """A plain ``ecdsa`` (P-256) key, as the Go client makes for targets/snapshot."""
        private = PrivateKey.generate("ecdsa")
        return cls(private, private.public_key)

    @classmethod
    def root(
        cls,
        common_name: str,
        *,
        now: datetime | None = None,
        lifetime: timedelta = ROOT_CERT_LIFETIME,
    ) -> SigningKey:
        """An ECDSA root key in a self-signed certificate, listed as ``ecdsa-x509``."""
        private = PrivateKey.generate("ecdsa")
        start = now or datetime.now(UTC)
        cert = new_root_certificate(
            private,
            common_name,
            not_before=start - timedelta(minutes=5),
            not_after=start + lifetime,
        )
        return cls(private, PublicKey.from_certificate(cert))


def fetch_server_key(server: NotaryServerProcess, gun: str, role: str) -> PublicKey:
    """``GET /v2/<gun>/_trust/tuf/<role>.key``: a key the server holds for ``role``."""
    status, _, body = server.get(f"/v2/{gun}/_trust/tuf/{role}.key")
    if status != 200:
        raise AssertionError(f"GET {role}.key for {gun}: {status} {body[:300]!r}")
    return PublicKey.from_dict(json.loads(body))


def go_time(moment: datetime) -> GoTime:
    """``moment`` as an ``expires`` value."""
    return GoTime.parse(format_go_time(moment))


def sign_signed(signed: Mapping[str, Any], keys: Iterable[SigningKey]) -> bytes:
    """Sign an arbitrary ``signed`` object -- also one no model would produce."""
    message = canonical_bytes(dict(signed))
    signatures = [
        Signature(keyid=key.key_id, method=key.private.method, sig=key.private.sign(message))
        for key in keys
    ]
    return encode_envelope(message, signatures)


def tamper_signatures(data: bytes, change: Callable[[Signature], Signature]) -> bytes:
    """Rewrite every signature of a file with ``change``; ``signed`` stays as it was."""
    envelope = Envelope.from_bytes(data)
    return encode_envelope(envelope.canonical, [change(sig) for sig in envelope.signatures])


def flip_first_sig_byte(sig: Signature) -> Signature:
    """A signature with its first byte inverted."""
    return Signature(
        keyid=sig.keyid, method=sig.method, sig=bytes([sig.sig[0] ^ 0xFF]) + sig.sig[1:]
    )


def signed_of(data: bytes) -> dict[str, Any]:
    """The generic ``signed`` object of a file."""
    return Envelope.from_bytes(data).signed


def version_of(data: bytes) -> int:
    """``signed.version`` of a file."""
    return int(signed_of(data)["version"])


@dataclass
class RepoBuilder:
    """Builds and signs a repository's metadata the way a notary client would.

    Key configuration (:attr:`root_keys`, :attr:`targets_keys`, thresholds, the
    snapshot and timestamp keys) is plain mutable state; the files the server
    holds are :attr:`current`.  ``snapshot_key`` set means the server manages the
    snapshot (no snapshot is uploaded); otherwise the builder signs it.
    """

    gun: str
    timestamp_key: PublicKey
    snapshot_key: PublicKey | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    root_keys: list[SigningKey] = field(default_factory=list)
    targets_keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.generate()])
    targets_threshold: int = 1
    snapshot_signer: SigningKey | None = None
    targets: dict[str, dict[str, FileMeta]] = field(default_factory=lambda: {TARGETS: {}})
    delegations: dict[str, tuple[DelegatedRole, list[SigningKey]]] = field(default_factory=dict)
    current: dict[str, bytes] = field(default_factory=dict)
    history: dict[str, list[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Make the root key (CN = GUN) and, for a client-held snapshot, its key."""
        if not self.root_keys:
            self.root_keys = [SigningKey.root(self.gun, now=self.now)]
        if self.snapshot_key is None and self.snapshot_signer is None:
            self.snapshot_signer = SigningKey.generate()

    @property
    def server_managed_snapshot(self) -> bool:
        """True when the server signs the snapshot."""
        return self.snapshot_key is not None

    @property
    def snapshot_public(self) -> PublicKey:
        """The snapshot key root lists."""
        if self.snapshot_key is not None:
            return self.snapshot_key
        assert self.snapshot_signer is not None
        return self.snapshot_signer.public

    def signers(self, role: str) -> list[SigningKey]:
        """The keys that sign ``role`` (root, targets, a client-held snapshot, a delegation)."""
        if role == ROOT:
            return self.root_keys
        if role == TARGETS:
            return self.targets_keys
        if role == SNAPSHOT:
            assert self.snapshot_signer is not None, "the server manages this snapshot"
            return [self.snapshot_signer]
        return self.delegations[role][1]

    def next_version(self, role: str) -> int:
        """The version after the one the server holds (1 for a new role)."""
        held = self.current.get(role)
        return version_of(held) + 1 if held is not None else 1

    # ------------------------------------------------------------------- content

    def add_target(self, name: str, content: bytes, role: str = TARGETS) -> FileMeta:
        """Record a target (length + sha256/sha512 of ``content``) in ``role``."""
        meta = FileMeta.for_bytes(content)
        self.targets.setdefault(role, {})[name] = meta
        return meta

    def delegate(self, role: str, keys: Sequence[SigningKey], paths: Sequence[str] = ("",)) -> None:
        """Declare ``role`` in its parent, signed by ``keys`` (threshold 1)."""
        declared = DelegatedRole(
            name=role,
            keyids=tuple(k.key_id for k in keys),
            threshold=1,
            paths=tuple(paths),
        )
        self.delegations[role] = (declared, list(keys))
        self.targets.setdefault(role, {})

    # ------------------------------------------------------------------- files

    def root_model(
        self,
        *,
        version: int | None = None,
        listed_root_keys: Sequence[SigningKey] | None = None,
        expires: GoTime | None = None,
    ) -> Root:
        """The root listing the configured keys."""
        root_keys = list(listed_root_keys if listed_root_keys is not None else self.root_keys)
        keys = {k.key_id: k.public for k in root_keys}
        keys.update({k.key_id: k.public for k in self.targets_keys})
        keys[self.snapshot_public.key_id] = self.snapshot_public
        keys[self.timestamp_key.key_id] = self.timestamp_key
        roles = {
            ROOT: RoleKeys(keyids=tuple(k.key_id for k in root_keys), threshold=1),
            TARGETS: RoleKeys(
                keyids=tuple(k.key_id for k in self.targets_keys), threshold=self.targets_threshold
            ),
            SNAPSHOT: RoleKeys(keyids=(self.snapshot_public.key_id,), threshold=1),
            TIMESTAMP: RoleKeys(keyids=(self.timestamp_key.key_id,), threshold=1),
        }
        return Root(
            version=version if version is not None else self.next_version(ROOT),
            expires=expires or expires_after(self.now, ROOT),
            keys=keys,
            roles=roles,
        )

    def root_file(
        self,
        *,
        version: int | None = None,
        signers: Sequence[SigningKey] | None = None,
        listed_root_keys: Sequence[SigningKey] | None = None,
        expires: GoTime | None = None,
    ) -> bytes:
        """Root signed by ``signers`` (default: the listed root keys)."""
        model = self.root_model(version=version, listed_root_keys=listed_root_keys, expires=expires)
        keys = list(signers if signers is not None else listed_root_keys or self.root_keys)
        return _sign(ROOT, model, keys)

    def targets_model(
        self, role: str = TARGETS, *, version: int | None = None, expires: GoTime | None = None
    ) -> Targets:
        """``targets`` or a delegation, with its targets and the children it declares."""
        children = [d for name, d in self.delegations.items() if parent_role(name) == role]
        # The Go client always writes the object, {"keys":{},"roles":[]} when empty.
        delegations = Delegations(
            keys={k.key_id: k.public for _, keys in children for k in keys},
            roles=tuple(declared for declared, _ in children),
        )
        return Targets(
            version=version if version is not None else self.next_version(role),
            expires=expires or expires_after(self.now, role),
            targets=dict(self.targets.get(role, {})),
            delegations=delegations,
        )

    def targets_file(
        self,
        role: str = TARGETS,
        *,
        version: int | None = None,
        expires: GoTime | None = None,
        signers: Sequence[SigningKey] | None = None,
    ) -> bytes:
        """``role`` signed by ``signers`` (default: the role's keys)."""
        model = self.targets_model(role, version=version, expires=expires)
        if signers is None:
            signers = self.targets_keys if role == TARGETS else self.delegations[role][1]
        return _sign(role, model, signers)

    def snapshot_model(self, files: Mapping[str, bytes]) -> Snapshot:
        """The next snapshot: the held one with ``files`` (role → bytes) re-recorded."""
        held = self.current.get(SNAPSHOT)
        previous = Snapshot.from_dict(signed_of(held)) if held is not None else None
        return next_snapshot(previous, files, now=self.now)

    def snapshot_file(
        self, files: Mapping[str, bytes], *, signers: Sequence[SigningKey] | None = None
    ) -> bytes:
        """The next snapshot, signed by the client-held snapshot key."""
        if signers is None:
            assert self.snapshot_signer is not None, "the server manages this snapshot"
            signers = [self.snapshot_signer]
        return _sign(SNAPSHOT, self.snapshot_model(files), signers)

    def publish(self, *roles: str) -> dict[str, bytes]:
        """The parts of a normal publish of ``roles`` (default ``targets``).

        Root is included while the server holds none; the snapshot is included
        (covering every uploaded root/targets file) unless the server manages it.
        """
        parts: dict[str, bytes] = {}
        if ROOT not in self.current:
            parts[ROOT] = self.root_file()
        for role in roles or (TARGETS,):
            parts[role] = self.targets_file(role)
        if not self.server_managed_snapshot:
            parts[SNAPSHOT] = self.snapshot_file(parts)
        return parts

    def accept(self, parts: Mapping[str, bytes]) -> None:
        """Record that the server stored ``parts`` (and keep each role's earlier files)."""
        for role, data in parts.items():
            if role != TIMESTAMP:
                self.current[role] = data
                self.history.setdefault(role, []).append(data)


def _sign(role: str, model: Root | Targets | Snapshot, keys: Sequence[SigningKey]) -> bytes:
    metadata: Metadata[Any] = Metadata.from_signed(role, model)
    signed = sign_metadata(metadata, {k.key_id: k.private for k in keys})
    data = signed.to_bytes()
    # What Go hashes (its re-serialisation) must be what it stores and serves.
    assert signed.go_bytes() == data, f"{role}: not stable under Go's re-serialisation"
    return data


def expired(now: datetime) -> GoTime:
    """An ``expires`` one day before ``now``."""
    return go_time(now - timedelta(days=1))
