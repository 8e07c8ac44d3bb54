"""``admin purge`` and ``admin import``: the two commands that write for an owner."""

from __future__ import annotations

import os
import ssl
import sys
from typing import TYPE_CHECKING

import aiohttp

from notary_server.admin.signerdb import open_signer_database
from notary_server.services.importer import (
    RepositoryImportError,
    describe,
    fetch_repository,
    verify_repository,
)
from notary_server.services.purge import execute_purge, plan_purge
from notary_server.storage import NotFoundError, OldVersionError, StorageError
from notary_server.storage._common import sha256_hex, utcnow
from notary_server.storage.base import AuditEvent
from notary_server.trust.base import TrustServiceError
from notary_server.trust.remote import open_remote
from notary_tuf.rolenames import TIMESTAMP

if TYPE_CHECKING:
    import argparse
    from typing import TextIO

    from notary_server.config import ServerConfig
    from notary_server.services.purge import PurgePlan
    from notary_server.storage.base import Audit, MetaStore
    from notary_server.trust.base import CryptoService

__all__ = ["import_guns", "purge"]

FETCH_TIMEOUT = 60.0


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
    store: MetaStore, config: ServerConfig, args: argparse.Namespace, out: TextIO, audit: Audit
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


async def _import_one(
    store: MetaStore, session: aiohttp.ClientSession, base: str, gun: str, audit: Audit
) -> str:
    async def fetch(path: str) -> bytes | None:
        async with session.get(base + path) as response:
            if response.status == 404:  # noqa: PLR2004 - not found
                return None
            if response.status != 200:  # noqa: PLR2004 - ok
                raise RepositoryImportError(f"{path}: the source answered {response.status}")
            return await response.read()

    fetched = await fetch_repository(fetch, gun)
    updates = verify_repository(fetched, now=utcnow())
    try:
        here = await store.get_current(gun, TIMESTAMP)
    except NotFoundError:
        here = None
    if here is not None:
        if sha256_hex(here.data) == sha256_hex(fetched.timestamp):
            return "already imported (same timestamp); nothing to do"
        raise RepositoryImportError(f"{gun} already exists here; purge it first")
    try:
        await store.update_many(gun, updates, audit=audit)
    except OldVersionError as e:
        raise RepositoryImportError(f"{gun} was written here meanwhile; purge it first") from e
    summary = describe(updates)
    await store.record_audit(
        AuditEvent(
            created_at=utcnow(),
            gun=gun,
            action="import",
            detail=f"from {base}: {summary}",
            actor=audit.actor,
            client_addr=audit.client_addr,
        )
    )
    return f"imported {summary}"


async def import_guns(store: MetaStore, args: argparse.Namespace, out: TextIO, audit: Audit) -> int:
    """``admin import``: one progress line per GUN; exit 1 if any failed."""
    context = ssl.create_default_context(cafile=str(args.ca) if args.ca else None)
    base = args.source.rstrip("/")
    failed = 0
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
    connector = aiohttp.TCPConnector(ssl=context)
    async with aiohttp.ClientSession(
        timeout=timeout, connector=connector, trust_env=False
    ) as session:
        for gun in args.guns:
            out.write(f"{gun}: ")
            out.flush()
            try:
                out.write(await _import_one(store, session, base, gun, audit) + "\n")
            except (RepositoryImportError, StorageError, aiohttp.ClientError, TimeoutError) as e:
                failed += 1
                out.write(f"FAILED: {e}\n")
            out.flush()
    if failed:
        out.write(f"{failed} of {len(args.guns)} repositories not imported\n")
    else:
        out.write(
            "done. Each owner should now run 'notary key rotate GUN timestamp -r' against "
            "this server (and 'snapshot -r' if the source managed the snapshot).\n"
        )
    return 1 if failed else 0
