"""Which repositories are enforced, and which signers count for them.

A rule is a GUN prefix (``registry.example.com/prod/``), as Harbor enforces
content trust per project. The longest matching prefix wins, so a narrower
rule can tighten (or, with ``enforce: false``, exempt) part of a broader one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from notary_tuf.rolenames import TARGETS

__all__ = ["DOCKER_ROLES", "EnforceRule", "Policy"]

DOCKER_ROLES: Final = ("targets/releases", TARGETS)
"""The roles ``docker pull`` trusts, in its order of precedence."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EnforceRule:
    """One entry of ``enforce``.

    Attributes:
        prefix: GUN prefix the rule covers.
        enforce: False exempts the prefix (for a carve-out under a broader rule).
        roles: the roles whose targets count, in precedence order (docker's by default).
        key_ids: when not empty, a target counts only if one of these keys signed
            the role file it was found in.
    """

    prefix: str
    enforce: bool = True
    roles: tuple[str, ...] = DOCKER_ROLES
    key_ids: frozenset[str] = frozenset()


class Policy:
    """The rules, looked up by GUN."""

    def __init__(self, rules: Sequence[EnforceRule]) -> None:
        """Keep the rules, longest prefix first."""
        self.rules = tuple(sorted(rules, key=lambda r: len(r.prefix), reverse=True))

    def rule_for(self, gun: str) -> EnforceRule | None:
        """The rule enforcing ``gun``; ``None`` when the gate just passes it through."""
        for rule in self.rules:
            if gun.startswith(rule.prefix):
                return rule if rule.enforce else None
        return None
