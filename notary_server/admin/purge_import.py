"""``admin purge`` and ``admin import``: the two commands that write for an owner."""

from __future__ import annotations

import os
import ssl
import sys
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import aiohttp

from notary_server.admin.import_source import ImportSource
from notary_server.admin.signerdb import open_signer_database
from notary_server.services.importer import (
    ImportState,
    RepositoryImportError,
    StoredRole,
    describe,
    fetch_repository,
    plan_import,
    verify_repository,
)
from notary_server.services.purge import PurgeStore, execute_purge, plan_purge
from notary_server.storage import NotFoundError, OldVersionError, StorageError
from notary_server.storage._common import sha256_hex, utcnow
from notary_server.storage.base import AuditEvent, MetaStore
from notary_server.storage.capabilities import AuditLog, Inventory
from notary_server.trust.base import TrustServiceError
from notary_server.trust.remote import open_remote
from notary_tuf.rolenames import TIMESTAMP

if TYPE_CHECKING:
    import argparse
    from typing import TextIO

    from notary_server.config import ServerConfig
    from notary_server.services.purge import PurgePlan
    from notary_server.storage.base import Audit
    from notary_server.trust.base import CryptoService

__all__ = ["import_guns", "purge"]

FETCH_TIMEOUT = 60.0


class ImportStore(MetaStore, Inventory, AuditLog, Protocol):
    """What an import needs: Go's reads and atomic write, the stored versions, the audit log."""


def _print_plan(plan: PurgePlan, out: TextIO, *, dry_run: bool) -> None:
    verb = "would remove" if dry_run else "will remove"
    out.write(f"purge {plan.gun}: {verb}\n")
    out.writelines(
        f"  metadata {info.role} v{info.version} ({info.sha256[:16]}, {info.size} B)\n"
        for info in plan.files
    )
    out.writelines(
        f"  signer key {key_id} via DeleteKey ({source})\n" for key_id, source in plan.rpc_keys
    )
    for row in plan.signer_rows:
        state = "soft-deleted" if row.deleted else "live"
        out.write(f"  signer database row {row.key_id} ({row.role}, {state})\n")
    out.writelines(f"  note: {note}\n" for note in plan.notes)
    if plan.empty:
        out.write("  nothing: the repository has no metadata and the signer no keys for it\n")


def _confirmed(gun: str) -> bool:
    if not sys.stdin.isatty():
        sys.stderr.write("refusing to purge without --yes: stdin is not a terminal\n")
        return False
    sys.stderr.write(f"Type the GUN ({gun}) to confirm the purge: ")
    sys.stderr.flush()
    return sys.stdin.readline().strip() == gun


async def purge(
    store: PurgeStore, config: ServerConfig, args: argparse.Namespace, out: TextIO, audit: Audit
) -> int:
    """``admin purge``: plan, show, confirm, execute, report."""
    table = (
        open_signer_database(args.signer_config, os.environ)
        if args.signer_config is not None
        else None
    )
    crypto: CryptoService | None = None
    if config.trust_service.type == "remote":
        crypto = open_remote(config.trust_service)
    try:
        plan = await plan_purge(store, args.gun, crypto=crypto, signer_table=table)
        _print_plan(plan, out, dry_run=args.dry_run)
        if args.dry_run or plan.empty:
            return 0
        if not args.yes and not _confirmed(args.gun):
            return 2
        report = await execute_purge(plan, store, crypto=crypto, signer_table=table, audit=audit)
    except TrustServiceError as e:
        out.write(f"purge {args.gun}: the signer failed before anything was removed: {e}\n")
        return 1
    finally:
        if crypto is not None:
            await crypto.close()
    out.writelines(f"  removed: {line}\n" for line in report.removed)
    out.writelines(f"  NOT removed: {line}\n" for line in report.failed)
    if report.failed:
        out.write(f"purge {args.gun}: incomplete; fix the cause and run it again\n")
        return 1
    out.write(f"purge {args.gun}: done; the owner can now 'notary init' it with new keys\n")
    return 0


async def _stored_roles(store: Inventory, gun: str) -> dict[str, StoredRole]:
    versions: dict[str, dict[int, str]] = {}
    for info in await store.list_files(gun):
        versions.setdefault(info.role, {})[info.version] = info.sha256
    return {role: StoredRole(max(byv), byv) for role, byv in versions.items()}


