"""Purging a repository whose keys were lost: metadata and every signer key, no restart.

The lost-keys recovery path (``admin purge``). Go's documented procedure is SQL
in both databases and a restart of both services; this does it through the
APIs the services already have, so running replicas see the result at once:

1. every private key the signer holds for the GUN is deleted through the
   signer's gRPC ``DeleteKey`` (works with Go's signer too, and drops the
   signer's in-memory copy). The key IDs come from the timestamp and snapshot
   roles of every stored root version, from the recorded key rotations, and
   from the signer's own database when the operator gives its configuration;
2. with the signer's database, every ``private_keys`` row of the GUN is then
   deleted outright (keys that never reached a root, and soft-deleted rows
   that still hold encrypted key material);
3. every ``tuf_files`` row of the GUN is deleted, with a ``deletion`` record
   in the changefeed naming the actor.

Keys go first: if a step fails, the metadata still names them and a re-run
plans the same work again. Re-running after success finds nothing to do.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from notary_server.services.current import parse_stored
from notary_server.services.keys import ROTATION_ACTION
from notary_server.storage import StorageError
from notary_server.storage._common import utcnow
from notary_server.storage.base import AuditEvent, MetaStore
from notary_server.storage.capabilities import AuditLog, Inventory
from notary_server.trust.base import TrustServiceError
from notary_tuf.errors import NotaryTufError
from notary_tuf.rolenames import ROOT, SNAPSHOT, TIMESTAMP

if TYPE_CHECKING:
    from collections.abc import Iterable

    from notary_server.storage.base import Audit, FileInfo
    from notary_server.trust.base import CryptoService

__all__ = [
    "PURGE_ACTION",
    "PurgePlan",
    "PurgeReport",
    "PurgeStore",
    "SignerKeyRow",
    "SignerKeyTable",
    "execute_purge",
    "plan_purge",
]

logger = logging.getLogger(__name__)

PURGE_ACTION = "purge"
_ROTATED_KEY = re.compile(r"\bkey=([0-9a-f]{64})\b")


@dataclass(frozen=True, slots=True, kw_only=True)
class SignerKeyRow:
    """A ``private_keys`` row of the signer's database (Go's schema).

    Attributes:
        key_id: the key ID.
        gun: the GUN the key was made for.
        role: its role.
        deleted: soft-deleted already (``deleted_at`` set).
    """

    key_id: str
    gun: str
    role: str
    deleted: bool


class PurgeStore(MetaStore, Inventory, AuditLog, Protocol):
    """What a purge needs: the files, the audit log (rotated keys, its record), Go's delete."""


class SignerKeyTable(Protocol):
    """Direct access to the signer's ``private_keys`` table."""

    async def rows_for(self, gun: str) -> list[SignerKeyRow]:
        """Return every row (live or soft-deleted) of the GUN."""
        ...

    async def owners(self, key_ids: Iterable[str]) -> dict[str, str]:
        """Return the GUN of each of these key IDs that has a row."""
        ...

    async def delete_gun(self, gun: str) -> int:
        """Delete every row of the GUN outright; return how many."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgePlan:
    """Everything a purge of one GUN would remove.

    Attributes:
        gun: the repository.
        files: its ``tuf_files`` rows.
        rpc_keys: key IDs the signer holds, to delete through ``DeleteKey``,
            each with where it was found.
        signer_rows: the GUN's rows in the signer's database (when given).
        notes: what is left alone and why.
    """

    gun: str
    files: tuple[FileInfo, ...]
    rpc_keys: tuple[tuple[str, str], ...]
    signer_rows: tuple[SignerKeyRow, ...]
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing to remove."""
        return not (self.files or self.rpc_keys or self.signer_rows)


@dataclass(slots=True)
class PurgeReport:
    """What a purge did.

    Attributes:
        removed: one line per thing removed.
        failed: one line per thing that could not be removed.
    """

    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


