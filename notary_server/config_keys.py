"""The keys ``server-config.json`` may hold: what the loader warns about when it meets others.

Kept apart from :mod:`notary_server.config`, which reads and checks the values;
``tests/server/test_config_keys.py`` checks that the two agree.
"""

from __future__ import annotations

from typing import Final

from notary_server.console.settings import CONSOLE_KEYS

__all__ = ["KNOWN_KEYS", "OPEN_SECTIONS"]

KNOWN_KEYS: Final = frozenset(
    {
        # Go's keys (cmd/notary-server/config.go, utils/configuration.go)
        "server.http_addr",
        "server.tls_cert_file",
        "server.tls_key_file",
        "server.client_ca_file",
        "trust_service.type",
        "trust_service.key_algorithm",
        "trust_service.hostname",
        "trust_service.port",
        "trust_service.tls_ca_file",
        "trust_service.tls_client_cert",
        "trust_service.tls_client_key",
        "storage.backend",
        "storage.db_url",
        "storage.tls_ca_file",  # Go's rethinkdb keys: read by Go, not used here
        "storage.client_cert_file",
        "storage.client_key_file",
        "storage.database",
        "storage.username",
        "storage.password",
        "logging.level",
        "caching.max_age.current_metadata",
        "caching.max_age.consistent_metadata",
        "repositories.gun_prefixes",
        "auth.type",
        "auth.options.realm",
        "auth.options.service",
        "auth.options.issuer",
        "auth.options.rootcertbundle",
        "auth.options.autoredirect",
        # beyond Go
        "auth.options.htpasswd",
        "auth.options.issuer_key",
        "auth.options.issuer_cert",
        "auth.options.token_ttl",
        "auth.options.login_client_burst",
        "auth.options.login_client_per_minute",
        "auth.options.login_user_burst",
        "auth.options.login_user_per_minute",
        "auth.options.login_limit_entries",
        "auth.options.access",
        "server.workers",
        "server.event_loop",
        "resign.enabled",
        "resign.interval",
        "resign.remaining_fraction",
        "expiry.window_days",
        "retention.enabled",
        "retention.interval",
        "retention.keep_versions",
        "retention.keep_days",
        "limits.max_body_bytes",
        "limits.max_parts",
        "limits.max_metadata_bytes",
        "limits.max_targets_per_file",
        "limits.max_changefeed_records",
        "limits.rate.requests_per_second",
        "limits.rate.burst",
        "limits.rate.clients",
        "limits.key_creation.per_second",
        "limits.key_creation.burst",
        "metrics.listen_addr",
        "metrics.require_auth",
        "metrics.gun_labels",
        "metadata_cache.max_bytes",
        "metadata_cache.warm_seconds",
    }
    | CONSOLE_KEYS  # the operator console's (ADR 0026)
)
"""Every key the server reads (lower case); any other key in the file is warned about."""

OPEN_SECTIONS: Final = ("reporting",)
"""Go's sections whose contents are not checked (``reporting.bugsnag``: Go's, unused here)."""
