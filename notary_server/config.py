"""``server-config.json``: Go notary-server's configuration file, read the same way.

Keys, defaults and environment overrides are Go's (``cmd/notary-server/config.go``,
``utils/configuration.go``): every key can be overridden by
``NOTARY_SERVER_<KEY>`` with dots as underscores, upper-cased
(``NOTARY_SERVER_STORAGE_DB_URL``), and relative file paths resolve against the
configuration file's directory. Everything is checked here, at load time, and a
problem raises :class:`ConfigError` naming the key.

Only ``__main__`` calls :func:`load_config`; everything else receives the
resulting frozen :class:`ServerConfig`.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from notary_runtime.config import ConfigReader, unknown_key_warnings
from notary_runtime.eventloop import EVENT_LOOP_KINDS, EventLoopKind, uvloop_available
from notary_runtime.logs import LEVELS
from notary_server.auth.access import AccessRule, AccessRuleError, parse_access_rules
from notary_server.auth.certs import (
    CertificateError,
    IssuerError,
    load_root_bundle,
    load_signing_material,
)
from notary_server.auth.htpasswd import Htpasswd, HtpasswdError
from notary_server.auth.login_limit import (
    DEFAULT_CLIENT_BURST,
    DEFAULT_CLIENT_PER_MINUTE,
    DEFAULT_LIMIT_ENTRIES,
    DEFAULT_USER_BURST,
    DEFAULT_USER_PER_MINUTE,
)
from notary_server.cache import DEFAULT_MAX_BYTES
from notary_server.config_keys import KNOWN_KEYS, OPEN_SECTIONS
from notary_server.console.settings import ConsoleConfig, read_console
from notary_server.limit_settings import LimitsConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from cryptography import x509

__all__ = [
    "KNOWN_KEYS",
    "OPEN_SECTIONS",
    "CachingConfig",
    "ConfigError",
    "LimitsConfig",
    "MaintenanceConfig",
    "MetricsConfig",
    "ServerConfig",
    "StorageConfig",
    "TLSConfig",
    "TokenAuthConfig",
    "TrustServiceConfig",
    "load_config",
    "parse_address",
]

ENV_PREFIX: Final = "NOTARY_SERVER_"
STORAGE_BACKENDS: Final = ("memory", "sqlite3", "postgres")
UNSUPPORTED_BACKENDS: Final = ("mysql", "rethinkdb")
KEY_ALGORITHMS: Final = ("ecdsa", "ed25519", "rsa")
MAX_CACHE_AGE: Final = 31_536_000
DEFAULT_CURRENT_MAX_AGE: Final = 300
DEFAULT_CONSISTENT_MAX_AGE: Final = 2_592_000
MAX_WORKERS: Final = 64
DEFAULT_TOKEN_TTL: Final = 300
MAX_TOKEN_TTL: Final = 86_400
_RESERVED_PATHS: Final = ("/v2", "/_notary_server/health", "/metrics")

logger = logging.getLogger(__name__)


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and the reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TLSConfig:
    """A certificate and key to serve with, and optionally a CA that client certificates need."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustServiceConfig:
    """``trust_service``: where timestamp and snapshot keys live."""

    type: str
    key_algorithm: str
    hostname: str = ""
    port: str = ""
    tls_ca_file: Path | None = None
    tls_client_cert: Path | None = None
    tls_client_key: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageConfig:
    """``storage``: Go's backend name and DSN."""

    backend: str
    db_url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CachingConfig:
    """``caching.max_age``: Cache-Control lifetimes in seconds (0 = no caching)."""

    current_metadata: int = DEFAULT_CURRENT_MAX_AGE
    consistent_metadata: int = DEFAULT_CONSISTENT_MAX_AGE


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenAuthConfig:
    """``auth.options`` for ``auth.type`` "token" (Go's docker/distribution token auth).

    ``htpasswd``, ``issuer_key`` and ``issuer_cert`` (all or none) enable the
    built-in token issuer at :attr:`issuer_path` (beyond Go, ADR 0008). Its failed
    logins are limited per client address (``login_client_burst``,
    ``login_client_per_minute``) and per user name (``login_user_burst``,
    ``login_user_per_minute``), each table keeping at most ``login_limit_entries``
    buckets; a burst of 0 turns that limit off.
    """

    realm: str
    service: str
    issuer: str
    root_cert_bundle: Path
    autoredirect: bool = False
    htpasswd: Path | None = None
    issuer_key: Path | None = None
    issuer_cert: Path | None = None
    token_ttl: int = DEFAULT_TOKEN_TTL
    login_client_burst: int = DEFAULT_CLIENT_BURST
    login_client_per_minute: float = DEFAULT_CLIENT_PER_MINUTE
    login_user_burst: int = DEFAULT_USER_BURST
    login_user_per_minute: float = DEFAULT_USER_PER_MINUTE
    login_limit_entries: int = DEFAULT_LIMIT_ENTRIES
    access: tuple[AccessRule, ...] | None = None
    """``auth.options.access``: what the built-in issuer grants whom (ADR 0027); None:
    every signed-in user gets what it asks for, anonymous requests nothing."""

    @property
    def builtin_issuer(self) -> bool:
        """Whether this server also issues tokens."""
        return self.htpasswd is not None

    @property
    def issuer_path(self) -> str:
        """The built-in issuer's path: the realm's (``/auth/token`` with autoredirect)."""
        return "/auth/token" if self.autoredirect else urlsplit(self.realm).path


