"""Logging set-up for the server process, in Go's two formats (``-logf json|logfmt``).

Only ``__main__`` calls :func:`setup_logging`; library code just uses
``logging.getLogger(__name__)``. The formatters and Go's level names are
:mod:`notary_runtime.logs`' (shared with the signer); this module adds the
request context.

Both formats add a request's context (``request_id``, ``gun``, ``role``,
``version``; see :mod:`notary_server.requestlog`) and the request line's
``method``, ``status`` and ``duration_ms`` when a record carries them.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Final

from notary_runtime import logs as runtime_logs

__all__ = [
    "CONTEXT_FIELDS",
    "REQUEST_CONTEXT",
    "JSONFormatter",
    "LogfmtFormatter",
    "RequestContextFilter",
    "setup_logging",
]

CONTEXT_FIELDS: Final = (
    "request_id",
    "gun",
    "role",
    "version",
    "method",
    "status",
    "duration_ms",
)
"""Record attributes the formatters write after ``logger``, when present."""

REQUEST_CONTEXT: ContextVar[dict[str, str] | None] = ContextVar(
    "notary_request_context", default=None
)
"""The fields of the request being served in this task (set by the request-log middleware)."""


class RequestContextFilter(logging.Filter):
    """Copy the current request's fields onto each record (never overriding ``extra``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the fields; never drops a record."""
        for key, value in (REQUEST_CONTEXT.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JSONFormatter(runtime_logs.JSONFormatter):
    """One JSON object per line: ``time``, ``level``, ``msg``, ``logger``, the request's fields."""

    def __init__(self) -> None:
        """Write :data:`CONTEXT_FIELDS` when a record carries them."""
        super().__init__(CONTEXT_FIELDS)


class LogfmtFormatter(runtime_logs.LogfmtFormatter):
    """``key=value`` pairs, values quoted when they need it, the request's fields included."""

    def __init__(self) -> None:
        """Write :data:`CONTEXT_FIELDS` when a record carries them."""
        super().__init__(CONTEXT_FIELDS)


def setup_logging(level: str, log_format: str) -> None:
    """Configure the root logger once, for the whole process.

    Args:
        level: Go's level name (``debug`` … ``panic``); unknown names mean ``info``.
        log_format: ``json`` or ``logfmt``.
    """
    runtime_logs.setup_logging(
        level,
        log_format,
        default_level=logging.INFO,
        context_fields=CONTEXT_FIELDS,
        filters=[RequestContextFilter()],
    )
