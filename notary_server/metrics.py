"""Prometheus metrics, one registry per application (no process-global state).

Go instruments each route with a summary in namespace ``notary_server``,
subsystem ``http``, labelled with the route's operation name.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Summary

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