@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenanceConfig:
    """Beyond Go: the background re-signing, retention and expiry scans (ADR 0009).

    Keys: ``resign.enabled`` (default true), ``resign.interval`` (seconds
    between scans, default 3600), ``resign.remaining_fraction`` (re-sign when
    less than this share of the default lifetime remains, default 1/3),
    ``expiry.window_days`` (what the expiry gauges count, default 30),
    ``retention.enabled`` (default false), ``retention.interval`` (default
    86400), ``retention.keep_versions`` (default 10), ``retention.keep_days``
    (default 30).
    """

    resign_enabled: bool = True
    resign_interval: float = 3600.0
    remaining_fraction: float = 1 / 3
    expiry_window_days: float = 30.0
    retention_enabled: bool = False
    retention_interval: float = 86400.0
    keep_versions: int = 10
    keep_days: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsConfig:
    """``metrics`` (beyond Go, ADR 0012): where ``/metrics`` is served and who may read it.

    By default it is open on the main listener, as in Go. ``listen_addr``
    (``host:port``; an empty host means loopback) serves it on its own plain
    HTTP listener instead, and the main listener no longer answers it.
    ``require_auth`` asks for a token with ``registry:catalog:*`` (needs token
    auth); unset (None), it is on exactly when token auth is (ADR 0018).
    ``gun_labels`` exports each expiring item's GUN and role name as labels
    (``notary_server_maintenance_expires_timestamp_seconds``); off by default,
    since they name repositories and their number is the publishers' to choose.
    """

    listen_addr: tuple[str, int] | None = None
    require_auth: bool | None = None
    gun_labels: bool = False

    def auth_required(self, token_auth: bool) -> bool:  # noqa: FBT001 - one obvious flag
        """Whether ``/metrics`` asks for a token, given whether token auth is configured."""
        return token_auth if self.require_auth is None else self.require_auth


@dataclass(frozen=True, slots=True, kw_only=True)
class MetadataCacheConfig:
    """``metadata_cache`` (beyond Go, ADR 0015): each process's cache of metadata files.

    ``max_bytes`` bounds what one process keeps (default 128 MiB; 0 keeps
    nothing). ``warm_seconds`` is how long a process may spend loading current
    chains from the database before it accepts connections (default 10; 0 turns
    warming off).
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    warm_seconds: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    """The whole server configuration."""

    host: str
    port: int
    tls: TLSConfig | None
    trust_service: TrustServiceConfig
    storage: StorageConfig
    caching: CachingConfig = field(default_factory=CachingConfig)
    gun_prefixes: tuple[str, ...] = ()
    logging_level: str = "error"
    auth: TokenAuthConfig | None = None
    workers: int = 1
    """``server.workers`` (beyond Go): processes serving the port (SO_REUSEPORT)."""
    event_loop: EventLoopKind = "auto"
    """``server.event_loop`` (beyond Go, ADR 0016): ``auto`` (uvloop where installed),
    ``uvloop`` or ``asyncio``."""
    maintenance: MaintenanceConfig = field(default_factory=MaintenanceConfig)
    """``resign``, ``retention``, ``expiry`` (beyond Go): background maintenance."""
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    """``limits`` (beyond Go, ADR 0012): request sizes, counts and rate."""
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    """``metrics`` (beyond Go, ADR 0012): a separate listener and/or auth for ``/metrics``."""
    metadata_cache: MetadataCacheConfig = field(default_factory=MetadataCacheConfig)
    """``metadata_cache`` (beyond Go, ADR 0015): the cache's budget and warm-up."""
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    """``console`` (beyond Go, ADR 0026): the operator console."""


