"""The steps of a ``docker trust`` walk: how a seed becomes steps, and each step's commands.

:func:`generate_walk` makes a walk from a seed alone (never from outcomes, so a seed
is a complete replay); :func:`step_commands` turns a step into the ``docker`` and
``notary`` command lines that :mod:`tests.differential.docker_walks` runs on both
sides; the walk's "foreign" keys are written by :func:`write_foreign_key` and named
by :func:`tuf_key_id`. Nothing here runs a program.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

GUN_PREFIX = "registry.example.com/walks/"
KEYS_DIR = "keys"
TRUST_DIR = "docker-config/trust"
SIGNER_POOL = ("alice", "bob", "carol")
TAG_POOL = ("v1", "v2", "v3")
NEVER_SIGNED_TAG = "never-signed"
DIGEST_POOL_SIZE = 3
MAX_DOCKER_KEYS = 3
MAX_FOREIGN_KEYS = 2
READ_ONLY_OPS = frozenset({"foreign", "keygen", "load", "inspect"})
"""Steps that cannot change what the servers hold (keys are made and loaded locally)."""


@dataclass(frozen=True)
class Step:
    """One operation of a walk; ``args`` depend on ``op`` (see :func:`step_commands`)."""

    op: str
    args: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.op}({', '.join(self.args)})"


# --------------------------------------------------------------------------- walks


@dataclass
class _WalkModel:
    """What the generator believes it did; it only steers the choice of later steps."""

    rng: random.Random
    digests: list[str]
    docker_keys: list[str] = field(default_factory=list)
    foreign_keys: list[str] = field(default_factory=list)
    loaded: set[str] = field(default_factory=set)
    signers: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    staged: bool = False

    @property
    def keys(self) -> list[str]:
        return self.docker_keys + self.foreign_keys

    def next_step(self) -> Step:
        options = self._options()
        weights = [weight for weight, _ in options]
        make = self.rng.choices([maker for _, maker in options], weights=weights)[0]
        return make()

    def _options(self) -> list[tuple[float, Callable[[], Step]]]:
        if not self.keys:
            return [(3.0, self.keygen), (2.0, self.foreign), (0.5, self.sign)]
        options: list[tuple[float, Callable[[], Step]]] = [
            (3.0, self.signer_add),
            (5.0, self.sign),
            (1.0, self.inspect),
            (0.5, self.revoke_repo),
        ]
        if len(self.docker_keys) < MAX_DOCKER_KEYS:
            options.append((1.0, self.keygen))
        if len(self.foreign_keys) < MAX_FOREIGN_KEYS:
            options.append((1.0, self.foreign))
        if set(self.foreign_keys) - self.loaded:
            options.append((1.5, self.load))
        if self.signers:
            options.append((2.5, self.signer_remove))
        if self.tags:
            options.append((1.5, self.revoke_tag))
        if self.staged:
            options += [(4.0, self.publish), (0.7, self.reset)]
        options += [(0.7, self.rotate), (0.3, self.delete_remote)]
        return options

    def keygen(self) -> Step:
        name = f"k{len(self.docker_keys) + 1}"
        self.docker_keys.append(name)
        return Step("keygen", (name,))

    def foreign(self) -> Step:
        name = f"f{len(self.foreign_keys) + 1}"
        self.foreign_keys.append(name)
        return Step("foreign", (name, str(self.rng.getrandbits(128) | 1)))

    def load(self) -> Step:
        name = self.rng.choice(sorted(set(self.foreign_keys) - self.loaded))
        self.loaded.add(name)
        return Step("load", (name,))

    def signer_add(self) -> Step:
        signer = self.rng.choice(SIGNER_POOL)
        self.signers.add(signer)
        return Step("signer_add", (signer, self.rng.choice(self.keys)))

    def signer_remove(self) -> Step:
        pool = sorted(self.signers) if self.rng.random() < 0.9 else list(SIGNER_POOL)
        mode = self.rng.choices(("y", "n", "force"), weights=(6, 2, 2))[0]
        return Step("signer_remove", (self.rng.choice(pool), mode))

    def sign(self) -> Step:
        tag = self.rng.choice(TAG_POOL)
        self.tags.add(tag)
        digest = self.rng.randrange(len(self.digests))
        roll = self.rng.random()
        if roll < 0.5 or not self.signers:
            role = "targets/releases" if roll < 0.85 else "targets"
        else:
            role = f"targets/{self.rng.choice(sorted(self.signers))}"
        how = "stage" if self.rng.random() < 0.2 else "publish"
        self.staged |= how == "stage"
        return Step("sign", (tag, self.digests[digest], str(100 + digest), role, how))

    def publish(self) -> Step:
        self.staged = False
        return Step("publish")

    def reset(self) -> Step:
        self.staged = False
        return Step("reset")

    def rotate(self) -> Step:
        role = self.rng.choice(("root", "targets", "snapshot", "snapshot", "timestamp"))
        remote = role == "timestamp" or (role == "snapshot" and self.rng.random() < 0.6)
        return Step("rotate", (role, "remote" if remote else "local"))

    def delete_remote(self) -> Step:
        return Step("delete_remote")

    def revoke_tag(self) -> Step:
        return Step("revoke_tag", (self.rng.choice(sorted(self.tags)),))

    def revoke_repo(self) -> Step:
        return Step("revoke_repo")

    def inspect(self) -> Step:
        return Step("inspect")


def generate_walk(seed: int, steps: int) -> list[Step]:
    """The walk of ``seed``: ``steps`` operations, a pure function of both arguments."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible walk, not a secret
    digests = [rng.randbytes(32).hex() for _ in range(DIGEST_POOL_SIZE)]
    model = _WalkModel(rng, digests)
    return [model.next_step() for _ in range(steps)]


