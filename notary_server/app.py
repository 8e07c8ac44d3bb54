"""The aiohttp application: wiring, lifecycle and request dispatch.

``create_app(config)`` opens the store and the trust service in cleanup
contexts (closed in reverse order on shutdown) and checks at startup what Go
only notices per request. Tests pass their own ``store``/``crypto``.

Requests go through one catch-all aiohttp route to :func:`dispatch`, which
applies Go's route table (:mod:`notary_server.routes`) with gorilla/mux's
semantics, the GUN-prefix filter, token auth (:mod:`notary_server.auth`) and
the Cache-Control policy.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from notary_server.appkeys import CONFIG_KEY, CRYPTO_KEY, METASTORE_KEY, METRICS_KEY, READER_KEY
from notary_server.auth import controller as auth
from notary_server.console.mount import install_console
from notary_server.errors import NO_DETAIL, ApiError, ErrorCode
from notary_server.gun import WRITE_METHODS, gun_problem, write_path_problem
from notary_server.handlers import health
from notary_server.handlers.keys import KEY_MINTING_KEY
from notary_server.limits import LIMITER_KEY, RateLimiter
from notary_server.maintenance import maintenance_ctx
from notary_server.metrics import ServerMetrics
from notary_server.metrics_listener import metrics_listener_ctx, serve_metrics
from notary_server.middlewares import OPERATION_KEY, request_middleware
from notary_server.routes import CATCH_ALL_METHODS, clean_path, match_route
from notary_server.services.current import open_reader
from notary_server.services.keys import KeyCreationBudget, KeyMinting
from notary_server.services.warm import warm_chains
from notary_server.storage import StorageError, open_store
from notary_server.trust.local import LocalCryptoService
from notary_server.trust.remote import open_remote

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from notary_server.config import CachingConfig, MetadataCacheConfig, ServerConfig
    from notary_server.routes import CacheKind
    from notary_server.services.current import MetadataReader
    from notary_server.storage.capabilities import Backend
    from notary_server.trust.base import CryptoService

__all__ = ["create_app", "dispatch"]

logger = logging.getLogger(__name__)

_ZERO_TIME = "Mon, 01 Jan 0001 00:00:00 UTC"


def _cache_headers(response: web.StreamResponse, kind: CacheKind, caching: CachingConfig) -> None:
    """Apply Go's Cache-Control policy to a 200 response (``utils/http.go``)."""
    if "Cache-Control" in response.headers:
        return
    if kind == "current":
        max_age, must_revalidate = caching.current_metadata, True
    else:
        max_age, must_revalidate = caching.consistent_metadata, False
    if max_age <= 0:
        response.headers["Cache-Control"] = "max-age=0, no-cache, no-store"
        response.headers["Pragma"] = "no-cache"
        return
    value = f"public, max-age={max_age}, s-maxage={max_age}"
    if must_revalidate:
        value += ", must-revalidate"
    response.headers["Cache-Control"] = value
    response.headers.popall("Pragma", None)
    response.headers.setdefault("Last-Modified", _ZERO_TIME)


def _check_gun_prefix(gun: str, prefixes: tuple[str, ...], error: ErrorCode) -> None:
    if (problem := gun_problem(gun)) is not None:  # a GUN no store can hold (ADR 0012)
        raise ApiError(error, problem if error is ErrorCode.INVALID_GUN else NO_DETAIL)
    if not prefixes or any(gun.startswith(prefix) for prefix in prefixes):
        return
    detail = f"Require GUNs with prefix: [{' '.join(prefixes)}]"
    raise ApiError(error, detail if error is ErrorCode.INVALID_GUN else NO_DETAIL)


def _check_write_path(request: web.Request, path: str, cleaned: str) -> None:
    """A write to an ambiguous path is refused (400 ``INVALID_GUN``), never redirected."""
    if request.method not in WRITE_METHODS:
        return
    if (problem := write_path_problem(request.rel_url.raw_path, path, cleaned)) is not None:
        raise ApiError(ErrorCode.INVALID_GUN, problem)


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Route a request the way Go's gorilla/mux router does."""
    path = request.path
    cleaned = clean_path(path)
    _check_write_path(request, path, cleaned)  # beyond Go (ADR 0018)
    if cleaned != path:
        location = request.rel_url.with_path(cleaned, keep_query=True)  # Go keeps the query
        return web.Response(status=301, headers={"Location": str(location)})
    found = match_route(request.method, path)
    if found is None:
        if request.method in CATCH_ALL_METHODS:
            if (denied := auth.check_request(request, "", ())) is not None:
                return denied
            raise ApiError(ErrorCode.METADATA_NOT_FOUND)
        return web.Response(status=405)
    route, params = found
    if route.handler is health.metrics:  # beyond Go: maybe elsewhere or behind auth
        return await serve_metrics(request)
    request[OPERATION_KEY] = route.operation
    config = request.app[CONFIG_KEY]
    if route.prefix_error is not None and "gun" in params:
        _check_gun_prefix(params["gun"], config.gun_prefixes, route.prefix_error)
    if route.authenticated:  # after the GUN-prefix filter, as Go's wrapper chain
        denied = auth.check_request(request, params.get("gun", ""), route.actions)
        if denied is not None:
            return denied
    response = await route.handler(request, params)
    if route.cache is not None and response.status in (200, 304):  # a 304 repeats them
        _cache_headers(response, route.cache, config.caching)
    return response


