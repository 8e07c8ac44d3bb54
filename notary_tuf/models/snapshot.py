"""The snapshot and timestamp roles (Go ``tuf/data/snapshot.go``, ``timestamp.go``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from notary_tuf._fields import get_object, require_object, unrecognized
from notary_tuf.errors import FormatError
from notary_tuf.gotime import GoTime
from notary_tuf.models.common import (
    SHA256,
    CommonFields,
    FileMeta,
    check_hash_structure,
    expires_value,
)
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP


def _parse_meta(obj: Mapping[str, Any], path: str) -> dict[str, FileMeta]:
    raw = get_object(obj, "meta", path)
    return {name: FileMeta.from_dict(value, f"{path}.meta.{name}") for name, value in raw.items()}


def _require_checksums(meta: Mapping[str, FileMeta], name: str, role: str) -> None:
    entry = meta.get(name)
    if entry is None or SHA256 not in entry.hashes:
        raise FormatError(f"{role}: missing {name} sha256 checksum information")
    try:
        check_hash_structure(entry.hashes, f"{role}.meta.{name}")
    except FormatError as e:
        raise FormatError(f"{role}: invalid {name} checksum information, {e}") from e


@dataclass(frozen=True, slots=True, kw_only=True)
class _MetaRole:
    version: int
    expires: GoTime
    meta: Mapping[str, FileMeta]
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    TYPE: ClassVar[str]
    ROLE: ClassVar[str]
    REQUIRED: ClassVar[tuple[str, ...]]
    _KNOWN: ClassVar = frozenset({"_type", "version", "expires", "meta"})

    @classmethod
    def _parse(cls, data: Any, role: str) -> dict[str, Any]:
        obj = require_object(data, f"{role}.signed")
        common = CommonFields.parse(obj, expected_type=cls.TYPE, role=role)
        meta = _parse_meta(obj, f"{role}.signed")
        for name in cls.REQUIRED:
            _require_checksums(meta, name, role)
        return {
            "version": common.version,
            "expires": common.expires,
            "meta": meta,
            "unrecognized": unrecognized(obj, cls._KNOWN),
        }

    def to_dict(self, *, go_form: bool = False) -> dict[str, Any]:
        """Return the ``signed`` object (``go_form``: as Go re-serialises it)."""
        out: dict[str, Any] = {} if go_form else dict(self.unrecognized)
        out.update(
            {
                "_type": self.TYPE,
                "expires": expires_value(self.expires, go_form=go_form),
                "meta": {name: m.to_dict(go_form=go_form) for name, m in self.meta.items()},
                "version": self.version,
            }
        )
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot(_MetaRole):
    """The ``signed`` part of ``snapshot.json``: meta of root, targets and delegations."""

    TYPE = "Snapshot"
    ROLE = SNAPSHOT
    REQUIRED = (ROOT, TARGETS)

    @classmethod
    def from_dict(cls, data: Any, role: str = SNAPSHOT) -> Snapshot:
        """Parse and structurally check a snapshot (Go ``IsValidSnapshotStructure``).

        Raises:
            RoleTypeError: ``_type`` is not ``Snapshot``.
            FormatError: a field is malformed or root/targets checksums are missing.
        """
        return cls(**cls._parse(data, role))


@dataclass(frozen=True, slots=True, kw_only=True)
class Timestamp(_MetaRole):
    """The ``signed`` part of ``timestamp.json``: meta of the snapshot."""

    TYPE = "Timestamp"
    ROLE = TIMESTAMP
    REQUIRED = (SNAPSHOT,)

    @classmethod
    def from_dict(cls, data: Any, role: str = TIMESTAMP) -> Timestamp:
        """Parse and structurally check a timestamp (Go ``IsValidTimestampStructure``).

        Raises:
            RoleTypeError: ``_type`` is not ``Timestamp``.
            FormatError: a field is malformed or the snapshot checksum is missing.
        """
        return cls(**cls._parse(data, role))

    @property
    def snapshot_meta(self) -> FileMeta:
        """The meta of the snapshot this timestamp names."""
        return self.meta[SNAPSHOT]