class _Reader(ConfigReader):
    """Looks keys up in the file, with ``NOTARY_SERVER_*`` overrides (viper's rule).

    :class:`notary_runtime.config.ConfigReader` (shared with the signer) with
    this file's prefix and :class:`ConfigError`.
    """

    def __init__(self, document: Mapping[str, Any], environ: Mapping[str, str], base: Path) -> None:
        super().__init__(document, environ, base, env_prefix=ENV_PREFIX, error=ConfigError)


def parse_address(address: str, key: str = "server.http_addr") -> tuple[str, int]:
    """Split Go's ``host:port`` (``:4443`` = every interface).

    Raises:
        ConfigError: not ``host:port`` with a valid port.
    """
    host, sep, port_text = address.rpartition(":")
    if not sep:
        raise ConfigError(f"{key}: {address!r} is not host:port")
    try:
        port = int(port_text)
    except ValueError as e:
        raise ConfigError(f"{key}: {address!r} has no valid port") from e
    if not 0 <= port <= 65535:  # noqa: PLR2004 - TCP port range
        raise ConfigError(f"{key}: port {port} is out of range")
    return host.strip("[]"), port


def _tls(reader: _Reader) -> TLSConfig | None:
    cert, key = reader.path("server.tls_cert_file"), reader.path("server.tls_key_file")
    client_ca = reader.path("server.client_ca_file")
    if cert is None and key is None:
        if client_ca is not None:
            raise ConfigError("server.client_ca_file: needs server.tls_cert_file and tls_key_file")
        return None
    if cert is None or key is None:
        raise ConfigError("server.tls_cert_file and server.tls_key_file must be set together")
    for name, path in (
        ("tls_cert_file", cert),
        ("tls_key_file", key),
        ("client_ca_file", client_ca),
    ):
        if path is not None and not path.is_file():
            raise ConfigError(f"server.{name}: {path} does not exist")
    return TLSConfig(cert_file=cert, key_file=key, client_ca_file=client_ca)


def _trust_service(reader: _Reader) -> TrustServiceConfig:
    kind = reader.string("trust_service.type")
    if kind == "local":
        # Go's local service only makes ed25519 keys and ignores the other keys.
        return TrustServiceConfig(type="local", key_algorithm="ed25519")
    if kind != "remote":
        raise ConfigError('trust_service.type: must be either "local" or "remote"')
    algorithm = reader.string("trust_service.key_algorithm")
    if algorithm not in KEY_ALGORITHMS:
        raise ConfigError(f"trust_service.key_algorithm: invalid key algorithm {algorithm!r}")
    client_cert = reader.path("trust_service.tls_client_cert")
    client_key = reader.path("trust_service.tls_client_key")
    if (client_cert is None) != (client_key is None):
        raise ConfigError(
            "trust_service.tls_client_cert and trust_service.tls_client_key must be set together"
        )
    hostname = reader.string("trust_service.hostname")
    if not hostname:
        raise ConfigError("trust_service.hostname: required for a remote trust service")
    return TrustServiceConfig(
        type="remote",
        key_algorithm=algorithm,
        hostname=hostname,
        port=reader.string("trust_service.port"),
        tls_ca_file=reader.path("trust_service.tls_ca_file"),
        tls_client_cert=client_cert,
        tls_client_key=client_key,
    )


def _storage(reader: _Reader) -> StorageConfig:
    backend = reader.string("storage.backend")
    if backend in UNSUPPORTED_BACKENDS:
        raise ConfigError(f"storage.backend: {backend} is not supported (use postgres or sqlite3)")
    if backend not in STORAGE_BACKENDS:
        raise ConfigError(f"storage.backend: must be one of {', '.join(STORAGE_BACKENDS)}")
    db_url = reader.string("storage.db_url")
    if backend != "memory" and not db_url:
        raise ConfigError(f"storage.db_url: required for the {backend} backend")
    if backend == "sqlite3" and not db_url.startswith("file:") and not Path(db_url).is_absolute():
        db_url = str(reader.base / db_url)
    return StorageConfig(backend=backend, db_url=db_url)