async def _import_one(
    store: ImportStore, source: ImportSource, gun: str, audit: Audit
) -> ImportOutcome:
    fetched = await fetch_repository(source, gun)
    verified = verify_repository(fetched, now=utcnow())
    try:
        here: bytes | None = (await store.get_current(gun, TIMESTAMP)).data
    except NotFoundError:
        here = None
    stored = await _stored_roles(store, gun) if here is not None else {}
    plan = plan_import(verified, stored, stored_timestamp=here, sha256=sha256_hex)
    if plan.updates:
        try:
            await store.update_many(gun, plan.updates, audit=audit)
        except OldVersionError as e:
            raise RepositoryImportError(f"{gun} was written here meanwhile; run again") from e
        await store.record_audit(
            AuditEvent(
                created_at=utcnow(),
                gun=gun,
                action="import",
                detail=f"from {source.base}: {describe(plan.updates)}",
                actor=audit.actor,
                client_addr=audit.client_addr,
            )
        )
    return ImportOutcome(plan.state, describe(plan.updates), verified.warnings)


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """One repository's result, for its progress line."""

    state: ImportState
    summary: str
    warnings: list[str]

    def line(self) -> str:
        """The progress line after ``GUN: ``."""
        return {
            ImportState.NEW: f"imported {self.summary}",
            ImportState.BEHIND: f"updated with the source's newer files: {self.summary}",
            ImportState.SAME: "already imported and unchanged; nothing to do",
            ImportState.HANDED_OVER: "already handed over to this server; the source is "
            "no longer read for it (purge it here to import again)",
        }[self.state]


def _read_guns(args: argparse.Namespace) -> list[str]:
    guns = list(args.guns)
    if args.guns_file is not None:
        text = sys.stdin.read() if str(args.guns_file) == "-" else args.guns_file.read_text()
        guns.extend(line.strip() for line in text.splitlines())
    return list(dict.fromkeys(g for g in guns if g and not g.startswith("#")))


async def import_guns(
    store: ImportStore, args: argparse.Namespace, out: TextIO, audit: Audit
) -> int:
    """``admin import``: one progress line per GUN and a summary; exit 1 if any failed."""
    context = ssl.create_default_context(cafile=str(args.ca) if args.ca else None)
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
    connector = aiohttp.TCPConnector(ssl=context)
    counts: Counter[str] = Counter()
    async with aiohttp.ClientSession(
        timeout=timeout, connector=connector, trust_env=False
    ) as session:
        source = ImportSource(
            session, args.source.rstrip("/"), basic_auth=os.environ.get("NOTARY_AUTH") or None
        )
        guns = _read_guns(args)
        if args.all:
            try:
                guns.extend(g for g in await source.all_guns() if g not in guns)
            except (RepositoryImportError, aiohttp.ClientError, TimeoutError, ValueError) as e:
                out.write(f"cannot list the source's repositories: {e}\n")
                return 1
        if not guns:
            out.write("no repositories to import (give GUNs, --guns-file or --all)\n")
            return 2
        for number, gun in enumerate(guns, 1):
            out.write(f"[{number}/{len(guns)}] {gun}: ")
            out.flush()
            try:
                outcome = await _import_one(store, source, gun, audit)
            except (RepositoryImportError, StorageError, aiohttp.ClientError, TimeoutError) as e:
                counts["failed"] += 1
                out.write(f"FAILED: {e}\n")
            else:
                counts[outcome.state] += 1
                out.write(outcome.line() + "\n")
                out.writelines(f"  warning: {w}\n" for w in outcome.warnings)
                counts["warned"] += bool(outcome.warnings)
            out.flush()
    out.write(
        f"{len(guns)} repositories: {counts[ImportState.NEW]} imported, "
        f"{counts[ImportState.BEHIND]} updated, {counts[ImportState.SAME]} unchanged, "
        f"{counts[ImportState.HANDED_OVER]} already handed over, {counts['failed']} failed"
        f" ({counts['warned']} with warnings)\n"
    )
    if counts["failed"]:
        out.write("fix the causes above and run the same command again: it is safe to repeat\n")
    elif counts[ImportState.NEW] or counts[ImportState.BEHIND]:
        out.write(
            "next: each owner runs 'python -m notary_server.handover --server URL GUN' "
            "(README: Migrating from another notary server)\n"
        )
    return 1 if counts["failed"] else 0
