"""How much faster canonical JSON is through the C encoder than the pure-Python writer.

``python -m bench.canonical_speed [--repeat 5]`` times ``canonical_bytes(value)``
(the pure-Python writer) against ``canonical_bytes(value, str_keys=True)`` (the C
encoder when its output is provably Go's, ADR 0014) on the ``signed`` objects of
targets files with 10, 1,000 and 10,000 entries, and prints the best time of each
and the ratio. In process, one core; the figure ADR 0014 quotes.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as ``python bench/canonical_speed.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from notary_tuf.canonical import canonical_bytes
from testkit.repo_builder import RepoBuilder, SigningKey, signed_of

if TYPE_CHECKING:
    from collections.abc import Sequence

SIZES = (10, 1_000, 10_000)


def targets_signed(entries: int) -> dict[str, Any]:
    """The ``signed`` object of a targets file with ``entries`` targets (as parsed)."""
    builder = RepoBuilder(
        gun="bench.example.com/canonical",
        timestamp_key=SigningKey.generate().public,
        snapshot_key=SigningKey.generate().public,
    )
    for index in range(entries):
        builder.add_target(f"artifact-{index:06d}", f"artifact {index}".encode())
    return signed_of(builder.targets_file())


def best_seconds(value: dict[str, Any], *, fast: bool, repeat: int) -> float:
    """The best of ``repeat`` timings of one encoding (each the mean over a loop)."""
    timer = timeit.Timer(lambda: canonical_bytes(value, str_keys=fast))
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number


def main(argv: Sequence[str] | None = None) -> int:
    """Print one line per size: Python writer, C encoder, ratio."""
    parser = argparse.ArgumentParser(prog="python -m bench.canonical_speed")
    parser.add_argument("--repeat", type=int, default=5, help="timings per case (best kept)")
    args = parser.parse_args(argv)
    for entries in SIZES:
        value = targets_signed(entries)
        if canonical_bytes(value) != canonical_bytes(value, str_keys=True):
            sys.stderr.write("the two paths disagree\n")
            return 1
        size = len(canonical_bytes(value))
        slow = best_seconds(value, fast=False, repeat=args.repeat)
        fast = best_seconds(value, fast=True, repeat=args.repeat)
        sys.stdout.write(
            f"targets with {entries:>6,} entries ({size / 1024:,.0f} KiB): "
            f"Python writer {slow * 1000:.3f} ms, C encoder {fast * 1000:.3f} ms, "
            f"{slow / fast:.2f}x\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
