"""Seeded ``docker trust`` walks run in lock-step against Go's notary-server and ours.

A walk is a list of steps made from a seed alone (never from outcomes, so a seed
is a complete replay; :mod:`tests.differential.docker_steps` makes them and their
command lines). :class:`Lockstep` runs each
step on two :class:`DockerSide` objects at once, one per server, each with its own
``DOCKER_CONFIG``. It asks for the same exit status after every step, the same
``docker trust inspect --pretty`` text for an inspect step, and, after every step
that may change the repository, the same observation (:meth:`DockerSide.observe`):
``docker trust inspect`` JSON with key IDs as labels, and the DCT pull resolution
of every tag the walk ever signed plus one it never signed. The first difference
raises :class:`WalkDifferenceError`, whose text holds the seed, the step, the
commands to replay and both sides' output.

Without a daemon docker still resolves ``DOCKER_CONTENT_TRUST=1 docker pull``
through the trust server: it prints ``Pull (1 of 1): REPO:TAG@sha256:HEX`` and only
then fails to reach ``DOCKER_HOST`` (a closed loopback port). ``docker trust sign``
needs the daemon, so tags are signed with the real ``notary`` CLI on docker's trust
directory (``addhash ... --roles ROLE -p``); a failed one is followed by ``notary
reset --all`` so its staged change does not ride along with later publishes. Some
signings are only staged and go out with the next ``notary publish`` or docker
publish. The notary CLI also rotates keys (``key rotate``, root/targets/snapshot
local, snapshot/timestamp ``-r``) and deletes the repository (``delete --remote``).
Key generation and loading touch no server, so no observation follows them.

The pulls run at once, each tag from its own ``DOCKER_CONFIG`` kept for the whole
walk (a separate trust cache per tag, updated from step to step). Observations
ignore the order of docker's lists (it fills some from Go maps) and label key IDs
(:func:`label_inspect`): the walk's own keys by name, the admin keys by role.

docker 28 facts the walks rely on (observed, and in docker/cli
``cli/command/trust/signer_remove.go``): ``signer remove`` removes only a signer
whose keys made the last signatures on ``targets/releases``, and only after a "y"
at the prompt; otherwise (``--force`` included) it exits 0 having done nothing.
So walks also make "foreign" signer keys (private half outside docker's keystore
until ``docker trust key load``), which is how a last signer arises.

Longer local sweeps:
``.venv/bin/python -m tests.differential.docker_walks --walks N --steps M [--seed S]``
(``--shrink`` shortens each difference's walk, ``--fixed`` also runs
:data:`LAST_SIGNER_WALK`, ``--our-code DIR`` runs our server from another checkout,
``--verbose`` prints every step and what both sides saw).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from testkit.gotools import GoNotaryServer, NotaryServerProcess
from testkit.gotools.common import (
    DEFAULT_PASSPHRASE,
    PASSPHRASE_ENV_VARS,
    free_port,
    no_proxy_env,
    tail_of,
)
from testkit.ourserver import OurNotaryServer
from tests.differential.docker_outputs import label_inspect, same_lines, scrub_checksums
from tests.differential.docker_steps import (
    KEYS_DIR,
    LAST_SIGNER_WALK,
    NEVER_SIGNED_TAG,
    READ_ONLY_OPS,
    TRUST_DIR,
    Command,
    Step,
    generate_walk,
    gun_for,
    shell_replay,
    step_commands,
    tuf_key_id,
    write_foreign_key,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import FrameType

_T = TypeVar("_T")
DOCKER = shutil.which("docker")
COMMAND_TIMEOUT = 60.0
_LOG_LINE = re.compile(r'^time="[^"]*" level=')
_PULLED = re.compile(r"Pull \(1 of 1\): \S+@sha256:([0-9a-f]{64})")
_LABEL = re.compile(r"<[^<>]+>")
# ------------------------------------------------------------------------ one side


@dataclass(frozen=True)
class Outcome:
    """Exit status (the first failing command's, else 0) and output of a step on one side."""

    rc: int
    stdout: str
    stderr: str
    commands: tuple[str, ...]

    def text(self) -> str:
        return (
            f"  commands: {' ; '.join(self.commands) or '(harness only)'}\n"
            f"  exit: {self.rc}\n  stdout:\n{_indent(self.stdout)}\n"
            f"  stderr:\n{_indent(self.stderr)}"
        )


def _indent(text: str) -> str:
    return "\n".join(f"    | {line}" for line in text.rstrip("\n").splitlines()) or "    |"


class DockerSide:
    """The docker and notary CLIs against one server, in their own directory."""

    def __init__(
        self, server: NotaryServerProcess, basedir: Path, *, gun: str, docker_host: str
    ) -> None:
        self.server = server
        self.basedir = basedir
        basedir.mkdir(parents=True)
        self.gun = gun
        config_dir = self._docker_config(basedir / "docker-config")
        (basedir / "home").mkdir()
        (basedir / KEYS_DIR).mkdir()
        self.env = no_proxy_env(os.environ)
        self.env.pop("DOCKER_CONTENT_TRUST", None)
        self.env.update(
            DOCKER_CONFIG=str(config_dir),
            HOME=str(basedir / "home"),
            DOCKER_HOST=docker_host,
            DOCKER_CONTENT_TRUST_SERVER=server.url,
            DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE=DEFAULT_PASSPHRASE,
            DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE=DEFAULT_PASSPHRASE,
            SERVER=server.url,
            CA=str(server.ca_path),
        )
        self.env.update(dict.fromkeys(PASSPHRASE_ENV_VARS, DEFAULT_PASSPHRASE))
        self.admin_labels: dict[str, str] = {}

    def _docker_config(self, config_dir: Path) -> Path:
        """A ``DOCKER_CONFIG`` trusting the server's CA (``tls/<host:port>/ca.crt``)."""
        certs = config_dir / "tls" / f"127.0.0.1:{self.server.port}"
        certs.mkdir(parents=True)
        shutil.copy(self.server.ca_path, certs / "ca.crt")
        return config_dir

    def _puller_env(self, tag: str) -> dict[str, str]:
        """Environment of the client that pulls ``tag``: one per tag, kept for the walk.

        Separate trust caches let the pulls run at once; each is a client updating
        its own cache from step to step, as docker hosts pulling the tag would.
        """
        config_dir = self.basedir / "pullers" / tag
        if not config_dir.is_dir():
            self._docker_config(config_dir)
        return {"DOCKER_CONTENT_TRUST": "1", "DOCKER_CONFIG": str(config_dir)}

    def _exec(self, command: Command, *, extra_env: dict[str, str] | None = None) -> Outcome:
        if command.tool == "notary":
            argv = ["notary", "-d", TRUST_DIR, "-s", self.server.url,
                    "--tlscacert", str(self.server.ca_path), *command.args]  # fmt: skip
        else:
            argv = ["docker", *command.args]
        try:
            proc = subprocess.run(
                argv,
                input=command.answer,
                capture_output=True,
                text=True,
                env=self.env | (extra_env or {}),
                cwd=self.basedir,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Outcome(-1, "", f"timed out after {COMMAND_TIMEOUT}s", (command.shell(),))
        return Outcome(proc.returncode, proc.stdout, proc.stderr, (command.shell(),))

    def run(self, step: Step) -> Outcome:
        """Run ``step``; for ``sign`` the reset runs only when the ``addhash`` failed."""
        if step.op == "foreign":
            write_foreign_key(self.basedir / KEYS_DIR, step.args[0], int(step.args[1]))
        commands = step_commands(step, self.gun)
        outcomes = [self._exec(commands[0])] if commands else []
        if step.op == "sign" and len(commands) > 1 and outcomes[0].rc != 0:
            outcomes.append(self._exec(commands[1]))  # the reset after a failed publish
        failed = [outcome.rc for outcome in outcomes if outcome.rc != 0]
        return Outcome(
            failed[0] if failed else 0,
            "".join(outcome.stdout for outcome in outcomes),
            "".join(outcome.stderr for outcome in outcomes),
            tuple(c for outcome in outcomes for c in outcome.commands),
        )

    def known_key_labels(self) -> dict[str, str]:
        """Key ID -> label: the walk's keys by name, the repository's admin keys by role."""
        labels = {
            tuf_key_id(pub.read_bytes()): pub.stem
            for pub in sorted((self.basedir / KEYS_DIR).glob("*.pub"))
        }
        return self.admin_labels | labels

    def scrub(self, text: str) -> str:
        """``text`` without this side's server address and file checksums, key IDs as labels.

        A line listing keys (``docker trust inspect --pretty``) gets its labels sorted,
        as their order follows the key IDs; rows of a table may come in any order
        (see :func:`label_inspect`), so compare the result with :func:`same_lines`.
        """
        text = text.replace(self.server.url, "<server>")
        text = text.replace(f"127.0.0.1:{self.server.port}", "<server>")
        text = scrub_checksums(text)
        for key_id, label in self.known_key_labels().items():
            text = text.replace(key_id, f"<{label}>").replace(key_id[:12], f"<{label}>")
        lines = []
        for line in text.splitlines():
            labels = _LABEL.findall(line)
            if len(labels) > 1:
                head = line.split(labels[0], 1)[0].rstrip()
                line = f"{head} {', '.join(sorted(labels))}"  # noqa: PLW2901
            lines.append(line)
        return "\n".join(lines)

    def pull(self, tag: str) -> tuple[str, Outcome]:
        """DCT resolution of ``GUN:tag``: ``sha256:HEX`` or the first error line."""
        command = Command("docker", ("pull", f"{self.gun}:{tag}"))
        outcome = self._exec(command, extra_env=self._puller_env(tag))
        found = _PULLED.search(outcome.stdout)
        if found:
            return f"sha256:{found[1]}", outcome
        errors = [
            line
            for line in outcome.stderr.splitlines()
            if line.strip() and not _LOG_LINE.match(line)
        ]
        return f"error: {self.scrub(errors[0] if errors else '(none)')}", outcome

    def inspect_json(self) -> tuple[dict[str, Any], Outcome]:
        """``docker trust inspect GUN`` with key IDs as labels, or its scrubbed failure."""
        outcome = self._exec(Command("docker", ("trust", "inspect", self.gun)))
        try:
            parsed = json.loads(outcome.stdout)
        except json.JSONDecodeError:
            scrubbed = {"stdout": self.scrub(outcome.stdout), "stderr": self.scrub(outcome.stderr)}
            return {"rc": outcome.rc} | scrubbed, outcome
        for entry in parsed if isinstance(parsed, list) else []:
            for admin in entry.get("AdministrativeKeys") or []:
                for key in admin.get("Keys") or []:
                    self.admin_labels[key["ID"]] = admin["Name"]
        return {"rc": outcome.rc, "json": label_inspect(parsed, self.known_key_labels())}, outcome

    def observe(self, tags: Sequence[str]) -> tuple[dict[str, Any], list[Outcome]]:
        """Inspect and the pull resolution of ``tags``, with the raw outcomes."""
        with ThreadPoolExecutor(max_workers=len(tags) + 1) as pool:
            pulls = [pool.submit(self.pull, tag) for tag in tags]
            inspected, raw = self.inspect_json()
            pulled = [future.result(timeout=2 * COMMAND_TIMEOUT) for future in pulls]
        observation: dict[str, Any] = {"inspect": inspected}
        observation |= {
            f"pull {tag}": result for tag, (result, _) in zip(tags, pulled, strict=True)
        }
        return observation, [raw, *(outcome for _, outcome in pulled)]


# ------------------------------------------------------------------------ lock-step


class WalkDifferenceError(AssertionError):
    """The two servers disagreed; the text is the full report."""

    def __init__(self, message: str, step_number: int) -> None:
        super().__init__(message)
        self.step_number = step_number


@dataclass(frozen=True)
class WalkResult:
    """A walk that ran to its end without a difference."""

    seed: int
    steps: int
    observations: int
    events: Counter[str]
    """How often each step kind exited 0 / non-zero, signers really removed, tags resolved."""


@dataclass(frozen=True)
class _Mismatch:
    what: str
    go: str
    ours: str


@dataclass
class Lockstep:
    """Runs walks on a Go side and our side at once; stops at the first difference."""

    go: NotaryServerProcess
    ours: NotaryServerProcess
    workdir: Path
    log: Callable[[str], None] | None = None
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=2))
    docker_host: str = field(default_factory=lambda: f"tcp://127.0.0.1:{free_port()}")

    def _sides(self, gun: str) -> tuple[DockerSide, DockerSide]:
        base = Path(tempfile.mkdtemp(prefix=gun.rsplit("/", 1)[-1] + "-", dir=self.workdir))
        return (
            DockerSide(self.go, base / "go", gun=gun, docker_host=self.docker_host),
            DockerSide(self.ours, base / "ours", gun=gun, docker_host=self.docker_host),
        )

    def _both(
        self, action: Callable[[DockerSide], _T], sides: tuple[DockerSide, DockerSide]
    ) -> tuple[_T, _T]:
        futures = [self.pool.submit(action, side) for side in sides]
        left, right = (future.result(timeout=20 * COMMAND_TIMEOUT) for future in futures)
        return left, right

    def run_walk(self, seed: int, steps: Sequence[Step], *, gun: str | None = None) -> WalkResult:
        """Run ``steps``; raise :class:`WalkDifferenceError` at the first disagreement."""
        sides = self._sides(gun or gun_for(seed))
        tags: set[str] = set()
        observations = 0
        events: Counter[str] = Counter()
        for index, step in enumerate(steps):
            go_out, ours_out = self._both(partial(DockerSide.run, step=step), sides)
            self._say(f"  {index + 1:>2}. {step} -> go {go_out.rc}, ours {ours_out.rc}")
            events[f"{step.op} exit {'0' if go_out.rc == 0 else 'non-zero'}"] += 1
            events["signer removed"] += "Successfully removed" in go_out.stdout
            mismatch = _step_mismatch(step, sides, go_out, ours_out)
            if mismatch is None and step.op not in READ_ONLY_OPS:
                tags.update([step.args[0]] if step.op == "sign" else [])
                pulled = [*sorted(tags), NEVER_SIGNED_TAG]
                seen = self._both(partial(DockerSide.observe, tags=pulled), sides)
                observations += 1
                self._say(f"      both see {json.dumps(seen[0][0], sort_keys=True)}")
                events.update(_pull_events(seen[0][0]))
                mismatch = _observation_mismatch(seen, go_out, ours_out)
            if mismatch is not None:
                raise self._difference(seed, steps[: index + 1], sides[0].gun, mismatch)
        return WalkResult(seed, len(steps), observations, events)

    def _say(self, text: str) -> None:
        if self.log is not None:
            self.log(text)

    def _difference(
        self, seed: int, steps: Sequence[Step], gun: str, mismatch: _Mismatch
    ) -> WalkDifferenceError:
        numbered = "\n".join(f"  {number:>2}. {step}" for number, step in enumerate(steps, 1))
        message = (
            f"docker trust walk seed={seed}: {mismatch.what} differs at step {len(steps)} "
            f"({steps[-1]}), GUN {gun}\n"
            "replay: .venv/bin/python -m tests.differential.docker_walks --verbose "
            f"{_replay_args(seed, steps)}\n"
            f"steps:\n{numbered}\n"
            f"shell (per side, from its directory; {replay_env()}):\n"
            f"{shell_replay(steps, gun)}\n"
            f"--- Go notary-server:\n{mismatch.go}\n"
            f"--- our server:\n{mismatch.ours}\n"
            f"--- our server log (last lines):\n{_last_lines(tail_of(self.ours.log_path), 12)}"
        )
        return WalkDifferenceError(message, len(steps))


