"""Command line of the Notary signer: ``python -m notary_signer``.

Port of the flags of Go ``cmd/notary-signer/main.go``: ``-config``, ``-logf``
and ``-version``, each also spelt with two dashes as Go's flag package allows
(``-config=FILE`` works too). ``-debug`` and ``-bootstrap`` are not ported.

Importing this module has no side effects; logging is configured by
:func:`run`, once the configuration is known. The parser keeps its options on
the top level and dispatches on ``handler`` so that subcommands (``migrate``)
can be added with ``add_subparsers`` without changing how the server starts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import notary_tuf
from notary_proto import GO_NOTARY_VERSION

if TYPE_CHECKING:
    from collections.abc import Sequence

PROG = "notary_signer"
LOG_FORMATS = ("json", "logfmt")


def version_string() -> str:
    """Return what ``--version`` prints."""
    return f"{PROG} {notary_tuf.__version__} (wire-compatible with notary {GO_NOTARY_VERSION})"


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser; parsing has no effect beyond the namespace it returns."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Notary signer: the gRPC key management and signing service.",
        add_help=False,
        allow_abbrev=False,
    )
    parser.add_argument("-h", "--help", "-help", action="help", help="show this help and exit")
    parser.add_argument(
        "--version",
        "-version",
        action="version",
        version=version_string(),
        help="print the version and exit",
    )
    parser.add_argument(
        "--config",
        "-config",
        type=Path,
        metavar="FILE",
        help="path to the configuration file (Go's signer-config.json format)",
    )
    parser.add_argument(
        "--logf",
        "-logf",
        choices=LOG_FORMATS,
        default="json",
        help="log format (default: %(default)s)",
    )
    parser.set_defaults(handler=_serve)
    return parser


def run(config_path: Path | None, *, log_format: str = "json") -> int:
    """Load the configuration, set up logging and serve until stopped.

    Args:
        config_path: The configuration file; ``None`` for the embedded default.
        log_format: One of :data:`LOG_FORMATS`.

    Returns:
        The process exit status.

    Raises:
        SystemExit: Always, for now: the signer is being built (issue #3).
    """
    del config_path, log_format
    sys.stderr.write(f"{PROG}: the signer is not implemented yet (issue #3)\n")
    raise SystemExit(2)


def _serve(args: argparse.Namespace) -> int:
    return run(args.config, log_format=args.logf)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the chosen command.

    Returns:
        The process exit status.
    """
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
