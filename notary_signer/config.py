"""``signer-config.json``: Go notary-signer's configuration file, read the same way.

Port of ``cmd/notary-signer/config.go`` and the helpers it uses from
``utils/configuration.go``. Every key can be overridden by
``NOTARY_SIGNER_<KEY>`` with dots as underscores, upper-cased
(``NOTARY_SIGNER_STORAGE_DB_URL``), as viper does; relative file paths resolve
against the configuration file's directory (Go ``GetPathRelativeToConfig``).
Everything is checked at load time, including that the TLS files parse, and a
problem raises :class:`ConfigError` naming the key or file.

The passphrases that encrypt keys at rest come from ``NOTARY_SIGNER_<ALIAS>``
(Go ``passphraseRetriever``). :func:`load_config` copies those variables into
a :class:`Passphrases` object, so that nothing else reads ``os.environ``; its
``repr`` never shows a value.

Only ``__main__`` calls :func:`load_config`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from notary_runtime import config as runtime_config
from notary_runtime.config import ConfigReader, unknown_key_warnings
from notary_runtime.logs import LEVELS
from notary_signer.crypto import check_tls_material
from notary_signer.errors import ConfigError, PassphraseError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "ConfigError",
    "Passphrases",
    "SignerConfig",
    "StorageConfig",
    "TLSConfig",
    "check_default_passphrase",
    "load_config",
]

logger = logging.getLogger(__name__)

ENV_PREFIX: Final = "NOTARY_SIGNER_"
DEFAULT_ALIAS_KEY: Final = "DEFAULT_ALIAS"  # Go's backwards-compatible fallback
STORAGE_BACKENDS: Final = ("memory", "sqlite3", "postgres")
UNSUPPORTED_BACKENDS: Final = ("mysql", "rethinkdb")
LOG_LEVELS: Final = tuple(LEVELS)  # logrus's names
DEFAULT_LOG_LEVEL: Final = "error"  # Go: ParseLogLevel(config, logrus.ErrorLevel)
KNOWN_KEYS: Final = frozenset(
    {
        "server.grpc_addr",
        "server.http_addr",  # Go's older signer configurations: read by Go, not used here
        "server.tls_cert_file",
        "server.tls_key_file",
        "server.client_ca_file",
        "logging.level",
        "storage.backend",
        "storage.db_url",
        "storage.default_alias",
        "default_alias",  # Go's backwards-compatible spelling
        "storage.tls_ca_file",  # Go's rethinkdb keys: read by Go, not used here
        "storage.client_cert_file",
        "storage.client_key_file",
        "storage.database",
        "storage.username",
        "storage.password",
    }
)
"""Every key the signer reads (lower case); any other key in the file is warned about."""
OPEN_SECTIONS: Final = ("reporting",)
"""Go's sections whose contents are not checked (``reporting.bugsnag``: Go's, unused here)."""


def env_name(key: str) -> str:
    """Return the environment variable viper reads for ``key`` (``a.b`` → ``NOTARY_SIGNER_A_B``)."""
    return runtime_config.env_name(ENV_PREFIX, key)


class Passphrases:
    """The ``NOTARY_SIGNER_<ALIAS>`` passphrases, looked up by alias.

    Built from a copy of the environment; values are never part of ``repr``.
    """

    __slots__ = ("_values",)

    def __init__(self, environ: Mapping[str, str]) -> None:
        """Keep the ``NOTARY_SIGNER_*`` variables of ``environ``."""
        self._values = {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX)}

    def __repr__(self) -> str:
        """Say how many variables there are, never what they hold."""
        return f"Passphrases(<{len(self._values)} NOTARY_SIGNER_* variables>)"

    def get(self, alias: str) -> str:
        """Return the passphrase for ``alias``.

        Raises:
            PassphraseError: the variable is unset or empty (Go's message).
        """
        value = self._values.get(env_name(alias), "")
        if not value:
            raise PassphraseError(f"expected env variable to not be empty: {alias}")
        return value


@dataclass(frozen=True, slots=True, kw_only=True)
class TLSConfig:
    """The signer's certificate and key, and optionally the CA client certificates need."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageConfig:
    """``storage``: Go's backend name, DSN and the passphrase alias for new keys."""

    backend: str
    db_url: str = ""
    default_alias: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SignerConfig:
    """The whole signer configuration."""

    grpc_addr: str
    tls: TLSConfig
    storage: StorageConfig
    logging_level: str = DEFAULT_LOG_LEVEL
    passphrases: Passphrases = field(
        default_factory=lambda: Passphrases({}), repr=False, compare=False
    )


def _grpc_addr(value: str) -> str:
    """Turn Go's listen address into gRPC's (``:7899`` listens on every interface)."""
    if not value:
        raise ConfigError("server.grpc_addr: grpc listen address required for server")
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:  # noqa: PLR2004
        raise ConfigError(f"server.grpc_addr: expected host:port, got {value!r}")
    if not host:
        host = "[::]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def _tls(reader: ConfigReader) -> TLSConfig:
    cert = reader.path("server.tls_cert_file")
    key = reader.path("server.tls_key_file")
    if cert is None:
        raise ConfigError("server.tls_cert_file: required (the signer only serves TLS)")
    if key is None:
        raise ConfigError("server.tls_key_file: required (the signer only serves TLS)")
    ca = reader.path("server.client_ca_file")
    check_tls_material(cert, key, ca)
    return TLSConfig(cert_file=cert, key_file=key, client_ca_file=ca)


def _storage(reader: ConfigReader) -> StorageConfig:
    backend = reader.string("storage.backend")
    if backend in UNSUPPORTED_BACKENDS:
        raise ConfigError(
            f"storage.backend: {backend} is not supported by this signer "
            f"(use one of: {', '.join(STORAGE_BACKENDS)})"
        )
    if backend not in STORAGE_BACKENDS:
        raise ConfigError(
            f"storage.backend: {backend!r} is not an allowed backend, "
            f"must be one of: {', '.join(STORAGE_BACKENDS)}"
        )
    if backend == "memory":
        return StorageConfig(backend=backend)
    db_url = reader.string("storage.db_url")
    if not db_url:
        raise ConfigError(f"storage.db_url: must provide a non-empty database source for {backend}")
    if backend == "sqlite3" and not db_url.startswith(("file:", ":memory:")):
        path = Path(db_url.split("?", 1)[0])
        if not path.is_absolute():
            db_url = str(reader.base / db_url)
    alias = reader.string("storage.default_alias") or reader.string(DEFAULT_ALIAS_KEY)
    if not alias:
        raise ConfigError("storage.default_alias: must provide a default alias for the key DB")
    return StorageConfig(backend=backend, db_url=db_url, default_alias=alias)


def load_config(
    path: Path, environ: Mapping[str, str], *, warn: Callable[[str], None] | None = None
) -> SignerConfig:
    """Read and check a ``signer-config.json``.

    Args:
        path: The configuration file.
        environ: The process environment (overrides and passphrases).
        warn: Told about each unknown key, with the nearest known one (default: a
            warning in this module's log).

    Returns:
        The checked configuration.

    Raises:
        ConfigError: the file cannot be read, or a key is missing or invalid;
            the message names the key or the file.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the configuration file: {e.strerror}") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    for message in unknown_key_warnings(document, KNOWN_KEYS, OPEN_SECTIONS):
        (warn or logger.warning)(message)
    reader = ConfigReader(
        document, environ, path.resolve().parent, env_prefix=ENV_PREFIX, error=ConfigError
    )
    level = (reader.string("logging.level") or DEFAULT_LOG_LEVEL).lower()
    if level not in LOG_LEVELS:
        raise ConfigError(f"logging.level: not a valid logrus Level: {level!r}")
    storage = _storage(reader)
    return SignerConfig(
        grpc_addr=_grpc_addr(reader.string("server.grpc_addr")),
        tls=_tls(reader),
        storage=storage,
        logging_level=level,
        passphrases=Passphrases(environ),
    )


def check_default_passphrase(config: SignerConfig) -> None:
    """Fail early when new keys could not be encrypted (SQL backends only).

    Go finds out at the first ``CreateKey``; the server checks at startup.

    Raises:
        ConfigError: ``NOTARY_SIGNER_<DEFAULT_ALIAS>`` is unset or empty.
    """
    if config.storage.backend == "memory":
        return
    try:
        config.passphrases.get(config.storage.default_alias)
    except PassphraseError as e:
        raise ConfigError(
            f"storage.default_alias: set {env_name(config.storage.default_alias)} "
            "to the passphrase for new keys"
        ) from e
