"""Typed models of the four Notary roles' ``signed`` objects."""

from notary_tuf.models.common import FileMeta, RoleKeys
from notary_tuf.models.root import Root
from notary_tuf.models.snapshot import Snapshot, Timestamp
from notary_tuf.models.targets import DelegatedRole, Delegations, Targets

__all__ = [
    "DelegatedRole",
    "Delegations",
    "FileMeta",
    "RoleKeys",
    "Root",
    "Snapshot",
    "Targets",
    "Timestamp",
]