def _pull_events(observation: dict[str, Any]) -> Counter[str]:
    resolved = [value for key, value in observation.items() if key.startswith("pull ")]
    return Counter(
        "pull resolved to a digest" if value.startswith("sha256:") else "pull without trust data"
        for value in resolved
    )


def _replay_args(seed: int, steps: Sequence[Step]) -> str:
    if seed < 0:
        return "--fixed --walks 0"
    if list(steps) == generate_walk(seed, len(steps)):
        return f"--walks 1 --seed {seed} --steps {len(steps)}"
    return f"--walks 1 --seed {seed} --shrink (the steps below are the shrunk walk)"


def _last_lines(text: str, count: int) -> str:
    return "\n".join(text.splitlines()[-count:])


def _step_mismatch(
    step: Step, sides: tuple[DockerSide, DockerSide], go_out: Outcome, ours_out: Outcome
) -> _Mismatch | None:
    if go_out.rc != ours_out.rc:
        return _Mismatch("exit status", go_out.text(), ours_out.text())
    go_side, ours_side = sides
    go_text, ours_text = go_side.scrub(go_out.stdout), ours_side.scrub(ours_out.stdout)
    if step.op == "inspect" and not same_lines(go_text, ours_text):
        return _Mismatch(
            "inspect --pretty output (key IDs as labels)",
            f"  scrubbed:\n{_indent(go_text)}\n{go_out.text()}",
            f"  scrubbed:\n{_indent(ours_text)}\n{ours_out.text()}",
        )
    return None


