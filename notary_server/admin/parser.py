"""The ``admin`` subcommand's argument parser; light to import (argparse only)."""

from __future__ import annotations

import argparse
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from argparse import _SubParsersAction

__all__ = ["add_admin_parser", "parse_duration"]

_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "": 86400}


def parse_duration(text: str) -> timedelta:
    """Parse ``30d``, ``12h``, ``90m``, ``45s``, ``2w`` (a bare number is days).

    Raises:
        argparse.ArgumentTypeError: not a duration.
    """
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 30d or 12h")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])


def _config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", "-config", type=Path, metavar="FILE", required=True, help="server-config.json"
    )
    parser.add_argument(
        "--actor",
        metavar="NAME",
        help="who to record in the audit trail (default: admin:<login name>)",
    )


def _run(args: argparse.Namespace) -> int:
    from notary_server.admin.commands import run_admin  # noqa: PLC0415 - keep --help light

    return run_admin(args)


def add_admin_parser(commands: _SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``admin`` and its commands to the top-level subparsers."""
    admin = commands.add_parser(
        "admin",
        help="operator tooling: list, show, purge, gc, expiring, import, htpasswd",
        description="Operator tooling beyond Go notary (ADR 0009).",
    )
    sub = admin.add_subparsers(title="admin commands", metavar="COMMAND", required=True)

    listing = sub.add_parser("list", help="every repository: roles, versions, sizes, expiries")
    _config(listing)
    listing.set_defaults(handler=_run, admin_command="list")

    show = sub.add_parser("show", help="one repository in detail, with its audit trail")
    _config(show)
    show.add_argument("gun", metavar="GUN")
    show.set_defaults(handler=_run, admin_command="show")

    purge = sub.add_parser(
        "purge",
        help="remove a repository and every signer key it has (lost-keys recovery)",
        description="Delete every metadata file of GUN and every private key the signer "
        "holds for it, so that its owner can start again with new keys. No restart needed.",
    )
    _config(purge)
    purge.add_argument(
        "--signer-config",
        type=Path,
        metavar="FILE",
        help="signer-config.json: also delete the GUN's rows in the signer's database",
    )
    purge.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge.add_argument("gun", metavar="GUN")
    purge.set_defaults(handler=_run, admin_command="purge")

    gc = sub.add_parser(
        "gc",
        help="delete old metadata versions no client needs",
        description="Keeps every root, the current chain, the N newest versions of each "
        "role and everything younger than D days.",
    )
    _config(gc)
    gc.add_argument("--keep-versions", type=int, required=True, metavar="N")
    gc.add_argument("--keep-days", type=float, required=True, metavar="D")
    gc.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    gc.add_argument("guns", nargs="*", metavar="GUN", help="only these (default: every GUN)")
    gc.set_defaults(handler=_run, admin_command="gc")

    expiring = sub.add_parser(
        "expiring",
        help="roots, targets, delegations and root certificates expiring soon",
        description="List what expires within DURATION: root, targets and delegation "
        "metadata and root certificates, which only their owners can re-sign. Timestamps "
        "and server-managed snapshots are left out: the server re-signs them itself.",
    )
    _config(expiring)
    expiring.add_argument(
        "--within",
        type=parse_duration,
        default=timedelta(days=30),
        metavar="DURATION",
        help="how far ahead to look: 30d, 12h, 90m, 45s, 2w (a bare number is days; default: 30d)",
    )
    expiring.set_defaults(handler=_run, admin_command="expiring")

    # issue #19: users of the built-in token issuer, without Apache's htpasswd
    from notary_server.admin.htpasswd_cmd import add_htpasswd_parser  # noqa: PLC0415

    add_htpasswd_parser(sub)

    imp = sub.add_parser(
        "import",
        help="copy repositories from another Notary v1 server, verifying them",
        description="Fetch every root version and the current metadata of each GUN from "
        "URL, verify it, and store it here. Safe to run again: unchanged repositories are "
        "left alone, ones the source changed since get the newer files, ones already "
        "handed over are not touched. Afterwards each owner runs "
        "'python -m notary_server.handover' against this server.",
    )
    _config(imp)
    imp.add_argument("--from", dest="source", required=True, metavar="URL")
    imp.add_argument("--ca", type=Path, metavar="FILE", help="CA bundle for the source's TLS")
    imp.add_argument(
        "--guns-file", type=Path, metavar="FILE", help="more GUNs, one a line ('-': stdin)"
    )
    imp.add_argument(
        "--all",
        action="store_true",
        help="every repository the source's changefeed names (/v2/_trust/changefeed)",
    )
    imp.add_argument("guns", nargs="*", metavar="GUN")
    imp.set_defaults(handler=_run, admin_command="import")
