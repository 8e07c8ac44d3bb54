"""The command-line flags both services take from Go: ``-config``, ``-logf`` and ``-version``.

Go's ``flag`` package accepts one or two dashes (``-config=FILE`` too); each
flag here is spelt both ways. Help is ``-h``, ``--help`` or ``-help``.
Building a parser has no side effects.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from notary_runtime.logs import LOG_FORMATS

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["add_config_flags", "dispatch", "new_parser", "report_error", "version_string"]


def version_string(prog: str, version: str, go_version: str) -> str:
    """Return what ``--version`` prints: the program, its version and the Go release it matches."""
    return f"{prog} {version} (wire-compatible with notary {go_version})"


def new_parser(prog: str, description: str, version: str) -> argparse.ArgumentParser:
    """Return a parser with the help and version flags, Go's spellings included.

    Args:
        prog: the program name (``notary_server``).
        description: what ``--help`` says the program is.
        version: what ``--version`` prints (see :func:`version_string`).
    """
    parser = argparse.ArgumentParser(
        prog=prog, description=description, add_help=False, allow_abbrev=False
    )
    parser.add_argument("-h", "--help", "-help", action="help", help="show this help and exit")
    parser.add_argument(
        "--version",
        "-version",
        action="version",
        version=version,
        help="print the version and exit",
    )
    return parser


def add_config_flags(
    parser: argparse.ArgumentParser, *, config_help: str, subcommand: bool = False
) -> None:
    """Add ``--config FILE`` and ``--logf json|logfmt``.

    On a subcommand's parser the flags have no default (``SUPPRESS``), so a
    value given before the subcommand's name is not overwritten by the
    subparser; the top-level parser supplies the defaults (``None``, ``json``).

    Args:
        parser: the parser to add to.
        config_help: the help text of ``--config``.
        subcommand: ``parser`` is a subcommand's.
    """
    parser.add_argument(
        "--config",
        "-config",
        type=Path,
        metavar="FILE",
        default=argparse.SUPPRESS if subcommand else None,
        help=config_help,
    )
    parser.add_argument(
        "--logf",
        "-logf",
        choices=LOG_FORMATS,
        default=argparse.SUPPRESS if subcommand else "json",
        help="log format (default: json)",
    )


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse ``argv`` (``None``: ``sys.argv[1:]``) and run the chosen command's ``handler``.

    Every (sub)command sets a ``handler`` default: a function of the parsed
    namespace that returns the process exit status.

    Returns:
        The handler's exit status.
    """
    args = parser.parse_args(argv)
    status: int = args.handler(args)
    return status


def report_error(prog: str, message: str) -> None:
    """Write ``prog: message`` on stderr, as the command line reports a failure."""
    sys.stderr.write(f"{prog}: {message}\n")