def create_app(
    config: ServerConfig,
    *,
    store: Backend | None = None,
    crypto: CryptoService | None = None,
) -> web.Application:
    """Build the application.

    Args:
        config: the server configuration.
        store: a store to use instead of opening ``config.storage`` (the caller
            keeps ownership and closes it).
        crypto: a trust service to use instead of building ``config.trust_service``.

    Returns:
        The application, ready for ``web.run_app`` or a test client.
    """
    app = web.Application(
        middlewares=[request_middleware],
        # Bodies are read as sent, as Go reads them: a compressed upload is
        # refused (notary_server.multipart, ADR 0018), never inflated.
        handler_args={"auto_decompress": False},
        # Uploads are streamed under config.limits (notary_server.multipart); this
        # bounds any other body read in full.
        client_max_size=config.limits.max_body_bytes,
    )
    app[CONFIG_KEY] = config
    limits = config.limits
    if limits.rate_per_second > 0:
        app[LIMITER_KEY] = RateLimiter(
            limits.rate_per_second, limits.burst, clients=limits.rate_clients
        )
    budget = None
    if limits.key_creation_per_second > 0:  # on by default, also without the rate limit
        budget = KeyCreationBudget(
            limits.key_creation_per_second, limits.key_creation_burst, clients=limits.rate_clients
        )
    app[KEY_MINTING_KEY] = KeyMinting(budget)
    app[METRICS_KEY] = ServerMetrics(gun_labels=config.metrics.gun_labels)

    async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
        if store is not None:
            app[METASTORE_KEY] = store
            yield
            return
        opened = await open_store(config.storage.backend, config.storage.db_url)
        try:
            await opened.check_health()
        except StorageError:
            await opened.close()
            raise
        app[METASTORE_KEY] = opened
        yield
        await opened.close()

    async def trust_ctx(app: web.Application) -> AsyncIterator[None]:
        if crypto is not None:
            app[CRYPTO_KEY] = crypto
            yield
            return
        service = _build_trust_service(config)
        app[CRYPTO_KEY] = service
        yield
        await service.close()

    async def reader_ctx(app: web.Application) -> AsyncIterator[None]:
        # The cache and its change tracker; then, before the port is served, the warm-up.
        reader = await open_reader(app[METASTORE_KEY], config.metadata_cache.max_bytes)
        app[METRICS_KEY].watch_cache(reader.cache)
        await _warm(reader, config.metadata_cache, app[METRICS_KEY])
        app[READER_KEY] = reader
        yield
        await reader.close()

    app.cleanup_ctx.append(storage_ctx)
    app.cleanup_ctx.append(reader_ctx)
    app.cleanup_ctx.append(trust_ctx)
    app.cleanup_ctx.append(maintenance_ctx)  # re-signing, expiry gauges, retention (ADR 0009)
    app.cleanup_ctx.append(metrics_listener_ctx)  # only when metrics.listen_addr is set
    auth.install(app, config.auth)  # before the catch-all: the built-in issuer's route
    install_console(app, config)  # when console.enabled (ADR 0026); before the catch-all too
    # [\s\S]: a decoded path may hold a newline, which "." would not match (aiohttp 404).
    app.router.add_route("*", r"/{path:[\s\S]*}", dispatch)
    return app


async def _warm(
    reader: MetadataReader, config: MetadataCacheConfig, metrics: ServerMetrics
) -> None:
    if config.warm_seconds <= 0 or config.max_bytes <= 0:
        return
    try:
        warmed = await warm_chains(reader, max_seconds=config.warm_seconds)
    except StorageError as e:  # the cache fills on demand instead
        logger.warning("metadata cache warm-up failed: %s", e)
    else:
        metrics.cache_warmed.set(warmed.chains)


def _build_trust_service(config: ServerConfig) -> CryptoService:
    if config.trust_service.type == "local":
        logger.info("using the local trust service: ed25519 keys in memory, lost on restart")
        return LocalCryptoService()
    return open_remote(config.trust_service)
