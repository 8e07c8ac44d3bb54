"""The targets role and its delegations (Go ``tuf/data/targets.go``, ``roles.go``)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from notary_tuf._fields import (
    NIL_LIST,
    NIL_MAP,
    get_go_map,
    get_go_str_list,
    get_int,
    get_str,
    is_go_nil,
    require_object,
    unrecognized,
)
from notary_tuf.errors import FormatError, InvalidRoleNameError
from notary_tuf.gotime import GoTime
from notary_tuf.keys import PublicKey
from notary_tuf.models.common import (
    CommonFields,
    FileMeta,
    RoleKeys,
    expires_value,
    get_go_keys,
    go_list,
    keys_to_dict,
)
from notary_tuf.rolenames import TARGETS, is_delegation, parent_role


@dataclass(frozen=True, slots=True, kw_only=True)
class DelegatedRole:
    """A delegation declared in a targets file.

    Attributes:
        name: the full role name, e.g. ``targets/releases``.
        keyids: key IDs (in the parent's ``delegations.keys``) that sign for it;
            :data:`NIL_LIST` when null or absent, as docker writes it after removing
            the last signer.
        threshold: how many distinct keys must sign.
        paths: target path prefixes it may sign for (``""`` = all); :data:`NIL_LIST`
            when null or absent. Go leaves the field out when it is empty.
        unrecognized: fields this package does not model (``path_hash_prefixes``…).
    """

    name: str
    keyids: tuple[str, ...]
    threshold: int
    paths: tuple[str, ...] = NIL_LIST
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    _KNOWN: ClassVar = frozenset({"name", "keyids", "threshold", "paths"})

    @classmethod
    def from_dict(cls, data: Any, path: str) -> DelegatedRole:
        """Parse a delegation role object.

        Raises:
            FormatError: a field is missing or of the wrong type.
        """
        obj = require_object(data, path)
        return cls(
            name=get_str(obj, "name", path),
            keyids=get_go_str_list(obj, "keyids", path),
            threshold=get_int(obj, "threshold", path),
            paths=get_go_str_list(obj, "paths", path),
            unrecognized=unrecognized(obj, cls._KNOWN),
        )

    def to_dict(self, *, go_form: bool = False) -> dict[str, Any]:
        """Return the JSON object; Go omits ``paths`` when it is empty or nil."""
        out: dict[str, Any] = {} if go_form else dict(self.unrecognized)
        out["keyids"] = go_list(self.keyids)
        out["name"] = self.name
        out["threshold"] = self.threshold
        if self.paths or (not is_go_nil(self.paths) and not go_form):
            out["paths"] = list(self.paths)
        return out

    @property
    def role_keys(self) -> RoleKeys:
        """The key IDs and threshold, in the shape shared with root roles."""
        return RoleKeys(keyids=self.keyids, threshold=self.threshold)

    def allows_path(self, target: str) -> bool:
        """Return True when ``target`` is within the role's paths.

        That is: one of ``paths`` is a string prefix of it (Go's ``CheckPaths``),
        or, for roles that use TUF's ``path_hash_prefixes`` instead (Go 0.7 does
        not model them; no notary client writes them), the hex SHA-256 of the
        name starts with one of those.
        """
        if any(target.startswith(prefix) for prefix in self.paths):
            return True
        prefixes = self.unrecognized.get("path_hash_prefixes")
        if not isinstance(prefixes, list) or not prefixes:
            return False
        digest = hashlib.sha256(target.encode("utf-8", "surrogatepass")).hexdigest()
        return any(isinstance(p, str) and digest.startswith(p) for p in prefixes)


@dataclass(frozen=True, slots=True, kw_only=True)
class Delegations:
    """The ``delegations`` object: the keys and the roles a targets file delegates to.

    Attributes:
        keys: key ID → key; :data:`NIL_MAP` when absent (see :func:`get_go_keys`).
        roles: the delegated roles; :data:`NIL_LIST` when absent or null, as the Go
            client writes it after removing the last delegation.

    Built in memory, both default to empty (non-nil), as Go's ``NewDelegations``.
    """

    keys: Mapping[str, PublicKey] = field(default_factory=dict)
    roles: tuple[DelegatedRole, ...] = ()

    @classmethod
    def from_dict(cls, data: Any, path: str) -> Delegations:
        """Parse a delegations object; absent or null members are Go's nil.

        Raises:
            FormatError: a field is of the wrong type.
        """
        obj = require_object(data, path)
        raw_roles = obj.get("roles")
        if raw_roles is not None and not isinstance(raw_roles, list):
            raise FormatError(f"{path}.roles: expected an array")
        return cls(
            keys=get_go_keys(obj, "keys", path),
            roles=NIL_LIST
            if raw_roles is None
            else tuple(
                DelegatedRole.from_dict(item, f"{path}.roles[{i}]")
                for i, item in enumerate(raw_roles)
            ),
        )

    def to_dict(self, *, go_form: bool = False) -> dict[str, Any]:
        """Return the JSON object."""
        roles = [role.to_dict(go_form=go_form) for role in self.roles]
        return {
            "keys": keys_to_dict(self.keys),
            "roles": None if is_go_nil(self.roles) else roles,
        }

    def get(self, name: str) -> DelegatedRole | None:
        """Return the delegation called ``name``, or None."""
        for role in self.roles:
            if role.name == name:
                return role
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Targets:
    """The ``signed`` part of ``targets.json`` or of a delegation file.

    Attributes:
        version: the metadata version (≥ 1).
        expires: the expiry, kept as received.
        targets: target name → file meta; :data:`NIL_MAP` when absent or null.
        delegations: the delegations; None when the object was absent or null
            (Go then writes ``{"keys":null,"roles":null}``).
        unrecognized: fields this package does not model.
    """

    TYPE: ClassVar[str] = "Targets"
    _KNOWN: ClassVar = frozenset({"_type", "version", "expires", "targets", "delegations"})

    version: int
    expires: GoTime
    targets: Mapping[str, FileMeta]
    delegations: Delegations | None = None
    unrecognized: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any, role: str = TARGETS) -> Targets:
        """Parse and structurally check a targets file (Go ``isValidTargetsStructure``).

        Args:
            data: the ``signed`` object.
            role: ``targets`` or the delegation name the file is for; delegations
                it declares must be its direct children.

        Raises:
            InvalidRoleNameError: ``role`` is neither ``targets`` nor a delegation.
            RoleTypeError: ``_type`` is not ``Targets``.
            FormatError: a field is malformed, or a declared delegation is not a
                valid direct child or has a bad threshold or unknown key IDs.
        """
        if role != TARGETS and not is_delegation(role):
            raise InvalidRoleNameError(f"tuf: invalid role {role}.")
        obj = require_object(data, f"{role}.signed")
        common = CommonFields.parse(obj, expected_type=cls.TYPE, role=role)
        path = f"{role}.signed"
        raw_targets = get_go_map(obj, "targets", path)
        targets = (
            NIL_MAP
            if is_go_nil(raw_targets)
            else {
                name: FileMeta.from_dict(meta, f"{path}.targets.{name}")
                for name, meta in raw_targets.items()
            }
        )
        raw_delegations = obj.get("delegations")
        delegations = (
            Delegations.from_dict(raw_delegations, f"{path}.delegations")
            if raw_delegations is not None
            else None
        )
        for child in delegations.roles if delegations else ():
            if not is_delegation(child.name) or parent_role(child.name) != role:
                raise FormatError(f"{role}: delegation role {child.name} invalid")
            child.role_keys.check_structure(
                delegations.keys if delegations else {}, owner=role, role=child.name
            )
        return cls(
            version=common.version,
            expires=common.expires,
            targets=targets,
            delegations=delegations,
            unrecognized=unrecognized(obj, cls._KNOWN),
        )

    def to_dict(self, *, go_form: bool = False) -> dict[str, Any]:
        """Return the ``signed`` object (``go_form``: as Go re-serialises it)."""
        out: dict[str, Any] = {} if go_form else dict(self.unrecognized)
        out.update(
            {
                "_type": self.TYPE,
                "expires": expires_value(self.expires, go_form=go_form),
                "targets": None
                if is_go_nil(self.targets)
                else {name: m.to_dict(go_form=go_form) for name, m in self.targets.items()},
                "version": self.version,
            }
        )
        if self.delegations is not None:
            out["delegations"] = self.delegations.to_dict(go_form=go_form)
        elif go_form:
            # Go always writes the struct; absent members decode to nil → null.
            out["delegations"] = {"keys": None, "roles": None}
        return out