def _caching(reader: _Reader) -> CachingConfig:
    values = {}
    for name, default in (
        ("current_metadata", DEFAULT_CURRENT_MAX_AGE),
        ("consistent_metadata", DEFAULT_CONSISTENT_MAX_AGE),
    ):
        key = f"caching.max_age.{name}"
        value = reader.integer(key, default)
        if not 0 <= value <= MAX_CACHE_AGE:
            raise ConfigError(f"{key}: must be between 0 and {MAX_CACHE_AGE} seconds")
        values[name] = value
    return CachingConfig(**values)


def _gun_prefixes(reader: _Reader) -> tuple[str, ...]:
    prefixes = reader.string_list("repositories.gun_prefixes")
    for prefix in prefixes:
        cleaned = posixpath.normpath(prefix.strip())
        if cleaned + "/" != prefix or cleaned.startswith(("/", "..")):
            raise ConfigError(f"repositories.gun_prefixes: invalid GUN prefix {prefix!r}")
    return prefixes


def _auth_flag(reader: _Reader, key: str) -> bool:
    value = reader.get(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):  # an environment override
        return value.lower() == "true"
    raise ConfigError(f"{key}: token auth requires a valid option bool")


def _auth(reader: _Reader) -> TokenAuthConfig | None:
    """``auth``: token auth when ``auth.type`` is "token"; any other type is no auth (as Go)."""
    if reader.string("auth.type") != "token":
        return None
    options = reader.get("auth.options")
    if options is not None and not isinstance(options, dict):
        raise ConfigError("auth.options: must be a map")
    values: dict[str, str] = {}
    for name in ("realm", "issuer", "service", "rootcertbundle"):
        value = reader.get(f"auth.options.{name}")
        if not isinstance(value, str):
            raise ConfigError(f"auth.options.{name}: token auth requires a valid option string")
        values[name] = value
    bundle = reader.path("auth.options.rootcertbundle")
    if bundle is None:
        raise ConfigError("auth.options.rootcertbundle: token auth requires a certificate bundle")
    try:
        roots = load_root_bundle(bundle)
    except CertificateError as e:
        raise ConfigError(f"auth.options.rootcertbundle: {e}") from e
    config = TokenAuthConfig(
        realm=values["realm"],
        service=values["service"],
        issuer=values["issuer"],
        root_cert_bundle=bundle,
        autoredirect=_auth_flag(reader, "auth.options.autoredirect"),
        htpasswd=reader.path("auth.options.htpasswd"),
        issuer_key=reader.path("auth.options.issuer_key"),
        issuer_cert=reader.path("auth.options.issuer_cert"),
        token_ttl=reader.integer("auth.options.token_ttl", DEFAULT_TOKEN_TTL),
        access=_access_rules(reader),
        **_login_limits(reader),
    )
    _check_builtin_issuer(config, roots)
    if config.access is not None and not config.builtin_issuer:
        raise ConfigError(
            "auth.options.access: rules apply to the built-in issuer; set auth.options.htpasswd"
        )
    return config


def _access_rules(reader: _Reader) -> tuple[AccessRule, ...] | None:
    """``auth.options.access``: the built-in issuer's grants (None when absent)."""
    value = reader.get("auth.options.access")
    if value is None:
        return None
    try:
        return parse_access_rules(value, "auth.options.access")
    except AccessRuleError as e:
        raise ConfigError(str(e)) from e


def _login_limits(reader: _Reader) -> dict[str, Any]:
    """``auth.options.login_*``: the built-in issuer's failed-login limits."""
    limits: dict[str, Any] = {}
    for kind, burst, per_minute in (
        ("client", DEFAULT_CLIENT_BURST, DEFAULT_CLIENT_PER_MINUTE),
        ("user", DEFAULT_USER_BURST, DEFAULT_USER_PER_MINUTE),
    ):
        key = f"login_{kind}_burst"
        limits[key] = reader.integer(f"auth.options.{key}", burst)
        if limits[key] < 0:
            raise ConfigError(f"auth.options.{key}: must be at least 0 (0 turns it off)")
        key = f"login_{kind}_per_minute"
        limits[key] = _number(reader, f"auth.options.{key}", per_minute, minimum=0.0)
        if limits[key] <= 0:
            raise ConfigError(f"auth.options.{key}: must be more than 0")
    limits["login_limit_entries"] = reader.integer(
        "auth.options.login_limit_entries", DEFAULT_LIMIT_ENTRIES
    )
    if limits["login_limit_entries"] < 1:
        raise ConfigError("auth.options.login_limit_entries: must be at least 1")
    return limits


