"""What a walk believes the repository looks like, so it can choose sensible next steps.

The model only steers the generator; it asserts nothing. It is updated from the
exit status both sides agreed on, so it may be approximate (e.g. a ``-p`` step
that failed is taken to have staged its change) without harming a walk.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

OWNER = "owner"
COLLABORATOR = "collab"
"""The walking clients: the repository owner and a delegate holding only delegation keys."""


@dataclass(frozen=True)
class Op:
    """One ``notary`` invocation of a walk.

    ``args`` follow the global flags (``-d``, ``-s``, ``--tlscacert``) and may hold the
    ``@F`` material placeholder; ``remote`` says the step may change what the server
    serves, so the walk compares listings after it succeeds.
    """

    actor: str
    args: tuple[str, ...]
    kind: str
    stdin: str | None = None
    remote: bool = False


@dataclass
class Delegation:
    """A delegation role: its paths (``""`` = all), key names and targets."""

    paths: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)


@dataclass
class RepoState:
    """Targets of the ``targets`` role and the delegations."""

    targets: set[str] = field(default_factory=set)
    delegations: dict[str, Delegation] = field(default_factory=dict)


@dataclass
class WalkModel:
    """The owner's staged view, the last published view and who holds which keys."""

    gun: str
    owner_local: bool = False
    owner_broken: bool = False
    remote: bool = False
    snapshot_remote: bool = False
    staged: RepoState = field(default_factory=RepoState)
    published: RepoState = field(default_factory=RepoState)
    owner_pending: bool = False
    owner_stuck: bool = False
    collab_pending: bool = False
    collab_stuck: bool = False
    collab_local: bool = False
    collab_keys: set[str] = field(default_factory=set)
    owner_delegation_keys: set[str] = field(default_factory=set)
    keys_made: list[str] = field(default_factory=list)
    fresh_count: int = 0
    file_count: int = 0

    def commit(self) -> None:
        """The owner's staged changes reached the server."""
        self.published = copy.deepcopy(self.staged)
        self.owner_pending = False
        self.owner_stuck = False
        self.remote = True

    def discard_staged(self) -> None:
        """The owner reset every staged change."""
        self.staged = copy.deepcopy(self.published)
        self.owner_pending = False
        self.owner_stuck = False

    def forget_repository(self) -> None:
        """``delete --remote``: the GUN is gone from the server and the owner's cache."""
        self.owner_local = False
        self.owner_broken = False
        self.remote = False
        self.snapshot_remote = False
        self.staged = RepoState()
        self.published = RepoState()
        self.owner_pending = False
        self.owner_stuck = False


Effect = Callable[[WalkModel, bool], None]
"""Updates the model once the step ran; the flag is whether it exited 0."""


@dataclass(frozen=True)
class Planned:
    """An operation and how it changes the model."""

    op: Op
    effect: Effect


def no_effect(_model: WalkModel, _ok: bool) -> None:
    """Read-only steps."""
