"""Consistent reads of a repository's "current" files (port of Go ``server/storage/tuf_store.go``).

The current timestamp is the highest stored version; the current snapshot is the
one that timestamp names; every other current role is the version the current
snapshot names. So a reader never mixes files from different updates, even
while another update is being written.

Unlike Go, a role the snapshot does not name is simply not found (Go's SQL
stores answer 500), and nothing is cached here yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from notary_server.storage import NotFoundError, StorageError
from notary_tuf.errors import NotaryTufError
from notary_tuf.rolenames import SNAPSHOT, TIMESTAMP
from notary_tuf.signed import Metadata

if TYPE_CHECKING:
    from notary_server.storage.base import MetaStore, StoredMeta
    from notary_tuf.models import Snapshot, Timestamp

__all__ = ["get_current", "parse_stored"]


def parse_stored(role: str, stored: StoredMeta) -> Metadata[Any]:
    """Parse a stored file; a stored file that does not parse is a storage fault.

    Raises:
        StorageError: the stored bytes are not valid metadata for ``role``.
    """
    try:
        return Metadata.from_bytes(role, stored.data)
    except NotaryTufError as e:
        raise StorageError(f"stored {role} does not parse: {e}") from e


def _named_checksum(meta: Metadata[Timestamp] | Metadata[Snapshot], role: str) -> str:
    entry = meta.signed.meta.get(role)
    checksum = entry.sha256_hex if entry is not None else None
    if checksum is None:
        raise NotFoundError(f"{role} is not named by the current {meta.role}")
    return checksum


async def get_current(store: MetaStore, gun: str, role: str) -> StoredMeta:
    """Return the current version of ``role`` as a consistent reader sees it.

    Raises:
        NotFoundError: the repository or the role does not exist.
        StorageError: the store failed or holds unparsable files.
    """
    timestamp_row = await store.get_current(gun, TIMESTAMP)
    if role == TIMESTAMP:
        return timestamp_row
    timestamp: Metadata[Timestamp] = parse_stored(TIMESTAMP, timestamp_row)
    snapshot_row = await store.get_checksum(gun, SNAPSHOT, _named_checksum(timestamp, SNAPSHOT))
    if role == SNAPSHOT:
        return snapshot_row
    snapshot: Metadata[Snapshot] = parse_stored(SNAPSHOT, snapshot_row)
    return await store.get_checksum(gun, role, _named_checksum(snapshot, role))
