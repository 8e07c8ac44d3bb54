"""What a walk compares after a publish: parsed, side-independent views of the CLI output.

``notary list`` becomes sorted ``(name, sha256, size, role)`` rows; ``notary delegation
list`` becomes sorted ``(role, paths, key labels, threshold)`` rows. Key IDs are
replaced by the walk's key names when known (both sides share the delegation key
files, so the IDs agree) and otherwise by ``key#N`` in order of first appearance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from testkit.gotools import parse_target_list

_DELEGATION_COLUMNS = ("ROLE", "PATHS", "KEY IDS", "THRESHOLD")


@dataclass(frozen=True)
class Observation:
    """One comparable look at the repository: the command, whether it exited 0, its view."""

    what: str
    ok: bool
    view: Any
    stdout: str
    stderr: str

    def same_as(self, other: Observation) -> bool:
        """Equal exit class and, when both succeeded, equal views."""
        return self.ok == other.ok and (not self.ok or self.view == other.view)


def target_rows(stdout: str) -> list[tuple[str, str, int, str]]:
    """``notary list`` rows, sorted."""
    return sorted(tuple(row) for row in parse_target_list(stdout))  # type: ignore[misc]


def _split_columns(line: str, starts: list[int]) -> list[str]:
    bounds = [*starts[1:], None]
    return [line[start:end].strip() for start, end in zip(starts, bounds, strict=True)]


def delegation_rows(stdout: str) -> list[tuple[str, tuple[str, ...], tuple[str, ...], str]]:
    """``notary delegation list`` as ``(role, paths, key IDs, threshold)`` rows, sorted.

    The table (``cmd/notary/prettyprint.go`` prettyPrintRoles) puts a role's further
    paths and key IDs on continuation lines with an empty role column, so columns
    are cut at the header's offsets rather than split on blanks.
    """
    lines = stdout.splitlines()
    header = next((i for i, line in enumerate(lines) if line.startswith("ROLE ")), None)
    if header is None:
        return []
    starts = [lines[header].index(col) for col in _DELEGATION_COLUMNS]
    roles: list[list[Any]] = []
    for line in lines[header + 2 :]:
        if not line.strip():
            continue
        role, path, key_id, threshold = _split_columns(line.ljust(starts[-1] + 1), starts)
        if role:
            roles.append([role, [], [], threshold])
        elif not roles:
            continue
        current = roles[-1]
        if path:
            current[1].append(path)
        if key_id:
            current[2].append(key_id)
    return sorted((r, tuple(sorted(p)), tuple(sorted(k)), t) for r, p, k, t in roles)


def label_keys(
    rows: list[tuple[str, tuple[str, ...], tuple[str, ...], str]], known: dict[str, str]
) -> list[tuple[str, tuple[str, ...], tuple[str, ...], str]]:
    """Replace key IDs by ``known`` names, or by ``key#N`` by first appearance."""
    labels = dict(known)
    out = []
    for role, paths, key_ids, threshold in rows:
        names = []
        for key_id in key_ids:
            labels.setdefault(key_id, f"key#{len(labels) - len(known) + 1}")
            names.append(labels[key_id])
        out.append((role, paths, tuple(sorted(names)), threshold))
    return out