def _observation_mismatch(
    seen: tuple[tuple[dict[str, Any], list[Outcome]], tuple[dict[str, Any], list[Outcome]]],
    go_out: Outcome,
    ours_out: Outcome,
) -> _Mismatch | None:
    (go_obs, go_raw), (ours_obs, ours_raw) = seen
    if go_obs == ours_obs:
        return None
    return _Mismatch(
        "inspect/pull after the step",
        _observation_text(go_obs, go_raw, ours_obs) + "\n  the step itself:\n" + go_out.text(),
        _observation_text(ours_obs, ours_raw, go_obs) + "\n  the step itself:\n" + ours_out.text(),
    )


def _observation_text(mine: dict[str, Any], raw: list[Outcome], other: dict[str, Any]) -> str:
    differing = sorted(key for key in mine.keys() | other.keys() if mine.get(key) != other.get(key))
    shown = json.dumps({key: mine.get(key) for key in differing}, indent=2, sort_keys=True)
    raw_text = "\n".join(outcome.text() for outcome in raw)
    return f"  differing:\n{_indent(shown)}\n  raw:\n{raw_text}"


def replay_env() -> str:
    """The environment a hand replay needs on each side."""
    return (
        "env DOCKER_CONFIG=$PWD/docker-config HOME=$PWD/home "
        "DOCKER_HOST=tcp://127.0.0.1:<closed port> DOCKER_CONTENT_TRUST_SERVER=$SERVER "
        f"DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE=DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE="
        f"NOTARY_{{ROOT,TARGETS,SNAPSHOT,DELEGATION}}_PASSPHRASE={DEFAULT_PASSPHRASE}, "
        "the server's CA at docker-config/tls/<host:port>/ca.crt and in $CA"
    )


