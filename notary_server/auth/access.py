"""Who the built-in issuer grants what: ``auth.options.access`` (ADR 0027).

Without rules the issuer behaves as before: a signed-in htpasswd user gets
every action asked for, an anonymous request gets nothing. With rules, each
requested scope (``repository:<gun>:pull,push``) is granted the actions that
the rules matching it allow, and no others::

    "access": [
        {"prefix": "example.com/team-a/", "users": ["alice"], "actions": ["pull", "push"]},
        {"prefix": "example.com/", "users": ["admin"], "actions": ["*"]},
        {"prefix": "example.com/public/", "anonymous": true, "actions": ["pull"]},
        {"type": "registry", "prefix": "catalog", "users": ["admin"], "actions": ["*"]}
    ]

A rule matches a scope of its ``type`` (default ``repository``) whose name
starts with ``prefix`` (``""``: every name), asked for by one of ``users``
(``"*"``: any signed-in user) or, with ``"anonymous": true``, by a request
without credentials. ``actions`` lists what it allows; ``"*"`` allows every
action, which the notary CLI needs to delete a repository or rotate a
server-managed key. The grants of all matching rules add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "AccessRule",
    "AccessRuleError",
    "granted_actions",
    "holds_everything",
    "parse_access_rules",
]

ANY_USER: Final = "*"
ALL_ACTIONS: Final = "*"
_RULE_KEYS: Final = frozenset({"type", "prefix", "users", "anonymous", "actions"})


class AccessRuleError(ValueError):
    """A rule is malformed; the message names the rule's key."""


@dataclass(frozen=True, slots=True)
class AccessRule:
    """One rule of ``auth.options.access`` (see the module docstring)."""

    type: str
    prefix: str
    users: frozenset[str]
    anonymous: bool
    actions: frozenset[str]

    def matches(self, subject: str, scope_type: str, name: str) -> bool:
        """Whether this rule speaks for ``subject`` ("" = anonymous) asking for ``name``."""
        if scope_type != self.type or not name.startswith(self.prefix):
            return False
        if not subject:
            return self.anonymous
        return subject in self.users or ANY_USER in self.users


def parse_access_rules(value: Any, key: str) -> tuple[AccessRule, ...]:
    """Read the rules list at config ``key``.

    Raises:
        AccessRuleError: the value is not a list of well-formed rules.
    """
    if not isinstance(value, list):
        raise AccessRuleError(f"{key}: must be a list of rules")
    return tuple(_rule(item, f"{key}[{index}]") for index, item in enumerate(value))


def _rule(item: Any, key: str) -> AccessRule:
    if not isinstance(item, dict):
        raise AccessRuleError(f"{key}: must be a map")
    unknown = sorted(set(item) - _RULE_KEYS)
    if unknown:
        raise AccessRuleError(
            f"{key}.{unknown[0]}: not a rule key ({', '.join(sorted(_RULE_KEYS))})"
        )
    kind = item.get("type", "repository")
    prefix = item.get("prefix", "")
    anonymous = item.get("anonymous", False)
    if not isinstance(kind, str) or not kind:
        raise AccessRuleError(f"{key}.type: must be a scope type such as repository")
    if not isinstance(prefix, str):
        raise AccessRuleError(f"{key}.prefix: must be a string")
    if not isinstance(anonymous, bool):
        raise AccessRuleError(f"{key}.anonymous: must be true or false")
    users = _strings(item.get("users", []), f"{key}.users")
    actions = _strings(item.get("actions"), f"{key}.actions")
    if not actions:
        raise AccessRuleError(f"{key}.actions: must name at least one action (pull, push or *)")
    if not users and not anonymous:
        raise AccessRuleError(f'{key}.users: name users (or "*"), or set anonymous')
    return AccessRule(kind, prefix, frozenset(users), anonymous, frozenset(actions))


def _strings(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise AccessRuleError(f"{key}: must be a list of non-empty strings")
    return list(value)


def granted_actions(
    rules: Sequence[AccessRule], subject: str, scope_type: str, name: str, asked: Sequence[str]
) -> tuple[str, ...]:
    """The actions of ``asked`` that the rules allow ``subject`` on ``scope_type:name``."""
    allowed: set[str] = set()
    for rule in rules:
        if rule.matches(subject, scope_type, name):
            allowed |= rule.actions
    if ALL_ACTIONS in allowed:
        return tuple(asked)
    return tuple(action for action in asked if action in allowed)


def holds_everything(rules: Sequence[AccessRule], subject: str) -> bool:
    """Whether ``subject`` holds ``*`` on every repository (a rule with prefix "" and ``*``)."""
    return any(
        rule.matches(subject, "repository", "") and ALL_ACTIONS in rule.actions for rule in rules
    )
