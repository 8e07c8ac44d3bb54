"""``gate-config.json``: the registry gate's configuration.

Read like the other services' files (:class:`notary_runtime.config.ConfigReader`):
keys match case-insensitively, ``NOTARY_GATE_<KEY>`` overrides a scalar key
(``NOTARY_GATE_REGISTRY_URL``), relative paths resolve against the file's
directory, and every problem raises :class:`ConfigError` naming the key::

    {
      "server": {"http_addr": "0.0.0.0:5443",
                 "tls_cert_file": "gate.crt", "tls_key_file": "gate.key"},
      "registry": {"url": "http://127.0.0.1:5000", "name": "registry.example.com"},
      "trust_server": {"url": "https://notary.example.com:4443", "tls_ca_file": "ca.pem"},
      "enforce": ["registry.example.com/prod/",
                  {"prefix": "registry.example.com/prod/base/", "roles": ["targets/releases"]}],
      "cache": {"max_age": 30},
      "logging": {"level": "info"}
    }

``registry.name`` is the host name clients pull with: a repository ``prod/app``
is the GUN ``registry.example.com/prod/app``, which the ``enforce`` prefixes
and the trust data are keyed by. It is configured, never taken from the
request's ``Host`` header, so a client cannot step outside a prefix by
naming the gate differently.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from notary_gate.dct import DEFAULT_MAX_AGE
from notary_gate.policy import DOCKER_ROLES, EnforceRule
from notary_runtime.config import ConfigReader
from notary_tuf.rolenames import TARGETS, is_delegation

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ConfigError", "GateConfig", "TLSFiles", "load_config"]

ENV_PREFIX: Final = "NOTARY_GATE_"
DEFAULT_ADDR: Final = "127.0.0.1:5443"
DEFAULT_TIMEOUT: Final = 10.0


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and the reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TLSFiles:
    """A certificate and its key, to serve HTTPS with."""

    cert_file: Path
    key_file: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class GateConfig:
    """The loaded configuration (see the module docstring for the keys)."""

    host: str
    port: int
    tls: TLSFiles | None
    registry_url: str
    registry_name: str
    registry_ca_file: Path | None
    trust_server_url: str
    trust_server_ca_file: Path | None
    trust_server_timeout: float
    fail_open: bool
    rules: tuple[EnforceRule, ...]
    pinned_root_keys: Mapping[str, frozenset[str]]
    max_age: float
    logging_level: str = "info"


def _reader(document: Mapping[str, Any], environ: Mapping[str, str], base: Path) -> ConfigReader:
    return ConfigReader(document, environ, base, env_prefix=ENV_PREFIX, error=ConfigError)


def _address(reader: ConfigReader) -> tuple[str, int]:
    address = reader.string("server.http_addr", DEFAULT_ADDR)
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:  # noqa: PLR2004 - the port range
        raise ConfigError(f"server.http_addr: expected host:port, got {address!r}")
    return host.strip("[]"), int(port)


def _tls(reader: ConfigReader) -> TLSFiles | None:
    cert, key = reader.path("server.tls_cert_file"), reader.path("server.tls_key_file")
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigError("server.tls_cert_file and server.tls_key_file must be set together")
    for name, path in (("server.tls_cert_file", cert), ("server.tls_key_file", key)):
        if not path.is_file():
            raise ConfigError(f"{name}: no such file: {path}")
    return TLSFiles(cert_file=cert, key_file=key)


def _url(reader: ConfigReader, key: str) -> str:
    url = reader.string(key)
    if not url:
        raise ConfigError(f"{key}: required (e.g. https://host:port)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{key}: expected an http:// or https:// URL, got {url!r}")
    if parts.path.strip("/") or parts.query:
        raise ConfigError(f"{key}: give the server's base URL, without a path, got {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def _file(reader: ConfigReader, key: str) -> Path | None:
    path = reader.path(key)
    if path is not None and not path.is_file():
        raise ConfigError(f"{key}: no such file: {path}")
    return path


def _number(reader: ConfigReader, key: str, default: float, *, minimum: float) -> float:
    value = reader.get(key)
    if value is None or value == "":
        return default
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number < minimum:
        raise ConfigError(f"{key}: expected a number of at least {minimum}, got {value!r}")
    return number


def _boolean(reader: ConfigReader, key: str, *, default: bool) -> bool:
    value = reader.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ConfigError(f"{key}: expected true or false, got {value!r}")


def _string_list(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{key}: expected a list of non-empty strings")
    return tuple(value)


def _rule(item: Any, key: str) -> EnforceRule:
    if isinstance(item, str):
        item = {"prefix": item}
    if not isinstance(item, dict):
        raise ConfigError(f"{key}: expected a GUN prefix or an object with a prefix")
    unknown = set(item) - {"prefix", "enforce", "roles", "key_ids"}
    if unknown:
        raise ConfigError(f"{key}.{min(unknown)}: unknown key")
    prefix = item.get("prefix")
    if not isinstance(prefix, str) or not prefix:
        raise ConfigError(f"{key}.prefix: expected a non-empty GUN prefix")
    enforce = item.get("enforce", True)
    if not isinstance(enforce, bool):
        raise ConfigError(f"{key}.enforce: expected true or false")
    roles = _string_list(item["roles"], f"{key}.roles") if "roles" in item else DOCKER_ROLES
    for role in roles:
        if role != TARGETS and not is_delegation(role):
            raise ConfigError(f"{key}.roles: {role!r} is neither targets nor a delegation")
    key_ids = _string_list(item["key_ids"], f"{key}.key_ids") if "key_ids" in item else ()
    return EnforceRule(prefix=prefix, enforce=enforce, roles=roles, key_ids=frozenset(key_ids))


def _rules(reader: ConfigReader) -> tuple[EnforceRule, ...]:
    value = reader.get("enforce")
    if isinstance(value, str):  # an environment override: whitespace-separated prefixes
        value = value.split()
    if value is None:
        value = []
    if not isinstance(value, list):
        raise ConfigError("enforce: expected a list of GUN prefixes or rule objects")
    rules = tuple(_rule(item, f"enforce[{i}]") for i, item in enumerate(value))
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.prefix in seen:
            raise ConfigError(f"enforce[{i}].prefix: {rule.prefix!r} is listed twice")
        seen.add(rule.prefix)
    return rules


def _pins(reader: ConfigReader) -> dict[str, frozenset[str]]:
    value = reader.get("trust_pinning.root_keys")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError("trust_pinning.root_keys: expected an object of GUN → key ID list")
    return {
        gun: frozenset(_string_list(ids, f"trust_pinning.root_keys.{gun}"))
        for gun, ids in value.items()
    }


def load_config(path: Path, environ: Mapping[str, str]) -> GateConfig:
    """Read and check ``path``.

    Raises:
        ConfigError: the file cannot be read, is not a JSON object, or a key is invalid.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror or e}") from e
    except ValueError as e:
        raise ConfigError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    reader = _reader(document, environ, path.resolve().parent)
    host, port = _address(reader)
    registry_name = reader.string("registry.name").strip("/")
    if not registry_name:
        raise ConfigError("registry.name: required: the host name clients pull with")
    return GateConfig(
        host=host,
        port=port,
        tls=_tls(reader),
        registry_url=_url(reader, "registry.url"),
        registry_name=registry_name,
        registry_ca_file=_file(reader, "registry.tls_ca_file"),
        trust_server_url=_url(reader, "trust_server.url"),
        trust_server_ca_file=_file(reader, "trust_server.tls_ca_file"),
        trust_server_timeout=_number(
            reader, "trust_server.timeout", DEFAULT_TIMEOUT, minimum=0.001
        ),
        fail_open=_boolean(reader, "trust_server.fail_open", default=False),
        rules=_rules(reader),
        pinned_root_keys=_pins(reader),
        max_age=_number(reader, "cache.max_age", DEFAULT_MAX_AGE, minimum=0),
        logging_level=reader.string("logging.level", "info"),
    )
