"""Timestamps as Go's ``time`` package parses and prints them in metadata.

Notary writes ``expires`` with Go's RFC 3339 "nano" layout: up to nine
fractional digits with trailing zeros trimmed, and ``Z`` or a ``±hh:mm`` offset.
Python's ``datetime`` keeps only microseconds, so an ``expires`` value is kept
as the string received together with its instant in integer nanoseconds; the
string is never regenerated from a parsed value.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from notary_tuf.errors import FormatError

__all__ = ["GoTime", "format_go_time", "unix_nanos"]

_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})\Z"
)
_NANOS_PER_SECOND: Final = 1_000_000_000
_MAX_MARSHAL_YEAR: Final = 9999
_UNIX_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_DAYS_YEAR0_TO_EPOCH_NEG: Final = -719528  # days from 1970-01-01 back to 0000-01-01


def unix_nanos(moment: datetime) -> int:
    """Return an aware datetime as integer nanoseconds since the Unix epoch."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
    delta = moment - _UNIX_EPOCH  # aware arithmetic: exact, whatever the offset
    return (delta.days * 86_400 + delta.seconds) * _NANOS_PER_SECOND + delta.microseconds * 1000


def _format_offset(offset_minutes: int) -> str:
    if offset_minutes == 0:
        return "Z"
    sign = "+" if offset_minutes > 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def _format_fraction(nanos: int) -> str:
    if nanos == 0:
        return ""
    return "." + f"{nanos:09d}".rstrip("0")


@dataclass(frozen=True, slots=True)
class GoTime:
    """An RFC 3339 timestamp as received, with its exact instant.

    Attributes:
        text: the string exactly as it appeared in the metadata.
        nanos: the instant as nanoseconds since the Unix epoch (UTC).
        go_text: what Go prints when it re-serialises the parsed value.
    """

    text: str
    nanos: int = field(compare=False)
    go_text: str = field(compare=False)

    @classmethod
    def parse(cls, text: str, *, path: str = "expires") -> GoTime:
        """Parse an RFC 3339 timestamp with Go's rules.

        Raises:
            FormatError: ``text`` is not a timestamp Go's parser accepts, or Go
                could not write it back (year beyond 9999).
        """
        match = _RFC3339.match(text)
        if match is None:
            raise FormatError(f"{path}: {text!r} is not an RFC 3339 timestamp")
        year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
        fraction, zone = match.group(7), match.group(8)
        if not 1 <= month <= 12:  # noqa: PLR2004 - months of the year
            raise FormatError(f"{path}: month out of range in {text!r}")
        # Year 0 of the proleptic Gregorian calendar is a leap year, like 2000.
        if not 1 <= day <= calendar.monthrange(year or 2000, month)[1]:
            raise FormatError(f"{path}: day out of range in {text!r}")
        if hour > 23 or minute > 59 or second > 59:  # noqa: PLR2004 - clock ranges
            raise FormatError(f"{path}: time out of range in {text!r}")
        offset_minutes = 0
        if zone != "Z":
            zone_hours, zone_minutes = int(zone[1:3]), int(zone[4:6])
            if zone_hours > 23 or zone_minutes > 59:  # noqa: PLR2004 - clock ranges
                raise FormatError(f"{path}: time zone offset out of range in {text!r}")
            offset_minutes = (zone_hours * 60 + zone_minutes) * (1 if zone[0] == "+" else -1)
        if year > _MAX_MARSHAL_YEAR:  # pragma: no cover - four digits cannot exceed it
            raise FormatError(f"{path}: year out of range in {text!r}")
        # Go keeps nanoseconds and drops any further digits.
        nanos_part = int((fraction or "0")[:9].ljust(9, "0"))
        if year == 0:  # before datetime's range; Go's zero time is in year 1
            days = (
                _DAYS_YEAR0_TO_EPOCH_NEG
                + sum(calendar.monthrange(2000, m)[1] for m in range(1, month))
                + day
                - 1
            )
        else:
            days = (datetime(year, month, day, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).days
        seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60
        go_text = (
            f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
            f"{_format_fraction(nanos_part)}{_format_offset(offset_minutes)}"
        )
        return cls(text=text, nanos=seconds * _NANOS_PER_SECOND + nanos_part, go_text=go_text)

    def is_expired(self, now: datetime) -> bool:
        """Return True when the instant lies strictly before ``now`` (Go's rule)."""
        return self.nanos < unix_nanos(now)

    def to_datetime(self) -> datetime:
        """Return the instant as an aware UTC datetime (truncated to microseconds)."""
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        try:
            return epoch + timedelta(microseconds=self.nanos // 1000)
        except OverflowError:  # year 0 lies before datetime.min
            return datetime.min.replace(tzinfo=UTC)


def format_go_time(moment: datetime) -> str:
    """Print an aware datetime in Go's RFC 3339 "nano" layout, in UTC.

    Raises:
        ValueError: ``moment`` is naive.
    """
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + _format_fraction(utc.microsecond * 1000) + "Z"
