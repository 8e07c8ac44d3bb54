"""An htpasswd file of bcrypt hashes (``htpasswd -B``), read as docker/distribution reads it.

One ``user:hash`` per line; blank lines and lines starting with ``#`` are skipped.
Only bcrypt hashes (``$2a$``, ``$2b$``, ``$2y$``) are accepted, as in Go.

An unknown user's password is checked against a dummy hash of the cost most
hashes in the file have (issue #14): a fixed cost would make an unknown user
answer faster or slower than a wrong password for a real one (``htpasswd -B``
writes cost 5; a cost-10 dummy took 20 times as long), so user names could be
told apart by timing.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING, Final

import bcrypt

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = ["DEFAULT_COST", "Htpasswd", "HtpasswdError", "bcrypt_cost", "usual_cost"]

_BCRYPT_PREFIXES: Final = ("$2a$", "$2b$", "$2y$")
DEFAULT_COST: Final = 10
"""The dummy hash's cost when the file has no usable hash (no user to tell apart)."""
_MIN_COST: Final = 4
_MAX_COST: Final = 31


def bcrypt_cost(hashed: bytes) -> int | None:
    """The cost of a ``$2?$NN$...`` hash; None when it has no valid one (bcrypt accepts 4-31)."""
    field = hashed[4:7]
    if len(field) != 3 or field[2:] != b"$" or not field[:2].isdigit():  # noqa: PLR2004 - "NN$"
        return None
    cost = int(field[:2])
    return cost if _MIN_COST <= cost <= _MAX_COST else None


def usual_cost(hashes: Iterable[bytes]) -> int:
    """The cost most ``hashes`` have (the higher one on a tie); :data:`DEFAULT_COST` if none."""
    counts = Counter(c for c in map(bcrypt_cost, hashes) if c is not None)
    if not counts:
        return DEFAULT_COST
    return max(counts, key=lambda cost: (counts[cost], cost))


class HtpasswdError(ValueError):
    """The htpasswd file is unreadable or has a line that is not ``user:bcrypt-hash``."""


class Htpasswd:
    """The users of an htpasswd file and their bcrypt hashes.

    Attributes:
        cost: the bcrypt cost of the dummy hash unknown users are checked against
            (:func:`usual_cost` of the file's hashes; a reloaded file is a new
            instance, so it follows the file).
    """

    def __init__(self, entries: dict[str, bytes]) -> None:
        """Use ``entries`` (user name → bcrypt hash)."""
        self._entries = entries
        self.cost = usual_cost(entries.values())
        self._dummy: bytes | None = None
        self._dummy_lock = threading.Lock()

    def dummy_hash(self) -> bytes:
        """The hash unknown users are checked against, made on first use at :attr:`cost`.

        Making it costs one bcrypt round of that cost: :meth:`TokenIssuer.from_config
        <notary_server.auth.issuer.TokenIssuer.from_config>` makes it at start-up, so
        the first unknown user does not pay for it (and stand out).
        """
        with self._dummy_lock:
            if self._dummy is None:
                self._dummy = bcrypt.hashpw(b"dummy-password", bcrypt.gensalt(rounds=self.cost))
            return self._dummy

    @classmethod
    def load(cls, path: Path) -> Htpasswd:
        """Read an htpasswd file.

        Raises:
            HtpasswdError: unreadable, or a line that is not ``user:$2y$...``.
        """
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise HtpasswdError(f"cannot read {path}: {e}") from e
        entries: dict[str, bytes] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            user, sep, hashed = stripped.partition(":")
            if not sep or not user or not hashed.startswith(_BCRYPT_PREFIXES):
                raise HtpasswdError(f"{path}:{number}: expected user:bcrypt-hash")
            entries[user] = hashed.encode("ascii", errors="replace")
        return cls(entries)

    def __len__(self) -> int:
        """The number of users."""
        return len(self._entries)

    def check(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s (constant work whether or not the user exists)."""
        hashed = self._entries.get(user)
        candidate = password.encode("utf-8")[:72]  # bcrypt reads at most 72 bytes
        try:
            if hashed is None:
                bcrypt.checkpw(candidate, self.dummy_hash())
                return False
            return bcrypt.checkpw(candidate, hashed)
        except ValueError:  # a malformed hash
            return False
