"""``/metrics`` behind auth or on its own listener (beyond Go, ADR 0012).

Go serves ``/metrics`` to anyone on the main listener; that stays the default.
``metrics.listen_addr`` moves it to a separate plain-HTTP listener (loopback
unless a host is given), and the main listener then answers it like any
unknown path. ``metrics.require_auth`` asks for a token granting
``registry:catalog:*`` wherever it is served; unset, it is on exactly when
token auth is (ADR 0018: an open ``/metrics`` beside token auth was a leak).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from notary_server.appkeys import CONFIG_KEY, METRICS_KEY
from notary_server.auth import controller as auth
from notary_server.errors import ApiError, ErrorCode

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from notary_server.metrics import ServerMetrics

__all__ = ["METRICS_PORT_KEY", "metrics_listener_ctx", "serve_metrics"]

logger = logging.getLogger(__name__)

METRICS_PORT_KEY: Final = web.AppKey("METRICS_PORT_KEY", int)
"""The port the separate metrics listener is bound to (set only when it runs)."""

_SOURCE_KEY: Final = web.AppKey("_SOURCE_KEY", web.Application)


def _exposition(metrics: ServerMetrics) -> web.Response:
    response = web.Response(body=generate_latest(metrics.registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


def _auth_required(app: web.Application) -> bool:
    config = app[CONFIG_KEY]
    return config.metrics.auth_required(config.auth is not None)


async def serve_metrics(request: web.Request) -> web.StreamResponse:
    """``GET /metrics`` on the main listener: Go's open route unless configured otherwise.

    Raises:
        ApiError: ``METADATA_NOT_FOUND`` when the metrics have their own listener.
    """
    config = request.app[CONFIG_KEY].metrics
    if config.listen_addr is not None:
        if (denied := auth.check_request(request, "", ())) is not None:
            return denied  # as for any unknown path
        raise ApiError(ErrorCode.METADATA_NOT_FOUND)
    if _auth_required(request.app) and (
        (denied := auth.check_request(request, "", ("*",))) is not None
    ):
        return denied
    return _exposition(request.app[METRICS_KEY])


async def _separate(request: web.Request) -> web.StreamResponse:
    source = request.app[_SOURCE_KEY]
    # The metrics application carries the main one's access controller.
    if _auth_required(source) and ((denied := auth.check_request(request, "", ("*",))) is not None):
        return denied
    return _exposition(source[METRICS_KEY])


async def metrics_listener_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the separate metrics listener for the application's lifetime, if configured."""
    config = app[CONFIG_KEY]
    address = config.metrics.listen_addr
    if address is None:
        yield
        return
    metrics_app = web.Application()
    metrics_app[_SOURCE_KEY] = app
    controller = app.get(auth.AUTH_KEY)
    if controller is not None:
        metrics_app[auth.AUTH_KEY] = controller
    metrics_app.router.add_get("/metrics", _separate)
    runner = web.AppRunner(metrics_app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, address[0], address[1], reuse_port=config.workers > 1)
        await site.start()
        app[METRICS_PORT_KEY] = int(runner.addresses[0][1])
        logger.info("serving /metrics on %s:%d", address[0], app[METRICS_PORT_KEY])
        yield
    finally:
        await runner.cleanup()
