"""Run the same ``notary`` command against both servers at once and compare.

Each side has its own clients (trust dirs) under ``<workdir>/<side>/``; both read
the same material files. A step differs when one side exits 0 and the other does
not; after a step that may have changed the server, both sides also list the
repository from a brand-new client and from the owner, and list the delegations
from the brand-new client, and those views must agree.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from testkit.gotools import NotaryCLI
from tests.differential.model import OWNER, Op
from tests.differential.observe import Observation, delegation_rows, label_keys, target_rows
from tests.differential.replay import ReplayLine
from tests.differential.servers import SIDES, ServerPair

if TYPE_CHECKING:
    from pathlib import Path

    from tests.differential.material import Material

CLI_TIMEOUT = 60.0
"""Seconds one ``notary`` call may take before the walk is abandoned."""


@dataclass(frozen=True)
class Difference:
    """The first disagreement of a walk."""

    step: int
    what: str
    outputs: dict[str, tuple[int, str, str]]

    def describe(self) -> str:
        """Both sides' exit statuses and output."""
        parts = [f"step {self.step}: {self.what}"]
        for side in SIDES:
            code, out, err = self.outputs[side]
            parts.append(f"--- {side}: exit {code}\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}")
        return "\n".join(parts)


@dataclass
class LockStep:
    """Both sides of one walk: their clients, the replay so far and a thread per side."""

    pair: ServerPair
    workdir: Path
    material: Material
    lines: list[ReplayLine] = field(default_factory=list)
    fresh_count: int = 0
    _clients: dict[tuple[str, str], NotaryCLI] = field(default_factory=dict)

    def client(self, side: str, actor: str) -> NotaryCLI:
        """The ``actor`` client of ``side`` (created on first use)."""
        key = (side, actor)
        if key not in self._clients:
            server = self.pair[side]
            self._clients[key] = NotaryCLI(
                self.workdir / side / actor,
                server_url=server.url,
                ca_path=server.ca_path,
                timeout=CLI_TIMEOUT,
            )
        return self._clients[key]

    def _run_both(self, op: Op) -> dict[str, subprocess.CompletedProcess[str]]:
        args = [self.material.resolve(a) for a in op.args]

        def run(side: str) -> subprocess.CompletedProcess[str]:
            return self.client(side, op.actor).run(*args, check=False, input=op.stdin)

        with ThreadPoolExecutor(max_workers=len(SIDES)) as pool:
            return dict(zip(SIDES, pool.map(run, SIDES), strict=True))

    def step(self, index: int, op: Op) -> tuple[bool, Difference | None]:
        """Run ``op`` on both sides; return whether it exited 0 and any difference."""
        done = self._run_both(op)
        codes = {side: proc.returncode for side, proc in done.items()}
        comment = f"step {index} {op.kind}: " + " ".join(f"{s}={c}" for s, c in codes.items())
        failed = next((p for p in done.values() if p.returncode != 0), None)
        if failed is not None:
            reason = (failed.stderr.strip() or failed.stdout.strip()).splitlines()
            comment += f" ({reason[-1][:160] if reason else 'no output'})"
        self.lines.append(ReplayLine(op, comment))
        oks = {code == 0 for code in codes.values()}
        if len(oks) > 1:
            outputs = {s: (p.returncode, p.stdout, p.stderr) for s, p in done.items()}
            return False, Difference(index, f"exit status differs for `{op.kind}`", outputs)
        return oks.pop(), None

    def _observe_both(self, index: int, op: Op, what: str) -> Difference | None:
        done = self._run_both(op)
        known = {}
        for name, key in self.material.keys.items():  # ``delegation list`` shows canonical IDs
            known[key.tuf_id] = known[key.canonical_id] = name
        views = {side: self._view(what, proc, known) for side, proc in done.items()}
        self.lines.append(
            ReplayLine(
                op,
                f"compare after step {index}: "
                + " ".join(f"{s}={p.returncode}" for s, p in done.items()),
            )
        )
        go, ours = (views[side] for side in SIDES)
        if go.same_as(ours):
            return None
        outputs = {s: (p.returncode, p.stdout, p.stderr) for s, p in done.items()}
        detail = f"{what} differs after step {index}: go={go.view!r} ours={ours.view!r}"
        if go.ok != ours.ok:
            detail = f"{what} exit status differs after step {index}"
        return Difference(index, detail, outputs)

    @staticmethod
    def _view(
        what: str, proc: subprocess.CompletedProcess[str], known: dict[str, str]
    ) -> Observation:
        ok = proc.returncode == 0
        if what.startswith("delegation list"):
            view: object = label_keys(delegation_rows(proc.stdout), known) if ok else None
        else:
            view = target_rows(proc.stdout) if ok else None
        return Observation(what, ok, view, proc.stdout, proc.stderr)

    def compare(self, index: int, gun: str) -> Difference | None:
        """List targets (fresh client, owner) and delegations (fresh client) on both sides."""
        self.fresh_count += 1
        fresh = f"fresh-{self.fresh_count}"
        checks = (
            ("list (fresh client)", Op(fresh, ("list", gun), "compare-list")),
            ("list (owner)", Op(OWNER, ("list", gun), "compare-list")),
            (
                "delegation list (fresh client)",
                Op(fresh, ("delegation", "list", gun), "compare-delegations"),
            ),
        )
        for what, op in checks:
            difference = self._observe_both(index, op, what)
            if difference is not None:
                return difference
        return None
