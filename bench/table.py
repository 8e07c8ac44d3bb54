"""The benchmarks' text tables: one renderer for the server rows and the signer rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["render_table"]


def render_table(lines: Sequence[Sequence[str]]) -> list[str]:
    """``lines`` (the header first) as text: the first column left-aligned, the others right."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for index, line in enumerate(lines):
        cells = [
            cell.ljust(width) if col == 0 else cell.rjust(width)
            for col, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        out.append(" | ".join(cells))
        if index == 0:
            out.append("-+-".join("-" * w for w in widths))
    return out
