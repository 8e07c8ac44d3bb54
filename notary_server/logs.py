"""Logging set-up for the server process, in Go's two formats (``-logf json|logfmt``).

Only ``__main__`` calls :func:`setup_logging`; library code just uses
``logging.getLogger(__name__)``.

Both formats add a request's context (``request_id``, ``gun``, ``role``,
``version``; see :mod:`notary_server.requestlog`) and the request line's
``method``, ``status`` and ``duration_ms`` when a record carries them.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Final

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


def _context(record: logging.LogRecord) -> list[tuple[str, object]]:
    return [
        (key, getattr(record, key))
        for key in CONTEXT_FIELDS
        if getattr(record, key, None) is not None
    ]


# Go's logrus levels → Python's.
_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "panic": logging.CRITICAL,
}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JSONFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``msg``, ``logger`` (+ ``error``)."""

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` as a JSON line."""
        entry: dict[str, object] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
            "logger": record.name,
        }
        entry.update(_context(record))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class LogfmtFormatter(logging.Formatter):
    """``key=value`` pairs, values quoted when they need it."""

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` as a logfmt line."""
        pairs = [
            ("time", _timestamp(record)),
            ("level", record.levelname.lower()),
            ("msg", record.getMessage()),
            ("logger", record.name),
        ]
        pairs += [(key, str(value)) for key, value in _context(record)]
        if record.exc_info:
            pairs.append(("error", self.formatException(record.exc_info)))
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in pairs)


def _logfmt_value(value: str) -> str:
    if value and not any(c in value for c in ' ="\n\t'):
        return value
    return json.dumps(value, ensure_ascii=False)


def setup_logging(level: str, log_format: str) -> None:
    """Configure the root logger once, for the whole process.

    Args:
        level: Go's level name (``debug`` … ``panic``); unknown names mean ``info``.
        log_format: ``json`` or ``logfmt``.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter() if log_format == "json" else LogfmtFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(level.lower(), logging.INFO))
