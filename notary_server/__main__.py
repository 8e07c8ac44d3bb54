"""Command line of the Notary server: ``python -m notary_server``.

Port of the flags of Go ``cmd/notary-server/main.go``: ``-config``, ``-logf``
and ``-version``, each also spelt with two dashes as Go's flag package allows
(``-config=FILE`` works too). ``-debug`` and ``-bootstrap`` are not ported.

Importing this module has no side effects; logging is configured by
:func:`run`, once the configuration is known. The parser keeps its options on
the top level and dispatches on ``handler`` so that subcommands (``migrate``)
can be added with ``add_subparsers`` without changing how the server starts.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import ssl
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import notary_tuf
from notary_proto import GO_NOTARY_VERSION
from notary_server.config import (
    ConfigError,
    ServerConfig,
    StorageConfig,
    TLSConfig,
    TrustServiceConfig,
    load_config,
)
from notary_server.logs import setup_logging

if TYPE_CHECKING:
    from collections.abc import Sequence

logger = logging.getLogger(__name__)

PROG = "notary_server"
LOG_FORMATS = ("json", "logfmt")


def version_string() -> str:
    """Return what ``--version`` prints."""
    return f"{PROG} {notary_tuf.__version__} (wire-compatible with notary {GO_NOTARY_VERSION})"


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser; parsing has no effect beyond the namespace it returns."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Notary server: the TUF metadata API for Docker Content Trust.",
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
        help="path to the configuration file (Go's server-config.json format)",
    )
    parser.add_argument(
        "--logf",
        "-logf",
        choices=LOG_FORMATS,
        default="json",
        help="log format (default: %(default)s)",
    )
    parser.set_defaults(handler=_serve)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    migrate = commands.add_parser(
        "migrate",
        help="create the storage schema, or upgrade one (Go-created databases included)",
        description="Apply pending schema migrations to the configured database; idempotent.",
    )
    migrate.add_argument(
        "--config", "-config", type=Path, metavar="FILE", required=True, help="server-config.json"
    )
    migrate.set_defaults(handler=_migrate)
    return parser


def _default_config() -> ServerConfig:
    """The embedded default: SQLite under ./notary-data, local trust service, loopback."""
    data_dir = Path("notary-data").resolve()
    data_dir.mkdir(exist_ok=True)
    return ServerConfig(
        host="127.0.0.1",
        port=4443,
        tls=None,
        trust_service=TrustServiceConfig(type="local", key_algorithm="ed25519"),
        storage=StorageConfig(backend="sqlite3", db_url=str(data_dir / "server.db")),
        logging_level="info",
    )


def _ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.client_ca_file is not None:
        context.load_verify_locations(tls.client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def run(config_path: Path | None, *, log_format: str = "json") -> int:
    """Load the configuration, set up logging and serve until stopped.

    Args:
        config_path: The configuration file; ``None`` for the embedded default.
        log_format: One of :data:`LOG_FORMATS`.

    Returns:
        The process exit status.
    """
    try:
        config = (
            load_config(config_path, os.environ) if config_path is not None else _default_config()
        )
        ssl_context = _ssl_context(config.tls) if config.tls is not None else None
    except (ConfigError, OSError, ssl.SSLError) as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 2
    setup_logging(config.logging_level, log_format)
    # Imported here, not at the top: --help and --version stay light, and
    # importing this module pulls in neither aiohttp nor grpc.
    from aiohttp import web  # noqa: PLC0415

    from notary_server.app import create_app  # noqa: PLC0415

    scheme = "https" if ssl_context is not None else "http"
    logger.info("serving on %s://%s:%d", scheme, config.host or "0.0.0.0", config.port)  # noqa: S104
    web.run_app(
        create_app(config),
        host=config.host or None,
        port=config.port,
        ssl_context=ssl_context,
        print=None,
        access_log=logging.getLogger("aiohttp.access"),
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, os.environ)
    except ConfigError as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 2
    if config.storage.backend == "memory":
        sys.stdout.write("memory storage has no schema to migrate\n")
        return 0
    from notary_server.storage import StorageError  # noqa: PLC0415 - see run()
    from notary_server.storage.migrate import migrate  # noqa: PLC0415

    try:
        applied = asyncio.run(migrate(config.storage.backend, config.storage.db_url))
    except StorageError as e:
        sys.stderr.write(f"{PROG}: migrate: {e}\n")
        return 1
    if applied:
        sys.stdout.write(f"applied migrations: {', '.join(str(v) for v in applied)}\n")
    else:
        sys.stdout.write("the schema is up to date\n")
    return 0


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
