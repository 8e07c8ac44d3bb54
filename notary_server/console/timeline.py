"""The expiry timeline's geometry; the template draws it as inline SVG (no script, no CSS inline).

Each item is a bar from the left edge to its expiry, coloured by how close
that is; a vertical line marks today. The scale runs from 30 days before
today (or the earliest expiry) to the latest expiry (at least 90 days ahead).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from notary_server.console.data import expiry

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Bar", "Timeline", "build_timeline"]

WIDTH: Final = 900
LABEL_WIDTH: Final = 260
ROW: Final = 22
TOP: Final = 24
TICKS: Final = 6


@dataclass(frozen=True, slots=True)
class Bar:
    """One item: its label, row, bar end and colour class."""

    label: str
    y: int
    x_end: int
    css: str
    title: str


@dataclass(frozen=True, slots=True)
class Timeline:
    """A drawable timeline."""

    width: int
    height: int
    left: int
    today_x: int
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[int, str], ...]


def build_timeline(items: Sequence[tuple[str, datetime]], now: datetime) -> Timeline:
    """Lay out ``(label, expires)`` items against ``now``."""
    start = min([now - timedelta(days=30), *(when for _, when in items)])
    end = max([now + timedelta(days=90), *(when for _, when in items)])
    span = (end - start).total_seconds() or 1.0
    usable = WIDTH - LABEL_WIDTH - 40  # room for the last date label

    def x_of(moment: datetime) -> int:
        return LABEL_WIDTH + round((moment - start).total_seconds() / span * usable)

    bars = []
    for row, (label, when) in enumerate(items):
        state = expiry(when, now)
        title = f"{label}: {when:%Y-%m-%d %H:%M} UTC" + (f" ({state.label})" if state.label else "")
        bars.append(Bar(label, TOP + row * ROW, max(x_of(when), LABEL_WIDTH + 2), state.css, title))
    ticks = tuple(
        (x_of(start + (end - start) * i / TICKS), f"{start + (end - start) * i / TICKS:%Y-%m-%d}")
        for i in range(TICKS + 1)
    )
    return Timeline(
        width=WIDTH,
        height=TOP + max(len(items), 1) * ROW + 10,
        left=LABEL_WIDTH,
        today_x=x_of(now),
        bars=tuple(bars),
        ticks=ticks,
    )