async def _named_keys(store: PurgeStore, gun: str, files: Iterable[FileInfo]) -> dict[str, str]:
    """Key IDs of the server-managed roles in every stored root, and rotated keys."""
    named: dict[str, str] = {}
    for info in files:
        if info.role != ROOT:
            continue
        try:
            root = parse_stored(ROOT, await store.get_version(gun, ROOT, info.version))
        except (StorageError, NotaryTufError) as e:
            logger.warning("%s: root version %d unreadable: %s", gun, info.version, e)
            continue
        for role in (TIMESTAMP, SNAPSHOT):
            for key in root.signed.role_keys(role).values():
                named.setdefault(key.canonical_key_id, f"{role} key in root v{info.version}")
    for event in await store.get_audit(gun, limit=10_000):
        if event.action == ROTATION_ACTION and (found := _ROTATED_KEY.search(event.detail)):
            named.setdefault(found[1], f"rotated key ({event.detail})")
    return named


async def plan_purge(
    store: PurgeStore,
    gun: str,
    *,
    crypto: CryptoService | None,
    signer_table: SignerKeyTable | None,
) -> PurgePlan:
    """Work out what purging ``gun`` removes; nothing is changed.

    Args:
        store: the metadata store.
        gun: the repository.
        crypto: the remote trust service (None: keys are not reachable by RPC).
        signer_table: the signer's database (None: not given).

    Raises:
        StorageError: the store failed.
        TrustServiceError: the signer database failed.
    """
    files = tuple(await store.list_files(gun))
    named = await _named_keys(store, gun, files)
    rows = tuple(await signer_table.rows_for(gun)) if signer_table is not None else ()
    for row in rows:
        if not row.deleted:
            named.setdefault(row.key_id, f"{row.role} key in the signer database")
    notes = []
    owners = await signer_table.owners(named) if signer_table is not None else {}
    rpc_keys = []
    for key_id, source in sorted(named.items()):
        owner = owners.get(key_id)
        if owner is not None and owner != gun:
            notes.append(f"key {key_id} is named by {gun} but belongs to {owner}: left alone")
            continue
        if crypto is not None and await crypto.get_key(key_id) is not None:
            rpc_keys.append((key_id, source))
    if crypto is None:
        notes.append("the trust service is not remote: no signer keys to delete over gRPC")
    return PurgePlan(
        gun=gun, files=files, rpc_keys=tuple(rpc_keys), signer_rows=rows, notes=tuple(notes)
    )


async def _delete_keys(
    plan: PurgePlan,
    report: PurgeReport,
    crypto: CryptoService | None,
    signer_table: SignerKeyTable | None,
) -> None:
    for key_id, source in plan.rpc_keys:
        if crypto is None:  # pragma: no cover - the plan has no RPC keys then
            break
        try:
            await crypto.delete_key(key_id)
        except TrustServiceError as e:
            report.failed.append(f"signer key {key_id} ({source}): {e}")
        else:
            report.removed.append(f"signer key {key_id} ({source})")
    if plan.signer_rows and signer_table is not None:
        try:
            count = await signer_table.delete_gun(plan.gun)
        except (TrustServiceError, StorageError, OSError) as e:
            report.failed.append(f"signer database rows of {plan.gun}: {e}")
        else:
            report.removed.append(f"{count} row(s) of private_keys in the signer database")


async def execute_purge(
    plan: PurgePlan,
    store: PurgeStore,
    *,
    crypto: CryptoService | None,
    signer_table: SignerKeyTable | None,
    audit: Audit,
) -> PurgeReport:
    """Carry out ``plan``: keys first, then metadata; stop before the metadata on a failure.

    Never raises for a failed step: the report says what was and was not removed.
    """
    report = PurgeReport()
    await _delete_keys(plan, report, crypto, signer_table)
    if report.failed:
        report.failed.append(f"{len(plan.files)} metadata file(s): not attempted")
        return report
    if plan.files:
        try:
            await store.delete(plan.gun, audit=audit)
        except StorageError as e:
            report.failed.append(f"{len(plan.files)} metadata file(s): {e}")
            return report
        report.removed.append(f"{len(plan.files)} metadata file(s)")
    if report.removed:
        await _record(store, plan, report, audit)
    return report


async def _record(store: AuditLog, plan: PurgePlan, report: PurgeReport, audit: Audit) -> None:
    event = AuditEvent(
        created_at=utcnow(),
        gun=plan.gun,
        action=PURGE_ACTION,
        detail="; ".join(report.removed),
        actor=audit.actor,
        client_addr=audit.client_addr,
    )
    try:
        await store.record_audit(event)
    except StorageError as e:
        logger.warning("%s: purged, but the audit record failed: %s", plan.gun, e)
