"""Every backend implements Go's contract and every capability protocol (ADR 0031).

Twice: at run time, each class against each ``runtime_checkable`` protocol (the
methods are there), and for mypy, each class assigned to the protocols (the
signatures match too).
"""

from __future__ import annotations

import pytest

from notary_server.storage.base import MetaStore
from notary_server.storage.capabilities import (
    AuditLog,
    Backend,
    BulkReads,
    Inventory,
    Lifecycle,
    Pruning,
)
from notary_server.storage.memory import MemoryMetaStore
from notary_server.storage.notify import TracksChanges
from notary_server.storage.postgres import PostgresMetaStore
from notary_server.storage.sqlite import SqliteMetaStore

IMPLEMENTATIONS = (MemoryMetaStore, SqliteMetaStore, PostgresMetaStore)
PROTOCOLS = (MetaStore, BulkReads, Inventory, Pruning, AuditLog, Lifecycle, TracksChanges, Backend)


def _typed(store: MemoryMetaStore | SqliteMetaStore | PostgresMetaStore) -> list[object]:
    """What mypy checks: each implementation is assignable to each protocol."""
    core: MetaStore = store
    bulk: BulkReads = store
    inventory: Inventory = store
    pruning: Pruning = store
    audit: AuditLog = store
    lifecycle: Lifecycle = store
    tracks: TracksChanges = store
    everything: Backend = store
    return [core, bulk, inventory, pruning, audit, lifecycle, tracks, everything]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
def test_each_backend_implements_each_protocol(implementation: type, protocol: type) -> None:
    assert issubclass(implementation, protocol)


def test_each_method_is_in_exactly_one_protocol() -> None:
    methods = [_methods(protocol) for protocol in PROTOCOLS if protocol is not Backend]
    assert sum(len(own) for own in methods) == len(set().union(*methods)) == 20
    assert not _methods(Backend)  # only the union of the others


def _methods(protocol: type) -> set[str]:
    return {name for name, value in vars(protocol).items() if callable(value) and name[0] != "_"}
