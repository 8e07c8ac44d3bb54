"""The route table: Go's ``server/server.go`` ``RootHandler``, one entry per route.

Routes are tried in order and the first whose method and path match wins, as
with gorilla/mux. Paths are matched decoded (``%2F`` is a ``/``), and a path
that is not clean gets a 301 to its clean form. A path that matches no route
gets Go's catch-all: 404 ``METADATA_NOT_FOUND`` for GET, POST, PUT, HEAD and
DELETE, an empty 405 for any other method.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal

from notary_server.errors import ErrorCode
from notary_server.handlers import changefeed, health, keys, metadata

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from aiohttp import web

    Handler = Callable[[web.Request, Mapping[str, str]], Awaitable[web.StreamResponse]]

__all__ = ["CATCH_ALL_METHODS", "ROUTES", "Route", "clean_path", "match_route"]

_GUN: Final = r"(?P<gun>[^*]+)"
_ROLE: Final = r"(?P<tufRole>root|targets(?:/[^/\s]+)*|snapshot|timestamp)"
_CHECKSUM: Final = r"(?P<checksum>[a-fA-F0-9]{64}|[a-fA-F0-9]{96}|[a-fA-F0-9]{128})"
_VERSION: Final = r"(?P<version>[1-9]*[0-9]+)"
_SERVER_ROLE: Final = r"(?P<tufRole>snapshot|timestamp)"

CacheKind = Literal["current", "consistent"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """One route.

    Attributes:
        operation: Go's Prometheus operation name (empty: not instrumented).
        methods: the HTTP methods it answers.
        pattern: the anchored path regex.
        handler: the coroutine that serves it.
        cache: which Cache-Control policy applies to its 200s, if any.
        prefix_error: the error for a GUN outside ``gun_prefixes`` (None: not filtered).
        actions: the token-auth actions the route requires (Go ``permissionsRequired``).
        authenticated: whether token auth applies (Go wraps all but health and metrics).
    """

    operation: str
    methods: frozenset[str]
    pattern: re.Pattern[str]
    handler: Handler
    cache: CacheKind | None = None
    prefix_error: ErrorCode | None = None
    actions: tuple[str, ...] = ()
    authenticated: bool = True


def _route(
    operation: str,
    methods: str,
    path: str,
    handler: Handler,
    *,
    cache: CacheKind | None = None,
    prefix_error: ErrorCode | None = None,
    actions: tuple[str, ...] = (),
    authenticated: bool = True,
) -> Route:
    return Route(
        operation=operation,
        methods=frozenset(methods.split(",")),
        pattern=re.compile(path + r"\Z"),
        handler=handler,
        cache=cache,
        prefix_error=prefix_error,
        actions=actions,
        authenticated=authenticated,
    )


_TUF: Final = f"/v2/{_GUN}/_trust/tuf/"
_NOT_FOUND: Final = ErrorCode.METADATA_NOT_FOUND

ROUTES: Final = (
    _route("", "GET", "/v2/", health.ping),
    _route(
        "UpdateTUF",
        "POST",
        _TUF,
        metadata.atomic_update,
        prefix_error=ErrorCode.INVALID_GUN,
        actions=("push", "pull"),
    ),
    _route(
        "GetRoleByHash",
        "GET",
        f"{_TUF}{_ROLE}\\.{_CHECKSUM}\\.json",
        metadata.get_metadata,
        cache="consistent",
        prefix_error=_NOT_FOUND,
        actions=("pull",),
    ),
    _route(
        "GetRoleByVersion",
        "GET",
        f"{_TUF}{_VERSION}\\.{_ROLE}\\.json",
        metadata.get_metadata,
        cache="consistent",
        prefix_error=_NOT_FOUND,
        actions=("pull",),
    ),
    _route(
        "GetRole",
        "GET",
        f"{_TUF}{_ROLE}\\.json",
        metadata.get_metadata,
        cache="current",
        prefix_error=_NOT_FOUND,
        actions=("pull",),
    ),
    _route(
        "GetKey",
        "GET",
        f"{_TUF}{_SERVER_ROLE}\\.key",
        keys.get_key,
        prefix_error=_NOT_FOUND,
        actions=("push", "pull"),
    ),
    _route(
        "RotateKey",
        "POST",
        f"{_TUF}{_SERVER_ROLE}\\.key",
        keys.rotate_key,
        prefix_error=_NOT_FOUND,
        actions=("*",),
    ),
    _route(
        "DeleteTUF",
        "DELETE",
        _TUF,
        metadata.delete_repository,
        prefix_error=_NOT_FOUND,
        actions=("*",),
    ),
    _route(
        "Changefeed",
        "GET",
        f"/v2/{_GUN}/_trust/changefeed",
        changefeed.changefeed,
        prefix_error=_NOT_FOUND,
        actions=("pull",),
    ),
    _route(
        "Changefeed",
        "GET",
        "/v2/_trust/changefeed",
        changefeed.changefeed,
        prefix_error=_NOT_FOUND,
        actions=("*",),
    ),
    _route("", "GET", "/_notary_server/health", health.health, authenticated=False),
    _route("", "GET", "/metrics", health.metrics, authenticated=False),
)

CATCH_ALL_METHODS: Final = frozenset({"GET", "POST", "PUT", "HEAD", "DELETE"})


def clean_path(path: str) -> str:
    """Return ``path`` cleaned as gorilla/mux does (Go ``path.Clean``, trailing slash kept)."""
    if path.startswith("/") and "//" not in path and "/." not in path:
        return path  # already clean: no empty, "." or ".." segment (the common case)
    if not path:
        return "/"
    if path[0] != "/":
        path = "/" + path
    parts: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if parts:
                parts.pop()
            continue
        parts.append(segment)
    cleaned = "/" + "/".join(parts)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


@functools.lru_cache(maxsize=4096)
def match_route(method: str, path: str) -> tuple[Route, Mapping[str, str]] | None:
    """Return the first route matching ``method`` and ``path``, with its path variables.

    Memoised: clients fetch the same few paths over and over, and both the
    request log and the dispatcher ask. The variables are read-only.
    """
    for route in ROUTES:
        if method not in route.methods:
            continue
        found = route.pattern.match(path)
        if found is not None:
            params = {k: v for k, v in found.groupdict().items() if v is not None}
            return route, MappingProxyType(params)
    return None
