"""Seeded random client walks against Go's notary-server and ours, in lock-step.

A walk draws ``notary`` CLI steps (:mod:`.generator`), runs each on both sides
(:mod:`.lockstep`) and stops at the first difference: exit statuses, or after a
step that changed the server, the targets and delegations a brand-new client and
the owner list. The report names the seed, the step and a replay script.

For longer local sweeps::

    .venv/bin/python -m tests.differential.walks --walks 200 --steps 80 --seed 1000 --shrink
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.differential.generator import Generator
from tests.differential.lockstep import Difference, LockStep
from tests.differential.material import Material
from tests.differential.model import Op, WalkModel
from tests.differential.replay import replay_script
from tests.differential.servers import ServerPair

MAX_SHRINK_RUNS = 200
"""Replays the shrinker may spend on one difference."""


@dataclass
class WalkOutcome:
    """What one walk did and, if it found one, its first difference."""

    seed: int
    gun: str
    material: Material
    steps_run: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    succeeded: Counter[str] = field(default_factory=Counter)
    difference: Difference | None = None
    replay: str = ""
    shrunk: str = ""
    ops: list[Op] = field(default_factory=list)
    seconds: float = 0.0

    def report(self) -> str:
        """The assertion message: seed, step, both sides' output and the replay."""
        if self.difference is None:
            return f"seed {self.seed}: no difference in {self.steps_run} steps"
        parts = [
            f"client walk seed={self.seed} gun={self.gun}: difference after {self.steps_run} steps",
            self.difference.describe(),
            f"--- replay (seed {self.seed}):\n{self.replay}",
        ]
        if self.shrunk:
            parts.append(f"--- shortest replay found:\n{self.shrunk}")
        return "\n".join(parts)


def walk_gun(seed: int, attempt: int = 0) -> str:
    """A GUN per walk (and per shrinking attempt), so walks can share one server pair."""
    suffix = f"-x{attempt}" if attempt else ""
    return f"example.com/walk/s{seed}{suffix}"


def run_walk(pair: ServerPair, seed: int, steps: int, workdir: Path) -> WalkOutcome:
    """Run walk ``seed`` for at most ``steps`` steps."""
    started = time.monotonic()
    material = Material(workdir / "files")
    outcome = WalkOutcome(seed, walk_gun(seed), material)
    model = WalkModel(outcome.gun)
    rng = random.Random(seed)  # noqa: S311 - seeded so a walk replays
    generator = Generator(rng, model, material)
    lockstep = LockStep(pair, workdir, material)
    for index in range(steps):
        planned = generator.next_step()
        outcome.ops.append(planned.op)
        outcome.kinds[planned.op.kind] += 1
        outcome.steps_run = index + 1
        ok, difference = lockstep.step(index, planned.op)
        if difference is None:
            outcome.succeeded[planned.op.kind] += ok
            planned.effect(model, ok)
            if planned.op.remote and ok:
                difference = lockstep.compare(index, model.gun)
        if difference is not None:
            outcome.difference = difference
            break
    outcome.replay = replay_script(material, lockstep.lines)
    outcome.seconds = time.monotonic() - started
    return outcome


def replay_differs(
    pair: ServerPair, walk: WalkOutcome, ops: list[Op], workdir: Path, gun: str
) -> tuple[list[Op], LockStep] | None:
    """Play ``ops`` on ``gun`` instead of the walk's GUN.

    Returns:
        The steps played and their lock-step if one of them differed, else None.
    """
    lockstep = LockStep(pair, workdir, walk.material)
    played: list[Op] = []
    for index, template in enumerate(ops):
        args = tuple(a.replace(walk.gun, gun) for a in template.args)
        op = Op(template.actor, args, template.kind, template.stdin, template.remote)
        played.append(template)
        ok, difference = lockstep.step(index, op)
        if difference is None and op.remote and ok:
            difference = lockstep.compare(index, gun)
        if difference is not None:
            return played, lockstep
    return None


def shrink(pair: ServerPair, walk: WalkOutcome, workdir: Path) -> str:
    """Greedily drop steps while some difference remains; return the shortest replay found."""
    ops = list(walk.ops)
    best: LockStep | None = None
    index = len(ops) - 2
    attempt = 0
    while index >= 0 and attempt < MAX_SHRINK_RUNS:
        attempt += 1
        trial = ops[:index] + ops[index + 1 :]
        gun = walk_gun(walk.seed, attempt)
        found = replay_differs(pair, walk, trial, workdir / f"try-{attempt}", gun)
        if found is not None:
            ops, best = found
            index = min(index, len(ops) - 1)
        index -= 1
    if best is None:
        return ""
    return replay_script(walk.material, best.lines)


def run_walks(
    pair: ServerPair,
    seeds: list[int],
    steps: int,
    workdir: Path,
    *,
    jobs: int = 2,
) -> list[WalkOutcome]:
    """Run the walks of ``seeds`` on one server pair, ``jobs`` at a time."""

    def one(seed: int) -> WalkOutcome:
        return run_walk(pair, seed, steps, workdir / f"walk-{seed}")

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, seeds))


def main(argv: list[str] | None = None) -> int:
    """Command line: run walks, print a summary and every difference; exit 1 on any."""
    parser = argparse.ArgumentParser(prog="python -m tests.differential.walks", description=__doc__)
    parser.add_argument("--walks", type=int, default=30)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0, help="first seed; walks use seed..seed+N-1")
    parser.add_argument("--jobs", type=int, default=2, help="walks run at the same time")
    parser.add_argument("--shrink", action="store_true", help="look for a shorter replay")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--our-code", type=Path, default=None, help="run our server from this copy of the packages"
    )
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="notary-walks-"))
    started = time.monotonic()
    seeds = list(range(args.seed, args.seed + args.walks))
    with ServerPair(workdir / "servers", our_code=args.our_code) as pair:
        outcomes = run_walks(pair, seeds, args.steps, workdir, jobs=args.jobs)
        failed = [o for o in outcomes if o.difference is not None]
        if args.shrink:
            for outcome in failed:
                outcome.shrunk = shrink(pair, outcome, workdir / f"shrink-{outcome.seed}")
    kinds: Counter[str] = Counter()
    for outcome in outcomes:
        kinds.update(outcome.kinds)
    out = sys.stdout
    for outcome in failed:
        out.write(outcome.report() + "\n\n")
    total_steps = sum(o.steps_run for o in outcomes)
    out.write(
        f"walks: {len(outcomes)}, steps: {total_steps}, differing walks: {len(failed)} "
        f"(seeds {[o.seed for o in failed]}), {time.monotonic() - started:.1f}s, "
        f"workdir {workdir}\n"
    )
    out.write("steps by kind: " + ", ".join(f"{k}={n}" for k, n in sorted(kinds.items())) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
