"""The ``admin`` commands: each opens the configured store, does one job, prints, exits.

Exit status: 0 done, 1 failed (a purge or import left work undone: re-run
it), 2 refused (bad configuration, or a purge not confirmed).
"""

from __future__ import annotations

import asyncio
import getpass
import os
import socket
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, Protocol, TextIO

from notary_server.admin import purge_import
from notary_server.config import ConfigError, ServerConfig, load_config
from notary_server.services.inventory import InventoryStore, scan_expiring, summarize
from notary_server.services.retention import RetentionPolicy, apply_plan, plan_retention
from notary_server.storage import StorageError, open_store
from notary_server.storage._common import utcnow
from notary_server.storage.base import Audit, AuditEvent, MetaStore
from notary_server.storage.capabilities import AuditLog, Inventory, Pruning

if TYPE_CHECKING:
    import argparse
    from collections.abc import Awaitable, Callable, Mapping

__all__ = ["format_duration", "format_size", "format_time", "plural", "run_admin"]

PROG = "notary_server admin"


class AdminStore(MetaStore, Inventory, Pruning, AuditLog, Protocol):
    """What ``list``, ``show``, ``expiring`` and ``gc`` need: listings, pruning, the audit log."""


def format_time(moment: datetime | None) -> str:
    """``2026-01-02 03:04Z``, or ``-``."""
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 repository``, ``2 repositories``: the count and the right form of the noun."""
    return f"{count} {singular if count == 1 else plural_form or singular + 's'}"


def format_duration(delta: timedelta) -> str:
    """``30 days``, ``12 hours``, ``1 minute``: the largest unit that divides it."""
    seconds = round(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds and seconds % size == 0:
            return plural(seconds // size, unit)
    return plural(seconds, "second")


EXPIRING_KINDS = (
    "roots, targets, delegations and root certificates "
    "(timestamps and server-managed snapshots are re-signed by the server)"
)
"""What ``admin expiring`` covers, as its summary line says."""


def format_size(size: int) -> str:
    """Bytes in a short human form."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":  # noqa: PLR2004 - binary prefixes
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def _audit(args: argparse.Namespace) -> Audit:
    actor = args.actor or f"admin:{getpass.getuser()}"
    return Audit(actor=actor, client_addr=f"cli@{socket.gethostname()}")


async def _cmd_list(store: InventoryStore, _args: argparse.Namespace, out: TextIO) -> int:
    guns = await store.list_guns()
    out.write(f"{'GUN':40} {'ROLE':24} {'VERSIONS':>8} {'CURRENT':>7} {'SIZE':>10}  EXPIRES\n")
    for gun in guns:
        summary = await summarize(store, gun)
        out.writelines(
            f"{gun:40} {role.role:24} {role.versions:>8} {role.current:>7} "
            f"{format_size(role.size):>10}  {format_time(role.expires)}\n"
            for role in summary.roles
        )
    out.write(f"{plural(len(guns), 'repository', 'repositories')}\n")
    return 0


async def _cmd_show(store: AdminStore, args: argparse.Namespace, out: TextIO) -> int:
    summary = await summarize(store, args.gun)
    if not summary.roles:
        out.write(f"{args.gun}: no metadata stored\n")
    else:
        out.write(f"{args.gun}: {summary.files} files, {format_size(summary.size)}\n")
        out.writelines(
            f"  {role.role:24} current v{role.current} (latest v{role.latest}, "
            f"{role.versions} stored, {format_size(role.size)}), "
            f"expires {format_time(role.expires)}\n"
            for role in summary.roles
        )
        out.writelines(
            f"    {info.role:22} v{info.version:<6} {info.sha256[:16]}  "
            f"{format_size(info.size):>10}  stored {format_time(info.created)}\n"
            for info in await store.list_files(args.gun)
        )
    changes = await store.get_changes(-1, -20, args.gun)
    if changes:
        out.write("  changefeed (newest 20):\n")
    for change in changes:
        who = f" by {change.actor}" if change.actor else ""
        where = f" from {change.client_addr}" if change.client_addr else ""
        out.write(
            f"    #{change.id} {format_time(change.created_at)} {change.category} "
            f"v{change.version}{who}{where}\n"
        )
    events = await store.get_audit(args.gun, limit=20)
    if events:
        out.write("  audit log (newest 20):\n")
    for event in events:
        where = f" from {event.client_addr}" if event.client_addr else ""
        out.write(
            f"    {format_time(event.created_at)} {event.action} by {event.actor}{where}: "
            f"{event.detail}\n"
        )
    return 0


async def _cmd_expiring(store: InventoryStore, args: argparse.Namespace, out: TextIO) -> int:
    now = datetime.now(UTC)
    items = await scan_expiring(store, now=now, within=args.within)
    for item in items:
        state = "EXPIRED" if item.expires <= now else "expires"
        name = "" if item.name == item.kind else f" {item.name}"
        out.write(f"{item.gun}  {item.kind}{name}  {state} {format_time(item.expires)}\n")
    verb = "expires" if len(items) == 1 else "expire"
    out.write(
        f"{plural(len(items), 'item')} {verb} within {format_duration(args.within)}: "
        f"{EXPIRING_KINDS}\n"
    )
    return 0


async def _cmd_gc(store: AdminStore, args: argparse.Namespace, out: TextIO) -> int:
    policy = RetentionPolicy(keep_versions=args.keep_versions, keep_days=args.keep_days)
    total = freed = 0
    for gun in args.guns or await store.list_guns():
        plan = await plan_retention(store, gun, policy, now=datetime.now(UTC))
        for info in plan.delete:
            out.write(f"{'would delete' if args.dry_run else 'delete'} {gun} {info.role} ")
            out.write(f"v{info.version} ({format_size(info.size)})\n")
        if not args.dry_run:
            await apply_plan(store, plan)
        total += len(plan.delete)
        freed += plan.size
    verb = "would delete" if args.dry_run else "deleted"
    out.write(f"{verb} {plural(total, 'file')}, {format_size(freed)}\n")
    if total and not args.dry_run:
        audit = _audit(args)
        await store.record_audit(
            AuditEvent(
                created_at=utcnow(),
                gun="",
                action="gc",
                detail=(
                    f"{total} file(s); keep {args.keep_versions} versions, {args.keep_days} days"
                ),
                actor=audit.actor,
                client_addr=audit.client_addr,
            )
        )
    return 0


_COMMANDS: Final[
    Mapping[str, Callable[[AdminStore, argparse.Namespace, TextIO], Awaitable[int]]]
] = {
    "list": _cmd_list,
    "show": _cmd_show,
    "expiring": _cmd_expiring,
    "gc": _cmd_gc,
}


async def _dispatch(config: ServerConfig, args: argparse.Namespace, out: TextIO) -> int:
    store = await open_store(config.storage.backend, config.storage.db_url)
    try:
        if args.admin_command == "purge":
            return await purge_import.purge(store, config, args, out, _audit(args))
        if args.admin_command == "import":
            return await purge_import.import_guns(store, args, out, _audit(args))
        return await _COMMANDS[args.admin_command](store, args, out)
    finally:
        await store.close()


def run_admin(args: argparse.Namespace) -> int:
    """Run the chosen admin command; return the exit status."""
    try:
        config = load_config(args.config, os.environ)
    except ConfigError as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 2
    if config.storage.backend == "memory":
        sys.stderr.write(f"{PROG}: the memory backend keeps nothing to administer\n")
        return 2
    try:
        return asyncio.run(_dispatch(config, args, sys.stdout))
    except StorageError as e:
        sys.stderr.write(f"{PROG} {args.admin_command}: {e}\n")
        return 1
