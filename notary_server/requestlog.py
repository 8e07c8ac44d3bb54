"""Request logging: one line per request, and the request's context on every log line.

Go's notary-server gives each request a logger carrying a request id and, where the
route names them, ``gun`` (``ctxu.GetLoggerWithField``), so every line a request
causes can be found together. :class:`RequestLog` does the same here:
it gives the request an id, takes ``gun``, ``role`` and ``version`` from the
route's path variables (Go's route table, :func:`notary_server.routes.match_route`),
keeps them in a context variable for the request's task, and logs the request once
it is answered (method, path, status, duration, and those fields as ``extra``).
:class:`notary_server.logs.RequestContextFilter` copies the context onto every
other record logged while the request runs, so both log formats show it.

What it never logs: request or response bodies, query strings, headers (so no
``Authorization`` token), client addresses. The id is not sent to clients: Go's
responses carry no such header.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import time
from typing import TYPE_CHECKING, Self

from aiohttp import web

from notary_server.logs import REQUEST_CONTEXT
from notary_server.routes import match_route

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["RequestLog", "request_fields"]

logger = logging.getLogger(__name__)

# Route path variable → log field.
_PATH_FIELDS = (("gun", "gun"), ("tufRole", "role"), ("version", "version"))


# Request ids: a random per-process prefix and a counter -- unique across
# workers and restarts, and far cheaper than a uuid4 per request.
_ID_PREFIX = secrets.token_hex(8)
_id_counter = itertools.count(1)


def request_fields(method: str, path: str) -> dict[str, str]:
    """Return the log context of a request: a new ``request_id`` and the route's fields."""
    fields = {"request_id": f"{_ID_PREFIX}{next(_id_counter):016x}"}
    found = match_route(method, path)
    if found is not None:
        _, params = found
        fields.update({field: params[var] for var, field in _PATH_FIELDS if var in params})
    return fields


class RequestLog:
    """One request's log context, and its log line once answered.

    Use as ``with RequestLog(request) as log: ...``, setting :attr:`status` to
    the answer's status. An escaping ``HTTPException`` is logged with its own
    status, any other exception as 500.
    """

    __slots__ = ("_fields", "_request", "_started", "_token", "status")

    def __init__(self, request: web.Request) -> None:
        """Prepare the context of ``request`` (set when the block is entered)."""
        self._request = request
        self.status = 500

    def __enter__(self) -> Self:
        """Set the request's log context and start its clock."""
        request = self._request
        self._fields = request_fields(request.method, request.path)
        self._token = REQUEST_CONTEXT.set(self._fields)
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        _exc_type: type[BaseException] | None,
        exc: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        """Log the request with its status and duration; restore the previous context."""
        status = self.status
        if isinstance(exc, web.HTTPException):
            status = exc.status
        elif exc is not None:
            status = 500
        if logger.isEnabledFor(logging.INFO):
            request = self._request
            logger.info(
                "%s %s %d",
                request.method,
                request.path,
                status,
                extra={
                    **self._fields,
                    "method": request.method,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - self._started) * 1000, 3),
                },
            )
        REQUEST_CONTEXT.reset(self._token)
