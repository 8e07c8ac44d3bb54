"""``admin htpasswd``: add, update or remove a user of the built-in token issuer's file.

The built-in issuer (ADR 0008) reads an htpasswd file of bcrypt hashes, which
Apache's ``htpasswd -B`` writes; this command does the same without Apache's
tools, so that ``auth.options.htpasswd`` can be filled from the project's own
virtualenv. New hashes use the cost most of the file's hashes already have
(10 for a new file): unknown users are checked against a dummy hash of that
cost, and one cost per file keeps user names from being told apart by timing.
The file is replaced atomically (a running server reads it at start-up).
"""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import argparse
    from argparse import _SubParsersAction

__all__ = ["add_htpasswd_parser", "run_htpasswd", "set_user"]

PROG: Final = "notary_server admin htpasswd"
_MIN_COST: Final = 4
_MAX_COST: Final = 31


class HtpasswdCommandError(Exception):
    """The user name, the password or the file cannot be used."""


def add_htpasswd_parser(sub: _SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``htpasswd`` to the ``admin`` subcommands (argparse only: light to import)."""
    parser = sub.add_parser(
        "htpasswd",
        help="add or update a user of the built-in token issuer (bcrypt, like htpasswd -B)",
        description="Add USER to FILE (created if missing), or change their password; with "
        "--delete, remove them. The password is read from standard input with "
        "--password-stdin, else asked for twice on the terminal. Restart the server to "
        "use the new file.",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="the htpasswd file")
    parser.add_argument("user", metavar="USER")
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    parser.add_argument(
        "--cost",
        type=int,
        metavar="N",
        help="bcrypt cost (default: the cost most of the file's hashes have; 10 for a new file)",
    )
    parser.add_argument("--delete", action="store_true", help="remove USER instead")
    parser.set_defaults(handler=run_htpasswd)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as e:
        raise HtpasswdCommandError(f"cannot read {path}: {e}") from e


def _write_lines(path: Path, lines: list[str]) -> None:
    """Replace the file atomically; a new file is private to its owner (0600)."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_user(path: Path, user: str, password: str | None, *, cost: int | None = None) -> str:
    """Set (``password``) or remove (``None``) ``user`` in the htpasswd file at ``path``.

    Returns:
        What was done: ``added``, ``updated`` or ``deleted``.

    Raises:
        HtpasswdCommandError: a bad user name, password, cost or file, or
            deleting a user the file does not have.
    """
    import bcrypt  # noqa: PLC0415 - only this command needs it

    from notary_server.auth.htpasswd import Htpasswd, HtpasswdError  # noqa: PLC0415

    if not user or ":" in user or user != user.strip() or any(c in user for c in "\r\n#"):
        raise HtpasswdCommandError(f"invalid user name {user!r} (no ':', '#' or spaces around)")
    lines = _read_lines(path)
    kept = [line for line in lines if line.strip().partition(":")[0] != user]
    if password is None:
        if len(kept) == len(lines):
            raise HtpasswdCommandError(f"{path} has no user {user!r}")
        _write_lines(path, kept)
        return "deleted"
    if not password:
        raise HtpasswdCommandError("the password is empty")
    if len(password.encode("utf-8")) > 72:  # noqa: PLR2004 - bcrypt's limit
        raise HtpasswdCommandError("the password is longer than bcrypt's 72 bytes")
    if cost is None:
        try:
            cost = Htpasswd.load(path).cost if lines else 10
        except HtpasswdError as e:
            raise HtpasswdCommandError(str(e)) from e
    if not _MIN_COST <= cost <= _MAX_COST:
        raise HtpasswdCommandError(f"--cost: must be between {_MIN_COST} and {_MAX_COST}")
    hashed = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=cost)).decode("ascii")
    _write_lines(path, [*kept, f"{user}:{hashed}"])
    try:
        Htpasswd.load(path)  # what the server will read
    except HtpasswdError as e:
        raise HtpasswdCommandError(str(e)) from e
    return "updated" if len(kept) < len(lines) else "added"


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise HtpasswdCommandError("no terminal to ask for the password: use --password-stdin")
    first = getpass.getpass(f"password for {args.user}: ")
    if getpass.getpass("again: ") != first:
        raise HtpasswdCommandError("the passwords differ")
    return first


def run_htpasswd(args: argparse.Namespace) -> int:
    """Run ``admin htpasswd``; 0 done, 2 refused (the message says why)."""
    try:
        password = None if args.delete else _password(args)
        done = set_user(args.file, args.user, password, cost=args.cost)
    except (HtpasswdCommandError, OSError) as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 2
    sys.stdout.write(f"{done} user {args.user} in {args.file}\n")
    return 0
