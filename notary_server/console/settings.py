"""``console``: the operator console's configuration keys (beyond Go, ADR 0026).

Read by :func:`notary_server.config.load_config` through :func:`read_console`,
which takes the configuration reader and error class from there, so this
module imports nothing of the server and the console's keys live next to the
console.

Keys:

- ``console.enabled`` (default false): serve the console under
  :data:`CONSOLE_PATH`. It needs ``auth.type`` "token": the console has no
  users of its own.
- ``console.login`` (default ``["password", "token"]``): how one may sign in:
  ``password`` with a user of the built-in issuer's htpasswd file (needs
  ``auth.options.htpasswd``), ``token`` with a bearer token granting
  :data:`CONSOLE_SCOPE` (pasted into the login form or sent as
  ``Authorization: Bearer``).
- ``console.session_ttl`` (seconds, default 3600, at most 86400): how long a
  session cookie lasts (a token session never outlives its token).
- ``console.session_secret_file``: a file whose bytes key the session cookies'
  HMAC. Without it each process makes a random key at start (sessions end
  with a restart), which several ``server.workers`` cannot share: they need
  the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

__all__ = [
    "CONSOLE_KEYS",
    "CONSOLE_PATH",
    "CONSOLE_SCOPE",
    "LOGIN_METHODS",
    "ConsoleConfig",
    "read_console",
]

CONSOLE_PATH: Final = "/_notary_server/console"
"""Where the console is served: Go has no route there, so no client is affected."""

CONSOLE_SCOPE: Final = ("registry", "console", "view")
"""The token access item (type, name, action) that opens the console."""

LOGIN_METHODS: Final = ("password", "token")
DEFAULT_SESSION_TTL: Final = 3600
MAX_SESSION_TTL: Final = 86_400
MIN_SECRET_BYTES: Final = 32

CONSOLE_KEYS: Final = frozenset(
    {
        "console.enabled",
        "console.login",
        "console.session_ttl",
        "console.session_secret_file",
    }
)
"""The keys read here (lower case), added to the server's known keys."""


class _Reader(Protocol):
    def get(self, key: str) -> Any: ...
    def integer(self, key: str, default: int) -> int: ...
    def path(self, key: str) -> Path | None: ...
    def string_list(self, key: str) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleConfig:
    """``console``: whether the console is served and how one signs in."""

    enabled: bool = False
    login: tuple[str, ...] = LOGIN_METHODS
    session_ttl: int = DEFAULT_SESSION_TTL
    session_secret_file: Path | None = None


def _enabled(reader: _Reader, error: type[Exception]) -> bool:
    value = reader.get("console.enabled")
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise error("console.enabled: expected true or false")


def _login(reader: _Reader, error: type[Exception], *, builtin_issuer: bool) -> tuple[str, ...]:
    login = reader.string_list("console.login") or LOGIN_METHODS
    for method in login:
        if method not in LOGIN_METHODS:
            raise error(f"console.login: {method!r} is not one of {', '.join(LOGIN_METHODS)}")
    if "password" in login and not builtin_issuer:
        if reader.get("console.login") not in (None, ""):
            raise error("console.login: password sign-in needs auth.options.htpasswd")
        return ("token",)
    return tuple(login)


def read_console(
    reader: _Reader,
    error: type[Exception],
    *,
    token_auth: bool,
    builtin_issuer: bool,
    workers: int,
) -> ConsoleConfig:
    """Read and check ``console.*``.

    Args:
        reader: the server configuration's reader.
        error: the exception to raise (the server's ``ConfigError``).
        token_auth: whether ``auth.type`` is "token".
        builtin_issuer: whether the built-in issuer (an htpasswd file) is configured.
        workers: ``server.workers``.

    Raises:
        error: a key is invalid, or the console is enabled without what it needs.
    """
    if not _enabled(reader, error):
        return ConsoleConfig()
    if not token_auth:
        raise error('console.enabled: the console needs auth.type "token" (it has no users)')
    login = _login(reader, error, builtin_issuer=builtin_issuer)
    ttl = reader.integer("console.session_ttl", DEFAULT_SESSION_TTL)
    if not 1 <= ttl <= MAX_SESSION_TTL:
        raise error(f"console.session_ttl: must be between 1 and {MAX_SESSION_TTL} seconds")
    secret = reader.path("console.session_secret_file")
    if secret is not None:
        try:
            size = len(secret.read_bytes())
        except OSError as e:
            raise error(f"console.session_secret_file: cannot read {secret}: {e}") from e
        if size < MIN_SECRET_BYTES:
            raise error(f"console.session_secret_file: needs at least {MIN_SECRET_BYTES} bytes")
    elif workers > 1:
        raise error("console.session_secret_file: required with several server.workers")
    return ConsoleConfig(enabled=True, login=login, session_ttl=ttl, session_secret_file=secret)
