"""The scenario table: what is measured, at which concurrency, and (later) the targets.

To add a scenario, add a row. ``target_ratio`` is the minimum ours/Go throughput
ratio a scenario should reach (issue #8 sets them); a row with one gets a
``meets target`` verdict in the table and the JSON. It is a report, not a test:
the benchmark never fails on a ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["get", "publish"]
# Which GetPaths attribute a GET scenario requests (see bench.seed.GetPaths).
PathName = Literal["timestamp", "root", "targets_by_checksum", "root_by_version"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One row of the results table."""

    name: str
    kind: Kind
    path: PathName | None = None
    connections: int = 1
    smoke: bool = False
    target_ratio: float | None = None
    description: str = ""


SCENARIOS: Final[tuple[Scenario, ...]] = (
    *(
        Scenario(
            name=f"GET timestamp.json c={c}",
            kind="get",
            path="timestamp",
            connections=c,
            smoke=c == 16,
            description="current timestamp (the first thing every client fetches)",
        )
        for c in (1, 16, 64)
    ),
    *(
        Scenario(
            name=f"GET root.json c={c}",
            kind="get",
            path="root",
            connections=c,
            description="current root",
        )
        for c in (1, 16, 64)
    ),
    Scenario(
        name="GET targets.<sha256>.json c=64",
        kind="get",
        path="targets_by_checksum",
        connections=64,
        description="consistent (by checksum) targets",
    ),
    Scenario(
        name="GET 1.root.json c=64",
        kind="get",
        path="root_by_version",
        connections=64,
        description="root by version",
    ),
    Scenario(
        name="POST targets (publish) c=1",
        kind="publish",
        smoke=True,
        description="sequential targets updates; the server signs snapshot + timestamp",
    ),
)


def select(*, smoke: bool, names: list[str] | None = None) -> list[Scenario]:
    """The scenarios to run: those named (substring match), else smoke or all."""
    if names:
        chosen = [s for s in SCENARIOS if any(n.lower() in s.name.lower() for n in names)]
        if not chosen:
            raise ValueError(f"no scenario matches {names!r}")
        return chosen
    return [s for s in SCENARIOS if s.smoke or not smoke]
