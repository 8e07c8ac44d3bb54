"""Cache coherence across processes, replicas and workers (issue #8)."""
