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
import errno
import logging
import os
import ssl
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import notary_tuf
from notary_proto import GO_NOTARY_VERSION
from notary_runtime import cli
from notary_runtime.eventloop import resolve_event_loop
from notary_runtime.logs import LOG_FORMATS
from notary_server.admin.parser import add_admin_parser
from notary_server.config import ConfigError, ServerConfig, load_config
from notary_server.logs import setup_logging

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["LOG_FORMATS", "PROG", "build_parser", "main", "run", "version_string"]

logger = logging.getLogger(__name__)

PROG = "notary_server"


def version_string() -> str:
    """Return what ``--version`` prints."""
    return cli.version_string(PROG, notary_tuf.__version__, GO_NOTARY_VERSION)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser; parsing has no effect beyond the namespace it returns."""
    parser = cli.new_parser(
        PROG, "Notary server: the TUF metadata API for Docker Content Trust.", version_string()
    )
    cli.add_config_flags(
        parser, config_help="path to the configuration file (Go's server-config.json format)"
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
    add_admin_parser(commands)  # operator tooling (ADR 0009)
    return parser


def _check_workers_port(config: ServerConfig) -> None:
    """Several workers need a fixed port that nothing else holds.

    Raises:
        ConfigError: the port is 0.
        OSError: the port is taken.
    """
    from notary_server.workers import check_port_free  # noqa: PLC0415

    if config.port == 0:
        raise ConfigError("server.workers: several workers need a fixed port")
    check_port_free(config.host, config.port)


CONFIG_REQUIRED = (
    "a configuration file is required: --config FILE "
    "(`make run` writes one to notary-data/server-config.json; see the README)"
)


def run(config_path: Path | None, *, log_format: str = "json") -> int:
    """Load the configuration, set up logging and serve until stopped.

    With ``server.workers`` above 1 (beyond Go), this process supervises that
    many worker processes serving the same port (:mod:`notary_server.workers`).
    ``SIGHUP`` reloads the TLS certificate without dropping connections.

    Args:
        config_path: The configuration file (required, as Go's ``-config``: ADR 0025).
        log_format: One of :data:`LOG_FORMATS`.

    Returns:
        The process exit status: 2 for a bad configuration, 1 when serving
        could not start (one line on standard error says why and what to do).
    """
    from notary_server.workers import serve, supervise  # noqa: PLC0415

    config = _checked_config(config_path)
    if isinstance(config, int):
        return config
    assert config_path is not None
    setup_logging(config.logging_level, log_format)
    logger.info(
        "starting %d worker process(es) on the %s event loop",
        config.workers,
        resolve_event_loop(config.event_loop),
    )
    try:
        if config.workers == 1:
            serve(config)
            return 0
        return supervise(lambda: serve(config, reuse_port=True), config.workers)
    except Exception as e:
        logger.debug("start-up failed", exc_info=True)  # the traceback at debug level only
        cli.report_error(PROG, startup_problem(e, config_path, _address(config)))
        return 1


def _checked_config(config_path: Path | None) -> ServerConfig | int:
    """The configuration, with its TLS files and port checked; or the exit status."""
    from notary_server.workers import make_ssl_context  # noqa: PLC0415

    if config_path is None:
        cli.report_error(PROG, CONFIG_REQUIRED)
        return 2
    try:
        config = load_config(config_path, os.environ, warn=_warn)
        if config.tls is not None:
            make_ssl_context(config.tls)  # report bad TLS files before serving
    except (ConfigError, ssl.SSLError) as e:
        cli.report_error(PROG, str(e))
        return 2
    if config.workers > 1:
        try:
            _check_workers_port(config)
        except ConfigError as e:
            cli.report_error(PROG, str(e))
            return 2
        except OSError as e:
            cli.report_error(PROG, startup_problem(e, config_path, _address(config)))
            return 1
    return config


def _address(config: ServerConfig) -> str:
    return f"{config.host or '0.0.0.0'}:{config.port}"  # noqa: S104 - only a message


def _warn(message: str) -> None:
    """Say on standard error what the configuration holds that is ignored (before logging)."""
    cli.report_error(PROG, f"warning: {message}")


def startup_problem(error: BaseException, config_path: Path, address: str) -> str:
    """One line that says why serving could not start, and what to do next.

    Args:
        error: what start-up raised.
        config_path: the configuration file (named in the hint to migrate).
        address: ``host:port`` the server was to listen on.
    """
    from notary_server.storage import StorageError  # noqa: PLC0415 - see run()

    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {address}: address already in use "
            "(is another notary-server running?)"
        )
    if isinstance(error, StorageError) and MISSING_SCHEMA in str(error):
        return (
            f"{error}: the database has no notary schema yet; create it with "
            f"`python -m notary_server migrate --config {config_path}`"
        )
    if isinstance(error, StorageError):
        return f"storage: {error}"
    if isinstance(error, OSError):
        return f"cannot serve: {error.strerror or error}"
    return f"cannot serve: {type(error).__name__}: {error}"


MISSING_SCHEMA = "Cannot access table"
"""How the stores' health checks (Go's wording) say the schema is missing."""


def _migrate(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, os.environ)
    except ConfigError as e:
        cli.report_error(PROG, str(e))
        return 2
    if config.storage.backend == "memory":
        sys.stdout.write("memory storage has no schema to migrate\n")
        return 0
    from notary_server.storage import StorageError  # noqa: PLC0415 - see run()
    from notary_server.storage.migrate import migrate  # noqa: PLC0415

    try:
        applied = asyncio.run(migrate(config.storage.backend, config.storage.db_url))
    except StorageError as e:
        cli.report_error(PROG, f"migrate: {e}")
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
    return cli.dispatch(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
