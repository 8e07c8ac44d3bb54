"""The reviewed differences between Go's verdicts and ours on mutated uploads.

Every difference the upload differential (:mod:`tests.differential.uploads`)
finds must be fixed or listed here, with Go's verdict, ours and the reason ours
is right; ADR 0017 carries the same table for readers of the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["INTENDED_DIFFERENCES", "Intended"]


@dataclass(frozen=True)
class Intended:
    """A reviewed difference: Go's verdict, ours, and why ours is right.

    ``go`` and ``ours`` are the verdicts as the report prints them (``200``,
    ``400 INVALID_UPDATE``, ``0 <connection dropped>``); a case of the kind with
    any other pair of verdicts is still a difference. ``detail``, when set, is a
    regular expression our error message must match: seeded random values
    (``random#…`` kinds) land in the same field for different reasons, and only
    the reviewed reason is explained.
    """

    go: str
    ours: str
    reason: str
    detail: str | None = None


_GO_PANICS = (
    "Go's handler dereferences nil and closes the connection without an answer "
    "(a recovered panic); we refuse with 400. No Go client writes a file without "
    "`signed` or a null delegation role: it always marshals the struct."
)
_VERSION_CAP = (
    "ADR 0006 decision 2: versions above 2^31-1 do not fit the version columns and "
    "broke Go repositories (Cure53 TUF-01-002). The Go client writes the stored "
    "version plus one, and stored versions are 32-bit."
)
_VERSION_LEAD = (
    "ADR 0023: no uploaded version may lead the repository's timestamp version by more "
    "than 1,000,000, so no accepted upload leaves a role without a next version (Go stores "
    "2^31-1, then refuses every later publish). The Go client writes the stored version "
    "plus one, and every publish raises the timestamp version by one."
)
_SNAPSHOT_ROLLBACK = (
    "Issue #14 item 2 (validation._check_no_rollback): a snapshot must name the "
    "current file of every role not uploaded with it. The Go client keeps the "
    "entries of roles it did not change from the snapshot it downloaded."
)
_DELEGATION_PATHS = (
    "ADR 0012 item 3 (revised): new targets outside the paths that the stored parents "
    "grant a delegation are refused when those parents are not uploaded with it. The Go "
    "client adds a target only to roles whose paths admit it at that moment "
    "(tuf/tuf.go, AddTargets), and narrows paths by uploading the parent, so its files pass."
)

INTENDED_DIFFERENCES: Final[dict[str, Intended]] = {
    "*envelope:signed=null": Intended("0 <connection dropped>", "400 INVALID_UPDATE", _GO_PANICS),
    "*envelope:signed=omitted": Intended(
        "0 <connection dropped>", "400 INVALID_UPDATE", _GO_PANICS
    ),
    "targets:delegations.roles.0=null": Intended(
        "0 <connection dropped>", "400 INVALID_UPDATE", _GO_PANICS
    ),
    "*:version=2^31": Intended("200", "400 INVALID_UPDATE", _VERSION_CAP),
    "*:version=2^53": Intended("200", "400 INVALID_UPDATE", _VERSION_CAP),
    "*:version=2147483647": Intended(
        "200", "400 INVALID_UPDATE", _VERSION_LEAD, detail=r"is more than 1000000 above"
    ),
    "*:version=random#*": Intended(
        "200",
        "400 INVALID_UPDATE",
        f"{_VERSION_CAP} {_VERSION_LEAD}",
        detail=r"version \d+ (exceeds the maximum|is more than 1000000 above)",
    ),
    "*:<top>=random#*": Intended(
        "0 <connection dropped>",
        "400 INVALID_UPDATE",
        _GO_PANICS,
        detail="the file contained an empty payload",
    ),
    "*:delegations.roles*=random#*": Intended(
        "0 <connection dropped>",
        "400 INVALID_UPDATE",
        _GO_PANICS,
        detail=r"delegations\.roles\[0\]: expected an object, got null",
    ),
    "snapshot:meta.targets/releases*": Intended("200", "400 INVALID_UPDATE", _SNAPSHOT_ROLLBACK),
    "targets:delegations.roles.0.paths=*": Intended("200", "400 INVALID_UPDATE", _DELEGATION_PATHS),
}
"""Reviewed, intended differences: mutation kind (or fnmatch pattern) → :class:`Intended`.

Every differing case whose kind and verdict pair no entry explains fails the
differential test. The rows are listed in ADR 0017's table of intended differences.
"""