LAST_SIGNER_WALK = (
    Step("foreign", ("f1", "12345")),
    Step("signer_add", ("alice", "f1")),
    Step("load", ("f1",)),
    Step("sign", ("v1", "ab" * 32, "100", "targets/releases", "publish")),
    Step("signer_remove", ("alice", "y")),
    Step("sign", ("v2", "cd" * 32, "101", "targets", "publish")),
    Step("signer_add", ("bob", "f1")),
    Step("sign", ("v1", "ab" * 32, "100", "targets/releases", "publish")),
)
"""docker's last-signer removal (``targets/releases`` left with ``"keyids": null``), then on.

Its seed is -1 in reports (``--fixed`` runs it before the seeded walks).
"""


def gun_for(seed: int) -> str:
    """The repository a walk works on (one per seed, so walks can share servers)."""
    return f"{GUN_PREFIX}seed{seed}"


# ------------------------------------------------------------------------ commands


class Command(NamedTuple):
    """One process a step runs: ``tool`` is ``docker`` or ``notary``."""

    tool: str
    args: tuple[str, ...]
    answer: str = ""

    def shell(self) -> str:
        """The command as a replayer would type it (``$SERVER``/``$CA`` per side)."""
        prefix = f"echo {self.answer.strip()} | " if self.answer else ""
        if self.tool == "notary":
            tool = f'notary -d {TRUST_DIR} -s "$SERVER" --tlscacert "$CA"'
        else:
            tool = "docker"
        return f"{prefix}{tool} {shlex.join(self.args)}"


def step_commands(step: Step, gun: str) -> list[Command]:  # noqa: C901, PLR0911 - one flat table
    """The commands of ``step`` on ``gun`` (none for the harness-only ``foreign``)."""
    match step.op, step.args:
        case "foreign", _:
            return []
        case "keygen", (name,):
            return [Command("docker", ("trust", "key", "generate", name, "--dir", KEYS_DIR))]
        case "load", (name,):
            key_file = f"{KEYS_DIR}/{name}.key"
            return [Command("docker", ("trust", "key", "load", key_file, "--name", name))]
        case "signer_add", (signer, key):
            key_file = f"{KEYS_DIR}/{key}.pub"
            return [Command("docker", ("trust", "signer", "add", "--key", key_file, signer, gun))]
        case "signer_remove", (signer, "force"):
            return [Command("docker", ("trust", "signer", "remove", "--force", signer, gun))]
        case "signer_remove", (signer, answer):
            return [Command("docker", ("trust", "signer", "remove", signer, gun), f"{answer}\n")]
        case "sign", (tag, digest, size, role, how):
            # docker's ``trust sign`` needs a daemon; the reset runs only if addhash failed
            addhash = ("addhash", gun, tag, size, "--sha256", digest, "--roles", role)
            if how == "stage":  # a later publish (notary's or docker's) sends it
                return [Command("notary", addhash)]
            return [Command("notary", (*addhash, "-p")), Command("notary", ("reset", gun, "--all"))]

        case "revoke_tag", (tag,):
            return [Command("docker", ("trust", "revoke", "--yes", f"{gun}:{tag}"))]
        case "revoke_repo", ():
            return [Command("docker", ("trust", "revoke", "--yes", gun))]
        case "inspect", ():
            return [Command("docker", ("trust", "inspect", "--pretty", gun))]
    return [_notary_command(step, gun)]


def _notary_command(step: Step, gun: str) -> Command:
    """The steps that only the notary CLI can take on docker's trust directory."""
    match step.op, step.args:
        case "publish", ():
            return Command("notary", ("publish", gun))
        case "reset", ():
            return Command("notary", ("reset", gun, "--all"))
        case "rotate", (role, where):
            remote = ("-r",) if where == "remote" else ()
            return Command("notary", ("key", "rotate", gun, role, *remote), "yes\n")
        case "delete_remote", ():
            return Command("notary", ("delete", gun, "--remote"))
    raise ValueError(f"unknown step {step}")


def shell_replay(steps: Sequence[Step], gun: str) -> str:
    """``steps`` as shell lines for one side (run from the side's directory)."""
    lines = []
    for step in steps:
        if step.op == "foreign":
            lines.append(
                f"# {KEYS_DIR}/{step.args[0]}.key/.pub: P-256 key with private value "
                f"{step.args[1]} (tests.differential.docker_steps.write_foreign_key)"
            )
            continue
        commands = step_commands(step, gun)
        if len(commands) > 1:
            lines.append(f"{commands[0].shell()} || {commands[1].shell()}")
        else:
            lines.extend(command.shell() for command in commands)
    return "\n".join(f"  {line}" for line in lines)


# ------------------------------------------------------------------------ keys


def tuf_key_id(public_pem: bytes) -> str:
    """Notary's ID of an ECDSA public key PEM: sha256 of its canonical TUF JSON."""
    body = [
        line
        for line in public_pem.decode().splitlines()
        if line and not line.startswith("-----") and ":" not in line
    ]
    der = base64.b64decode("".join(body))
    canonical = json.dumps(
        {"keytype": "ecdsa", "keyval": {"private": None, "public": base64.b64encode(der).decode()}},
        separators=(",", ":"),
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def write_foreign_key(directory: Path, name: str, secret: int) -> None:
    """``NAME.key`` (PKCS#8, unencrypted, 0600) and ``NAME.pub`` of the P-256 key ``secret``."""
    key = ec.derive_private_key(secret, ec.SECP256R1())
    private = directory / f"{name}.key"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    (directory / f"{name}.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
