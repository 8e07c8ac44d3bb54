"""An htpasswd file of bcrypt hashes (``htpasswd -B``), read as docker/distribution reads it.

One ``user:hash`` per line; blank lines and lines starting with ``#`` are skipped.
Only bcrypt hashes (``$2a$``, ``$2b$``, ``$2y$``) are accepted, as in Go.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Final

import bcrypt

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Htpasswd", "HtpasswdError"]

_BCRYPT_PREFIXES: Final = ("$2a$", "$2b$", "$2y$")


@functools.cache
def _dummy_hash() -> bytes:
    """A hash to check unknown users against (made on first use, not at import)."""
    return bcrypt.hashpw(b"dummy-password", bcrypt.gensalt(rounds=10))


class HtpasswdError(ValueError):
    """The htpasswd file is unreadable or has a line that is not ``user:bcrypt-hash``."""


class Htpasswd:
    """The users of an htpasswd file and their bcrypt hashes."""

    def __init__(self, entries: dict[str, bytes]) -> None:
        """Use ``entries`` (user name → bcrypt hash)."""
        self._entries = entries

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
                bcrypt.checkpw(candidate, _dummy_hash())
                return False
            return bcrypt.checkpw(candidate, hashed)
        except ValueError:  # a malformed hash
            return False
