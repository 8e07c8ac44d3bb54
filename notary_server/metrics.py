"""Prometheus metrics, one registry per application (no process-global state).

Go instruments each route with a summary in namespace ``notary_server``,
subsystem ``http``, labelled with the route's operation name.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Summary

__all__ = ["ServerMetrics"]


class ServerMetrics:
    """The metrics a server application records."""

    def __init__(self) -> None:
        """Create the metrics in a fresh registry."""
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
        # Beyond Go: the background maintenance (notary_server.maintenance, ADR 0009).
        self.expiring = Gauge(
            "expiring_items",
            "Roots, targets, delegations and root certificates expiring within the window.",
            ["kind"],
            namespace="notary_server",
            subsystem="maintenance",
            registry=self.registry,
        )
        self.expires_at = Gauge(
            "expires_timestamp_seconds",
            "When each item expiring within the window expires (Unix seconds).",
            ["gun", "kind", "name"],
            namespace="notary_server",
            subsystem="maintenance",
            registry=self.registry,
        )
        self.resigned = Counter(
            "resigned_files",
            "Timestamps and snapshots re-signed ahead of expiry, by role.",
            ["role"],
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
