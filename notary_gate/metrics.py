"""Prometheus metrics of the gate, in a registry of its own (no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["GateMetrics"]


class GateMetrics:
    """What the gate counts: manifest decisions by reason, trust loads, proxied requests."""

    def __init__(self) -> None:
        """Create the metrics in a fresh registry."""
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "manifest_decisions",
            "Manifest requests under an enforced prefix, by decision and reason.",
            ["decision", "reason"],
            namespace="notary_gate",
            registry=self.registry,
        )
        self.requests = Counter(
            "requests",
            "Requests proxied to the registry: enforced manifests or passed through.",
            ["kind"],
            namespace="notary_gate",
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "upstream_errors",
            "Requests the registry could not be asked for.",
            registry=self.registry,
            namespace="notary_gate",
        )
        self.verify_seconds = Histogram(
            "verify_duration_seconds",
            "Time to decide on a manifest (trust data from the cache or the trust server).",
            namespace="notary_gate",
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0),
        )

    def decided(self, *, allowed: bool, reason: str) -> None:
        """Count one decision."""
        self.decisions.labels("allowed" if allowed else "denied", reason).inc()