# ------------------------------------------------------------------------ sweeps


class _OurServerFrom(OurNotaryServer):
    """Our server run from another checkout (``PYTHONPATH`` first), e.g. ``git archive HEAD``."""

    def __init__(self, workdir: Path, *, code: Path) -> None:
        super().__init__(workdir, storage="sqlite3")
        self.code = code

    def _environment(self) -> dict[str, str]:
        env = super()._environment()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.code), env.get("PYTHONPATH")]))
        return env


class ServerPair:
    """Go's notary-server (memory) and ours (sqlite3), both with local trust.

    ``our_code``: run our server from that directory instead of this tree.
    """

    def __init__(self, workdir: Path, *, our_code: Path | None = None) -> None:
        self.workdir = workdir
        self.our_code = our_code
        self._stack = ExitStack()

    def __enter__(self) -> tuple[GoNotaryServer, OurNotaryServer]:
        our_dir = self.workdir / "our-server"
        with ExitStack() as stack:
            go = stack.enter_context(GoNotaryServer(self.workdir / "go-server"))
            ours = stack.enter_context(
                OurNotaryServer(our_dir, storage="sqlite3")
                if self.our_code is None
                else _OurServerFrom(our_dir, code=self.our_code)
            )
            self._stack = stack.pop_all()
        return go, ours

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()


