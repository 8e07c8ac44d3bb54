"""The ping, health and metrics routes."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from notary_server.appkeys import CRYPTO_KEY, METASTORE_KEY, METRICS_KEY
from notary_server.storage import StorageError
from notary_server.trust.base import TrustServiceError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["health", "metrics", "ping"]

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


async def ping(request: web.Request, params: Mapping[str, str]) -> web.StreamResponse:  # noqa: ARG001
    """``GET /v2/``: clients probe it to find the server and its auth challenge."""
    return web.Response(body=b"{}", content_type="text/plain", charset="utf-8")


async def health(request: web.Request, params: Mapping[str, str]) -> web.StreamResponse:  # noqa: ARG001
    """``GET /_notary_server/health``: ``{}`` when storage and trust service work, else 503."""
    failures: dict[str, str] = {}
    try:
        await request.app[METASTORE_KEY].check_health()
    except StorageError as e:
        logger.warning("health check: storage: %s", e)
        failures["DB operational"] = "Cannot access the metadata store"
    try:
        await request.app[CRYPTO_KEY].check_health()
    except TrustServiceError as e:
        logger.warning("health check: trust service: %s", e)
        failures["Trust operational"] = "Cannot talk to the trust service"
    return web.Response(
        status=503 if failures else 200,
        body=json.dumps(failures, separators=(",", ":")).encode(),
        content_type="application/json",
        charset="utf-8",
    )


async def metrics(request: web.Request, params: Mapping[str, str]) -> web.StreamResponse:  # noqa: ARG001
    """``GET /metrics``: Prometheus text exposition of this process's registry."""
    body = generate_latest(request.app[METRICS_KEY].registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
