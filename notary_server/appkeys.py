"""The typed application keys (aiohttp ``AppKey``), in one place."""

from __future__ import annotations

from aiohttp import web

from notary_server.config import ServerConfig
from notary_server.metrics import ServerMetrics
from notary_server.services.current import MetadataReader
from notary_server.storage.capabilities import Backend
from notary_server.trust.base import CryptoService

__all__ = ["ACTOR_KEY", "CONFIG_KEY", "CRYPTO_KEY", "METASTORE_KEY", "METRICS_KEY", "READER_KEY"]

CONFIG_KEY = web.AppKey("CONFIG_KEY", ServerConfig)
METASTORE_KEY = web.AppKey("METASTORE_KEY", Backend)
"""The store, with every capability (ADR 0031)."""
CRYPTO_KEY = web.AppKey("CRYPTO_KEY", CryptoService)
METRICS_KEY = web.AppKey("METRICS_KEY", ServerMetrics)
READER_KEY = web.AppKey("READER_KEY", MetadataReader)
"""The cached reader of the metadata GET routes (built on ``METASTORE_KEY``)."""

ACTOR_KEY = web.RequestKey("ACTOR_KEY", str)
"""Who made the request: the token subject once authenticated; unset means ``anonymous``."""