def _check_builtin_issuer(config: TokenAuthConfig, roots: tuple[x509.Certificate, ...]) -> None:
    htpasswd, key, cert = config.htpasswd, config.issuer_key, config.issuer_cert
    if htpasswd is None and key is None and cert is None:
        return
    if htpasswd is None or key is None or cert is None:
        raise ConfigError(
            "auth.options.htpasswd, issuer_key, issuer_cert: the built-in issuer needs all three"
        )
    if not 1 <= config.token_ttl <= MAX_TOKEN_TTL:
        raise ConfigError(f"auth.options.token_ttl: must be between 1 and {MAX_TOKEN_TTL} seconds")
    path = config.issuer_path
    if not path.startswith("/") or path.startswith(_RESERVED_PATHS):
        raise ConfigError(f"auth.options.realm: the built-in issuer cannot serve on {path!r}")
    try:
        Htpasswd.load(htpasswd)
    except HtpasswdError as e:
        raise ConfigError(f"auth.options.htpasswd: {e}") from e
    try:
        load_signing_material(key, cert, roots)
    except IssuerError as e:
        raise ConfigError(f"auth.options.issuer_cert: {e}") from e


def _workers(reader: _Reader, backend: str, trust_type: str) -> int:
    """``server.workers``: a count, or ``"auto"``/0 for one per usable CPU (default 1).

    Beyond Go (one process, all cores): each worker is a process with its own
    event loop and cache, all accepting on the same port. The memory backend
    cannot be shared between processes, and the local trust service keeps its
    keys in process memory, so either allows one worker only.
    """
    value = reader.get("server.workers")
    if isinstance(value, str) and value.strip().lower() == "auto":
        count = 0
    else:
        count = reader.integer("server.workers", 1)
    if count == 0:
        count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if not 1 <= count <= MAX_WORKERS:
        raise ConfigError(f"server.workers: must be between 1 and {MAX_WORKERS}, or auto")
    if count > 1 and backend == "memory":
        raise ConfigError("server.workers: the memory backend serves from one process only")
    if count > 1 and trust_type == "local":
        # Each process would make its own in-memory keys for the same GUN.
        raise ConfigError('server.workers: several workers need trust_service.type "remote"')
    return count


def _event_loop(reader: _Reader) -> EventLoopKind:
    """``server.event_loop``: ``auto`` (the default), ``uvloop`` or ``asyncio``."""
    value = reader.string("server.event_loop", "auto").strip().lower()
    for kind in EVENT_LOOP_KINDS:
        if value == kind:
            if kind == "uvloop" and not uvloop_available():
                raise ConfigError('server.event_loop: "uvloop" is not installed')
            return kind
    raise ConfigError(f"server.event_loop: {value!r} is not one of {', '.join(EVENT_LOOP_KINDS)}")


def _boolean(reader: _Reader, key: str, *, default: bool) -> bool:
    value = reader.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise ConfigError(f"{key}: expected true or false")


def _number(reader: _Reader, key: str, default: float, *, minimum: float) -> float:
    value = reader.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a number")
    try:
        number = float(value)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{key}: expected a number, got {value!r}") from e
    if number < minimum:
        raise ConfigError(f"{key}: must be at least {minimum:g}")
    return number


def _maintenance(reader: _Reader) -> MaintenanceConfig:
    fraction = _number(reader, "resign.remaining_fraction", 1 / 3, minimum=0.0)
    if fraction >= 1:
        raise ConfigError("resign.remaining_fraction: must be below 1")
    return MaintenanceConfig(
        resign_enabled=_boolean(reader, "resign.enabled", default=True),
        resign_interval=_number(reader, "resign.interval", 3600.0, minimum=0.1),
        remaining_fraction=fraction,
        expiry_window_days=_number(reader, "expiry.window_days", 30.0, minimum=0.0),
        retention_enabled=_boolean(reader, "retention.enabled", default=False),
        retention_interval=_number(reader, "retention.interval", 86400.0, minimum=0.1),
        keep_versions=int(_number(reader, "retention.keep_versions", 10, minimum=1)),
        keep_days=_number(reader, "retention.keep_days", 30.0, minimum=0.0),
    )