def shrink(lockstep: Lockstep, seed: int, steps: Sequence[Step], *, budget: int) -> list[Step]:
    """Drop steps one at a time while a difference still shows; at most ``budget`` reruns.

    Each rerun uses a fresh GUN. A shorter walk may show a different difference:
    any difference counts, the report then shows what the shortest walk shows.
    """
    current = list(steps)
    index = len(current) - 2
    for attempt in range(budget):
        if index < 0:
            break
        candidate = current[:index] + current[index + 1 :]
        try:
            lockstep.run_walk(seed, candidate, gun=f"{gun_for(seed)}-shrink{attempt}")
        except WalkDifferenceError as diff:
            current = candidate[: diff.step_number]
            index = min(index, len(current) - 1)
        index -= 1
    return current


def _say(text: str) -> None:
    print(text, flush=True)  # noqa: T201 - the sweep's report


def _raise_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(143)  # so the servers are stopped on the way out


def sweep(options: argparse.Namespace, workdir: Path) -> int:
    """Run the walks; print each difference (shrunk with ``--shrink``); count them."""
    differences = 0
    totals: Counter[str] = Counter()
    with ServerPair(workdir, our_code=options.our_code) as (go, ours):
        lockstep = Lockstep(go, ours, workdir, log=_say if options.verbose else None)
        walks = [(seed, generate_walk(seed, options.steps)) for seed in
                 range(options.seed, options.seed + options.walks)]  # fmt: skip
        if options.fixed:
            walks.insert(0, (-1, list(LAST_SIGNER_WALK)))
        try:
            for seed, steps in walks:
                try:
                    result = lockstep.run_walk(seed, steps)
                except WalkDifferenceError as diff:
                    differences += 1
                    report = diff
                    if options.shrink:
                        small = shrink(
                            lockstep, seed, steps[: diff.step_number], budget=options.shrink_budget
                        )
                        try:
                            lockstep.run_walk(seed, small, gun=f"{gun_for(seed)}-shrunk")
                        except WalkDifferenceError as shrunk:
                            report = shrunk
                    _say(f"seed {seed}: DIFFERENCE\n{report}\n")
                else:
                    totals += result.events
                    _say(f"seed {seed}: same on both servers ({len(steps)} steps)")
        finally:
            lockstep.pool.shutdown()
    _say("events in walks without a difference: " + ", ".join(
        f"{name}: {count}" for name, count in sorted(totals.items())))  # fmt: skip
    return differences


def main(argv: Sequence[str] | None = None) -> int:
    """Sweep seeds against both servers; exit 1 if any walk differed."""
    parser = argparse.ArgumentParser(prog="python -m tests.differential.docker_walks")
    parser.add_argument("--walks", type=int, default=10, help="number of seeds")
    parser.add_argument("--steps", type=int, default=16, help="steps per walk")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--shrink", action="store_true", help="shorten each difference's walk")
    parser.add_argument("--shrink-budget", type=int, default=30, help="reruns per difference")
    parser.add_argument("--verbose", action="store_true", help="print every step and observation")
    parser.add_argument("--fixed", action="store_true", help="first run LAST_SIGNER_WALK")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--our-code",
        type=Path,
        default=None,
        help="run our server from this directory (e.g. an unpacked `git archive HEAD`)",
    )
    options = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="docker-walks-"))
    started = time.monotonic()
    differences = sweep(options, workdir)
    _say(
        f"{options.walks} walks x {options.steps} steps: {differences} with a difference, "
        f"{time.monotonic() - started:.1f}s (work dir {workdir})"
    )
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
