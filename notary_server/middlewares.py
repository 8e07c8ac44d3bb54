"""The error middleware: the one place that turns failures into responses.

Domain errors map to Notary's codes through one table; anything unexpected is
a 500 ``UNKNOWN`` whose body says nothing about the cause (the log does). Go
logs 5xx errors at error level and the rest at info (``utils/http.go``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from aiohttp import web

from notary_server.appkeys import METRICS_KEY
from notary_server.errors import EMPTY_DETAIL, ApiError, ErrorCode, go_json
from notary_server.limits import LimitExceededError, refuse_and_close
from notary_server.services.timestamp import RefreshError
from notary_server.storage import NotFoundError, OldVersionError, StorageError
from notary_server.trust.base import TrustServiceError
from notary_tuf.errors import ValidationError

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

__all__ = ["OPERATION_KEY", "error_middleware", "error_response", "to_api_error"]

logger = logging.getLogger(__name__)

# A typed key: aiohttp >= 3.14 warns (NotAppKeyWarning) on plain string request keys.
OPERATION_KEY = web.RequestKey("OPERATION_KEY", str)
"""Request key under which the dispatcher records the route's operation name."""


def to_api_error(error: Exception) -> ApiError:
    """Map a domain error to the API error Go answers with."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, ValidationError):
        return ApiError(ErrorCode.INVALID_UPDATE, error.to_detail())
    if isinstance(error, OldVersionError):
        return ApiError(ErrorCode.VERSION, EMPTY_DETAIL)
    if isinstance(error, NotFoundError):
        return ApiError(ErrorCode.METADATA_NOT_FOUND, EMPTY_DETAIL)
    if isinstance(error, StorageError | TrustServiceError | RefreshError):
        return ApiError(ErrorCode.UNKNOWN, EMPTY_DETAIL)
    return ApiError(ErrorCode.UNKNOWN)


def error_response(error: ApiError) -> web.Response:
    """Write an error as Go does: JSON envelope, trailing newline, the code's status."""
    return web.Response(
        status=error.code.status,
        body=go_json(error.body()) + b"\n",
        content_type="application/json",
        charset="utf-8",
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Serve the request; write errors; record the request in the metrics."""
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException:
        raise
    except LimitExceededError as e:  # beyond Go (ADR 0012): 413, written with Go's envelope
        logger.info("%s %s: %s", request.method, request.path, e)
        response = await refuse_and_close(request, e)
    except Exception as e:
        error = to_api_error(e)
        if error.code.status >= 500:  # noqa: PLR2004 - server errors
            logger.exception("%s %s: %s", request.method, request.path, error.code.code)
        else:
            logger.info("%s %s: %s: %s", request.method, request.path, error.code.code, e)
        response = error_response(error)
    operation = request.get(OPERATION_KEY)
    if operation:
        metrics = request.app[METRICS_KEY]
        metrics.request_duration.labels(operation).observe(time.perf_counter() - started)
        metrics.requests.labels(operation, str(response.status)).inc()
    return response