def _limits(reader: _Reader) -> LimitsConfig:
    defaults = LimitsConfig()
    counts = {}
    for name in (
        "max_body_bytes",
        "max_parts",
        "max_metadata_bytes",
        "max_targets_per_file",
        "max_changefeed_records",
    ):
        value = reader.integer(f"limits.{name}", getattr(defaults, name))
        if value < 1:
            raise ConfigError(f"limits.{name}: must be at least 1")
        counts[name] = value
    clients = reader.integer("limits.rate.clients", defaults.rate_clients)
    if clients < 1:
        raise ConfigError("limits.rate.clients: must be at least 1")
    return LimitsConfig(
        **counts,
        rate_per_second=_number(reader, "limits.rate.requests_per_second", 0.0, minimum=0.0),
        rate_burst=_number(reader, "limits.rate.burst", 0.0, minimum=0.0),
        rate_clients=clients,
        key_creation_per_second=_number(
            reader,
            "limits.key_creation.per_second",
            defaults.key_creation_per_second,
            minimum=0.0,
        ),
        key_creation_burst=_number(
            reader, "limits.key_creation.burst", defaults.key_creation_burst, minimum=1.0
        ),
    )


def _metrics(reader: _Reader, auth: TokenAuthConfig | None) -> MetricsConfig:
    address = reader.string("metrics.listen_addr")
    listen = None
    if address:
        host, port = parse_address(address, "metrics.listen_addr")
        listen = (host or "127.0.0.1", port)
    require_auth: bool | None = None  # unset: required exactly when token auth is on
    if reader.get("metrics.require_auth") not in (None, ""):
        require_auth = _boolean(reader, "metrics.require_auth", default=False)
    if require_auth and auth is None:
        raise ConfigError('metrics.require_auth: needs auth.type "token"')
    return MetricsConfig(
        listen_addr=listen,
        require_auth=require_auth,
        gun_labels=_boolean(reader, "metrics.gun_labels", default=False),
    )


def _metadata_cache(reader: _Reader) -> MetadataCacheConfig:
    max_bytes = reader.integer("metadata_cache.max_bytes", DEFAULT_MAX_BYTES)
    if max_bytes < 0:
        raise ConfigError("metadata_cache.max_bytes: must not be negative")
    return MetadataCacheConfig(
        max_bytes=max_bytes,
        warm_seconds=_number(reader, "metadata_cache.warm_seconds", 10.0, minimum=0.0),
    )


def _logging_level(reader: _Reader) -> str:
    """``logging.level``: one of logrus's names (any case); default ``error``, as Go's."""
    level = reader.string("logging.level", "error").strip()
    if level.lower() not in LEVELS:
        names = ", ".join(name for name in LEVELS if name != "warning")
        raise ConfigError(f"logging.level: {level!r} is not a log level (one of {names})")
    return level


def load_config(
    path: Path, environ: Mapping[str, str], *, warn: Callable[[str], None] | None = None
) -> ServerConfig:
    """Read and check ``server-config.json``.

    Args:
        path: the configuration file.
        environ: the environment, for ``NOTARY_SERVER_*`` overrides.
        warn: told about each unknown key, with the nearest known one (default:
            a warning in this module's log).

    Raises:
        ConfigError: the file is unreadable or a key is invalid.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: cannot read the configuration: {e}") from e
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: the configuration must be a JSON object")
    open_sections: tuple[str, ...] = OPEN_SECTIONS
    if str(_Reader(document, {}, path).get("auth.type") or "") != "token":
        open_sections += ("auth.options",)  # Go passes other auth types' options on unread
    for message in unknown_key_warnings(document, KNOWN_KEYS, open_sections):
        (warn or logger.warning)(message)
    reader = _Reader(document, environ, path.resolve().parent)
    address = reader.string("server.http_addr")
    if not address:
        raise ConfigError("server.http_addr: required")
    host, port = parse_address(address)
    storage = _storage(reader)
    trust_service = _trust_service(reader)
    auth = _auth(reader)
    workers = _workers(reader, storage.backend, trust_service.type)
    return ServerConfig(
        host=host,
        port=port,
        tls=_tls(reader),
        trust_service=trust_service,
        storage=storage,
        caching=_caching(reader),
        gun_prefixes=_gun_prefixes(reader),
        logging_level=_logging_level(reader),
        auth=auth,
        workers=workers,
        event_loop=_event_loop(reader),
        maintenance=_maintenance(reader),
        limits=_limits(reader),
        metrics=_metrics(reader, auth),
        metadata_cache=_metadata_cache(reader),
        console=read_console(
            reader,
            ConfigError,
            token_auth=auth is not None,
            builtin_issuer=auth is not None and auth.builtin_issuer,
            workers=workers,
        ),
    )
