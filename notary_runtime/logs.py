"""Process logging in Go notary's two formats (``-logf json|logfmt``) and logrus's levels.

Only a service's ``__main__`` calls :func:`setup_logging`; library code just
uses ``logging.getLogger(__name__)``. Both formatters write ``time``,
``level``, ``msg`` and ``logger``, then whichever of the service's context
fields a record carries (the server's request ID, GUN…), then ``error`` with
the traceback when there is one.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["LEVELS", "LOG_FORMATS", "JSONFormatter", "LogfmtFormatter", "setup_logging"]

LOG_FORMATS: Final = ("json", "logfmt")
"""The values of ``-logf``."""

LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "panic": logging.CRITICAL,
}
"""Go's logrus level names → Python's levels."""


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class _ContextFormatter(logging.Formatter):
    """Knows which optional record attributes to write after ``logger``."""

    def __init__(self, context_fields: Sequence[str] = ()) -> None:
        """Write ``context_fields`` (record attributes) when a record carries them."""
        super().__init__()
        self.context_fields = tuple(context_fields)

    def _pairs(self, record: logging.LogRecord) -> list[tuple[str, object]]:
        pairs: list[tuple[str, object]] = [
            ("time", _timestamp(record)),
            ("level", record.levelname.lower()),
            ("msg", record.getMessage()),
            ("logger", record.name),
        ]
        pairs += [
            (key, getattr(record, key))
            for key in self.context_fields
            if getattr(record, key, None) is not None
        ]
        if record.exc_info:
            pairs.append(("error", self.formatException(record.exc_info)))
        return pairs


class JSONFormatter(_ContextFormatter):
    """One JSON object per line: ``time``, ``level``, ``msg``, ``logger`` (+ context, ``error``)."""

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` as a JSON line."""
        return json.dumps(dict(self._pairs(record)), ensure_ascii=False)


class LogfmtFormatter(_ContextFormatter):
    """``key=value`` pairs, values quoted when they need it."""

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` as a logfmt line."""
        return " ".join(f"{key}={_logfmt_value(str(value))}" for key, value in self._pairs(record))


def _logfmt_value(value: str) -> str:
    if value and not any(c in value for c in ' ="\n\t'):
        return value
    return json.dumps(value, ensure_ascii=False)


def setup_logging(
    level: str,
    log_format: str,
    *,
    default_level: int = logging.INFO,
    context_fields: Sequence[str] = (),
    filters: Sequence[logging.Filter] = (),
) -> None:
    """Configure the root logger once, for the whole process: one handler on stderr.

    Args:
        level: Go's level name (``debug`` … ``panic``, any case).
        log_format: ``json`` or ``logfmt``.
        default_level: what an unknown level name means.
        context_fields: record attributes the formatter writes when present.
        filters: added to the handler (for example, one that sets the context fields).
    """
    formatter_class = JSONFormatter if log_format == "json" else LogfmtFormatter
    handler = logging.StreamHandler()
    handler.setFormatter(formatter_class(context_fields))
    for log_filter in filters:
        handler.addFilter(log_filter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS.get(level.lower(), default_level))
