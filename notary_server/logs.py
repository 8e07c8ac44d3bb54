"""Logging set-up for the server process, in Go's two formats (``-logf json|logfmt``).

Only ``__main__`` calls :func:`setup_logging`; library code just uses
``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Final

__all__ = ["setup_logging"]

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
        entry = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
            "logger": record.name,
        }
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
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(level.lower(), logging.INFO))
