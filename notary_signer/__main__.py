"""Command line of the Notary signer: ``python -m notary_signer``.

Port of the flags of Go ``cmd/notary-signer/main.go``: ``-config``, ``-logf``
and ``-version``, each also spelt with two dashes as Go's flag package allows
(``-config=FILE`` works too). ``-debug`` and ``-bootstrap`` are not ported.

Without a subcommand it serves (:func:`notary_signer.server.serve`). Two
subcommands are our additions:

* ``migrate --config FILE`` creates or upgrades the key database's schema;
* ``rotate-passphrase --config FILE --to-alias NEW`` re-encrypts every key
  under the passphrase of ``NOTARY_SIGNER_<NEW>`` (resumable, idempotent).

Importing this module has no side effects and imports neither grpc nor a
database driver; logging is configured once the configuration is known. This
module is the only one that reads ``os.environ``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import TYPE_CHECKING, Final

import notary_tuf
from notary_proto import GO_NOTARY_VERSION
from notary_runtime import cli
from notary_runtime.logs import LOG_FORMATS, setup_logging

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from notary_signer.config import SignerConfig

__all__ = ["LOG_FORMATS", "PROG", "build_parser", "main", "run", "version_string"]

PROG = "notary_signer"
_CONFIG_HELP: Final = "path to the configuration file (Go's signer-config.json format)"


def version_string() -> str:
    """Return what ``--version`` prints."""
    return cli.version_string(PROG, notary_tuf.__version__, GO_NOTARY_VERSION)


def _add_config_flags(parser: argparse.ArgumentParser, *, top: bool) -> None:
    cli.add_config_flags(parser, config_help=_CONFIG_HELP, subcommand=not top)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser; parsing has no effect beyond the namespace it returns."""
    parser = cli.new_parser(
        PROG, "Notary signer: the gRPC key management and signing service.", version_string()
    )
    _add_config_flags(parser, top=True)
    parser.set_defaults(handler=_serve)
    commands = parser.add_subparsers(title="commands (default: serve)", metavar="COMMAND")
    migrate = commands.add_parser(
        "migrate", help="create or upgrade the key database schema", allow_abbrev=False
    )
    _add_config_flags(migrate, top=False)
    migrate.set_defaults(handler=_migrate)
    rotate = commands.add_parser(
        "rotate-passphrase",
        help="re-encrypt every key under another passphrase alias",
        allow_abbrev=False,
    )
    _add_config_flags(rotate, top=False)
    rotate.add_argument(
        "--to-alias",
        required=True,
        metavar="ALIAS",
        help="the alias to encrypt under; its passphrase is read from NOTARY_SIGNER_<ALIAS>",
    )
    rotate.set_defaults(handler=_rotate)
    return parser


def _fail(message: str) -> int:
    cli.report_error(PROG, message)
    return 1


def _load(config_path: Path | None, log_format: str) -> SignerConfig:
    from notary_signer.config import load_config  # noqa: PLC0415 - keep imports lazy

    if config_path is None:
        from notary_signer.errors import ConfigError  # noqa: PLC0415

        raise ConfigError("a configuration file is required: --config FILE")
    config = load_config(
        config_path, os.environ, warn=lambda m: cli.report_error(PROG, f"warning: {m}")
    )
    setup_logging(config.logging_level, log_format, default_level=logging.ERROR)
    return config


def run(config_path: Path | None, *, log_format: str = "json") -> int:
    """Load the configuration, set up logging and serve until stopped.

    Args:
        config_path: The configuration file (required).
        log_format: One of :data:`LOG_FORMATS`.

    Returns:
        The process exit status: 0 after a clean stop, 1 when startup failed.
    """
    from notary_signer.errors import SignerError  # noqa: PLC0415
    from notary_signer.server import serve  # noqa: PLC0415

    try:
        config = _load(config_path, log_format)
        asyncio.run(serve(config))
    except SignerError as e:
        message = str(e)
        if MISSING_SCHEMA in message:
            message += (
                f": the database has no key table yet; create it with "
                f"`python -m notary_signer migrate --config {config_path}`"
            )
        return _fail(message)
    except OSError as e:
        return _fail(f"cannot serve: {e.strerror or e}")
    return 0


MISSING_SCHEMA: Final = "Cannot access table"
"""How the key stores' health check (Go's wording) says the schema is missing."""


def _serve(args: argparse.Namespace) -> int:
    return run(args.config, log_format=args.logf)


def _migrate(args: argparse.Namespace) -> int:
    from notary_signer.errors import SignerError  # noqa: PLC0415
    from notary_signer.keystore.migrate import migrate  # noqa: PLC0415

    try:
        config = _load(args.config, args.logf)
        if config.storage.backend == "memory":
            return _fail("the memory backend has no schema to migrate")
        applied = asyncio.run(migrate(config.storage.backend, config.storage.db_url))
    except SignerError as e:
        return _fail(str(e))
    if applied:  # the same words as the server's migrate
        sys.stdout.write(f"applied migrations: {', '.join(str(v) for v in applied)}\n")
    else:
        sys.stdout.write("the schema is up to date\n")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from notary_signer.errors import SignerError  # noqa: PLC0415
    from notary_signer.keystore import open_keystore  # noqa: PLC0415
    from notary_signer.rotate import rotate_passphrase  # noqa: PLC0415

    async def rotate(config: SignerConfig) -> tuple[int, int]:
        async with await open_keystore(config.storage.backend, config.storage.db_url) as store:
            result = await rotate_passphrase(store, config.passphrases, args.to_alias)
        return result.rotated, result.skipped

    try:
        config = _load(args.config, args.logf)
        if config.storage.backend == "memory":
            return _fail("the memory backend keeps no encrypted keys")
        rotated, skipped = asyncio.run(rotate(config))
    except SignerError as e:
        return _fail(str(e))
    sys.stdout.write(f"re-encrypted {rotated} keys under {args.to_alias!r} ({skipped} skipped)\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the chosen command.

    Returns:
        The process exit status.
    """
    return cli.dispatch(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
