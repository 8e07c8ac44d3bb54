"""The root role (Go ``tuf/data/root.go``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from notary_tuf._fields import get_go_bool, get_object, require_object, unrecognized
from notary_tuf.errors import FormatError
from notary_tuf.gotime import GoTime
from notary_tuf.keys import PublicKey
from notary_tuf.models.common import (
    CommonFields,
    RoleKeys,
    expires_value,
    get_go_keys,
    keys_to_dict,
)
from notary_tuf.rolenames import BASE_ROLES, ROOT


@dataclass(frozen=True, slots=True, kw_only=True)
class Root:
    """The ``signed`` part of ``root.json``.

    Attributes:
        version: the metadata version (≥ 1).
        expires: the expiry, kept as received.
        keys: key ID → public key; may hold more keys than the roles use.
        roles: role name → key IDs and threshold; the four base roles are required.
        nil_roles: names of roles given as ``null``. Go keeps a nil entry (and
            writes it back as ``null``) and ignores it unless it is a base role.
        consistent_snapshot: written ``false`` by every Notary client and ignored.
        unrecognized: fields this package does not model.
    """

    TYPE: ClassVar[str] = "Root"
    ROLE: ClassVar[str] = ROOT
    _KNOWN: ClassVar = frozenset(
        {"_type", "version", "expires", "keys", "roles", "consistent_snapshot"}
    )

    version: int
    expires: GoTime
    keys: Mapping[str, PublicKey]
    roles: Mapping[str, RoleKeys]
    consistent_snapshot: bool = False
    nil_roles: frozenset[str] = frozenset()
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any, role: str = ROOT) -> Root:
        """Parse and structurally check a root ``signed`` object (Go ``isValidRootStructure``).

        Raises:
            RoleTypeError: ``_type`` is not ``Root``.
            FormatError: a field is malformed, a base role is missing, a role has a
                threshold below 1 or names a key that is not in ``keys``.
        """
        obj = require_object(data, f"{role}.signed")
        common = CommonFields.parse(obj, expected_type=cls.TYPE, role=role)
        path = f"{role}.signed"
        keys = get_go_keys(obj, "keys", path)
        raw_roles = get_object(obj, "roles", path)
        roles = {
            name: RoleKeys.from_dict(value, f"{path}.roles.{name}")
            for name, value in raw_roles.items()
            if value is not None
        }
        for name in BASE_ROLES:
            if name not in roles:
                raise FormatError(f"{role}: missing {name} role specification")
            roles[name].check_structure(keys, owner=role, role=name)
        return cls(
            version=common.version,
            expires=common.expires,
            keys=keys,
            roles=roles,
            consistent_snapshot=get_go_bool(obj, "consistent_snapshot", path),
            nil_roles=frozenset(name for name, value in raw_roles.items() if value is None),
            unrecognized=unrecognized(obj, cls._KNOWN),
        )

    def to_dict(self, *, go_form: bool = False) -> dict[str, Any]:
        """Return the ``signed`` object (``go_form``: as Go re-serialises it)."""
        out: dict[str, Any] = {} if go_form else dict(self.unrecognized)
        roles: dict[str, Any] = dict.fromkeys(self.nil_roles)
        roles.update((name, role.to_dict(go_form=go_form)) for name, role in self.roles.items())
        out.update(
            {
                "_type": self.TYPE,
                "consistent_snapshot": self.consistent_snapshot,
                "expires": expires_value(self.expires, go_form=go_form),
                "keys": keys_to_dict(self.keys),
                "roles": roles,
                "version": self.version,
            }
        )
        return out

    def role_keys(self, name: str) -> dict[str, PublicKey]:
        """Return the keys of the base role ``name`` that exist in ``keys``."""
        role = self.roles[name]
        return {keyid: self.keys[keyid] for keyid in role.keyids if keyid in self.keys}
