"""Prometheus metrics, one registry per application (no process-global state).

Go instruments each route with a summary in namespace ``notary_server``,
subsystem ``http``, labelled with the route's operation name.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Summary

if TYPE_CHECKING:
    from notary_server.cache import MetadataCache

__all__ = ["ServerMetrics"]


class ServerMetrics:
    """The metrics a server application records."""

    def __init__(self, *, gun_labels: bool = False) -> None:
        """Create the metrics in a fresh registry.

        Args:
            gun_labels: export each expiring item with its GUN and name
                (``metrics.gun_labels``; ADR 0018). Off, only counts are exported.
        """
        self.registry = CollectorRegistry()
        self.request_duration = Summary(
            "request_duration_seconds",
            "Time spent serving requests, by route operation.",
            ["operation"],
            namespace="notary_server",
            subsystem="http",
            registry=self.registry,
        )
        self.requests = Counter(
            "requests",
            "Requests served, by route operation and status code.",
            ["operation", "code"],
            namespace="notary_server",
            subsystem="http",
            registry=self.registry,
        )
        # (operation, status) -> the two labelled children: looking a child up
        # takes a lock and builds a label tuple, on every request otherwise.
        self._request_children: dict[tuple[str, int], tuple[Any, Any]] = {}
        # Beyond Go: the background maintenance (notary_server.maintenance, ADR 0009).
        self.expiring = Gauge(
            "expiring_items",
            "Roots, targets, delegations and root certificates expiring within the window.",
            ["kind"],
            namespace="notary_server",
            subsystem="maintenance",
            registry=self.registry,
        )
        self.expiring_within = Gauge(
            "expiring_items_within",
            "Items of a kind expiring within the given number of days (0: expired already).",
            ["kind", "days"],
            namespace="notary_server",
            subsystem="maintenance",
            registry=self.registry,
        )
        # Labels naming repositories only when the operator asks (metrics.gun_labels).
        self.expires_at = (
            Gauge(
                "expires_timestamp_seconds",
                "When each item expiring within the window expires (Unix seconds).",
                ["gun", "kind", "name"],
                namespace="notary_server",
                subsystem="maintenance",
                registry=self.registry,
            )
            if gun_labels
            else None
        )
        self.resigned = Counter(
            "resigned_files",
            "Timestamps and snapshots re-signed ahead of expiry, by role.",
            ["role"],
            namespace="notary_server",
            subsystem="maintenance",
            registry=self.registry,
        )
        self.loop_lag = Gauge(
            "loop_lag_seconds",
            "The event loop's largest delay past its heartbeat during the last pass (ADR 0023).",
            ["pass"],
            namespace="notary_server",
            subsystem="maintenance",
            registry=self.registry,
        )
        self.retention_deleted = Counter(
            "retention_deleted_files",
            "Old metadata versions deleted by the periodic retention run.",
            namespace="notary_server",
            subsystem="maintenance",
            registry=self.registry,
        )
        # Beyond Go: this process's metadata cache (ADR 0011, 0015), read when scraped.
        cache_gauge = functools.partial(
            Gauge, namespace="notary_server", subsystem="metadata_cache", registry=self.registry
        )
        self.cache_bytes = cache_gauge(
            "bytes", "Bytes the metadata cache holds, charged against metadata_cache.max_bytes."
        )
        self.cache_max_bytes = cache_gauge(
            "max_bytes", "The metadata cache's budget (metadata_cache.max_bytes)."
        )
        self.cache_entries = cache_gauge(
            "entries",
            "Entries the metadata cache holds: current chains, immutable files.",
            ["kind"],
        )
        self.cache_warmed = cache_gauge(
            "warmed_chains", "Current chains the start-up warm-up stored."
        )
        self.cache_lookups = cache_gauge(
            "lookups",
            "Cache lookups since this process started, by result (hit, miss).",
            ["result"],
        )

    def observe_request(self, operation: str, status: int, seconds: float) -> None:
        """Count one answered request of a route and record how long it took."""
        children = self._request_children.get((operation, status))
        if children is None:  # one entry per route and status: the table stays small
            children = (
                self.request_duration.labels(operation),
                self.requests.labels(operation, str(status)),
            )
            self._request_children[(operation, status)] = children
        duration, count = children
        duration.observe(seconds)
        count.inc()

    def watch_cache(self, cache: MetadataCache) -> None:
        """Report ``cache``'s size on every scrape (nothing is counted per request)."""
        self.cache_bytes.set_function(lambda: cache.size_bytes)
        self.cache_max_bytes.set(cache.max_bytes)
        self.cache_entries.labels("chain").set_function(lambda: cache.chain_count)
        self.cache_entries.labels("file").set_function(lambda: cache.file_count)
        self.cache_lookups.labels("hit").set_function(lambda: cache.hits)
        self.cache_lookups.labels("miss").set_function(lambda: cache.misses)
