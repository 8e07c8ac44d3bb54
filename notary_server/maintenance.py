"""Background maintenance in the server: re-signing, expiry gauges, retention (ADR 0009).

One cleanup context (:func:`maintenance_ctx`) starts two loops when the
configuration enables them:

* every ``resign.interval`` seconds, timestamps and server-managed snapshots
  close to expiry are re-signed (:mod:`notary_server.services.resign`) and the
  expiry gauges are refreshed (:mod:`notary_server.services.inventory`);
* every ``retention.interval`` seconds, old versions are deleted
  (:mod:`notary_server.services.retention`).

Each wait is jittered (between half and all of the interval), so replicas on
one database spread out; when two still race, one write wins and the other
backs off. A failing pass is logged and the loop goes on.

The passes share the event loop with the requests (ADR 0023): they are
incremental (a file's expiry is parsed once, when it becomes current, and kept
in a :class:`~notary_server.services.expiries.FileExpiries` across passes),
parse large files in a thread, and yield after each repository. A heartbeat
measures how late the loop ran during each pass; the figure is logged and
exported as ``notary_server_maintenance_loop_lag_seconds{pass}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from notary_server.appkeys import CONFIG_KEY, CRYPTO_KEY, METASTORE_KEY, METRICS_KEY
from notary_server.services.expiries import FileExpiries, scan_expiring
from notary_server.services.offloop import LoopLagProbe
from notary_server.services.resign import resign_all
from notary_server.services.retention import RetentionPolicy, apply_plan, plan_retention

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aiohttp import web

__all__ = ["maintenance_ctx", "resign_pass", "retention_pass"]

logger = logging.getLogger(__name__)


async def resign_pass(app: web.Application, expiries: FileExpiries | None = None) -> None:
    """Re-sign what is due, then refresh the expiry gauges; report the loop lag.

    ``expiries`` carries what earlier passes learnt (a fresh memo when None).
    """
    expiries = expiries if expiries is not None else FileExpiries()
    metrics = app[METRICS_KEY]
    parsed_before = expiries.parsed
    async with LoopLagProbe() as lag:
        count = await _resign_and_scan(app, expiries)
    expiries.sweep()  # forget the files no longer current
    metrics.loop_lag.labels("re-sign").set(lag.max_lag)
    logger.info(
        "re-sign pass: %d repositories, %d file(s) parsed, %d remembered, "
        "largest event loop delay %.1f ms",
        count,
        expiries.parsed - parsed_before,
        len(expiries),
        lag.max_lag * 1000,
    )


async def _resign_and_scan(app: web.Application, expiries: FileExpiries) -> int:
    config = app[CONFIG_KEY].maintenance
    store, metrics = app[METASTORE_KEY], app[METRICS_KEY]
    now = datetime.now(UTC)
    results = await resign_all(
        store, app[CRYPTO_KEY], now=now, fraction=config.remaining_fraction, expiries=expiries
    )
    for result in results:
        for update in result.stored:
            metrics.resigned.labels(update.role).inc()
    window = timedelta(days=config.expiry_window_days)
    items = await scan_expiring(store, expiries, now=now, within=window)
    buckets = sorted({0.0, 1.0, 7.0, config.expiry_window_days})
    kinds = ("root", "targets", "delegation", "root-certificate")
    counts: dict[str, int] = dict.fromkeys(kinds, 0)
    within: dict[tuple[str, float], int] = dict.fromkeys(
        ((kind, days) for kind in kinds for days in buckets), 0
    )
    if metrics.expires_at is not None:
        metrics.expires_at.clear()
    for item in items:
        kind = item.kind if item.kind in counts else "delegation"
        counts[kind] += 1
        for days in buckets:
            if item.expires <= now + timedelta(days=days):
                within[kind, days] += 1
        if metrics.expires_at is not None:  # metrics.gun_labels (ADR 0018)
            metrics.expires_at.labels(item.gun, kind, item.name).set(item.expires.timestamp())
    for kind, count in counts.items():
        metrics.expiring.labels(kind).set(count)
    for (kind, days), count in within.items():
        metrics.expiring_within.labels(kind, f"{days:g}").set(count)
    return len(results)


async def retention_pass(app: web.Application) -> None:
    """Delete old versions in every GUN under the configured policy."""
    config = app[CONFIG_KEY].maintenance
    store = app[METASTORE_KEY]
    policy = RetentionPolicy(keep_versions=config.keep_versions, keep_days=config.keep_days)
    deleted = 0
    async with LoopLagProbe() as lag:
        for gun in await store.list_guns():
            plan = await plan_retention(store, gun, policy, now=datetime.now(UTC))
            deleted += await apply_plan(store, plan)
            await asyncio.sleep(0)
    app[METRICS_KEY].loop_lag.labels("retention").set(lag.max_lag)
    app[METRICS_KEY].retention_deleted.inc(deleted)
    if deleted:
        logger.info("retention deleted %d old metadata file(s)", deleted)


async def _every(interval: float, name: str, job: Callable[[], Awaitable[None]]) -> None:
    while True:
        await asyncio.sleep(interval * random.uniform(0.5, 1.0))  # noqa: S311 - jitter only
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the %s pass failed; retrying at the next interval", name)


async def maintenance_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the enabled maintenance loops while the application runs."""
    config = app[CONFIG_KEY].maintenance
    expiries = FileExpiries()  # kept from pass to pass: each file is parsed once
    tasks = []
    if config.resign_enabled:
        tasks.append(
            asyncio.create_task(
                _every(config.resign_interval, "re-sign", lambda: resign_pass(app, expiries))
            )
        )
    if config.retention_enabled:
        tasks.append(
            asyncio.create_task(
                _every(config.retention_interval, "retention", lambda: retention_pass(app))
            )
        )
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
