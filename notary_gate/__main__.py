"""Command line of the registry gate: ``python -m notary_gate --config gate-config.json``.

The flags are the other services' (:mod:`notary_runtime.cli`): ``--config``,
``--logf json|logfmt``, ``--version``. A bad configuration or TLS file is
reported before anything listens, with exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import ssl
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Final

import aiohttp
from aiohttp import web

import notary_tuf
from notary_gate.children import SignedChildren
from notary_gate.config import ConfigError, GateConfig, load_config
from notary_gate.dct import DCTVerifier
from notary_gate.metrics import GateMetrics
from notary_gate.policy import Policy
from notary_gate.proxy import GateState, create_app
from notary_gate.tls import client_context, server_context
from notary_gate.trust_fetch import TrustServerAPI
from notary_gate.tuf_client import TUFClient
from notary_runtime import cli
from notary_runtime.eventloop import new_event_loop
from notary_runtime.logs import setup_logging

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["PROG", "build_app", "build_parser", "main", "run"]

logger = logging.getLogger(__name__)

PROG: Final = "notary_gate"
LOG_FIELDS: Final = ("gun", "reference", "reason", "digest", "verifier")
"""Record attributes the log formatters write (a denial carries all of them)."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; parsing has no effect beyond the namespace it returns."""
    parser = cli.new_parser(
        PROG,
        "Registry gate: a reverse proxy that serves only images signed in the trust server.",
        f"{PROG} {notary_tuf.__version__}",
    )
    cli.add_config_flags(parser, config_help="path to gate-config.json")
    return parser


def build_app(config: GateConfig) -> web.Application:
    """The application for ``config``; its client sessions open and close with it."""
    registry_tls = client_context(config.registry_ca_file)
    trust_tls = client_context(config.trust_server_ca_file)
    state = GateState(
        registry_url=config.registry_url,
        registry_name=config.registry_name,
        policy=Policy(config.rules),
        metrics=GateMetrics(),
        children=SignedChildren(config.max_age),
    )

    async def sessions(_app: web.Application) -> AsyncIterator[None]:
        registry = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=registry_tls, limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300),
            auto_decompress=False,
        )
        trust = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=trust_tls),
            timeout=aiohttp.ClientTimeout(total=config.trust_server_timeout),
        )
        api = TrustServerAPI(trust, config.trust_server_url)
        verifier = DCTVerifier(
            TUFClient(api.fetch, pinned_root_keys=config.pinned_root_keys),
            max_age=config.max_age,
            fail_open=config.fail_open,
            health_probe=api.health,
        )
        state.start(registry, verifier)
        yield
        await registry.close()
        await trust.close()

    app = create_app(state)
    app.cleanup_ctx.append(sessions)
    return app


def run(config: GateConfig, ssl_context: ssl.SSLContext | None) -> None:
    """Serve until stopped (SIGINT/SIGTERM)."""
    loop = new_event_loop("auto")
    asyncio.set_event_loop(loop)
    web.run_app(
        build_app(config),
        host=config.host or None,
        port=config.port,
        ssl_context=ssl_context,
        loop=loop,
        print=None,
        access_log=None,
        handle_signals=True,
    )


def _serve(args: argparse.Namespace) -> int:
    if args.config is None:
        cli.report_error(PROG, "--config is required")
        return 2
    try:
        config = load_config(args.config, os.environ)
        ssl_context = server_context(config.tls) if config.tls is not None else None
        client_context(config.registry_ca_file)  # report bad CA files before serving
        client_context(config.trust_server_ca_file)
    except (ConfigError, OSError, ssl.SSLError) as e:
        cli.report_error(PROG, str(e))
        return 2
    setup_logging(config.logging_level, args.logf, context_fields=LOG_FIELDS)
    logger.info(
        "gate on %s://%s:%d for %s (registry %s, trust server %s, %d rule(s))",
        "https" if ssl_context is not None else "http",
        config.host or "0.0.0.0",  # noqa: S104 - only a log line
        config.port,
        config.registry_name,
        config.registry_url,
        config.trust_server_url,
        len(config.rules),
    )
    run(config, ssl_context)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and serve.

    Returns:
        The process exit status.
    """
    parser = build_parser()
    parser.set_defaults(handler=_serve)
    return cli.dispatch(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
