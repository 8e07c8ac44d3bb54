"""The scenario table: what is measured, at which concurrency, and the targets (issue #8).

To add a scenario, add a row. ``target_ratio`` is the minimum ours/Go throughput
ratio a scenario should reach; a row with one gets a ``meets target`` verdict in
the table and the JSON. It is a report, not a test: the benchmark never fails on
a ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["get", "publish", "publish_parallel", "publish_large"]
# Which GetPaths attribute a GET scenario requests (see bench.seed.GetPaths).
PathName = Literal["timestamp", "root", "targets_by_checksum", "root_by_version"]
# Whom ours is compared with: Go on PostgreSQL, or Go with its in-memory store.
Against = Literal["go", "go_memory"]

SCALE_SMALL: Final = 10
SCALE_LARGE: Final = 100_000
PARALLEL_GUNS: Final = 16
LARGE_TARGETS: Final = 10_000


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
    against: Against = "go"
    conditional: bool = False  # send If-None-Match with the body's ETag
    guns: int = 0  # GET over this many GUNs, one picked at random per request
    parallel: int = 1  # publish_parallel: repositories published concurrently
    entries: int = 0  # publish_large: targets in the targets file
    work_differs: str = ""  # set when the servers do different work: no ratio is printed


SCENARIOS: Final[tuple[Scenario, ...]] = (
    *(
        Scenario(
            name=f"GET timestamp.json c={c}",
            kind="get",
            path="timestamp",
            connections=c,
            smoke=c == 16,
            target_ratio=10.0 if c == 64 else None,
            description="current timestamp (the first thing every client fetches)",
        )
        for c in (1, 16, 64)
    ),
    Scenario(
        name="GET timestamp.json c=64 vs Go in-memory",
        kind="get",
        path="timestamp",
        connections=64,
        target_ratio=1.5,
        against="go_memory",
        description="ours on PostgreSQL against the Go server on its memory store",
    ),
    *(
        Scenario(
            name=f"GET root.json c={c}",
            kind="get",
            path="root",
            connections=c,
            target_ratio=10.0 if c == 64 else None,
            description="current root",
        )
        for c in (1, 16, 64)
    ),
    Scenario(
        name="GET targets.<sha256>.json c=64",
        kind="get",
        path="targets_by_checksum",
        connections=64,
        target_ratio=10.0,
        description="consistent (by checksum) targets",
    ),
    Scenario(
        name="GET 1.root.json c=64",
        kind="get",
        path="root_by_version",
        connections=64,
        target_ratio=10.0,
        description="root by version",
    ),
    Scenario(
        name="GET timestamp.json c=64 If-None-Match",
        kind="get",
        path="timestamp",
        connections=64,
        conditional=True,
        work_differs="ours answers 304 without a body, Go 200 with it",
        description="conditional GET: ours answers 304 without a body, Go ignores it (200)",
    ),
    *(
        Scenario(
            name=f"GET timestamp.json c=16 over {guns:,} GUNs",
            kind="get",
            path="timestamp",
            connections=16,
            guns=guns,
            description="a random repository per request out of this many",
        )
        for guns in (SCALE_SMALL, SCALE_LARGE)
    ),
    Scenario(
        name="POST targets (publish) c=1",
        kind="publish",
        smoke=True,
        target_ratio=3.0,
        description="sequential targets updates; the server signs snapshot + timestamp",
    ),
    Scenario(
        name=f"POST targets (publish) {PARALLEL_GUNS} GUNs in parallel",
        kind="publish_parallel",
        parallel=PARALLEL_GUNS,
        target_ratio=3.0,
        description="one sequential publisher per repository, all at once",
    ),
    Scenario(
        name=f"POST targets with {LARGE_TARGETS:,} entries c=1",
        kind="publish_large",
        entries=LARGE_TARGETS,
        target_ratio=0.5,
        description="a large targets file; the target is 'within 2x of Go's time'",
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
