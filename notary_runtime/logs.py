"""Process logging in Go notary's two formats (``-logf json|logfmt``) and logrus's levels.

Only a service's ``__main__`` calls :func:`setup_logging`; library code just
uses ``logging.getLogger(__name__)``. Both formatters write ``time``,
``level``, ``msg`` and ``logger``, then whichever of the service's context
fields a record carries (the server's request ID, GUN…), then ``error`` with
the traceback when there is one.

A record's ``msg`` and ``error`` are each cut to :data:`MAX_FIELD_CHARS`
characters, keeping the head and the tail (where a traceback names the
exception): a client must not be able to turn one small request into a huge
log line (issue #14: a 1.4 KB upload logged a 193 KiB RecursionError traceback).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "LEVELS",
    "LOG_FORMATS",
    "MAX_FIELD_CHARS",
    "JSONFormatter",
    "LogfmtFormatter",
    "setup_logging",
    "truncate_field",
]

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


MAX_FIELD_CHARS: Final = 4096
"""The most characters a record's ``msg`` or ``error`` (traceback) is written with."""

_HEAD_CHARS: Final = 1024


def truncate_field(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """Return ``text`` cut to about ``limit`` characters: its head, a marker, its tail."""
    if len(text) <= limit:
        return text
    head = min(_HEAD_CHARS, limit // 4)
    tail = max(limit - head - 64, 0)
    omitted = len(text) - head - tail
    return f"{text[:head]}\n... [{omitted} characters omitted] ...\n{text[len(text) - tail :]}"


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
            ("msg", truncate_field(record.getMessage())),
            ("logger", record.name),
        ]
        pairs += [
            (key, getattr(record, key))
            for key in self.context_fields
            if getattr(record, key, None) is not None
        ]
        if record.exc_info:
            pairs.append(("error", truncate_field(self.formatException(record.exc_info))))
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
