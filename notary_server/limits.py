"""Request limits (beyond Go, ADR 0012): sizes, counts, and a per-client request rate.

Go notary-server sets none of these. Every default is above what the Go
client, ``docker trust`` or a changefeed reader ever sends, so they only stop
abuse: an upload body or part larger than any file a client would download,
more parts than any publish has, a targets file with more entries than fit in
a file a client would fetch, an unbounded changefeed page, or a client sending
requests faster than any CI pipeline does (the rate limit is off by default).

A limit that is hit raises :class:`LimitExceededError`; the error middleware
writes it as Go's error envelope with status 413 (size and count limits) or
429 (rate). This module does not read request bodies itself: the multipart
reader (:mod:`notary_server.multipart`) enforces the size limits while it
streams the body, so an oversized upload is cut off without being buffered.
"""

from __future__ import annotations

import asyncio
from typing import Final

from aiohttp import web

from notary_server.errors import go_json
from notary_server.limit_settings import LimitsConfig
from notary_server.token_buckets import TokenBuckets

__all__ = [
    "LIMITER_KEY",
    "LimitExceededError",
    "LimitsConfig",
    "RateLimiter",
    "close_unread",
    "limit_response",
    "rate_limit_refusal",
    "refuse_and_close",
]

_RATE_EXEMPT_PATHS: Final = frozenset({"/_notary_server/health"})

CLOSE_DELAY: Final = 0.5
"""Seconds between our FIN and the close, when the client is still sending a body.

Closing a socket with unread data makes the kernel send a reset, and a reset
that reaches the client before it has read our answer destroys the answer in
its receive buffer. Go's net/http waits this long too."""


class LimitExceededError(Exception):
    """A request went over a limit.

    Attributes:
        limit: the configuration key of the limit (``max_body_bytes`` …).
        maximum: the configured value.
        status: 413 for size and count limits, 429 for the rate limit.
    """

    def __init__(self, limit: str, maximum: float, *, status: int = 413) -> None:
        """Record which limit was hit."""
        super().__init__(f"{limit} exceeded (maximum {maximum:g})")
        self.limit = limit
        self.maximum = maximum
        self.status = status


_CODES: Final = {
    413: ("TOO_LARGE", "The request is larger than this server accepts."),
    # docker/distribution's errcode for 429 (Go notary has no rate limit).
    429: ("TOOMANYREQUESTS", "too many requests"),
}


def limit_response(error: LimitExceededError) -> web.Response:
    """Write a limit error as Go's envelope (413s also close the connection)."""
    code, message = _CODES[error.status]
    body = {"errors": [{"code": code, "message": message, "detail": {"limit": error.limit}}]}
    response = web.Response(
        status=error.status,
        body=go_json(body) + b"\n",
        content_type="application/json",
        charset="utf-8",
    )
    if error.status == 413:  # noqa: PLR2004 - the size limits
        response.force_close()
    else:
        response.headers["Retry-After"] = "1"
    return response


async def refuse_and_close(request: web.Request, error: LimitExceededError) -> web.StreamResponse:
    """Answer a limit error, and stop reading a body that has not been read to its end.

    aiohttp would otherwise keep reading ("lingering") the rest of an oversized
    body for up to ten seconds after the answer. As Go's ``net/http`` does, the
    answer is sent, then our side of the connection is shut (FIN), then after
    :data:`CLOSE_DELAY` the connection is closed without reading further.
    """
    return await close_unread(request, limit_response(error))


async def close_unread(request: web.Request, response: web.Response) -> web.StreamResponse:
    """Send ``response``; then, unless the body was read to its end, close without reading it."""
    if request.content.is_eof():
        return response
    await response.prepare(request)
    await response.write_eof()
    transport = request.transport
    if transport is not None and transport.can_write_eof():
        transport.write_eof()
    await asyncio.sleep(CLOSE_DELAY)  # the client reads the answer before any reset
    request.protocol.force_close()
    return response


class RateLimiter(TokenBuckets):
    """The request rate limit: a request takes one token from its client's bucket."""

    def allow(self, key: str) -> bool:
        """Take a token from ``key``'s bucket; return False when it is empty."""
        return self.take(key)


LIMITER_KEY: Final = web.AppKey("LIMITER_KEY", RateLimiter)
"""The application's rate limiter (absent: no rate limit)."""


def rate_limit_refusal(request: web.Request) -> web.Response | None:
    """The 429 for a client whose address has no token left; None: serve it.

    The health route is exempt, and without a configured limiter nothing is refused.
    """
    limiter = request.app.get(LIMITER_KEY)
    if limiter is None or request.path in _RATE_EXEMPT_PATHS:
        return None
    if limiter.allow(request.remote or ""):
        return None
    return limit_response(LimitExceededError("rate.requests_per_second", limiter.rate, status=429))
